"""Which training samples each step sees: streams of batch row indices.

Kept apart from the optimizers so that the order of samples can be given from outside: a
PyTorch run's batch indices, saved as an int array (steps, b), replay exactly here. Not for:
the update rule (optimizers.py).
"""
import numpy as np

from .checks import check_int_array


def without_replacement(rng, n, b):
    """Epochs of a fresh random permutation of range(n), cut into consecutive batches of b;
    the last batch of an epoch holds the n mod b leftover samples (drop_last=False)."""
    while True:
        order = rng.permutation(n)
        for start in range(0, n, b):
            yield order[start:start + b]


def epoch_views(rng, X, Y, b):
    """The batches of without_replacement as (X_batch, Y_batch), without a gather per step:
    each epoch copies the data once in permuted order, and every batch is a slice (a view)
    of that copy. Same rng draws, same samples, same numbers as indexing X[idx]."""
    n = X.shape[0]
    Xp, Yp = np.empty_like(X), np.empty_like(Y)
    while True:
        order = rng.permutation(n)
        np.take(X, order, axis=0, out=Xp, mode="clip")
        np.take(Y, order, axis=0, out=Yp, mode="clip")
        for start in range(0, n, b):
            yield Xp[start:start + b], Yp[start:start + b]


def gathered(stream, X, Y):
    """(X[idx], Y[idx]) for each index array of `stream`, gathered into reused buffers
    (one pair per batch size); None (full batch) yields the data itself, uncopied."""
    buffers = {}
    for idx in stream:
        if idx is None:
            yield X, Y
            continue
        b = len(idx)
        if b not in buffers:
            buffers[b] = (np.empty((b,) + X.shape[1:], X.dtype), np.empty((b,) + Y.shape[1:], Y.dtype))
        Xb, Yb = buffers[b]
        yield (np.take(X, idx, axis=0, out=Xb, mode="clip"),   # indices are in range:
               np.take(Y, idx, axis=0, out=Yb, mode="clip"))   # "clip" avoids a copy


def with_replacement(rng, n, b):
    """Each batch: b indices drawn uniformly from range(n), independently."""
    while True:
        yield rng.integers(0, n, size=b)


def full_batch():
    """GD: every step uses the whole training set (None: no index copy of the data)."""
    while True:
        yield None


def from_array(batches):
    """Replay a given (steps, b) int array of row indices, one row per step, in order."""
    for row in batches:
        yield row


def check_batches(batches, n, steps):
    """A user-given batch array must be ints in [0, n) with at least `steps` rows."""
    check_int_array("batches", batches, ndim=2, low=0, high=n - 1)
    if steps is not None and batches.shape[0] < steps:
        raise ValueError(f"batches must have at least steps={steps} rows (one batch per "
                         f"step), got shape {batches.shape}")
    return batches


def batch_stream(rng, n, batch_size, replacement=False, batches=None, steps=None):
    """The index stream a training run uses: given batches override everything; else full
    batch when batch_size is None or equals n without replacement; else sampled."""
    if batches is not None:
        return from_array(check_batches(batches, n, steps))
    if batch_size is None or (batch_size == n and not replacement):
        return full_batch()
    if replacement:
        return with_replacement(rng, n, batch_size)
    return without_replacement(rng, n, batch_size)


def data_batches(rng, X, Y, batch_size, replacement=False, batches=None, steps=None):
    """(X_batch, Y_batch) per step, following batch_stream's rules; sampling without
    replacement uses epoch_views (identical batches, no per-step gather)."""
    n = X.shape[0]
    if batches is None and batch_size is not None and not replacement and batch_size < n:
        return epoch_views(rng, X, Y, batch_size)
    return gathered(batch_stream(rng, n, batch_size, replacement, batches, steps), X, Y)
