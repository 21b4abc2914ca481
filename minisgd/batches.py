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
    if batches.shape[0] < steps:
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
