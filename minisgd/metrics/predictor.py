"""A net's linear predictor beta (d,), and how it compares with the true beta* on its
support S: the numbers a sparse-regression run reports at its end.

    beta            f(x) = <beta, x>: a diagonal net's u * v (or u^2 - v^2), a linear
                    MLP's W_0 W_1 ... W_{L-1} (linear_predictor)

    l0(beta)        #{j : |beta_j| > threshold}                how many inputs it uses
    beta_error      ||beta - beta*||_2
    precision       |D & S| / |D|,  recall |D & S| / |S|       D = {j : |beta_j| > threshold}
    top_hits        |top_|S|(beta) & S| / |S|                   the |S| largest |beta_j|

top_hits needs no threshold: 1.0 means the |S| largest coordinates are exactly S. Not for:
the `sparsity` metric set recorded along a run, at several thresholds (sparsity.py).
"""
import numpy as np

from .support import precision_recall


def l0(beta, threshold):
    """Number of coordinates of beta with |beta_j| > threshold."""
    return int(np.count_nonzero(np.abs(beta) > threshold))


def top_hits(beta, support):
    """Fraction of the support S among the |S| coordinates of largest |beta_j|."""
    k = len(support)
    top = np.argsort(-np.abs(beta), kind="stable")[:k]
    return len(set(int(j) for j in top) & set(support)) / k


def sparsity_summary(beta, beta_star, support, threshold):
    """The predictor numbers a sparse-regression run reports (JSON-ready)."""
    detected = [int(j) for j in np.flatnonzero(np.abs(beta) > threshold)]
    precision, recall = precision_recall(detected, support)
    return {"l0": len(detected), "beta_error": float(np.linalg.norm(beta - beta_star)),
            "precision": precision, "recall": recall, "top_hits": top_hits(beta, support),
            "detected_support": detected}


def linear_predictor(net):
    """beta (d,) with f(x) = <beta, x> (+ a constant): a diagonal net's u * v or u^2 - v^2,
    a linear MLP's W_0 W_1 ... W_{L-1}."""
    if hasattr(net, "effective_predictor"):
        return net.effective_predictor()
    P = net.effective_weights()[0]
    for W in net.effective_weights()[1:]:
        P = P @ W
    return P[:, 0]
