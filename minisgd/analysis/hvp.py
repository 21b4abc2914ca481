"""Hessian-vector products written by hand (Pearlmutter 1994).

R{.} = d/dr (.)(theta + r v) at r = 0, applied to every line of the forward and backward
passes of models/mlp.py. With the layer input a_l,
z_l = a_l W_l + b_l, a_{l+1} = sigma(z_l), direction (V_l, c_l) for (W_l, b_l):

    forward   R{z_l} = R{a_l} W_l + a_l V_l + c_l        R{a_0} = 0
              R{a_{l+1}} = sigma'(z_l) * R{z_l}
    loss      delta = dC/df = 2 (f - y) / (B K)   ->   R{delta} = 2 R{f} / (B K)
    backward  R{dC/dW_l} = R{a_l}^T delta_l + a_l^T R{delta_l}      R{dC/db_l} = sum R{delta_l}
              e = delta_l W_l^T,  R{e} = R{delta_l} W_l^T + delta_l V_l^T
              R{delta_{l-1}} = R{e} * sigma'(z_{l-1}) + e * sigma''(z_{l-1}) * R{z_{l-1}}

sigma'' is 0 for linear and (almost everywhere) relu, -2 a (1 - a^2) for tanh (a = tanh z).
The diagonal net f = X beta (models/diagonal.py) gets the same R-operator in its own five
lines (diagonal_hvp_cached): beta = u * v or u^2 - v^2 is its only "layer".
The result is R{grad C} = H v. A different direction v_i per sample (V_l[i] used in sample
i's rows of a_l V_l and delta_l V_l^T) gives R{grad C} = (1/B) sum_i H_i v_i, because C_i
depends on the parameters only through sample i's own forward pass. Directions can be
given rank one per sample, V_l[i] = outer(U[i], E[i]) (the form of a per-sample gradient),
which needs no (B, n_in, n_out) array: a_l[i] V_l[i] = (a_l[i] . U[i]) E[i]. Cost of one
HVP: about two full-batch gradients.

Not for: what is built on these products -- the top of the Hessian's spectrum (lanczos.py),
the whole Hessian (hessian.py), the modified loss's gradient (modified_loss.py).
"""
import numpy as np

from ..checks import check_float_array, describe
from ..losses import check_targets, mse
from ..models.backprop import activation_derivative
from ..models.buffers import Grads
from ..models.diagonal import DiagonalNet
from ..models.mlp import MLP


def check_plain(net):
    """The diagnostics differentiate the plain parametrization (weights, biases)."""
    if getattr(net, "gains", None) is not None:
        raise ValueError(f"net has weight_norm={net.weight_norm!r}: the diagnostics and HVPs "
                         "are written for plain weights; use a net with weight_norm='none'")


def activation_second_derivative(name, a):
    """sigma''(z) in terms of a = sigma(z): tanh -2 a (1 - a^2); linear and relu 0 (None)."""
    if name == "tanh":
        return -2.0 * a * (1.0 - a * a)
    return None


def direction_product(V, x, transpose=False):
    """x V, the term a_l V_l of R{z_l} (x = a_l (B, n_in)), or with transpose x V^T, the
    term delta_l V_l^T of R{e} (x = delta_l (B, n_out)), for a direction V: shared
    (n_in, n_out), per-sample (B, n_in, n_out), rank-one per sample (U (B, n_in),
    E (B, n_out)) meaning V[i] = outer(U[i], E[i]), or a list of such terms (their sum)."""
    if isinstance(V, list):
        return sum(direction_product(v, x, transpose) for v in V)
    if isinstance(V, tuple):
        U, E = V[::-1] if transpose else V
        return np.einsum("bi,bi->b", x, U)[:, None] * E              # (B, n_out | n_in)
    if V.ndim == 3:
        return np.einsum("bo,bio->bi" if transpose else "bi,bio->bo", x, V)
    return x @ V.T if transpose else x @ V


def r_forward(net, acts, VW, Vb):
    """R{z_l} for every layer (list of (B, n_out)), given the cached forward pass."""
    Rz, Ra = [], None
    for l, W in enumerate(net.weights):
        rz = direction_product(VW[l], acts[l])                        # (B, n_out)
        if Ra is not None:
            rz = rz + Ra @ W
        if Vb is not None:
            rz = rz + Vb[l]                                           # (n_out,) or (B, n_out)
        Rz.append(rz)
        deriv = activation_derivative(net.activation, acts[l + 1])
        Ra = rz if deriv is None else deriv * rz                      # R{a_{l+1}}
    return Rz


def r_backward(net, acts, delta, Rz, VW, count=None):
    """R{dC/dW_l}, R{dC/db_l} given delta = dC/df and the forward R pass Rz. count: the
    number of terms of the mse's mean (default delta.size; set it when the rows are one
    piece of a larger batch, as losses.mse's count)."""
    L = len(net.weights)
    count = delta.size if count is None else count
    r_delta = Rz[-1] * (2.0 / count)                                  # R{dC/df}, mse
    hW, hb = [None] * L, ([None] * L if net.biases is not None else None)
    for l in reversed(range(L)):
        a_in = acts[l]                                                # (B, n_in)
        hW[l] = a_in.T @ r_delta                                      # (n_in, n_out)
        if hb is not None:
            hb[l] = r_delta.sum(axis=0)                               # (n_out,)
        if l > 0:
            d1 = activation_derivative(net.activation, a_in)          # sigma'(z_{l-1})
            d2 = activation_second_derivative(net.activation, a_in)   # sigma''(z_{l-1})
            Ra_in = Rz[l - 1] if d1 is None else d1 * Rz[l - 1]       # R{a_l}: (B, n_in)
            hW[l] += Ra_in.T @ delta
            e = delta @ net.weights[l].T                              # dC/da_l: (B, n_in)
            r_e = r_delta @ net.weights[l].T + direction_product(VW[l], delta, transpose=True)
            delta = e if d1 is None else e * d1                       # dC/dz_{l-1}
            r_delta = r_e if d1 is None else r_e * d1
            if d2 is not None:
                r_delta = r_delta + e * d2 * Rz[l - 1]
    return Grads(hW, hb)


