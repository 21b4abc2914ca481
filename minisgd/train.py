"""The training loop and its history: one run from a Config to a Result.

One readable loop: batch -> forward -> loss -> backward -> (clip) update (prox) -> record.
The history is recorded at log-spaced steps (step 0 is the initialization, the last step is
always included): data loss on the whole training set, explicit penalty, test loss, what
the task records (tasks.py: the support task's irrelevant/relevant first-layer norms, a
classifier's accuracies, a sparse predictor's l0), the learning rate, and the metric sets
the config names.

Divergence: a run stops at the first step t whose batch loss is non-finite or exceeds
`diverge_factor` times the initial training loss (this catches the runaway-but-finite runs,
e.g. the paper's deep linear net without clipping, whose weights grow to ~1e7). It is then
reported as diverged at step t and keeps the history recorded so far.

Randomness: one int `seed` spawns independent streams (numpy SeedSequence) for the data,
the initialization, the batch order and the label noise, so runs that differ only in
batch size or step size share data and initialization. Same Config -> bit-identical history.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from .engines import BatchGradient, default_threads
from .batches import data_batches
from .checks import check_int
from .config import Config, config_dict, config_from_dict, moments_apply  # noqa: F401
from .data import Data, make_data  # noqa: F401  (make_data re-exported)
from .resolve import check_config, reconcile
from .metrics import start_streams
from .models import MLP
from .moments import MomentGradient, moments_with_optimum
from .optimizers import GD, SGD, GroupL1Prox, L1Prox, LRSchedule
from .tasks import (check_data, draw_data, history_row, make_problem, randomize_labels,
                    task_final)

MOMENTS_MIN_BATCH = 128     # gradient="auto": SGD batches from here on take the moments
                            # path (the measured crossover: docs/performance.md)
HISTORY_COLUMNS = ("step", "train_loss", "penalty", "test_loss", "irrelevant_norm",
                   "relevant_norm", "lr")                     # the support task's


@dataclass
class Result:
    """A finished (or diverged) run: config, history columns, final metrics, the net."""
    config: dict
    history: dict
    final: dict
    net: object = field(repr=False)                   # MLP or DiagonalNet
    given: dict = field(default_factory=dict)         # config field -> the object it came from

    def to_dict(self):
        """The stable JSON layout: {"config", "history", "final", "version"}, and "given"
        ({config field: the given data / net / batch array it was taken from}) when a run
        was given any."""
        out = {"config": self.config, "history": self.history, "final": self.final,
               "version": __version__}
        if self.given:
            out["given"] = self.given
        return out


def log_spaced_steps(steps, per_decade=20):
    """Sorted unique record steps: 0, then ~per_decade per decade of 1..steps, and steps."""
    k = max(2, int(np.ceil(per_decade * np.log10(max(steps, 10)))) + 1)
    ts = np.unique(np.round(np.logspace(0, np.log10(steps), k)).astype(int))
    return [0] + [int(t) for t in ts if 1 <= t < steps] + [steps]


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


def build_optimizer(config):
    prox = []
    if config.l1:
        prox.append(L1Prox(config.l1))
    if config.group_l1:
        prox.append(GroupL1Prox(config.group_l1))
    kwargs = dict(momentum=config.momentum, weight_decay=config.weight_decay,
                  decoupled=config.decoupled_wd, clip=config.clip, prox=prox,
                  label_noise=config.label_noise)
    if config.optimizer == "gd":
        return GD(config.lr, **kwargs)
    return SGD(config.lr, config.batch_size, replacement=config.replacement, **kwargs)


def spawn_rngs(seed, data_seed=None):
    """Independent generators for data, init, batches, label noise, from one seed. With a
    data_seed the data generator is the one `seed=data_seed` would use: runs that share a
    data_seed share their data and differ in init and batch order."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    if data_seed is not None:
        rngs[0] = spawn_rngs(data_seed)[0]
    return rngs


class History:
    """The history of a run: one row per record step, computed by tasks.history_row (plus
    extra_metrics(net, data) -> dict of more columns, e.g. gradient-noise diagnostics);
    on_record(t, row) is told every row (progress displays use it)."""

    def __init__(self, net, optimizer, problem, on_record=None, extra_metrics=None):
        self.net, self.optimizer, self.problem = net, optimizer, problem
        self.data = problem.data
        self.on_record, self.extra_metrics = on_record, extra_metrics
        self.columns = {c: [] for c in problem.history_columns()}

    def record(self, t, lr):
        row = history_row(self.net, self.optimizer, self.problem, lr)
        if self.extra_metrics is not None:
            row.update(self.extra_metrics(self.net, self.data))
        self.columns["step"].append(t)
        for key, value in row.items():
            self.columns.setdefault(key, []).append(float(value))
        if self.on_record is not None:
            self.on_record(t, row)


