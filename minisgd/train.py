"""The training loop: one loop for a single run, an ensemble and GD on the modified loss.

    for t in range(steps):
        X_b, Y_b = next(batches)                   batches.py: which samples, label noise
        C, g = engine.gradient(net, X_b, Y_b)      forward, loss, backward
        eta_t = guard.check(t, C, schedule(t))     divergence: stop (or freeze a member)
        engine.update(net, g, eta_t)               clip, weight decay, momentum, prox
        record the history at log-spaced steps     history.py

What differs between runs is the engine (engines.py: the default run's is
step.ReferenceStep, the step as the math says; faster engines are tested against it) and
the batch stream, both passed in. An ensemble is the same loop on K stacked nets
(ensemble.py); GD on SGD's modified loss is the same loop with that loss's engine
(analysis/modified_loss.py).

Divergence: a run stops at the first step t whose batch loss is non-finite or exceeds
`diverge_factor` times the initial training loss (this catches the runaway-but-finite runs,
e.g. the paper's deep linear net without clipping, whose weights grow to ~1e7). It is then
reported as diverged at step t and keeps the history recorded so far.

Randomness: one int `seed` spawns independent streams (numpy SeedSequence) for the data,
the initialization, the batch order and the label noise, so runs that differ only in
batch size or step size share data and initialization. Same Config -> bit-identical history.
Not for: what a row of the history holds (tasks.py) or the engines' math (step.py, engines.py).
"""
import time

import numpy as np

from .batches import checked_stream, make_batches
from .bench.cost import check_cost
from .checks import check_step_size
from .config import Config, check_config, config_dict, config_from_dict  # noqa: F401
from .data import Data, make_data  # noqa: F401  (re-exported)
from .data.container import cast_data
from .engines import default_threads, engine_name, gradient_path, make_engine
from .history import (Result, check_record_steps, finish, finite_or_none,  # noqa: F401
                      History, log_spaced_steps)
from .metrics import start_streams
from .models import MLP
from .moments import moments_with_optimum
from .optimizers import SGD, GroupL1Prox, L1Prox, LRSchedule
from .resolve import resolve
from .tasks import check_data, draw_data, make_problem, randomize_labels


def build_net(config, rng):
    """The initial net of a validated config, drawn from the init generator rng: an MLP
    d -> width x depth -> n_out, or a diagonal net."""
    if config.model == "diagonal":
        from .models.diagonal import DiagonalNet
        net = DiagonalNet(config.d, parametrization=config.parametrization,
                          init="published" if config.init_scheme == "constant" else "random",
                          scale=config.init_scale, seed=rng)
    else:
        sizes = [config.d] + [config.width] * config.depth + [config.n_out]
        kwargs = {} if config.weight_norm == "none" else {"weight_norm": config.weight_norm}
        net = MLP(sizes, activation=config.activation, bias=config.bias,
                  init=config.init_scheme, scale=config.init_scale, seed=rng, **kwargs)
    return net if config.dtype == "float64" else net.copy(dtype=np.dtype(config.dtype))


def build_rule(config, value=None):
    """The update rule of a validated config (optimizers.SGD; GD is the same rule).
    value(name): the strength of each term (default the config's; an ensemble passes its
    members' values, ensemble.member_rule)."""
    value = value or (lambda name: getattr(config, name))
    prox = []
    if config.l1:
        prox.append(L1Prox(value("l1")))
    if config.group_l1:
        prox.append(GroupL1Prox(value("group_l1")))
    return SGD(config.lr, momentum=value("momentum"), weight_decay=value("weight_decay"),
               decoupled=config.decoupled_wd, clip=None if config.clip is None else
               value("clip"), prox=prox)


def sampling(config):
    """(batch_size, replacement, label_noise) of the run's batch stream: GD takes the whole
    training set (batch_size None)."""
    if config.optimizer == "gd":
        return None, False, config.label_noise
    return config.batch_size, bool(config.replacement), config.label_noise


def spawn_rngs(seed, data_seed=None):
    """Independent generators for data, init, batches, label noise, from one seed. With a
    data_seed the data generator is the one `seed=data_seed` would use: runs that share a
    data_seed share their data and differ in init and batch order."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    if data_seed is not None:
        rngs[0] = spawn_rngs(data_seed)[0]
    return rngs


def attach_moments(problem, net):
    """For the moments path on a regression task: the train and test sets' moments with
    their least-squares optimum, so the history's losses come from them (exactly)."""
    if problem.task != "classification":
        bias = net.biases is not None
        problem.train_moments = moments_with_optimum(problem.data.X, problem.Y, bias)
        problem.test_moments = moments_with_optimum(problem.data.X_test, problem.Y_test, bias)
    return problem


