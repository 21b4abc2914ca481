"""K independent training runs in lockstep: one stacked net, batched matmuls, the one loop.

Thousands of tiny runs (seeds x step sizes) are what the experiments need, and at small
batch sizes a single run spends most of its time in Python and NumPy call overhead, not
arithmetic. Stacking K runs of the same shape into weights (K, n_in, n_out) pays that
overhead once per step for all K. Members of one stacked step may differ in every scalar of
the update and of the data stream (PER_MEMBER: seed -- so data, init and batch order --,
step size, weight decay, momentum, clipping threshold, L1 / group-L1 strength, label-noise
sigma, the schedule's milestones, factor and warm-up), as long as they agree on which terms
the update has (each switch zero or not); everything else that shapes the computation
(sizes, batch size, loss, ...) must be equal. train_ensemble takes any list of configs and
splits it into as few such groups as possible (stack_groups), run one after the other.

The run is train.run_loop with a stacked engine (engines.py) and the members' batch
streams (batches.member_batches). Member k's history is the one train(configs[k]) records,
number for number in float64 (the same per-member operations in the same order; tests check
equality; in float32 the stacked and single matmuls round differently, so members agree to
float32 rounding only). A member that diverges is frozen at its divergence step (its
parameters are restored from that step for the final metrics) while the others go on.
Not for: one run (train).
"""
import dataclasses
import json
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

# fields that may differ between the members of one stacked step: the scalars of the update
# rule, of the schedule and of the data stream, and the seeds
PER_MEMBER = {"seed", "data_seed", "lr", "weight_decay", "momentum", "clip", "l1", "group_l1",
              "label_noise", "decay_at", "decay_factor", "warmup", "threshold", "support_rule",
              "diverge_factor"}
SWITCHES = ("weight_decay", "momentum", "l1", "group_l1", "label_noise")   # a term on or off


def checked(configs):
    """The resolved configs (new ones; the caller's are not changed)."""
    if not isinstance(configs, (list, tuple)):
        raise TypeError(f"configs must be a list of minisgd.train.Config, got {describe(configs)}")
    if not configs:
        raise ValueError("configs must hold at least one Config, got []")
    for k, c in enumerate(configs):
        check_config(c, f"configs[{k}]")
    configs = [c.validate() for c in configs]
    streaming = [n for c in configs for n in c.metrics if METRIC_SETS[n].streaming]
    if streaming:
        raise ValueError(f"metrics {sorted(set(streaming))} follow every step of one run: "
                         "train these configs one by one (train), not as an ensemble")
    return configs


def stack_key(config):
    """What the members of one stacked step share: every field outside PER_MEMBER, and
    which terms the update has (each switch zero or not, clipping or not) -- so each
    member runs its own run's operations in its own run's order."""
    fixed = {k: v for k, v in config_dict(config).items() if k not in PER_MEMBER}
    terms = [bool(getattr(config, f)) for f in SWITCHES] + [config.clip is None]
    return json.dumps([fixed, terms], sort_keys=True, default=str)


def stack_groups(configs):
    """The configs' indices in as few groups as can be stacked, in first-seen order."""
    groups = {}
    for k, c in enumerate(configs):
        groups.setdefault(stack_key(c), []).append(k)
    return list(groups.values())


def check_compatible(configs):
    """The resolved configs, checked to form one stacked group (stack_groups)."""
    configs = checked(configs)
    first = config_dict(configs[0])
    for k, c in enumerate(configs):
        if stack_key(c) != stack_key(configs[0]):
            diff = [key for key, value in config_dict(c).items()
                    if key not in PER_MEMBER and value != first[key]] or \
                [f for f in SWITCHES if bool(getattr(c, f)) != bool(first[f])] or ["clip"]
            raise ValueError(f"configs[{k}] differs from configs[0] in {diff}: one stacked "
                             f"step may differ only in {sorted(PER_MEMBER)}, with the same "
                             f"terms on (train_ensemble groups such configs itself)")
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
    """Train len(configs) runs, each group that can share a stacked step (stack_groups) in
    lockstep; returns one Result per config, in order, as train() would. threads,
    allow_long: as train()'s. Every group's cost is checked before any work."""
    configs = checked(configs)                               # resolved
    groups = stack_groups(configs)
    for group in groups:
        check_cost([configs[k] for k in group], allow_long,
                   what=f"this ensemble of {len(group)}" + (f" (a group of the {len(configs)})"
                                                             if len(groups) > 1 else ""))
    results = [None] * len(configs)
    for group in groups:
        for k, result in zip(group, train_stacked([configs[k] for k in group], threads)):
            results[k] = result
    return results


