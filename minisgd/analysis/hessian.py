"""The exact Hessian of the training loss, its whole spectrum, and a Hutchinson trace.

For a net of D parameters (a few thousand at most; the headline net has 690) the Hessian
H of the mse data loss C on a whole set is formed exactly, one column per Hessian-vector
product of hvp.py's R-operator (no finite differences); for an MLP, hessian_columns.py
forms each H e_j with the products the unit direction makes zero left out (the same
numbers, tested column by column against lanczos.hessian_operator):

    H[:, j] = H e_j                 e_j the j-th unit vector, j = 0 .. D-1   (D HVPs)
    H      <- (H + H^T) / 2         (the columns agree with the rows to rounding; the
                                     asymmetry before this step is reported)

Its whole spectrum is then numpy.linalg.eigh of a (D, D) matrix -- what Lanczos-based
tools (PyHessian; lanczos.lanczos here) only estimate at the top. The flat parameter
order is net.params: weights, then biases (lanczos.hessian_operator).

Hutchinson's estimator (1990) of Tr H from products only, for nets too big to form H:

    Tr H = E[z^T H z]   for z with E[z z^T] = I; here Rademacher z_k in {-1, +1}^D
    estimate = (1/m) sum_k z_k^T H z_k,  stderr = std_k(z_k^T H z_k) / sqrt(m)

with the m probes from numpy Generator(seed). Its variance is 2 (||H||_F^2 - sum_j H_jj^2)
per probe: exact for a diagonal H.

Linear nets without biases (the headline net): f(X) = X M(theta), so C depends on the data
only through Z^T Z / N, Z = [X Y] (N, d + K). The d + K rows Z' = R sqrt((d + K) / N) of the
QR factor R of Z have the same Z'^T Z' / (d + K), hence the same C, gradient and Hessian
for every theta: equivalent_rows() builds them and full_hessian uses them ("compress"), so
a 10000-row set costs D HVPs on 16 rows (checked against the full rows in the tests).

Memory of the exact Hessian: 8 D^2 bytes (D = 4096: 134 MB); above max_params it is
refused with the size and the limit. Not for: the top-k eigenvalues of big nets
(lanczos.top_hessian_eigenvalues), the noise covariance (noise_shape.py).
"""
import sys

import numpy as np

from ..checks import check_float_array, check_int, describe
from .inputs import (check_finite_result, check_net, check_seed, check_switch,
                     check_vector)
from .hessian_columns import UnitColumns
from .lanczos import hessian_operator, n_params
from ..losses import check_targets
from ..models.mlp import MLP

MAX_EXACT_PARAMS = 4096          # 8 * 4096^2 bytes = 134 MB for H, as much again for eigh


HESSIAN_HINT = "Use lanczos.top_hessian_eigenvalues (Lanczos) or hutchinson_trace"


def check_exact_size(D, max_params, what="exact Hessian", hint=HESSIAN_HINT):
    """Refuse a (D, D) matrix above max_params, naming the size and the limit."""
    max_params = check_int("max_params", max_params, low=1)
    if D > max_params:
        raise ValueError(f"the {what} of a net with D={D} parameters is a ({D}, {D}) matrix "
                         f"of {8 * D * D / 1e6:.3g} MB; the limit is max_params={max_params} "
                         f"({8 * max_params ** 2 / 1e6:.3g} MB). {hint}")
    return max_params


def operator(net, X, y):
    """(matvec, D) for the Hessian of the mse data loss of a single plain net on (X, y)."""
    check_net(net)
    X = check_float_array("X", X, shape=(None, net.sizes[0]))
    Y = check_targets("mse", y, X.shape[0], net.sizes[-1])
    return hessian_operator(net, X, Y)


def equivalent_rows(net, X, Y):
    """(X', Y') with d + K rows and the same mse loss as (X, Y) at every theta, for a linear
    net without biases (module docstring); (X, Y) unchanged for any other net."""
    small = X.shape[0] <= X.shape[1] + Y.shape[1]
    if net.activation != "linear" or net.biases is not None or small:
        return X, Y
    Z = np.concatenate([X, Y], axis=1)                               # (N, d + K)
    R = np.linalg.qr(Z, mode="r")                                    # (d + K, d + K)
    Z2 = R * np.sqrt(R.shape[0] / Z.shape[0])                        # Z2^T Z2 / n' = Z^T Z / N
    return Z2[:, :X.shape[1]], Z2[:, X.shape[1]:]


