"""K independent training runs in lockstep: one stacked net, batched matmuls.

Thousands of tiny runs (seeds x step sizes) are what the experiments need, and at small
batch sizes a single run spends most of its time in Python and NumPy call overhead, not
arithmetic. Stacking K runs of the same shape into weights (K, n_in, n_out) pays that
overhead once per step for all K. Members may differ in `seed` (so in data, init and batch
order) and `lr`; everything else that shapes the computation must be equal.

Member k's history is the one train(configs[k]) records, number for number in float64 (the
same per-member operations in the same order; tests check equality to 1e-12; in float32 the
stacked and single matmuls round differently, so members agree to float32 rounding only). A member that
diverges is frozen at its divergence step (its parameters are restored from that step for
the final metrics) while the others go on. Not for: runs of different shapes (use train).
"""
import dataclasses
import time

import numpy as np

from .checks import describe
from .resolve import check_config
from .metrics import METRIC_SETS
from .optimizers import LRSchedule
from .engines import default_threads
from .tasks import history_row
from .train import (attach_moments, build_net, build_optimizer, config_dict, draw_problem,
                    finish, gradient_engine, gradient_path, log_spaced_steps, spawn_rngs)

PER_MEMBER = {"seed", "data_seed", "lr", "threshold", "support_rule", "diverge_factor"}


def check_compatible(configs):
    """All configs equal except in PER_MEMBER fields; returns the shared Config."""
    if not isinstance(configs, (list, tuple)):
        raise TypeError(f"configs must be a list of minisgd.train.Config, got {describe(configs)}")
    if not configs:
        raise ValueError("configs must hold at least one Config, got []")
    for k, c in enumerate(configs):
        check_config(c, f"configs[{k}]")
    for c in configs:
        c.validate()
    streaming = [n for n in configs[0].metrics if METRIC_SETS[n].streaming]
    if streaming:
        raise ValueError(f"metrics {streaming} follow every step of one run: train these "
                         "configs one by one (train), not as an ensemble")
    first = config_dict(configs[0])
    for k, c in enumerate(configs):
        for key, value in config_dict(c).items():
            if key not in PER_MEMBER and value != first[key]:
                raise ValueError(f"configs[{k}].{key} = {value!r} differs from configs[0].{key} "
                                 f"= {first[key]!r}; an ensemble may differ only in "
                                 f"{sorted(PER_MEMBER)}")
    return configs[0]


def stacked_epoch_batches(rngs, X, Y, b):
    """Per member, the batches of batches.epoch_views (each member its own permutation
    from its own rng, same draws as a single run): (K, b, d), (K, b, 1) views."""
    K, n = X.shape[:2]
    Xp, Yp = np.empty_like(X), np.empty_like(Y)
    while True:
        for k in range(K):
            order = rngs[k].permutation(n)
            np.take(X[k], order, axis=0, out=Xp[k], mode="clip")
            np.take(Y[k], order, axis=0, out=Yp[k], mode="clip")
        for start in range(0, n, b):
            yield Xp[:, start:start + b], Yp[:, start:start + b]


def stacked_gathered_batches(rngs, X, Y, b, replacement):
    """Full batch (b None) or with-replacement batches, per member from its own rng."""
    K, n = X.shape[:2]
    while True:
        if b is None:
            yield X, Y
            continue
        idx = [rngs[k].integers(0, n, size=b) for k in range(K)]
        yield (np.stack([X[k, i] for k, i in enumerate(idx)]),
               np.stack([Y[k, i] for k, i in enumerate(idx)]))