class Divergence:
    """The divergence check between a step's loss and its update. limit = diverge_factor x
    the initial training loss, per run; a step whose batch loss C is not <= limit (NaN, inf
    or a runaway) ends a single run there. In an ensemble that member is frozen instead:
    eta 0 from then on, its parameters at that step restored at the end (restore), while
    the others go on. diverged[k]: the step, or False."""

    def __init__(self, net, factors):
        self.net, self.factors = net, np.asarray(factors, dtype=float)
        self.frozen = None if net.members is None else net.theta.copy()

    def start(self, initial_losses):
        """False when no run can start: the data overflow every run's loss (step 0)."""
        with np.errstate(over="ignore"):              # a limit past float64: clamped below
            self.limits = self.factors * initial_losses
        self.active = np.isfinite(initial_losses) & np.isfinite(self.factors)
        self.limits = np.minimum(self.limits, np.finfo(float).max)  # inf, NaN: never <= it
        self.diverged = [False if ok else 0 for ok in self.active]
        self.all_active = bool(self.active.all())
        if self.frozen is None:                        # one run: a number against a number
            self.limits = float(self.limits[0])
        return bool(self.active.any())

    def check(self, t, C, lr):
        """eta_t for the update of step t, or None: stop, every run has diverged."""
        ok = C <= self.limits                      # a bool for one run, (K,) for an ensemble
        if self.all_active and (ok if self.frozen is None else ok.all()):
            return lr                                          # the usual step
        bad = self.active & ~np.atleast_1d(ok)
        for k in np.flatnonzero(bad):
            self.diverged[k] = t
            if self.frozen is not None:
                self.frozen[k] = self.net.theta[k]
        self.active &= ~bad
        self.all_active = False
        if not self.active.any():
            return None
        return np.where(self.active, lr, 0.0)                  # frozen members: step 0

    def restore(self):
        """An ensemble's frozen members get their parameters at divergence back."""
        if self.frozen is not None:
            self.net.theta[~self.active] = self.frozen[~self.active]


def run_loop(net, engine, batches, schedule, steps, record_at, history, guard, streams=(),
             stop=None):
    """The training loop (the module docstring). batches yields (X_b, Y_b) per step;
    schedule(t) is eta_t; history.record(t, eta) runs at step 0 and each step of record_at;
    streams: per-step metric sets; stop(t, columns) -> True ends the run at a record step
    (a phase that is over, e.g. a target accuracy reached). Returns the steps done."""
    history.record(0, schedule(0))
    if not guard.start(history.last("train_loss")) or \
            (stop is not None and stop(0, history.columns[0])):
        return 0
    records = iter(record_at[1:])
    next_record = next(records)
    for t in range(steps):
        Xb, Yb = next(batches)                               # (b, d), (b, K)
        C, grads = engine.gradient(net, Xb, Yb)              # forward, loss, backward
        lr = guard.check(t, C, schedule(t))                  # None: diverged at step t
        if lr is None:
            return t
        engine.update(net, grads, lr)                        # clip, decay, momentum, prox
        for stream in streams:
            stream.step(net, t)
        if t + 1 == next_record:
            history.record(t + 1, schedule(min(t + 1, steps - 1)), guard.active)
            if stop is not None and stop(t + 1, history.columns[0]):
                return t + 1
            next_record = next(records, None)
    return steps


def prepare(config, data=None, net=None, batches=None, allow_long=False):
    """Resolve a run and draw what it starts from: (problem, net, rngs); problem.config is
    the resolved Config (the caller's is not changed). Given `data` and `net` (copied)
    replace the draws; what they (and `batches`) state enters the resolved config
    (resolve.resolve); rngs = [data, init, batches, label noise]. A run that cannot fit
    in memory, or would take more than an hour unless allow_long, is refused before anything
    is drawn (bench/cost.py)."""
    config, given = resolve(config, data, net, batches)
    check_cost([config], allow_long)
    rngs = spawn_rngs(config.seed, config.data_seed)
    if data is not None:
        check_data(config, data)
    if net is not None:
        check_initial_net(config, net)
    problem = draw_problem(config, rngs[0], data)
    if batches is not None and len(batches) > config.steps:     # a prefix of the array ran
        given["steps"] = f"the first {config.steps} of the batch array's {len(batches)} rows"
    problem.given = given
    net = build_net(config, rngs[1]) if net is None else net.copy(dtype=np.dtype(config.dtype))
    return problem, net, rngs


def draw_problem(config, rng, data=None):
    """The Problem of a validated config: its data (drawn from rng unless given), labels
    randomized as random_labels says (from rng), cast to the run's dtype."""
    data = draw_data(config, rng) if data is None else data
    if config.task == "classification":
        data = randomize_labels(data, config.random_labels, rng)
    return make_problem(config, cast_data(data, config.dtype))


def check_initial_net(config, net):
    """A given initial net must have the resolved config's outputs (its kind, inputs and
    shape were brought into the config by resolve.resolve)."""
    if net.sizes[-1] != config.n_out:
        raise ValueError(f"the initial net must map d={config.d} inputs to {config.n_out} "
                         f"output(s), got sizes {net.sizes}")


