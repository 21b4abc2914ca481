"""The `sparsity` metric set: how sparse a sparse-regression predictor beta is, at several
thresholds at once, and how close to beta*.

    l0_<t>      #{j : |beta_j| > t} for t in L0_THRESHOLDS
    beta_dist   ||beta - beta*||_2
    top_S_hits  share of S among the |S| largest |beta_j| (no threshold)

L0_THRESHOLDS holds the published code's own 1e-50 (tml-epfl/sgd-sparse-features,
diag_nets_level_set_stabilization.ipynb: `(np.abs(u*v) > 10**-l0_threshold_power).sum()`,
l0_threshold_power = 50): a coordinate off the support shrinks multiplicatively under the
large-step noise, so 1e-50 counts those that have *not* collapsed to (almost) exactly 0;
1e-10, 1e-5 and minisgd's default 1e-3 show how much of that is numerically tiny but
non-zero. Not for: the task's own l0 at config.l0_threshold (tasks.py, predictor.py).
"""
import numpy as np

from .registry import metric_set
from .predictor import l0, linear_predictor, top_hits

L0_THRESHOLDS = (1e-50, 1e-10, 1e-5, 1e-3)


def l0_column(threshold):
    """The column name of l0 at a threshold: l0_1e-50, l0_1e-10, l0_1e-05, l0_0.001."""
    return f"l0_{threshold:g}"


def sparsity_levels(beta, beta_star, support, thresholds=L0_THRESHOLDS):
    """{l0_<t>: ..., beta_dist, top_S_hits} of the predictor beta (d,) (see the module)."""
    out = {l0_column(t): float(l0(beta, t)) for t in thresholds}
    out["beta_dist"] = float(np.linalg.norm(beta - beta_star))
    out["top_S_hits"] = float(top_hits(beta, support))
    return out


@metric_set("sparsity", tasks=("sparse_regression",))
def sparsity_set(net, problem):
    """l0 of beta at 1e-50 (the published code's), 1e-10, 1e-5, 1e-3; ||beta - beta*||; top-|S| hits."""
    data = problem.data
    beta_star = np.full(data.X.shape[1], np.nan) if data.beta is None else data.beta
    return sparsity_levels(linear_predictor(net), beta_star, data.support)
