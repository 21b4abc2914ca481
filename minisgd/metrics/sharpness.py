"""The `sharpness` metric set: the largest eigenvalue of the Hessian of the training loss,
lambda_max, by Lanczos (analysis/lanczos.py) on the hand-written Hessian-vector products
(analysis/hvp.py).

Gradient descent with step eta is linearly stable at a minimum only if eta * lambda_max < 2,
so lambda_max plotted against 2 / eta shows whether a run sits at the edge of stability.
Column: sharpness. Square loss only (the HVPs are written for mse); MLPs without weight
normalization and diagonal nets. Cost: LANCZOS_STEPS Hessian-vector products on the whole
training set (about 2 gradients each) per record.
"""
from .registry import metric_set

LANCZOS_STEPS = 20


@metric_set("sharpness", tasks=("support", "sparse_regression", "classification"))
def sharpness_set(net, problem):
    """Largest eigenvalue of the training-loss Hessian (Lanczos on hand-written HVPs)."""
    from ..analysis.lanczos import top_hessian_eigenvalues
    if problem.loss != "mse":
        raise ValueError(f"the sharpness metric set needs loss='mse' (the HVPs are written "
                         f"for the square loss), got {problem.loss!r}")
    from ..analysis.inputs import NotFinite
    try:
        lam = top_hessian_eigenvalues(net, problem.data.X, problem.Y, k=1, iters=LANCZOS_STEPS)
    except NotFinite:                               # recorded as null, as the run's losses
        return {"sharpness": float("nan")}
    return {"sharpness": float(lam[0])}
