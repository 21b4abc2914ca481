"""Which training samples each step sees, and the noise on their labels: the batch streams.

Sampling is the batches' business, not the update rule's: the batch size b (None: the whole
training set every step, i.e. GD), sampling without replacement (a fresh permutation per
epoch, the last batch of an epoch holding the n mod b leftover samples, as PyTorch's
DataLoader(drop_last=False)) or with replacement, a given (steps, b) int array of row
indices to replay (a PyTorch run's batches, exactly), and label noise sigma > 0: fresh
N(0, sigma^2) noise added to the batch's targets at every step (label-noise SGD).

make_batches gives the stream a run trains on: (X_batch (b, d), Y_batch (b, K)) per step;
for an ensemble of K members (X_batch (K, b, d), Y_batch (K, b, K_out)), where member k
draws from its own generators exactly what its single run draws. Not for: the update rule
(optimizers.py).
"""
import numpy as np

from .checks import check_int_array, describe


# numpy's Generator fills an array of integers (or normals) element by element from one
# stream, so one call for m * b values gives the same numbers, and leaves the generator in
# the same state, as m calls for b (tests/test_batches.py checks both). The streams below
# draw the indices of ~DRAW_BLOCK_ROWS // b steps in one call: at b = 1 the per-call cost
# of Generator.integers (~5 us) was more than a small net's whole step.
DRAW_BLOCK_ROWS = 256