def shared_data_batches(rngs, X, Y, b, replacement, block_rows=256):
    """Members that share one data set X (N, d): per step, member k's rows of its own batch
    stream (same draws as a single run), gathered from the shared X into (K, b, d) buffers;
    the full batch is X itself (broadcast against stacked weights). Without replacement the
    rows of ~block_rows // b steps are gathered at once and each step gets a view: one
    gather call per block instead of one per step (at b = 1 the per-step gather cost more
    than a forward pass)."""
    n = X.shape[0]
    buffers = {}

    def gather(idx):                                          # idx (K, m)
        if idx.shape not in buffers:
            buffers[idx.shape] = (np.empty(idx.shape + X.shape[1:], X.dtype),
                                  np.empty(idx.shape + Y.shape[1:], Y.dtype))
        Xb, Yb = buffers[idx.shape]
        return (np.take(X, idx, axis=0, out=Xb, mode="clip"),
                np.take(Y, idx, axis=0, out=Yb, mode="clip"))

    block = max(1, block_rows // b) * b if b is not None else None   # rows, a multiple of b
    while True:
        if b is None:
            yield X, Y
        elif replacement:
            yield gather(np.stack([r.integers(0, n, size=b) for r in rngs]))
        else:
            orders = np.stack([r.permutation(n) for r in rngs])          # (K, n)
            for first in range(0, n, block):
                Xs, Ys = gather(orders[:, first:first + block])          # (K, <=block, d)
                for start in range(0, Xs.shape[1], b):                   # views, in order
                    yield Xs[:, start:start + b], Ys[:, start:start + b]


def stacked_batches(config, rngs, X, Y):
    """Batches for the ensemble: X (N, d) shared by all members, or (K, N, d) stacked."""
    b = None if config.optimizer == "gd" else config.batch_size
    n = X.shape[-2]
    if b is not None and b == n and not config.replacement:
        b = None
    if X.ndim == 2:
        return shared_data_batches(rngs, X, Y, b, config.replacement)
    if b is not None and not config.replacement:
        return stacked_epoch_batches(rngs, X, Y, b)
    return stacked_gathered_batches(rngs, X, Y, b, config.replacement)


class Recorder:
    """Per-member history rows at the record steps, computed by tasks.history_row on each
    member (a view of the stacked parameters): the same numbers train() records."""

    def __init__(self, ens, optimizer, problems):
        self.ens, self.optimizer, self.problems = ens, optimizer, problems
        self.histories = [{c: [] for c in p.history_columns()} for p in problems]

    def __call__(self, t, lrs, active):
        for k in np.flatnonzero(active):
            row = history_row(self.ens.member(k, copy=False), self.optimizer,
                              self.problems[k], lrs[k])
            self.histories[k]["step"].append(t)
            for key, value in row.items():                   # metric sets add columns
                self.histories[k].setdefault(key, []).append(float(value))

    def train_losses(self):
        return np.array([h["train_loss"][-1] for h in self.histories])


def train_ensemble(configs, threads=None):
    """Train len(configs) runs in lockstep; returns one Result per config, as train().
    threads: as train()'s (batches of more than CHUNK_ROWS rows)."""
    config = check_compatible(configs)
    K = len(configs)
    rngs = [spawn_rngs(c.seed, c.data_seed) for c in configs]   # data, init, batch, noise
    data_seeds = {c.seed if c.data_seed is None else c.data_seed for c in configs}
    path = gradient_path(config)
    nets = [build_net(c, r[1]) for c, r in zip(configs, rngs)]
    ens = type(nets[0]).stack(nets)
    prepared = lambda problem: attach_moments(problem, ens) if path == "moments" else problem
    if len(data_seeds) == 1:                                 # one data set for everyone
        shared = prepared(draw_problem(config, rngs[0][0]))
        problems = [dataclasses.replace(shared, config=c, gradient=path) for c in configs]
        X, Y = shared.data.X, shared.Y                       # (N, d), (N, n_out)
    else:
        problems = [dataclasses.replace(prepared(draw_problem(c, r[0])), gradient=path)
                    for c, r in zip(configs, rngs)]
        X = np.stack([p.data.X for p in problems])           # (K, N, d)
        Y = np.stack([p.Y for p in problems])                # (K, N, n_out)
    optimizer = build_optimizer(config)
    schedule = LRSchedule(np.array([c.lr for c in configs]), config.steps, config.decay_at,
                          config.decay_factor, config.warmup)
    batches = stacked_batches(config, [r[2] for r in rngs], X, Y)
    noise_rngs = [r[3] for r in rngs]
    record = Recorder(ens, optimizer, problems)
    active, all_active = np.ones(K, dtype=bool), True
    diverged = [False] * K
    frozen = ens.theta.copy()                                # parameters at divergence
    start = time.perf_counter()
    loss_and_grad = gradient_engine(path, ens, problems[0], default_threads(threads), X, Y)
    with np.errstate(all="ignore"), loss_and_grad:           # frozen members may overflow
        record(0, schedule(0), active)
        limits = np.array([c.diverge_factor for c in configs]) * record.train_losses()
        for k in np.flatnonzero(~np.isfinite(limits)):      # the data overflow the loss:
            diverged[k], active[k], all_active = 0, False, False   # as train(), step 0
        record_at = iter(log_spaced_steps(config.steps, config.records_per_decade)[1:])
        next_record = next(record_at)
        for t in range(config.steps if active.any() else 0):
            Xb, Yb = next(batches)                           # (K, b, d), (K, b, n_out)
            if optimizer.label_noise:
                noise = np.stack([r.standard_normal(Yb.shape[-2:]) for r in noise_rngs])
                Yb = Yb + optimizer.label_noise * noise
            loss, grads = loss_and_grad(ens, Xb, Yb)         # (K,) losses, stacked Grads
            if all_active and (loss <= limits).all():        # the usual step: nothing to do
                lrs = schedule(t)
            else:
                bad = active & ~(loss <= limits)             # non-finite or too large
                for k in np.flatnonzero(bad):                # diverged at step t: freeze
                    diverged[k] = t
                    frozen[k] = ens.theta[k]
                active &= ~bad
                all_active = False
                if not active.any():
                    break
                lrs = np.where(active, schedule(t), 0.0)     # frozen members: step 0
            optimizer.step(ens, grads, lrs)
            if t + 1 == next_record:
                record(t + 1, schedule(min(t + 1, config.steps - 1)), active)
                next_record = next(record_at, None)
    wall = time.perf_counter() - start
    ens.theta[~active] = frozen[~active]
    return [finish(ens.member(k), problems[k], record.histories[k], diverged[k], wall / K)
            for k in range(K)]
