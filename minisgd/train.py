"""The training loop and its history: one run from a Config to a Result.

One readable loop: batch -> forward -> loss -> backward -> (clip) update (prox) -> record.
The history is recorded at log-spaced steps (step 0 is the initialization, the last step is
always included): data loss on the whole training set, explicit penalty, test loss, the
irrelevant/relevant first-layer norms and the learning rate.

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
from .batch_gradient import BatchGradient, default_threads, piece_slices
from .batches import data_batches
from .checks import check_int
from .config import Config, config_dict, config_from_dict  # noqa: F401  (re-exported)
from .data import Data, make_data
from .losses import mse
from .metrics import irrelevant_norm, relevant_norm, steps_to_threshold, support_summary
from .models import MLP
from .optimizers import GD, SGD, GroupL1Prox, L1Prox, LRSchedule

HISTORY_COLUMNS = ("step", "train_loss", "penalty", "test_loss", "irrelevant_norm",
                   "relevant_norm", "lr")


@dataclass
class Result:
    """A finished (or diverged) run: config, history columns, final metrics, the net."""
    config: dict
    history: dict
    final: dict
    net: MLP = field(repr=False)

    def to_dict(self):
        """The stable JSON layout: {"config", "history", "final", "version"}."""
        return {"config": self.config, "history": self.history, "final": self.final,
                "version": __version__}


def log_spaced_steps(steps, per_decade=20):
    """Sorted unique record steps: 0, then ~per_decade per decade of 1..steps, and steps."""
    k = max(2, int(np.ceil(per_decade * np.log10(max(steps, 10)))) + 1)
    ts = np.unique(np.round(np.logspace(0, np.log10(steps), k)).astype(int))
    return [0] + [int(t) for t in ts if 1 <= t < steps] + [steps]


def build_net(config, rng):
    sizes = [config.d] + [config.width] * config.depth + [1]
    net = MLP(sizes, activation=config.activation, bias=config.bias, init=config.init_scheme,
              scale=config.init_scale, seed=rng)             # drawn in float64 ...
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


def dataset_loss(net, X, Y):
    """mse of net on a whole data set, forward in the pieces of batch_gradient.piece_slices
    (same value up to rounding; the pieces stay in cache, and no (N, width) activations
    are kept)."""
    loss = 0.0
    for rows in piece_slices(X.shape[0]):
        loss += mse(net.forward_cache(X[rows])[-1], Y[rows], count=Y.size)[0]
    return loss


def measure(net, optimizer, data, Y, support, lr):
    """One history row (without the step): losses on the full sets, penalty, norms, lr."""
    W1 = net.weights[0]
    return {"train_loss": dataset_loss(net, data.X, Y),
            "penalty": optimizer.penalty(net),
            "test_loss": dataset_loss(net, data.X_test, data.y_test[:, None]),
            "irrelevant_norm": irrelevant_norm(W1, support),
            "relevant_norm": relevant_norm(W1, support), "lr": lr}


class History:
    """The history of a run: one row per record step, computed by `measure` (plus
    extra_metrics(net, data) -> dict of more columns, e.g. gradient-noise diagnostics);
    on_record(t, row) is told every row (progress displays use it)."""

    def __init__(self, net, optimizer, data, on_record=None, extra_metrics=None):
        self.net, self.optimizer, self.data = net, optimizer, data
        self.Y = data.y[:, None]                                 # (N, 1)
        self.on_record, self.extra_metrics = on_record, extra_metrics
        self.columns = {c: [] for c in HISTORY_COLUMNS}

    def record(self, t, lr):
        row = measure(self.net, self.optimizer, self.data, self.Y, self.data.support, lr)
        if self.extra_metrics is not None:
            row.update(self.extra_metrics(self.net, self.data))
        self.columns["step"].append(t)
        for key, value in row.items():
            self.columns.setdefault(key, []).append(float(value))
        if self.on_record is not None:
            self.on_record(t, row)


def run_loop(net, optimizer, schedule, batches, steps, record_at, noise_rng, history,
             diverge_factor, threads=1):
    """The training loop. Returns the step at which the run diverged, or False.

    batches yields (X_batch (b, d), Y_batch (b, 1)) per step; history.record(t, lr) is
    called at step 0 and at each step of record_at; threads: see BatchGradient.
    """
    history.record(0, schedule(0))
    limit = diverge_factor * history.columns["train_loss"][0]
    next_records = iter(record_at[1:])
    next_record = next(next_records)
    with BatchGradient(net, threads) as loss_and_grad:
        for t in range(steps):
            Xb, Yb = next(batches)                               # (b, d), (b, 1)
            if optimizer.label_noise:
                Yb = Yb + optimizer.label_noise * noise_rng.standard_normal(Yb.shape)
            loss, grads = loss_and_grad(net, Xb, Yb)             # forward, backward
            if not loss <= limit:                                # NaN, inf or runaway
                return t
            optimizer.step(net, grads, schedule(t))              # (clip) update (prox)
            if t + 1 == next_record:
                history.record(t + 1, schedule(min(t + 1, steps - 1)))
                next_record = next(next_records, None)
    return False


def final_metrics(net, config, data, history, diverged, wall_time):
    """The run's final numbers (JSON-ready; non-finite values become None)."""
    final = support_summary(net.weights[0], data.support, rule=config.support_rule)
    Y = data.y[:, None]
    final["train_loss"] = dataset_loss(net, data.X, Y)
    final["test_loss"] = dataset_loss(net, data.X_test, data.y_test[:, None])
    final["steps_to_threshold"] = steps_to_threshold(
        history["step"], history["irrelevant_norm"], history["relevant_norm"], config.threshold)
    final["diverged"] = diverged
    final["steps_done"] = diverged if diverged is not False else config.steps
    final["wall_time"] = wall_time
    return {k: finite_or_none(v) for k, v in final.items()}


