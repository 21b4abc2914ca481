"""K independent training runs in lockstep: one stacked net, batched matmuls, the one loop.

Thousands of tiny runs (seeds x step sizes) are what the experiments need, and at small
batch sizes a single run spends most of its time in Python and NumPy call overhead, not
arithmetic. Stacking K runs of the same shape into weights (K, n_in, n_out) pays that
overhead once per step for all K. Members may differ in `seed` (so in data, init and batch
order) and `lr`; everything else that shapes the computation must be equal.

The run is train.run_loop with a stacked engine (engines.py) and the members' batch
streams (batches.member_batches). Member k's history is the one train(configs[k]) records,
number for number in float64 (the same per-member operations in the same order; tests check
equality; in float32 the stacked and single matmuls round differently, so members agree to
float32 rounding only). A member that diverges is frozen at its divergence step (its
parameters are restored from that step for the final metrics) while the others go on.
Not for: runs of different shapes (use train).
"""
import dataclasses
import time

import numpy as np

from .batches import make_batches
from .bench.cost import check_cost
from .checks import describe
from .engines import default_threads, engine_name, gradient_path, make_engine
from .history import History, finish, log_spaced_steps
from .metrics import METRIC_SETS
from .optimizers import LRSchedule
from .config import check_config
from .train import (Divergence, attach_moments, build_net, build_rule, config_dict,
                    draw_problem, run_loop, sampling, spawn_rngs)

PER_MEMBER = {"seed", "data_seed", "lr", "threshold", "support_rule", "diverge_factor"}


def check_compatible(configs):
    """The resolved configs (new ones; the caller's are not changed), all equal except in
    PER_MEMBER fields."""
    if not isinstance(configs, (list, tuple)):
        raise TypeError(f"configs must be a list of minisgd.train.Config, got {describe(configs)}")
    if not configs:
        raise ValueError("configs must hold at least one Config, got []")
    for k, c in enumerate(configs):
        check_config(c, f"configs[{k}]")
    configs = [c.validate() for c in configs]
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
    return configs


def member_problems(config, configs, rngs, path, ens):
    """Each member's Problem and the rows they train on: one data set X (N, d) for
    everyone when they share a data seed, else stacked X (K, N, d)."""
    data_seeds = {c.seed if c.data_seed is None else c.data_seed for c in configs}
    prepared = lambda problem: attach_moments(problem, ens) if path == "moments" else problem
    if len(data_seeds) == 1:                                 # one data set for everyone
        shared = prepared(draw_problem(config, rngs[0][0]))
        problems = [dataclasses.replace(shared, config=c) for c in configs]
        return problems, shared.data.X, shared.Y             # (N, d), (N, n_out)
    problems = [prepared(draw_problem(c, r[0])) for c, r in zip(configs, rngs)]
    return problems, np.stack([p.data.X for p in problems]), np.stack([p.Y for p in problems])


def train_ensemble(configs, threads=None, allow_long=False):
    """Train len(configs) runs in lockstep; returns one Result per config, as train().
    threads, allow_long: as train()'s."""
    configs = check_compatible(configs)                      # resolved
    check_cost(configs, allow_long, what=f"this ensemble of {len(configs)}")
    config = configs[0]
    K = len(configs)
    rngs = [spawn_rngs(c.seed, c.data_seed) for c in configs]   # data, init, batch, noise
    path = gradient_path(config)
    nets = [build_net(c, r[1]) for c, r in zip(configs, rngs)]
    ens = type(nets[0]).stack(nets)
    problems, X, Y = member_problems(config, configs, rngs, path, ens)
    b, replacement, noise = sampling(config)
    name = engine_name(path, ens, X.shape[-2] if b is None else b)
    for p in problems:
        p.gradient, p.engine = path, name
    engine = make_engine(name, ens, build_rule(config), config.loss, default_threads(threads),
                         X, Y)
    schedule = LRSchedule(np.array([c.lr for c in configs]), config.steps, config.decay_at,
                          config.decay_factor, config.warmup)
    batches = make_batches(X, Y, [r[2] for r in rngs], [r[3] for r in rngs], b, replacement,
                           noise, members=K)
    history = History(ens, engine, problems)
    guard = Divergence(ens, [c.diverge_factor for c in configs])
    start = time.perf_counter()
    with np.errstate(all="ignore"), engine:                  # frozen members may overflow
        run_loop(ens, engine, batches, schedule, config.steps,
                 log_spaced_steps(config.steps, config.records_per_decade), history, guard)
    wall = time.perf_counter() - start
    guard.restore()
    return [finish(ens.member(k), problems[k], history.columns[k], guard.diverged[k], wall / K)
            for k in range(K)]

