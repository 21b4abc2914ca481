"""The shape of SGD's gradient noise at a point: its covariance, and how it lines up with
the curvature (Zhu, Wu, Yu, Wu, Ma 2019, "The anisotropic noise in SGD").

With g_i = grad C_i the gradient of sample i's loss alone and g = (1/N) sum_i g_i the
full-batch gradient (flat vectors (D,), net.params order: weights, then biases), the
per-sample noise covariance is

    Sigma = (1/N) sum_i (g_i - g)(g_i - g)^T                               (D, D)

computed in two passes (g first, then the centred rows), not as E[g g^T] - g g^T. A
mini-batch of b rows drawn without replacement has noise covariance Sigma (N - b) /
(b (N - 1)): the *shape* (eigenvectors, the ratios below) is Sigma's for every b, only the
scale moves. When D is too big for (D, D), Sigma is kept per parameter array (W1, W2, ...,
b1, ...): its diagonal blocks.

Alignment with the Hessian H (hessian.full_hessian), u_i / v_i the top eigenvectors of
H / Sigma:

    overlap_i      = |u_i . v_i|                       (1: the same direction)
    subspace_k     = ||U_k^T V_k||_F^2 / k             (1: the same top-k subspace)
    sigma_in_top_k = Tr(U_k^T Sigma U_k) / Tr(Sigma)   (noise share along H's top k)

each against k / D (subspace, share) for directions drawn at random: the isotropic case.
Zhu et al.'s indicator compares Tr(H Sigma) with the noise of equal total variance spread
evenly over all D directions, Tr(H) Tr(Sigma) / D; ratio >> 1: the noise sits where the
loss is curved (their Fig. 1). For diagonal blocks of Sigma, Tr(H Sigma) = sum_b
Tr(H_bb Sigma_bb).

Not for: the Hessian itself (hessian.py), the variance Gamma along a run split by
first-layer rows (gradient_noise.py), tail indices (tail_index.py).
"""
import numpy as np

from ..checks import check_choice, check_float_array, check_int, describe
from ..losses import LOSSES, check_targets
from ..models.mlp import MLP
from .inputs import check_net
from .hessian import check_exact_size, check_symmetric, spectrum, MAX_EXACT_PARAMS


BLOCK_HINT = "Pass blocks=parameter_blocks(net) for its per-layer blocks"


def parameter_blocks(net):
    """[(name, slice)] of the flat parameter vector: W1.., then b1.. (net.params order)."""
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a minisgd.MLP, got {describe(net)}")
    names = [f"W{l + 1}" for l in range(len(net.weights))]
    names += [f"b{l + 1}" for l in range(len(net.biases or []))]
    out, start = [], 0
    for name, p in zip(names, net.params):
        out.append((name, slice(start, start + p.size)))
        start += p.size
    return out


def per_sample_gradients(net, X, y, loss="mse", chunk=2048):
    """G (N, D): row i is grad C_i flattened in net.params order. Memory N * D floats."""
    chunk = check_int("chunk", chunk, low=1)
    X = check_float_array("X", X, shape=(None, check_net(net).sizes[0]))
    check_choice("loss", loss, LOSSES)
    check_targets(loss, y, X.shape[0], net.sizes[-1])
    D = int(sum(p.size for p in net.params))
    G = np.empty((X.shape[0], D))
    for start in range(0, X.shape[0], chunk):
        rows = slice(start, start + chunk)
        per = net.per_sample_grads(X[rows], y[rows], loss=loss)      # arrays (B, *shape)
        parts = per.weights + (per.biases or [])
        G[rows] = np.concatenate([a.reshape(a.shape[0], -1) for a in parts], axis=1)
    return G


def centred(G):
    """G - g with g the mean row; at least two rows (a covariance needs two samples)."""
    G = check_float_array("G", G, ndim=2)
    if G.shape[0] < 2:
        raise ValueError(f"G must hold at least 2 samples (rows) for a covariance, got "
                         f"{G.shape[0]}")
    return G - G.mean(axis=0)                                        # (N, D)


def noise_covariance(G, blocks=None, max_params=MAX_EXACT_PARAMS):
    """Sigma = (1/N) sum_i (g_i - g)(g_i - g)^T from per-sample gradients G (N, D): the
    full (D, D) matrix, or with blocks=[(name, slice)] a dict {name: its diagonal block}.
    A full matrix (or a block) above max_params is refused with its size and the limit."""
    Gc = centred(G)
    N, D = Gc.shape
    if blocks is None:
        check_exact_size(D, max_params, what="noise covariance", hint=BLOCK_HINT)
        return Gc.T @ Gc / N                                         # (D, D)
    out = {}
    for name, s in check_blocks(blocks, D):
        part = Gc[:, s]                                              # (N, D_b)
        check_exact_size(part.shape[1], max_params, what=f"noise covariance block {name}",
                         hint="")
        out[name] = part.T @ part / N
    return out