def finite_or_none(value):
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return value


def prepare(config, data=None, net=None):
    """Validate a run and draw what it starts from: (data, net, rngs). Given `data` and
    `net` (copied) replace the draws; rngs = [data, init, batches, label noise]."""
    data_seed = None if config.data_seed is None else check_int("data_seed", config.data_seed, low=0)
    rngs = spawn_rngs(check_int("seed", config.seed, low=0), data_seed)
    if data is None:
        config.validate()
        data = make_data(rngs[0], config.d, config.support, config.n, config.target,
                         config.input, config.center, config.double, config.label_eps,
                         config.n_test)
    else:
        config.validate(n_train=data.X.shape[0])
        if data.X.shape[1] != config.d:
            raise ValueError(f"d must equal the data's width {data.X.shape[1]}, got {config.d}")
        if tuple(data.support) != tuple(config.support):
            raise ValueError(f"support of the config {tuple(config.support)} must equal the "
                             f"data's support {tuple(data.support)}")
    if net is not None and (net.sizes[0] != config.d or net.sizes[-1] != 1):
        raise ValueError(f"the initial net must map d={config.d} inputs to 1 output, "
                         f"got sizes {net.sizes}")
    net = build_net(config, rngs[1]) if net is None else net.copy(dtype=np.dtype(config.dtype))
    return cast_data(data, config.dtype), net, rngs


def cast_data(data, dtype):
    """The data in the run's dtype (drawn in float64; a float32 run gets a float32 copy)."""
    if data.X.dtype == dtype:
        return data
    return Data(*(a.astype(dtype) for a in (data.X, data.y, data.X_test, data.y_test)),
                data.support)


def train(config=None, data=None, net=None, batches=None, on_record=None,
          extra_metrics=None, threads=None):
    """Run one training run. `data`, `net` (initial weights, copied) and `batches`
    ((steps, b) int array of row indices) override what the config would draw;
    on_record / extra_metrics: see History. threads: for batches of more than CHUNK_ROWS
    rows (see BatchGradient; same numbers either way); None takes default_threads()."""
    config = Config() if config is None else config
    data, net, (_, _, batch_rng, noise_rng) = prepare(config, data, net)
    optimizer = build_optimizer(config)
    schedule = LRSchedule(config.lr, config.steps, config.decay_at, config.decay_factor,
                          config.warmup)
    stream = data_batches(batch_rng, data.X, data.y[:, None], optimizer.batch_size,
                          optimizer.replacement, batches, config.steps)
    history = History(net, optimizer, data, on_record, extra_metrics)
    record_at = log_spaced_steps(config.steps, config.records_per_decade)
    start = time.perf_counter()
    diverged = run_loop(net, optimizer, schedule, stream, config.steps, record_at, noise_rng,
                        history, config.diverge_factor, default_threads(threads))
    return finish(net, config, data, history.columns, diverged, time.perf_counter() - start)


def finish(net, config, data, history, diverged, wall_time):
    """The Result of a run: final metrics, JSON-ready history and config."""
    final = final_metrics(net, config, data, history, diverged, wall_time)
    history = {k: finite_or_none(v) for k, v in history.items()}
    return Result(config_dict(config), history, final, net)