def gradient_path(config, replay=False):
    """Which path computes the run's gradients: "rows" (batch_gradient.py, any net) or
    "moments" (moments.py: linear MLPs under mse, exact). gradient="auto" takes moments
    where they apply and pay -- full batch, or SGD batches of at least MOMENTS_MIN_BATCH
    rows -- except for a replay (given data, net or batches), which keeps the rows path,
    whose per-step numbers match PyTorch's to ~1e-15."""
    if config.gradient != "auto":
        return config.gradient
    if replay or moments_apply(config) is not None:
        return "rows"
    if config.optimizer == "gd" or config.batch_size >= MOMENTS_MIN_BATCH:
        return "moments"
    return "rows"


def gradient_engine(path, net, problem, threads=1, X=None, Y=None):
    """The loop's loss_and_grad(net, X_batch, Y_batch) -> (C, Grads) for the path; X, Y
    are the full training rows the batches come from (their moments are computed once)."""
    if path == "moments":
        return MomentGradient(net, problem.data.X if X is None else X,
                              problem.Y if Y is None else Y)
    return BatchGradient(net, threads, problem.loss)


def attach_moments(problem, net):
    """For the moments path on a regression task: the train and test sets' moments with
    their least-squares optimum, so the history's losses come from them (exactly)."""
    if problem.task != "classification":
        bias = net.biases is not None
        problem.train_moments = moments_with_optimum(problem.data.X, problem.Y, bias)
        problem.test_moments = moments_with_optimum(problem.data.X_test, problem.Y_test, bias)
    return problem


def run_loop(net, optimizer, schedule, batches, steps, record_at, noise_rng, history,
             diverge_factor, threads=1, path="rows"):
    """The training loop. Returns the step at which the run diverged, or False.

    batches yields (X_batch (b, d), Y_batch (b, n_out)) per step; history.record(t, lr)
    is called at step 0 and at each step of record_at; threads: see BatchGradient;
    path: see gradient_path.
    """
    history.record(0, schedule(0))
    limit = diverge_factor * history.columns["train_loss"][0]
    if not np.isfinite(limit):                   # the data overflow the loss: nothing to train
        return 0
    next_records = iter(record_at[1:])
    next_record = next(next_records)
    streams = list((history.problem.streams or {}).values())    # per-step metric sets
    with gradient_engine(path, net, history.problem, threads) as loss_and_grad:
        for t in range(steps):
            Xb, Yb = next(batches)                               # (b, d), (b, n_out)
            if optimizer.label_noise:
                Yb = Yb + optimizer.label_noise * noise_rng.standard_normal(Yb.shape)
            value, grads = loss_and_grad(net, Xb, Yb)            # forward, backward
            if not value <= limit:                               # NaN, inf or runaway
                return t
            optimizer.step(net, grads, schedule(t))              # (clip) update (prox)
            for stream in streams:
                stream.step(net, t)
            if t + 1 == next_record:
                history.record(t + 1, schedule(min(t + 1, steps - 1)))
                next_record = next(next_records, None)
    return False


def final_metrics(net, problem, history, diverged, wall_time):
    """The run's final numbers (JSON-ready; non-finite values become None). A metric that
    would mean nothing is null and final["note"] says why: parameters that are not finite
    (then the run counts as diverged at its last step if nothing caught it before), or a
    training loss that was not finite from the start."""
    final = task_final(net, problem, history)
    notes = []
    if not np.isfinite(history["train_loss"][0]):
        notes.append("the initial training loss is not finite: the data overflow the loss "
                     "(e.g. targets near the float64 range), so nothing was trained")
    if not np.isfinite(net.theta).all():
        diverged = problem.config.steps if diverged is False else diverged
        notes.append("the parameters are not finite at the end")
    overflowed = sorted(k for k, v in final.items() if not all_finite(v))
    if overflowed:
        notes.append(f"{', '.join(overflowed)} not finite: every metric of the net is null")
        final = {k: None for k in final}
    final["gradient"] = problem.gradient
    final["diverged"] = diverged
    final["steps_done"] = diverged if diverged is not False else problem.config.steps
    final["wall_time"] = wall_time
    if notes:
        final["note"] = "; ".join(notes)
    return {k: finite_or_none(v) for k, v in final.items()}


def all_finite(value):
    """False for a non-finite float or a list holding one (None counts as finite: absent)."""
    if isinstance(value, (float, np.floating)):
        return bool(np.isfinite(value))
    if isinstance(value, list):
        return all(all_finite(v) for v in value)
    return True


def finite_or_none(value):
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return value


