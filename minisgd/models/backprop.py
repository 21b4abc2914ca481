"""The pieces around MLP.backward's four equations: where the numbers are written, the
activation and its derivative, the ensemble's and the contiguity special cases, the
weight-normalization chain rule and per-sample gradients -- each a named function, so
that backward itself reads as the math (models/mlp.py; step.py writes the same step out
for one net). Not for: the forward pass or the parameters (mlp.py).
"""
import numpy as np

from .buffers import Grads, flat_grads
from .weight_norm import weight_norm_backward


def activate(name, z, out=None):
    """sigma(z) for a hidden layer (out=z computes it in place)."""
    if name == "relu":
        return np.maximum(z, 0.0, out=out)
    if name == "tanh":
        return np.tanh(z, out=out)
    if out is not None and out is not z:
        out[...] = z
        return out
    return z


def activation_derivative(name, a):
    """sigma'(z) written in terms of the layer's output a = sigma(z) (all we keep).

    relu: 1[a > 0] (derivative at 0 taken as 0, as PyTorch does), a boolean mask: a product
    with it casts it to 1.0 / 0.0, the same numbers as a float mask, one pass fewer;
    tanh: 1 - a^2.
    """
    if name == "relu":
        return a > 0.0
    if name == "tanh":
        return 1.0 - a * a
    return None                                   # linear: derivative 1, nothing to multiply


def backward_buffers(net, acts, delta, ws):
    """Where backward writes: (Grads, the weights the deltas go back through, delta
    buffers). With a Workspace its buffers (and the effective weights forward_cache left in
    ws.weights); else a new flat-backed Grads (float64 inputs to a float32 net give float64
    gradients) and the net's effective weights."""
    if ws is not None:
        return ws.grads, ws.weights if net.gains is not None else net.weights, ws.deltas
    grads = flat_grads(net, np.result_type(net.theta, acts[0], delta))
    return grads, net.effective_weights(), [None] * len(net.weights)


def weight_gradient(a, delta, out):
    """dC/dW = a^T delta into out: (n_in, n_out), or per member (K, n_in, n_out) for an
    ensemble (delta (K, B, n_out); a (K, B, n_in), or (B, n_in) shared by the members). One
    sample per member takes K exact outer products (einsum: the same numbers as K tiny
    matmuls, ~2x faster than NumPy's stacked matmul loop)."""
    if delta.ndim == 2:
        return np.dot(a.T, delta, out=out)
    if a.shape[-2] == 1:
        return np.einsum("...bi,...bo->...io", a, delta, out=out)
    return np.matmul(a.mT, delta, out=out)


def previous_delta(activation, delta, W, a, out=None):
    """delta_{l-1} = (delta_l W_l^T) * sigma'(z_{l-1}) (B, n_in), into out if given; a is
    layer l's input a_{l-1} = sigma(z_{l-1}). BLAS runs up to 2x faster on a contiguous W^T
    once the batch holds more than 64 rows in all (the same numbers there)."""
    Wt = W.mT                                                  # (n_out, n_in) view
    if delta.size > 64 * delta.shape[-1]:
        Wt = np.ascontiguousarray(Wt)
    delta = (np.dot if delta.ndim == 2 else np.matmul)(delta, Wt, out=out)
    if activation != "linear":                                 # linear: sigma' = 1
        delta *= activation_derivative(activation, a)
    return delta


def weight_norm_chain(net, l, grads, ws=None):
    """Layer l's dC/dW (in grads.weights[l]) -> dC/dV_l in place and dC/dg_l into
    grads.gains[l], by weight_norm.weight_norm_backward (with a Workspace, ||V_l|| as the
    forward pass computed it, ws.norms[l])."""
    weight_norm_backward(net.weights[l], net.gains[l], grads.weights[l], net.weight_norm,
                         dV=grads.weights[l], dg=grads.gains[l],
                         scratch=None if ws is None else ws.directions[l],
                         norm=None if ws is None else ws.norms[l])


def per_sample_backward(net, acts, delta, ws=None):
    """Grads of each sample's own loss C_i (arrays (B, *shape)), C = mean_i C_i: the same
    backward pass with dC_i/df_i = B dC/df_i, dC_i/dW_l = outer(a_{l-1}[i], B delta_l[i])
    (no loop over samples); weight-normalized layers through the same chain rule."""
    if ws is not None:
        raise ValueError("per_sample=True allocates its (B, *shape) gradients: pass ws=None")
    L, B = len(net.weights), delta.shape[-2]
    Ws = net.effective_weights()
    gW, gb = [None] * L, ([None] * L if net.biases is not None else None)
    gg = [None] * (L - 1) if net.gains is not None else None
    for l in reversed(range(L)):
        gW[l] = np.einsum("...bi,...bo->...bio", acts[l], delta * B)   # (B, n_in, n_out)
        if gb is not None:
            gb[l] = delta * B                                           # (B, n_out)
        if gg is not None and l < L - 1:
            _, gg[l] = weight_norm_backward(net.weights[l], net.gains[l], gW[l],
                                            net.weight_norm, dV=gW[l])
        if l > 0:
            delta = previous_delta(net.activation, delta, Ws[l], acts[l])
    return Grads(gW, gb, None, gg)