def check_blocks(blocks, D):
    """[(name, slice)]: distinct names, disjoint non-empty slices of step 1 inside [0, D)."""
    if not isinstance(blocks, (list, tuple)) or not all(
            isinstance(b, (list, tuple)) and len(b) == 2 and isinstance(b[0], str)
            and isinstance(b[1], slice) for b in blocks):
        raise TypeError(f"blocks must be a list of (name, slice) pairs, as parameter_blocks("
                        f"net) gives, got {describe(blocks)}")
    names, taken = set(), np.zeros(D, dtype=bool)
    for name, s in blocks:
        start, stop, step = s.start or 0, s.stop, s.step or 1
        if not (isinstance(stop, (int, np.integer)) and isinstance(start, (int, np.integer))
                and step == 1 and 0 <= start < stop <= D):
            raise ValueError(f"blocks: {name!r} must be a slice(start, stop) with 0 <= start < "
                             f"stop <= D={D}, got {s}")
        if name in names or taken[start:stop].any():
            raise ValueError(f"blocks must have distinct names and disjoint slices, got "
                             f"{name!r} = {s} twice or overlapping")
        names.add(name)
        taken[start:stop] = True
    return blocks


def check_sigma_blocks(Sigma, blocks, D):
    """Sigma as a dict {name: its symmetric (D_b, D_b) block} for blocks covering [0, D)."""
    if len(check_blocks(blocks, D)) == 0 or sum(s.stop - (s.start or 0) for _, s in blocks) != D:
        raise ValueError(f"blocks must cover all D={D} parameters for Tr(H Sigma), got "
                         f"{[(n, s) for n, s in blocks]}")
    if not isinstance(Sigma, dict) or set(Sigma) != {n for n, _ in blocks}:
        raise ValueError(f"Sigma must be a dict with one block per name of blocks "
                         f"{[n for n, _ in blocks]}, got {describe(Sigma)}")
    for name, s in blocks:
        size = s.stop - (s.start or 0)
        if check_symmetric(f"Sigma[{name!r}]", Sigma[name]).shape != (size, size):
            raise ValueError(f"Sigma[{name!r}] must have shape ({size}, {size}), got "
                             f"{Sigma[name].shape}")
    return Sigma


def zhu_indicator(H, Sigma, blocks=None):
    """{tr_H_sigma: Tr(H Sigma), isotropic: Tr(H) Tr(Sigma) / D, ratio}. Sigma (D, D), or a
    dict of diagonal blocks with blocks=[(name, slice)] (module docstring)."""
    H = check_symmetric("H", H)
    D = H.shape[0]
    if blocks is None:
        Sigma = check_symmetric("Sigma", Sigma)
        if Sigma.shape != H.shape:
            raise ValueError(f"Sigma must have H's shape {H.shape}, got {Sigma.shape}")
        tr_hs, tr_s = float(np.sum(H * Sigma)), float(np.trace(Sigma))   # H, Sigma symmetric
    else:
        check_sigma_blocks(Sigma, blocks, D)
        tr_hs = sum(float(np.sum(H[s, s] * Sigma[name])) for name, s in blocks)
        tr_s = sum(float(np.trace(Sigma[name])) for name, _ in blocks)
    iso = float(np.trace(H)) * tr_s / D
    out = {"tr_H_sigma": tr_hs, "isotropic": iso, "ratio": tr_hs / iso if iso != 0 else None}
    if iso == 0:
        out["note"] = ("ratio undefined: Tr(H) Tr(Sigma) = 0 (no curvature on average or no "
                       "noise), so there is no isotropic scale to compare with")
    return out


def alignment(H, Sigma, k=5):
    """Top-k eigenvector alignment of Sigma with H (module docstring): a dict with
    overlaps (k,), subspace, sigma_in_top_k and their isotropic baseline k / D."""
    H, Sigma = check_symmetric("H", H), check_symmetric("Sigma", Sigma)
    D = H.shape[0]
    if Sigma.shape != H.shape:
        raise ValueError(f"Sigma must have H's shape {H.shape}, got {Sigma.shape}")
    k = check_int("k", k, low=1)
    if k > D:
        raise ValueError(f"k must be an int in [1, D={D}] (there are {D} eigenpairs), got {k}")
    _, U = spectrum(H, k)                                            # (D, k)
    _, V = spectrum(Sigma, k)                                        # (D, k)
    M = U.T @ V                                                      # (k, k)
    tr_s = float(np.trace(Sigma))
    out = {"overlaps": np.abs(np.diag(M)), "subspace": float(np.sum(M * M)) / k,
           "sigma_in_top_k": float(np.sum(U * (Sigma @ U))) / tr_s if tr_s > 0 else None,
           "random_baseline": k / D}
    if tr_s <= 0:
        out["note"] = f"sigma_in_top_k undefined: Tr(Sigma) = {tr_s:.3g} (no noise)"
    return out


def minibatch_noise(G, batch_size, rng):
    """Mini-batch gradient noise as Simsekli et al. measure it: the rows of G (N, D) in an
    order from rng (a numpy Generator) cut into P = N // b disjoint batches (the last N - P b
    rows dropped), each batch's mean gradient minus the mean of the P batch gradients:
    (P, D). b must leave at least two batches."""
    G = check_float_array("G", G, ndim=2)
    N = G.shape[0]
    if N < 2:
        raise ValueError(f"G must hold at least 2 rows (two batches of one), got {describe(G)}")
    b = check_int("batch_size", batch_size, low=1, high=max(1, N // 2))
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    P = N // b
    order = rng.permutation(N)[:P * b]
    batches = G[order].reshape(P, b, G.shape[1]).mean(axis=1)        # (P, D)
    return batches - batches.mean(axis=0)
