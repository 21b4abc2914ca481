"""The top of the training-loss Hessian's spectrum, from Hessian-vector products only.

The Hessian H of the data loss C (mse on a whole set) is never formed: hvp.hvp_cached
gives H v by the R-operator (Pearlmutter), about the cost of two gradients, and two
classical iterations turn products into eigenvalues:

    power iteration   v <- H v / ||H v||, lambda = v . H v: the eigenvalue of largest |lambda|
    Lanczos           m products build an orthonormal basis Q (n, m) of the Krylov space
                      span{q, Hq, ..., H^{m-1} q} in which T = Q^T H Q is tridiagonal
                      (alpha_j = q_j . H q_j on the diagonal, beta_j = ||r_j|| next to it);
                      the largest eigenvalues of T approach H's largest ones fast (exactly
                      when m = n). Every new vector is re-orthogonalized against all of Q
                      (full reorthogonalization: n is small here, and it keeps T honest).

"Sharpness" is lambda_max(H). Gradient descent on a quadratic is stable iff eta lambda_max
< 2, the line plotted against it (for minisgd's mse without the 1/2, H is twice that of the
1/2-normalized loss and the step half, so eta lambda is the same number in both).
Start vectors come from numpy Generator(seed). Not for: the products themselves
(hvp.py), the whole spectrum of a small net (hessian.py) or recording sharpness along a
run (metrics/sharpness.py).
"""
import numpy as np

from ..checks import check_choice, check_float, check_float_array, check_int, describe
from .hvp import hvp_cached
from .inputs import check_finite_result, check_net, check_seed
from ..losses import check_targets, mse
from ..models.buffers import Grads, split_flat

METHODS = ("lanczos", "power")


def power_iteration(matvec, n, iters=200, tol=1e-10, seed=0):
    """(lambda, v, iterations): the eigenvalue of largest magnitude of the symmetric
    operator matvec on R^n and its unit eigenvector, from a random start. Stops when the
    Rayleigh quotient changes by less than tol (relative) between two iterations."""
    matvec, n = check_operator(matvec, n)
    iters = check_int("iters", iters, low=1)
    tol = check_float("tol", tol, low=0.0, low_open=True)
    v = check_seed(seed).standard_normal(n)
    v /= np.linalg.norm(v)
    lam = None
    for it in range(1, iters + 1):
        w = matvec(v)
        new = float(v @ w)                                   # Rayleigh quotient
        norm = np.linalg.norm(w)
        if norm == 0.0:
            return 0.0, v, it                                # H v = 0: v is in the kernel
        v = w / norm
        if lam is not None and abs(new - lam) <= tol * max(abs(new), 1e-300):
            return new, v, it
        lam = new
    return check_finite_result("power iteration's eigenvalue", lam), v, iters


def lanczos(matvec, n, k=1, iters=30, seed=0):
    """The k largest eigenvalues (descending) of the symmetric operator matvec on R^n from
    min(iters, n) Lanczos steps with full reorthogonalization (module docstring)."""
    matvec, n = check_operator(matvec, n)
    k = check_int("k", k, low=1, high=n)
    m = min(check_int("iters", iters, low=k), n)
    Q = np.zeros((n, m))                                     # orthonormal Krylov basis
    alpha, beta = np.zeros(m), np.zeros(m)
    q = check_seed(seed).standard_normal(n)
    Q[:, 0] = q / np.linalg.norm(q)
    for j in range(m):
        r = matvec(Q[:, j])
        alpha[j] = Q[:, j] @ r
        r -= Q[:, :j + 1] @ (Q[:, :j + 1].T @ r)             # full reorthogonalization,
        r -= Q[:, :j + 1] @ (Q[:, :j + 1].T @ r)             # twice ("twice is enough")
        if j + 1 == m:
            break
        beta[j] = np.linalg.norm(r)
        if beta[j] <= 1e-12 * max(abs(alpha[:j + 1]).max(), 1e-300):
            m = j + 1                                        # invariant subspace: exact
            break
        Q[:, j + 1] = r / beta[j]
    check_finite_result("Lanczos tridiagonal matrix", alpha[:m])
    T = np.diag(alpha[:m]) + np.diag(beta[:m - 1], 1) + np.diag(beta[:m - 1], -1)
    eig = np.linalg.eigvalsh(T)[::-1]                        # descending
    if eig.size < k:                                         # the start vector saw fewer
        raise ValueError(f"the start vector's Krylov space has only {eig.size} dimension(s) "
                         f"(an invariant subspace: the operator shows {eig.size} distinct "
                         f"eigenvalue(s) {eig.tolist()} from it), so the k={k} largest are not "
                         f"determined; ask for k <= {eig.size} or try another seed")
    return eig[:k]


def check_operator(matvec, n):
    """(matvec, n): a callable R^n -> R^n and its dimension n >= 1."""
    if not callable(matvec):
        raise TypeError(f"matvec must be a callable v (n,) -> H v (n,), got {describe(matvec)}")
    return matvec, check_int("n", n, low=1)


def n_params(net):
    """How many numbers the net trains (the Hessian is n_params x n_params)."""
    return int(sum(p.size for p in net.params))


def hessian_operator(net, X, Y):
    """(matvec, n): v (n,) -> H v (n,) for the mse data loss of net on (X, Y (B, n_out)), the
    flat vector ordered as net.params (weights, then biases). One forward pass is cached."""
    acts = net.forward_cache(X)
    _, delta = mse(acts[-1], Y)                              # (B, n_out) dC/df
    shapes = [p.shape for p in net.params]
    L = len(net.weights)

    def matvec(vec):
        views = split_flat(np.ascontiguousarray(vec, dtype=np.float64), shapes)
        biases = views[L:] if net.biases is not None else None
        Hv = hvp_cached(net, acts, delta, Grads(views[:L], biases))
        return np.concatenate([a.ravel() for a in Hv.weights + (Hv.biases or [])])
    return matvec, n_params(net)


def top_hessian_eigenvalues(net, X, y, k=1, method="lanczos", iters=None, seed=0):
    """The k largest eigenvalues (descending, an array (k,)) of the Hessian of the mse data
    loss C = mean over rows and outputs of (f - y)^2 on (X, y), w.r.t. every parameter.

    method="lanczos" (k any in [1, n_params]) or "power" (k = 1 only; the eigenvalue of
    largest magnitude, which is lambda_max unless a negative one is larger). iters: the
    Lanczos steps or power iterations, at least k (None: max(30, k)). net: a plain, finite
    MLP or a single DiagonalNet."""
    check_choice("method", method, METHODS)
    P = n_params(check_net(net))
    k = check_int("k", k, low=1)
    if k > P:
        raise ValueError(f"k must be an int in [1, n_params={P}] (the Hessian has {P} "
                         f"eigenvalues), got {k}")
    if method == "power" and k != 1:
        raise ValueError(f"method='power' finds one eigenvalue: k must be 1, got {k}")
    iters = max(30, k) if iters is None else check_int("iters", iters, low=k)
    check_seed(seed)
    X = check_float_array("X", X, shape=(None, net.sizes[0]))
    Y = check_targets("mse", y, X.shape[0], net.sizes[-1])
    matvec, n = hessian_operator(net, X, Y)
    if method == "power":
        return np.array([power_iteration(matvec, n, iters=iters, seed=seed)[0]])
    return lanczos(matvec, n, k=k, iters=iters, seed=seed)