def prepare(config, data=None, net=None, batches=None):
    """Validate a run and draw what it starts from: (problem, net, rngs). Given `data` and
    `net` (copied) replace the draws; what they (and `batches`) state enters the config
    (given.reconcile); rngs = [data, init, batches, label noise]."""
    given = reconcile(config, data, net, batches)
    data_seed = None if config.data_seed is None else check_int("data_seed", config.data_seed, low=0)
    rngs = spawn_rngs(check_int("seed", config.seed, low=0), data_seed)
    if data is None:
        config.validate()
    else:
        config.validate(n_train=data.X.shape[0])
        check_data(config, data)
        if config.task == "classification":        # not drawn: no data set recipe ran
            config.dataset = config.blobs = config.separation = None
        if config.task == "sparse_regression":
            config.noise = None
    if net is not None:
        check_initial_net(config, net)
    problem = draw_problem(config, rngs[0], data)
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
    """A given initial net must have the config's outputs (its kind, inputs and shape were
    brought into the config by given.reconcile)."""
    if net.sizes[-1] != config.n_out:
        raise ValueError(f"the initial net must map d={config.d} inputs to {config.n_out} "
                         f"output(s), got sizes {net.sizes}")


def cast_data(data, dtype):
    """The data in the run's dtype (drawn in float64; a float32 run gets a float32 copy of
    the inputs and the regression targets; class labels stay ints)."""
    if data.X.dtype == dtype:
        return data
    cast = lambda a: a if a is None or not np.issubdtype(a.dtype, np.floating) else a.astype(dtype)
    return Data(cast(data.X), cast(data.y), cast(data.X_test), cast(data.y_test), data.support,
                data.classes, data.beta, data.y_clean)


def train(config=None, data=None, net=None, batches=None, on_record=None,
          extra_metrics=None, threads=None, schedule=None, record_at=None):
    """Run one training run. `data`, `net` (initial weights, copied) and `batches`
    ((steps, b) int array of row indices) override what the config would draw;
    on_record / extra_metrics: see History. threads: for batches of more than CHUNK_ROWS
    rows (see BatchGradient; same numbers either way); None takes default_threads().
    schedule: a step-size schedule t -> eta_t replacing the config's (lr, decay_at,
    decay_factor, warmup), for a published schedule those cannot express; the recorded
    config then says "schedule": its description (str(schedule)). record_at: the history's
    steps (sorted ints from 0 to config.steps) instead of log-spaced ones."""
    config = Config() if config is None else check_config(config)
    replay = data is not None or net is not None or batches is not None
    problem, net, (_, _, batch_rng, noise_rng) = prepare(config, data, net, batches)
    path = problem.gradient = gradient_path(config, replay)
    if path == "moments":
        attach_moments(problem, net)
    problem.streams = start_streams(config.metrics, net, problem)
    optimizer = build_optimizer(config)
    custom = schedule
    if schedule is None:
        schedule = LRSchedule(config.lr, config.steps, config.decay_at, config.decay_factor,
                              config.warmup)
    elif not callable(schedule):
        raise TypeError(f"schedule must be a callable t -> step size, got {schedule!r}")
    stream = data_batches(batch_rng, problem.data.X, problem.Y, optimizer.batch_size,
                          optimizer.replacement, batches, config.steps)
    history = History(net, optimizer, problem, on_record, extra_metrics)
    record_at = log_spaced_steps(config.steps, config.records_per_decade) \
        if record_at is None else check_record_steps(record_at, config.steps)
    start = time.perf_counter()
    diverged = run_loop(net, optimizer, schedule, stream, config.steps, record_at, noise_rng,
                        history, config.diverge_factor, default_threads(threads), path)
    result = finish(net, problem, history.columns, diverged, time.perf_counter() - start)
    if custom is not None:
        result.config["schedule"] = str(custom)
    return result


def check_record_steps(record_at, steps):
    """Record steps: sorted distinct ints from 0 to steps, both included."""
    steps_list = list(record_at) if hasattr(record_at, "__iter__") else None
    if not steps_list or any(isinstance(t, bool) or not isinstance(t, (int, np.integer))
                             for t in steps_list) or steps_list[0] != 0 or \
            steps_list[-1] != steps or sorted(set(steps_list)) != steps_list:
        raise ValueError(f"record_at must be sorted distinct ints from 0 to steps={steps}, got "
                         f"{record_at!r}")
    return [int(t) for t in steps_list]


def finish(net, problem, history, diverged, wall_time):
    """The Result of a run: final metrics, JSON-ready history and config."""
    config = problem.config
    final = final_metrics(net, problem, history, diverged, wall_time)
    history = {k: finite_or_none(v) for k, v in history.items()}
    return Result(config_dict(config), history, final, net, dict(problem.given or {}))