def progress_printer(label, total, stream=None):
    """A callback done -> None printing `label: done/total` about every 10 % (to stderr)."""
    stream = sys.stderr if stream is None else stream
    step = max(1, total // 10)

    def report(done):
        if done % step == 0 or done == total:
            print(f"{label}: {done}/{total}", file=stream, flush=True)
    return report


def full_hessian(net, X, y, max_params=MAX_EXACT_PARAMS, progress=None, return_asymmetry=False,
                 compress=True):
    """The exact Hessian (D, D) of the mse data loss C = mean (f - y)^2 on (X, y), column by
    column from D Hessian-vector products, symmetrized. progress: None, True (print to
    stderr every 10 %) or a callback done -> None. return_asymmetry: also return
    max |H - H^T| / max |H| before symmetrizing (rounding only: ~1e-16). compress: use
    equivalent_rows for a linear net without biases (same H, d + K rows)."""
    D = n_params(check_net(net))
    check_exact_size(D, max_params)
    X = check_float_array("X", X, shape=(None, net.sizes[0]))
    Y = check_targets("mse", y, X.shape[0], net.sizes[-1])
    check_progress(progress)
    return_asymmetry = check_switch("return_asymmetry", return_asymmetry)
    if check_switch("compress", compress):
        X, Y = equivalent_rows(net, X, Y)
    column, D = column_operator(net, X, Y)
    if progress is True:
        progress = progress_printer(f"exact Hessian ({D} HVPs)", D)
    H = np.empty((D, D))
    for j in range(D):
        H[:, j] = column(j)                                          # H e_j: column j
        if progress:
            progress(j + 1)
    check_finite_result("Hessian", H)
    scale = max(float(np.abs(H).max()), 1e-300)
    asym = float(np.abs(H - H.T).max()) / scale
    H = 0.5 * (H + H.T)
    return (H, asym) if return_asymmetry else H


def column_operator(net, X, Y):
    """(column, D): j -> H e_j (D,). An MLP's columns come from hessian_columns.UnitColumns
    (the same numbers as the general HVP, without its products with zero arrays); any other
    net's from the general HVP along the unit vector."""
    if isinstance(net, MLP):
        return UnitColumns(net, X, Y).column, n_params(net)
    matvec, D = operator(net, X, Y)

    def column(j):
        e = np.zeros(D)
        e[j] = 1.0
        return matvec(e)
    return column, D


def check_progress(progress):
    """None, True / False, or a callback done -> None."""
    if not (progress is None or isinstance(progress, (bool, np.bool_)) or callable(progress)):
        raise TypeError(f"progress must be None, True, False or a callable done -> None, got "
                        f"{describe(progress)}")
    return progress


SYMMETRY_TOL = 1e-10     # max |H - H^T| allowed, relative to max |H| (rounding: ~1e-16)


def check_symmetric(name, H):
    """A non-empty, finite, square float matrix equal to its transpose (to rounding)."""
    H = check_float_array(name, H, ndim=2)
    if H.shape[0] != H.shape[1] or H.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {H.shape}")
    asym = float(np.abs(H - H.T).max())
    if asym > SYMMETRY_TOL * float(np.abs(H).max()):
        raise ValueError(f"{name} must be symmetric (the eigen-decomposition reads one "
                         f"triangle only), got max |{name} - {name}^T| = {asym:.3g}")
    return H


def spectrum(H, k=None):
    """(eigenvalues descending (k,), eigenvectors (D, k) as columns) of a symmetric H; k
    None: all D of them. k above D is an error."""
    H = check_symmetric("H", H)
    D = H.shape[0]
    k = D if k is None else check_int("k", k, low=1)
    if k > D:
        raise ValueError(f"k must be an int in [1, D={D}] (the Hessian has {D} eigenpairs), "
                         f"got {k}")
    lam, vecs = np.linalg.eigh(H)                                    # ascending
    return lam[::-1][:k].copy(), vecs[:, ::-1][:, :k].copy()          # (k,), (D, k)


def spectrum_summary(lam):
    """Numbers a reader of the Hessian literature expects from a whole spectrum lam (D,)."""
    lam = check_vector("lam", lam)
    top = max(float(lam.max()), 1e-300)
    return {"lambda_max": float(lam.max()), "lambda_min": float(lam.min()),
            "trace": float(lam.sum()),
            "n_outliers_1pct": int(np.sum(lam > 0.01 * top)),            # above 1 % of top
            "negative_mass": float(-lam[lam < 0].sum() / max(np.abs(lam).sum(), 1e-300))}


def hutchinson_trace(net, X, y, probes=100, seed=0, compress=True):
    """(estimate, stderr) of Tr H from `probes` Rademacher probes z ~ Generator(seed):
    the mean of z^T H z and its standard error (module docstring). compress: as in
    full_hessian (same products, fewer rows)."""
    probes = check_int("probes", probes, low=2)
    X = check_float_array("X", X, shape=(None, check_net(net).sizes[0]))
    Y = check_targets("mse", y, X.shape[0], net.sizes[-1])
    rng = check_seed(seed)
    if check_switch("compress", compress):
        X, Y = equivalent_rows(net, X, Y)
    matvec, D = operator(net, X, Y)
    if probes > 100 * D:
        raise ValueError(f"probes must be an int in [2, {100 * D}]: more cost over 100 times "
                         f"the exact trace (full_hessian: D={D} products), got {probes}")
    quad = np.empty(probes)
    for k in range(probes):
        z = rng.integers(0, 2, size=D) * 2.0 - 1.0                   # (D,) in {-1, +1}
        quad[k] = z @ matvec(z)
    err = float(quad.std(ddof=1) / np.sqrt(probes))
    return check_finite_result("Hutchinson trace", float(quad.mean())), err
