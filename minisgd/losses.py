"""Loss functions: each returns the loss value and its gradient with respect to the outputs.

The objective is stated once per loss, with its exact normalization, and the gradient is
derived beside it. Per-sample versions (`reduction="none"`) give the loss of each row, whose
mean is the batch loss; the network uses them for per-sample gradients. Not for: penalties
(weight decay, L1), which live with the optimizers and are logged apart from the data loss.
"""
import numpy as np

from .checks import check_choice, check_float_array, check_int_array


def mse(f, y, out=None, count=None):
    """Mean squared error, PyTorch ``MSELoss(reduction="mean")`` convention.

        C = (1 / (B * K)) * sum_{i, k} (f_ik - y_ik)^2          f, y: (B, K)
        dC/df = 2 (f - y) / (B * K)                             (B, K)

    Note: no factor 1/2 (scikit-learn uses 0.5 * mean; PyTorch and the paper do not).
    out: buffer for dC/df. count: the number of terms of the mean when (f, y) is one piece
    of a larger batch (default f.size), so that the pieces' values and gradients add up.
    """
    r = np.subtract(f, y, out=out)              # (B, K) residuals
    count = r.shape[-2] * r.shape[-1] if count is None else count
    if r.ndim == 2:
        flat = r.reshape(-1)                    # (B*K,)
        value = float(np.dot(flat, flat)) / count
    else:                                       # an ensemble of M nets: one value each
        flat = r.reshape(r.shape[:-2] + (-1,))  # (M, B*K)
        value = np.vecdot(flat, flat) / count
    r *= 2.0 / count                            # (B, K) dC/df
    return value, r


def cross_entropy(logits, targets, out=None, count=None):
    """Softmax cross-entropy, PyTorch ``CrossEntropyLoss`` (reduction="mean").

        log p_i = z_i - max_k z_ik - log sum_k exp(z_ik - max_k z_ik)   log-softmax, (B, C)
        C       = -(1 / B) sum_i sum_k y_ik log p_ik                   z, y: (B, C)
        dC/dz   = (p - y) / B          (rows of y sum to 1: one-hot, or class probabilities)

    targets: one-hot rows (B, C) (how the training loop stores labels), or int labels (B,)
    (then y_ik = 1[k = y_i], i.e. C = -(1/B) sum_i log p_{i, y_i}). For an ensemble, logits
    (M, B, C) and targets (M, B, C) or (B, C): one value per member. out: buffer for dC/dz;
    count: the rows of the mean when (z, y) is one piece of a larger batch (default B), so
    that the pieces' values and gradients add up. p is exp(log p), as torch's backward.
    """
    if np.issubdtype(np.asarray(targets).dtype, np.integer):
        targets = one_hot(targets, logits.shape[-1], logits.dtype)
    count = logits.shape[-2] if count is None else count
    z = logits - logits.max(axis=-1, keepdims=True)             # shift for stability
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))    # (B, C) log-softmax
    value = -np.sum(targets * log_p, axis=(-2, -1)) / count
    grad = np.exp(log_p, out=out)                                # softmax p
    grad -= targets
    grad /= count                                                # (B, C) dC/dz
    return (float(value) if np.ndim(value) == 0 else value), grad


def one_hot(labels, classes, dtype=np.float64):
    """(N, C) rows e_{y_i}: 1.0 at column y_i, zeros elsewhere, for int labels (N,)."""
    rows = np.zeros(np.shape(labels) + (classes,), dtype=dtype)
    np.put_along_axis(rows, np.asarray(labels)[..., None], 1.0, axis=-1)
    return rows


def terms(loss, rows, outputs):
    """How many terms a batch loss is the mean of: mse averages over rows and outputs
    (B * C), cross-entropy over rows (B)."""
    return rows * outputs if loss == "mse" else rows


LOSSES = {"mse": mse, "cross_entropy": cross_entropy}


def check_targets(loss, y, batch, n_out):
    """Validate targets for `loss` and return them in the shape the loss expects.

    mse: float array (batch,) when n_out == 1, or (batch, n_out); returned as (batch, n_out).
    cross_entropy: int array (batch,) with labels in [0, n_out).
    """
    check_choice("loss", loss, LOSSES)
    if loss == "cross_entropy":
        if n_out < 2:
            raise ValueError(f"loss='cross_entropy' needs a network with >= 2 outputs, got {n_out}")
        check_int_array("y", y, ndim=1, low=0, high=n_out - 1)
        if y.shape[0] != batch:
            raise ValueError(f"y must have shape ({batch},) to match X, got shape {y.shape}")
        return y
    if isinstance(y, np.ndarray) and y.ndim == 1 and n_out == 1:
        check_float_array("y", y, shape=(batch,))
        return y.reshape(batch, 1)
    check_float_array("y", y, shape=(batch, n_out))
    return y


def loss_value_and_grad(loss, f, y):
    """Dispatch by name: (value, dC/df) for already-validated outputs and targets."""
    return LOSSES[loss](f, y)

