"""Weight normalization (Salimans & Kingma 2016) of a layer and its backward pass.

A normalized layer keeps a direction V and a gain g as its parameters and multiplies by

    "layer":  W   = g V / ||V||_F                   one scalar g per layer
    "unit":   W_o = g_o V_o / ||V_o||               one g_o per output unit, V_o = V[:, o]

in our (n_in, n_out) layout, i.e. torch.nn.utils.parametrizations.weight_norm(linear,
dim=None) and weight_norm(linear, dim=0) on torch's (out, in) weight (torch's g has shape
() and (out, 1)). Initialization is torch's: V = the drawn W, g = ||W||, so the first
effective W is the plain net's.

Backward. Write u = V / ||V|| (per layer, or per column for "unit") so that W = g u, and
let G = dC/dW be the gradient the ordinary backward pass gives for the effective weight.
Since d||V||/dV_kl = V_kl / ||V||,

    dW_ij/dg    = u_ij                                   so  dC/dg = <u, G>
    dW_ij/dV_kl = (g / ||V||) (1[ij = kl] - u_ij u_kl)   so  dC/dV = (g / ||V||) (G - u <u, G>)

("unit": the same column by column, <u_o, G_o> = sum_i u_io G_io: a column sum). dC/dV is
G with its component along V removed, times g / ||V||. Two consequences the tests check:
<V, dC/dV> = 0, and V -> cV (c > 0) leaves W unchanged and divides dC/dV by c. Both maps
are linear in G, so per-sample gradients come from the per-sample G_i and average to the
batch gradient. ||V|| = 0 has no direction: W and the gradients are then NaN (as torch's).

What the square-loss low-rank paper's public code does (TomerGalanti/LowRankBias,
models/mlp_wn.py; read at commit 4f3bc67): MLP_WN wraps each of its `depth` hidden
nn.Linear layers in torch.nn.utils.weight_norm(..., dim=None), the older hook-based API
with the same math as the parametrization (weight_g a scalar, weight_v = V; g = ||W||,
V = W at the start), and keeps the output layer `fc` a plain nn.Linear. So it normalizes
the hidden layers only, with one g per layer: our weight_norm="layer" is that
parametrization on the same layers; "unit" (dim=0, Salimans & Kingma's original) is not
used there. Its file says weight decay applies to `fc` only, but its train.py builds
optim.SGD(net.parameters(), weight_decay=...), which decays every g and V too, as
minisgd's SGD does on all of theta.
Not for: the layer's forward/backward around these maps (mlp.py).
"""
import numpy as np

WEIGHT_NORMS = ("none", "layer", "unit")


def weight_norms(V, kind):
    """||V||: the Frobenius norm (...,) for "layer", the column norms (..., n_out) for
    "unit"; V: (..., n_in, n_out). One dot product per norm (np.vecdot), so an ensemble's
    member gets exactly the numbers of the same net alone."""
    if kind == "layer":
        flat = V.reshape(V.shape[:-2] + (-1,))            # (..., n_in * n_out)
        return np.sqrt(np.vecdot(flat, flat))
    columns = V.mT                                        # (..., n_out, n_in)
    return np.sqrt(np.vecdot(columns, columns))


def spread(s, kind):
    """A per-layer (...,) or per-column (..., n_out) quantity shaped to broadcast against
    (..., n_in, n_out): (..., 1, 1) or (..., 1, n_out). One net's per-layer scalar as it
    is (it broadcasts already; reshaping it cost ~10 us of a 6 x 64 net's ~230 us step)."""
    if kind == "layer":
        return s[..., None, None] if isinstance(s, np.ndarray) and s.ndim else s
    return np.asarray(s)[..., None, :]


def init_gains(W, kind):
    """torch's initialization of a normalized layer from a drawn W: V = W and g = ||W||
    (the same norm effective_weight divides by, so g V / ||V|| = W exactly)."""
    return weight_norms(W, kind)


def effective_weight(V, g, kind, out=None, norm=None):
    """W = g V / ||V|| (n_in, n_out), computed as V * (g / ||V||), as torch does.

    V: (..., n_in, n_out); g: (...,) for "layer", (..., n_out) for "unit". out: a buffer
    of V's shape for W; norm: ||V|| if already computed (weight_norms(V, kind))."""
    norm = weight_norms(V, kind) if norm is None else norm
    return np.multiply(V, spread(g / norm, kind), out=out)


def weight_norm_backward(V, g, G, kind, dV=None, dg=None, scratch=None, norm=None):
    """(dC/dV, dC/dg) from G = dC/dW of the layer's effective weight W = g V / ||V||:

        dC/dg = <u, G>,   dC/dV = (g / ||V||) (G - u <u, G>),   u = V / ||V||

    per layer or per column (see the module docstring). G: (..., n_in, n_out) like V, or
    (..., B, n_in, n_out) for per-sample gradients (then dV is (..., B, n_in, n_out) and dg
    (..., B) or (..., B, n_out)). dV and dg: output buffers (dV may be G itself: computed
    in place); scratch: a buffer of V's shape for u, reused for u <u, G> (same-shape G only);
    norm: ||V|| if already computed (weight_norms(V, kind): the forward pass's).
    """
    if G.ndim == V.ndim + 1:                              # per sample: a batch axis
        V = V[..., None, :, :]
        g = np.asarray(g)[..., None] if kind == "layer" else g[..., None, :]
        norm = None
    if norm is None:
        norm = weight_norms(V, kind)                      # (...,) or (..., n_out)
    u = np.divide(V, spread(norm, kind), out=scratch)     # V / ||V||
    if kind == "layer":                                   # <u, G> over the whole matrix
        s = np.vecdot(u.reshape(u.shape[:-2] + (-1,)), G.reshape(G.shape[:-2] + (-1,)),
                      out=dg)
    else:                                                 # <u_o, G_o> for each column
        s = np.vecdot(u.mT, G.mT, out=dg)
    us = np.multiply(u, spread(s, kind), out=u if scratch is not None else None)
    dV = np.subtract(G, us, out=dV)                       # G - u <u, G>
    dV *= spread(g / norm, kind)                          # times g / ||V||
    return dV, s