def block_steps(b, block_rows=DRAW_BLOCK_ROWS):
    """How many steps' draws of b values each one call makes."""
    return max(1, block_rows // b)


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


def replacement_views(rng, X, Y, b, block_rows=DRAW_BLOCK_ROWS):
    """The batches of with_replacement as (X_batch, Y_batch): the rows of a block of steps
    are drawn and gathered at once, and every batch is a view of that block."""
    n, block = X.shape[0], block_steps(b, block_rows) * b
    Xs, Ys = np.empty((block,) + X.shape[1:], X.dtype), np.empty((block,) + Y.shape[1:], Y.dtype)
    while True:
        idx = rng.integers(0, n, size=block)
        np.take(X, idx, axis=0, out=Xs, mode="clip")
        np.take(Y, idx, axis=0, out=Ys, mode="clip")
        for start in range(0, block, b):
            yield Xs[start:start + b], Ys[start:start + b]


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
    """Each batch: b indices drawn uniformly from range(n), independently (drawn a block of
    steps at a time, the same numbers as one call per step)."""
    while True:
        yield from rng.integers(0, n, size=(block_steps(b), b))


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
    if batches is None and batch_size is not None and replacement:
        return replacement_views(rng, X, Y, batch_size)
    return gathered(batch_stream(rng, n, batch_size, replacement, batches, steps), X, Y)


# ---- ensembles: K members in lockstep, each with its own draws ---------------------------
def member_epochs(rngs, X, Y, b):
    """Per member, the batches of epoch_views (each member its own permutation from its own
    rng, the draws of its single run), for stacked data X (K, N, d): (K, b, d) views."""
    K, n = X.shape[:2]
    Xp, Yp = np.empty_like(X), np.empty_like(Y)
    while True:
        for k in range(K):
            order = rngs[k].permutation(n)
            np.take(X[k], order, axis=0, out=Xp[k], mode="clip")
            np.take(Y[k], order, axis=0, out=Yp[k], mode="clip")
        for start in range(0, n, b):
            yield Xp[:, start:start + b], Yp[:, start:start + b]


def member_draws(rngs, X, Y, b):
    """Full batch (b None) or with-replacement batches, per member from its own rng, for
    stacked data X (K, N, d)."""
    n = X.shape[1]
    while True:
        if b is None:
            yield X, Y
            continue
        blocks = np.stack([r.integers(0, n, size=(block_steps(b), b)) for r in rngs], axis=1)
        for idx in blocks:                                    # idx (K, b), one step
            yield (np.stack([X[k, i] for k, i in enumerate(idx)]),
                   np.stack([Y[k, i] for k, i in enumerate(idx)]))


def shared_data_batches(rngs, X, Y, b, replacement, block_rows=DRAW_BLOCK_ROWS):
    """Members that share one data set X (N, d): per step, member k's rows of its own batch
    stream (same draws as a single run), gathered from the shared X into (K, b, d) buffers;
    the full batch is X itself (broadcast against stacked weights). The rows of ~block_rows
    // b steps are drawn and gathered at once and each step gets a view: one gather call per
    block instead of one per step (at b = 1 the per-step gather cost more than a forward
    pass)."""
    n = X.shape[0]
    gather = stacked_gather(X, Y)
    block = block_steps(b, block_rows) * b if b is not None else None   # rows: whole steps
    while True:
        if b is None:
            yield X, Y
        elif replacement:                       # a block of steps' draws, gathered at once
            Xs, Ys = gather(np.stack([r.integers(0, n, size=block) for r in rngs]))
            for start in range(0, block, b):
                yield Xs[:, start:start + b], Ys[:, start:start + b]
        else:
            orders = np.stack([r.permutation(n) for r in rngs])          # (K, n)
            for first in range(0, n, block):
                Xs, Ys = gather(orders[:, first:first + block])          # (K, <=block, d)
                for start in range(0, Xs.shape[1], b):                   # views, in order
                    yield Xs[:, start:start + b], Ys[:, start:start + b]


def stacked_gather(X, Y):
    """idx (K, m) -> (X[idx], Y[idx]) gathered into buffers reused per shape."""
    buffers = {}

    def gather(idx):
        if idx.shape not in buffers:
            buffers[idx.shape] = (np.empty(idx.shape + X.shape[1:], X.dtype),
                                  np.empty(idx.shape + Y.shape[1:], Y.dtype))
        Xb, Yb = buffers[idx.shape]
        return (np.take(X, idx, axis=0, out=Xb, mode="clip"),
                np.take(Y, idx, axis=0, out=Yb, mode="clip"))
    return gather


def member_batches(rngs, X, Y, b, replacement):
    """The ensemble's stream: X (N, d) shared by all members, or (K, N, d) stacked."""
    if b is not None and b == X.shape[-2] and not replacement:
        b = None
    if X.ndim == 2:
        return shared_data_batches(rngs, X, Y, b, replacement)
    if b is not None and not replacement:
        return member_epochs(rngs, X, Y, b)
    return member_draws(rngs, X, Y, b)


# ---- what a run trains on ------------------------------------------------------------------
def with_label_noise(stream, sigma, rngs, members=None):
    """The stream's batches with fresh N(0, sigma^2) noise added to Y_batch at every step,
    drawn from rngs[k] for member k (a single run: rngs[0]); an ensemble's sigma may be one
    per member (K,)."""
    if np.ndim(sigma):
        sigma = np.reshape(sigma, (-1, 1, 1))                      # (K, 1, 1)
    normals = [normal_stream(r) for r in rngs]
    for Xb, Yb in stream:
        if members is None:
            yield Xb, Yb + sigma * normals[0](Yb.shape)
        else:
            noise = np.stack([draw(Yb.shape[-2:]) for draw in normals])
            yield Xb, Yb + sigma * noise


def normal_stream(rng, block=16 * DRAW_BLOCK_ROWS):
    """shape -> the next standard normals of rng's stream in that shape, the same numbers
    as rng.standard_normal(shape) call after call, drawn `block` values at a time."""
    buffer, used = np.empty(0), 0

    def draw(shape):
        nonlocal buffer, used
        size = int(np.prod(shape))
        if used + size > buffer.size:
            rest = buffer[used:]
            buffer = np.concatenate([rest, rng.standard_normal(max(block, size))])
            used = 0
        used += size
        return buffer[used - size:used].reshape(shape)
    return draw


def make_batches(X, Y, batch_rngs, noise_rngs, batch_size=None, replacement=False,
                 label_noise=0.0, batches=None, steps=None, members=None):
    """The batches a run trains on (see the module docstring). A single run: one batch and
    one noise generator in the lists, X (N, d); an ensemble of `members` K: one of each per
    member, X (N, d) shared or (K, N, d)."""
    if members is None:
        stream = data_batches(batch_rngs[0], X, Y, batch_size, replacement, batches, steps)
    else:
        stream = member_batches(batch_rngs, X, Y, batch_size, replacement)
    if np.any(label_noise):
        stream = with_label_noise(stream, label_noise, noise_rngs, members)
    return stream


def checked_stream(stream, d, outputs, steps):
    """A caller's stream of (X_b, Y_b) pairs, each checked before its step: a pair of 2-D
    float arrays with d and `outputs` columns and the same rows; ValueError naming the
    stream (and the step) otherwise, and when it ends before `steps` pairs. A pair of the
    shapes and dtypes of the last pair that passed is not checked again."""
    passed = None                                    # (shapes, dtypes) of a checked pair
    for t in range(steps):
        try:
            pair = next(stream)
        except StopIteration:
            raise ValueError(f"stream ended after {t} batches; it must yield one (X_b, Y_b) "
                             f"pair per step, {steps} in all") from None
        if type(pair) is tuple and len(pair) == 2 and all(type(a) is np.ndarray for a in pair) \
                and (pair[0].shape, pair[1].shape, pair[0].dtype, pair[1].dtype) == passed:
            yield pair
            continue
        Xb, Yb = pair if isinstance(pair, tuple) and len(pair) == 2 else (None, None)
        ok = all(isinstance(a, np.ndarray) and a.ndim == 2 and a.dtype.kind == "f"
                 for a in (Xb, Yb))
        if not ok or Xb.shape[1] != d or Yb.shape != (Xb.shape[0], outputs) or not len(Xb):
            raise ValueError(f"stream's batch at step {t} must be a pair of float arrays "
                             f"X_b (b, {d}), Y_b (b, {outputs}) with b >= 1, got "
                             + (", ".join(map(describe, pair)) if isinstance(pair, tuple)
                                else describe(pair)))
        if type(Xb) is np.ndarray and type(Yb) is np.ndarray:
            passed = (Xb.shape, Yb.shape, Xb.dtype, Yb.dtype)
        yield Xb, Yb