def train_stacked(configs, threads=None):
    """One stacked group (check_compatible) in lockstep: one Result per config."""
    configs = check_compatible(configs)
    config = configs[0]
    K = len(configs)
    rngs = [spawn_rngs(c.seed, c.data_seed) for c in configs]   # data, init, batch, noise
    path = gradient_path(config)
    nets = [build_net(c, r[1]) for c, r in zip(configs, rngs)]
    ens = type(nets[0]).stack(nets)
    problems, X, Y = member_problems(config, configs, rngs, path, ens)
    b, replacement, _ = sampling(config)
    name = engine_name(path, ens, X.shape[-2] if b is None else b)
    for p in problems:
        p.gradient, p.engine = path, name
    engine = make_engine(name, ens, member_rule(configs), config.loss,
                         default_threads(threads), X, Y)
    batches = make_batches(X, Y, [r[2] for r in rngs], [r[3] for r in rngs], b, replacement,
                           member_values(configs, "label_noise"), members=K)
    schedule = member_schedule(configs)
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


def member_values(configs, name):
    """The members' values of a field: one scalar when they agree, else a (K,) array."""
    values = [getattr(c, name) for c in configs]
    return values[0] if all(v == values[0] for v in values) else np.array(values, dtype=float)


def member_rule(configs):
    """The stacked update rule: build_rule's, with the members' own clip, weight decay,
    momentum and L1 / group-L1 strengths where they differ (checked by the constructors)."""
    return build_rule(configs[0], value=lambda name: member_values(configs, name))


def member_schedule(configs):
    """eta_t of every member: one LRSchedule over the lr column when the members share the
    rest of the schedule, else each member's own (MemberSchedules)."""
    c = configs[0]
    if all((m.decay_at, m.decay_factor, m.warmup) == (c.decay_at, c.decay_factor, c.warmup)
           for m in configs):
        return LRSchedule(np.array([m.lr for m in configs]), c.steps, c.decay_at,
                          c.decay_factor, c.warmup)
    return MemberSchedules([LRSchedule(m.lr, m.steps, m.decay_at, m.decay_factor, m.warmup)
                            for m in configs])


class MemberSchedules:
    """Ensemble members' own LRSchedules (each its step size, warm-up, milestones and factor)
    evaluated together: eta_t (K,), member k's value computed by the same operations, in the
    same order, as its LRSchedule's, so it is that run's eta_t to the last bit. Recomputed
    only where some member's schedule changes (warm-up steps, milestones)."""

    def __init__(self, schedules):
        self.base = np.array([s.lr for s in schedules])
        self.warmup = np.array([s.warmup for s in schedules])
        self.factor = np.array([s.factor for s in schedules])
        self.milestones = [s.milestones for s in schedules]
        self.changes = {m for s in schedules for m in s.milestones}
        self.last, self.value = None, None

    def __call__(self, t):
        if self.last is None or t != self.last + 1 or t < self.warmup.max() or t in self.changes:
            lr = self.base.copy()
            warm = self.warmup > 0
            lr[warm] = self.base[warm] * np.minimum(1.0, (t + 1) / self.warmup[warm])
            passed = np.array([sum(t >= m for m in ms) for ms in self.milestones])
            for j in range(passed.max(initial=0)):        # one factor per milestone passed
                hit = passed > j
                lr[hit] = lr[hit] * self.factor[hit]
            self.value = lr
        self.last = t
        return self.value
