"""The engines the training loop runs, and which one a run takes.

An engine is what the loop calls for a step: gradient(net, X, Y) -> (C, grads), then
update(net, grads, eta_t) (and penalty(net) for the history). Four of them:

    reference   step.ReferenceStep: the step as the math says, one screen. A single MLP
                without weight normalization on batches of at most REFERENCE_ROWS rows
                (the default run, b = 32).
    workspace   RowsGradient + optimizers.SGD: forward and backward (models/mlp.py) in
                preallocated buffers, no allocation per step; ensembles (K stacked nets),
                weight-normalized and diagonal nets, and a single MLP's batches of more
                than REFERENCE_ROWS rows, where a contiguous copy of W^T makes BLAS up to
                2x faster (the reference was 9 % slower per step at b = 512).
    pieces      the same, for batches of more than CHUNK_ROWS rows (full-batch GD on the
                training set) of nets no wider than PIECES_MAX_WIDTH: pieces that stay in
                the CPU cache, shared between two threads (wider nets: workspace, whose
                BLAS calls use the threads themselves).
    moments     moments.MomentGradient + optimizers.SGD: linear MLPs under mse, exactly,
                from the data's second moments (gradient="auto" takes it where it pays).

The math is the same in all four; they differ in where numbers are stored and in which
order they are added, and tests/test_step.py checks each against the reference. Which one
ran is recorded in final["engine"] and printed in the summary table.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .checks import check_int
from .config import moments_apply
from .losses import LOSSES, terms
from .models import MLP, Grads
from .moments import MomentGradient
from .step import ReferenceStep

CHUNK_ROWS = 2048
REFERENCE_ROWS = 64         # the reference runs batches of up to this many rows (above:
                            # workspace, with its contiguous W^T; measured: docs/performance.md)
PIECES_MAX_WIDTH = 128      # wider nets: one BLAS call per product on all rows beats
                            # cache-sized pieces (784-256-256-10 at 4000 rows, 2 threads:
                            # 78 vs 95 ms per step; bench --mlp)
MOMENTS_MIN_BATCH = 128     # gradient="auto": SGD batches from here on take the moments
                            # path (the measured crossover: docs/performance.md)


def widest(net):
    """The largest layer size of net (inputs included)."""
    return max(max(W.shape[-2:]) for W in net.weights)


def piece_slices(rows):
    """The pieces of a batch of `rows` rows, as slices: an even number of near-equal
    pieces of at most CHUNK_ROWS rows (10000 -> 6 pieces of 1667), so that two threads
    get the same work. One piece when rows <= CHUNK_ROWS. Fixed by `rows` alone: the
    numbers never depend on how many threads compute them."""
    if rows <= CHUNK_ROWS:
        return [slice(0, rows)]
    count = -(-rows // CHUNK_ROWS)
    count += count % 2
    size = -(-rows // count)
    return [slice(a, min(a + size, rows)) for a in range(0, rows, size)]


def blas_threads():
    """The cores this process may use: OPENBLAS_NUM_THREADS / OMP_NUM_THREADS when set
    (sweep workers and the experiments' arms set 1), else the number of CPUs."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def default_threads(threads=None):
    """threads if given, else 2 when this process may use two cores or more, else 1."""
    if threads is None:
        return 2 if blas_threads() >= 2 else 1
    return check_int("threads", threads, low=1)


class RowsGradient:
    """C_batch (the `loss` of losses.py: mse, or cross-entropy) and its Grads, computed in
    preallocated Workspaces (one per batch size seen) so a step allocates nothing.

    A batch of more than CHUNK_ROWS rows is done in pieces (piece_slices): each piece's loss
    takes its mean over the whole batch (count = its terms in all), so the pieces' values
    and gradients add up to the batch's. Same math, but the activations of a piece stay in
    the CPU cache (the full-batch GD step on N = 10000 runs ~1.35x faster than in one
    piece).

    threads=2 shares the pieces between this thread and a helper thread (NumPy releases
    the GIL inside BLAS): each piece is computed as in the serial loop and the pieces are
    added in the same order, so the numbers are bit-identical to threads=1 (the price: a
    copy of each piece's n_params gradient). Use it as a context manager (or call close())
    to stop the helper.
    """

    def __init__(self, net, threads=1, loss="mse"):
        self.loss, self.loss_fn = loss, LOSSES[loss]
        self.threads = max(1, threads)
        self.spaces = [{} for _ in range(max(1, threads))]   # per thread: rows -> Workspace
        self.total = net.workspace(1).grads                   # flat accumulator for pieces
        self.helpers = ThreadPoolExecutor(threads - 1) if threads > 1 else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.helpers is not None:
            self.helpers.shutdown()

    def workspace(self, net, rows, thread=0):
        if rows not in self.spaces[thread]:
            self.spaces[thread][rows] = net.workspace(rows)
        return self.spaces[thread][rows]

    def piece(self, net, X, Y, count, thread=0):
        ws = self.workspace(net, X.shape[-2], thread)
        acts = net.forward_cache(X, ws)                       # forward
        loss, delta = self.loss_fn(acts[-1], Y, out=ws.deltas[-1], count=count)  # C, dC/df
        return loss, net.backward(acts, delta, ws=ws)         # backward

    def __call__(self, net, X, Y):
        """X (B, d), Y (B, n_out); for an ensemble X (K, B, d), Y (K, B, n_out)."""
        B = X.shape[-2]
        count = terms(self.loss, B, Y.shape[-1])              # terms of each net's mean
        slices = piece_slices(B)
        if len(slices) == 1:
            return self.piece(net, X, Y, count)
        pieces = [(X[..., rows, :], Y[..., rows, :]) for rows in slices]
        if self.helpers is None:
            results = (self.piece(net, Xp, Yp, count) for Xp, Yp in pieces)
        else:
            results = self.pieces_in_threads(net, pieces, count)
        loss = 0.0
        for i, (value, grads) in enumerate(results):          # sum in the pieces' order
            loss = loss + value
            if i == 0:
                np.copyto(self.total.flat, grads.flat)
            else:
                np.add(self.total.flat, grads.flat, out=self.total.flat)
        return loss, self.total

    def pieces_in_threads(self, net, pieces, count):
        """The pieces' (loss, Grads) in order, thread j computing the j-th run of
        consecutive pieces in its own Workspaces (a copy of the Grads is kept per piece,
        as a thread's Workspace is reused by its next piece)."""
        threads = len(self.spaces)
        groups = [pieces[len(pieces) * j // threads:len(pieces) * (j + 1) // threads]
                  for j in range(threads)]

        def run(j):
            out = []
            for Xp, Yp in groups[j]:
                value, grads = self.piece(net, Xp, Yp, count, thread=j)
                out.append((value, Grads(None, None, grads.flat.copy())))
            return out
        futures = [self.helpers.submit(run, j) for j in range(1, threads)]
        results = run(0)
        for future in futures:
            results += future.result()
        return results


class EngineStep:
    """A gradient engine (RowsGradient or MomentGradient) with the update rule (an
    optimizers.SGD), called by the loop as step.ReferenceStep is."""

    def __init__(self, name, compute, rule):
        self.name, self.compute, self.rule = name, compute, rule

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if hasattr(self.compute, "close"):
            self.compute.close()

    def gradient(self, net, X, Y):
        return self.compute(net, X, Y)

    def update(self, net, grads, lr):
        self.rule.step(net, grads, lr)

    def penalty(self, net):
        return self.rule.penalty(net)


def gradient_path(config, replay=False):
    """Which path computes the run's gradients: "rows" (any net) or "moments" (moments.py:
    linear MLPs under mse, exact). gradient="auto" takes moments where they apply and pay
    -- full batch, or SGD batches of at least MOMENTS_MIN_BATCH rows -- except for a replay
    (given data, net or batches), which keeps the rows path, whose per-step numbers match
    PyTorch's to ~1e-15."""
    if config.gradient != "auto":
        return config.gradient
    if replay or moments_apply(config) is not None:
        return "rows"
    if config.optimizer == "gd" or config.batch_size >= MOMENTS_MIN_BATCH:
        return "moments"
    return "rows"


def engine_name(path, net, rows):
    """The engine that trains net on batches of `rows` rows on `path` (module docstring)."""
    if path == "moments":
        return "moments"
    if rows > CHUNK_ROWS and widest(net) <= PIECES_MAX_WIDTH:
        return "pieces"
    plain = isinstance(net, MLP) and net.members is None and net.gains is None
    return "reference" if plain and rows <= REFERENCE_ROWS else "workspace"


def make_engine(name, net, rule, loss, threads=1, X=None, Y=None):
    """The engine called `name` for net, with the update rule and loss; X, Y: the full
    training rows the batches come from (the moments path computes their moments once)."""
    if name == "reference":
        return ReferenceStep(rule, loss)
    if name == "moments":
        return EngineStep(name, MomentGradient(net, X, Y), rule)
    return EngineStep(name, RowsGradient(net, threads if name == "pieces" else 1, loss), rule)
