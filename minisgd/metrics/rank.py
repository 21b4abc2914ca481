"""Rank of weight matrices: how many directions a layer really uses, and the `rank` metric set.

For a weight matrix W (n_in, n_out) with singular values s_1 >= s_2 >= ... >= 0:

    rank(W, tol)   = #{i : s_i / ||W||_F > tol}          singular values of W / ||W||_F
    stable_rank(W) = ||W||_F^2 / ||W||_2^2 = sum_i s_i^2 / s_1^2      (1 <= it <= rank)

As TomerGalanti/LowRankBias (analysis_rank.py, read at commit 4f3bc67): eval_ranks takes
torch.linalg.matrix_rank(W / ||W||_F, tol=1e-3), an absolute threshold on the singular
values of the Frobenius-normalized matrix (so the s_i^2 sum to 1 and the tolerance means
the same at every scale of W), and eval_stable_ranks ||W||_F^2 / ||W||_2^2, 0 for W = 0.
A zero matrix has rank 0 here too. The tolerance is a judgement call: the smallest singular
values of a random Gaussian n x n matrix over its Frobenius norm sit near n^-1.5 (0.002 at
n = 64, 0.001 at n = 100), so 1e-3 counts nearly every direction of a random layer and a
drop below full rank means the spectrum really thinned out; several tolerances can be given.

The `rank` metric set records, for every layer l of the net's effective weights (for a
weight-normalized layer g V / ||V||, what the forward pass multiplies by), rank_W{l} at
tol = 1e-3 and stable_rank_W{l}. The last layer is the output layer (rank <= classes);
the published averages (avg_rank) are over the hidden layers only. Not for: choosing
which layers to average (the experiments do).
"""
import numpy as np

from ..checks import check_float_array
from .registry import metric_set

DEFAULT_TOL = 1e-3


def check_tolerances(tol):
    """tol as a tuple of floats, each finite and > 0 (a float or a list of them)."""
    values = tol if isinstance(tol, (list, tuple, np.ndarray)) else [tol]
    if len(values) == 0:
        raise ValueError("tol must be a positive float or a non-empty list of them, got []")
    checked = []
    for value in values:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"tol must be a positive float or a list of them, got {value!r}")
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"tol must be > 0 (a threshold on the singular values of "
                             f"W / ||W||_F), got {value!r}")
        checked.append(float(value))
    return tuple(checked)


def normalized_singular_values(W):
    """(min(n_in, n_out),) singular values of W / ||W||_F, descending; zeros for W = 0."""
    W = check_float_array("W", W, ndim=2)
    s = np.linalg.svd(W, compute_uv=False)                    # descending
    total = np.sqrt(np.sum(s * s))                            # = ||W||_F
    return s / total if total > 0 else s


def rank(W, tol=DEFAULT_TOL):
    """Number of singular values of W / ||W||_F above tol: an int for one tolerance, a
    list of ints (one per tolerance, in order) for a list."""
    tols = check_tolerances(tol)
    s = normalized_singular_values(W)
    counts = [int(np.count_nonzero(s > t)) for t in tols]
    return counts if isinstance(tol, (list, tuple, np.ndarray)) else counts[0]


def stable_rank(W):
    """||W||_F^2 / ||W||_2^2 (a float in [1, rank]); 0 for a zero matrix, as published."""
    s = normalized_singular_values(W)
    return float(np.sum(s * s) / s[0] ** 2) if s[0] > 0 else 0.0


@metric_set("rank", models=("mlp",))
def rank_metrics(net, problem):
    """rank_W{l} (tol 1e-3 on W / ||W||_F) and stable_rank_W{l} of every effective weight."""
    row = {}
    for l, W in enumerate(net.effective_weights()):
        finite = bool(np.all(np.isfinite(W)))                 # a diverged run: NaN, not a crash
        row[f"rank_W{l}"] = float(rank(W)) if finite else np.nan
        row[f"stable_rank_W{l}"] = stable_rank(W) if finite else np.nan
    return row