def diagonal_hvp_cached(net, acts, delta, v, count=None):
    """R{grad C} of a DiagonalNet along v = Grads([A (d, 2)], None), A's columns (a, b) the
    directions of (u, v), on a cached forward pass [X, f] with delta = dC/df (mse):

        R{beta}  = a * v + u * b                         (uv)    2 (u * a - v * b)   (u2v2)
        R{delta} = 2 X R{beta} / count                   (delta = 2 (f - y) / count)
        g = X^T delta,  R{g} = X^T R{delta}              (dC/dbeta and its R)
        uv:    R{dC/du} = R{g} * v + g * b               R{dC/dv} = R{g} * u + g * a
        u2v2:  R{dC/du} = 2 (R{g} * u + g * a)           R{dC/dv} = -2 (R{g} * v + g * b)

    count: the terms of the mean (default delta.size). Single nets only. No validation."""
    X, (a, b) = acts[0], (v.weights[0][:, 0], v.weights[0][:, 1])
    u, w = net.u, net.v                                               # (d,), (d,)
    count = delta.size if count is None else count
    if net.parametrization == "uv":
        r_beta = a * w + u * b
    else:
        r_beta = 2.0 * (u * a - w * b)
    g = X.T @ delta[:, 0]                                             # (d,) dC/dbeta
    r_g = X.T @ (X @ r_beta) * (2.0 / count)                          # (d,) R{dC/dbeta}
    h = np.empty((net.d, 2))
    if net.parametrization == "uv":
        h[:, 0], h[:, 1] = r_g * w + g * b, r_g * u + g * a
    else:
        h[:, 0], h[:, 1] = 2.0 * (r_g * u + g * a), -2.0 * (r_g * w + g * b)
    return Grads([h], None)


def hvp_cached(net, acts, delta, v, count=None):
    """R{grad C} along v (Grads; shared, per-sample (B, ...) or rank-one tuples) on a cached
    forward pass acts with delta = dC/df (count: see r_backward). No validation. A
    DiagonalNet takes a shared direction only (diagonal_hvp_cached)."""
    if isinstance(net, DiagonalNet):
        return diagonal_hvp_cached(net, acts, delta, v, count)
    Rz = r_forward(net, acts, v.weights, v.biases)
    return r_backward(net, acts, delta, Rz, v.weights, count)


def check_direction(net, v, batch=None):
    """v must be Grads shaped like net's parameters, with a leading batch axis if batch."""
    check_plain(net)
    if not isinstance(v, Grads):
        raise TypeError(f"v must be a minisgd.Grads (weights, biases), got {describe(v)}")
    lead = () if batch is None else (batch,)
    if (v.biases is None) != (net.biases is None):
        raise ValueError("v.biases must be None exactly when the net has no biases")
    if not isinstance(v.weights, (list, tuple)) or len(v.weights) != len(net.weights):
        raise ValueError(f"v.weights must be a list of {len(net.weights)} arrays")
    for l, W in enumerate(net.weights):
        check_float_array(f"v.weights[{l}]", v.weights[l], shape=lead + W.shape)
        if net.biases is not None:
            check_float_array(f"v.biases[{l}]", v.biases[l], shape=lead + net.biases[l].shape)
    return v


def hvp(net, X, y, v, per_sample=False):
    """Hessian-vector product of the mse data loss C = (1/B) sum_i C_i on (X, y).

    per_sample=False: v is Grads shaped like the parameters; returns H v (Grads).
    per_sample=True:  v has arrays (B, *shape), one direction v_i per sample; returns
    (1/B) sum_i H_i v_i (H_i = hessian of sample i's loss C_i), which is H v when all v_i = v.
    net: an MLP, or a single DiagonalNet (v = Grads([A (d, 2)], None), shared directions only).
    """
    if not isinstance(net, (MLP, DiagonalNet)):
        raise TypeError(f"net must be a minisgd.MLP or DiagonalNet, got {describe(net)}")
    if not isinstance(per_sample, (bool, np.bool_)):
        raise TypeError(f"per_sample must be True or False, got {describe(per_sample)}")
    if isinstance(net, DiagonalNet) and (net.members is not None or per_sample):
        raise ValueError("the diagonal net's hvp takes a single net and one shared direction: "
                         f"got members={net.members}, per_sample={per_sample}")
    X = check_float_array("X", X, shape=(None, net.sizes[0]))
    Y = check_targets("mse", y, X.shape[0], net.sizes[-1])
    check_direction(net, v, X.shape[0] if per_sample else None)
    acts = net.forward_cache(X)
    _, delta = mse(acts[-1], Y)
    return hvp_cached(net, acts, delta, v)