def train(config=None, data=None, net=None, batches=None, on_record=None,
          extra_metrics=None, threads=None, schedule=None, record_at=None, stop=None,
          stream=None, allow_long=False):
    """Run one training run. `data`, `net` (initial weights, copied) and `batches`
    ((steps, b) int array of row indices) override what the config would draw;
    on_record / extra_metrics: see history.History. threads: for batches of more than
    CHUNK_ROWS rows (engines.RowsGradient; same numbers either way); None takes
    default_threads(). schedule: a step-size schedule t -> eta_t replacing the config's
    (lr, decay_at, decay_factor, warmup), for a published schedule those cannot express;
    the recorded config then says "schedule": its description (str(schedule)). record_at:
    the history's steps (sorted ints from 0 to config.steps) instead of log-spaced ones.
    A run in phases uses the loop's interface, not chunks of runs: stop(t, history columns)
    -> True ends the run at record step t (final["stopped_at"]: e.g. a target accuracy
    reached), and stream(X, Y, rng) -> an iterator of (X_b, Y_b) pairs replaces the config's
    sampling (X, Y: the training rows and the targets the loss reads; rng: the run's batch
    generator), e.g. batches augmented afresh at every visit; the recorded config then says
    "stream": str(stream). The next phase starts from result.net. allow_long: run even
    when the run would take more than an hour (bench/cost.py; refused otherwise)."""
    config = Config() if config is None else check_config(config)
    if stop is not None and not callable(stop):
        raise TypeError(f"stop must be None or a callable (t, columns) -> bool, got {stop!r}")
    replay = data is not None or net is not None or batches is not None
    problem, net, (_, _, batch_rng, noise_rng) = prepare(config, data, net, batches, allow_long)
    config = problem.config
    lr_of_t = run_schedule(config, schedule)
    record_at = log_spaced_steps(config.steps, config.records_per_decade) \
        if record_at is None else check_record_steps(record_at, config.steps)
    engine = run_engine(config, problem, net, replay, batches, threads)
    samples = run_batches(config, problem, batch_rng, noise_rng, batches, stream)
    history = History(net, engine, [problem], on_record, extra_metrics)
    guard = Divergence(net, [config.diverge_factor])
    start = time.perf_counter()
    with engine:
        done = run_loop(net, engine, samples, lr_of_t, config.steps, record_at, history, guard,
                        list((problem.streams or {}).values()), stop)
    result = finish(net, problem, history.columns[0], guard.diverged[0],
                    time.perf_counter() - start)
    if stop is not None and done < config.steps and guard.diverged[0] is False:
        result.final.update(stopped_at=done, steps_done=done)
    for name, given in (("schedule", schedule), ("stream", stream)):
        if given is not None:
            result.config[name] = str(given)
    return result


def run_batches(config, problem, batch_rng, noise_rng, batches=None, stream=None):
    """The run's batch stream: the config's sampling (batches.make_batches, replaying a
    given index array), or a given stream(X, Y, batch_rng) of (X_b, Y_b) pairs."""
    if stream is None:
        b, replacement, noise = sampling(config)
        return make_batches(problem.data.X, problem.Y, [batch_rng], [noise_rng], b,
                            replacement, noise, batches, config.steps)
    pairs = stream(problem.data.X, problem.Y, batch_rng) if callable(stream) else None
    if batches is not None or not hasattr(pairs, "__iter__"):
        raise ValueError("stream must be a callable (X, Y, rng) -> iterator of (X_b, Y_b), "
                         f"given without batches; got stream={stream!r} returning "
                         f"{type(pairs).__name__}, batches={type(batches).__name__}")
    return checked_stream(iter(pairs), problem.data.X.shape[1], problem.Y.shape[1],
                          config.steps)


def run_schedule(config, schedule=None):
    """The run's step sizes t -> eta_t: the config's LRSchedule, or a given callable."""
    if schedule is None:
        return LRSchedule(config.lr, config.steps, config.decay_at, config.decay_factor,
                          config.warmup)
    if not callable(schedule):
        raise TypeError(f"schedule must be a callable t -> step size, got {schedule!r}")
    return lambda t: check_step_size(schedule(t), t)


def run_engine(config, problem, net, replay, batches=None, threads=None):
    """The engine of a single run (engines.py), its name and path noted in the problem."""
    path = problem.gradient = gradient_path(config, replay)
    if path == "moments":
        attach_moments(problem, net)
    problem.streams = start_streams(config.metrics, net, problem)
    rows = batches.shape[1] if batches is not None else sampling(config)[0]
    rows = problem.data.X.shape[0] if rows is None else rows
    problem.engine = engine_name(path, net, rows)
    return make_engine(problem.engine, net, build_rule(config), config.loss,
                       default_threads(threads), problem.data.X, problem.Y)
