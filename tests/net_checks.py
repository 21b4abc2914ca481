"""Shared by the model and cross-check tests: the relative error they assert on, the
random targets of a loss, and the same targets as torch tensors."""
import numpy as np


def rel_err(approx, exact):
    """max|approx - exact| / max(max|exact|, 1e-12), one number per array."""
    approx, exact = np.asarray(approx, dtype=float), np.asarray(exact, dtype=float)
    assert approx.shape == exact.shape, (approx.shape, exact.shape)
    return float(np.max(np.abs(approx - exact)) / max(np.max(np.abs(exact)), 1e-12))


def random_targets(rng, loss, K, batch):
    """Targets for `loss` on K outputs: int labels in [0, K) for cross_entropy; for mse
    y (B,) with one output, (B, K) with K."""
    if loss == "cross_entropy":
        return rng.integers(0, K, size=batch)
    if K == 1:
        return rng.normal(size=batch)
    return rng.normal(size=(batch, K))


def torch_targets(loss, y):
    """y as torch's losses read it: int64 labels, or (B, K) floats ((B,) -> (B, 1), so
    nothing broadcasts)."""
    import torch
    if loss == "cross_entropy":
        return torch.from_numpy(y).to(torch.int64)
    t = torch.from_numpy(y)
    return t[:, None] if t.ndim == 1 else t
