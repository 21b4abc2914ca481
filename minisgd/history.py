"""What a run records: the history at log-spaced steps, the final numbers, the Result.

The history has one row per record step (step 0 is the initialization, the last step is
always included): the data loss on the whole training set, the explicit penalty, the test
loss, what the task records (tasks.py: the support task's irrelevant/relevant first-layer
norms, a classifier's accuracies, a sparse predictor's l0), the step size, and the metric
sets the config names. An ensemble (K members trained in lockstep) keeps one history per
member, computed on each member's view of the stacked parameters: the same numbers the
member's single run records. Not for: the loop (train.py) or what a row holds (tasks.py).
"""
import numbers
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from .checks import check_int, describe
from .config import config_dict
from .tasks import history_row, task_final


@dataclass
class Result:
    """A finished (or diverged) run: config, history columns, final metrics, the net."""
    config: dict
    history: dict
    final: dict
    net: object = field(repr=False)                   # MLP or DiagonalNet
    given: dict = field(default_factory=dict)         # config field -> the object it came from
    data: dict = None                                 # a real dataset's source and processing

    def to_dict(self):
        """The stable JSON layout: {"config", "history", "final", "version"}, "given"
        ({config field: the given data / net / batch array it was taken from}) when a run
        was given any, and "data" (data/real.py's record) for a real dataset."""
        out = {"config": self.config, "history": self.history, "final": self.final,
               "version": __version__}
        out.update({k: v for k, v in (("given", self.given), ("data", self.data)) if v})
        return out


CALLBACKS = {"on_record": "(t, row) -> None", "extra_metrics": "(net, data) -> dict"}


def log_spaced_steps(steps, per_decade=20):
    """Sorted unique record steps: 0, then ~per_decade per decade of 1..steps, and steps."""
    steps = check_int("steps", steps, low=1)
    per_decade = check_int("per_decade", per_decade, low=1)
    k = max(2, int(np.ceil(per_decade * np.log10(max(steps, 10)))) + 1)
    if k - 1 > steps * np.log(steps) + 1:        # gaps below 1 step: every step is one
        return list(range(steps + 1))
    ts = np.unique(np.round(np.logspace(0, np.log10(steps), k)).astype(int))
    return [0] + [int(t) for t in ts if 1 <= t < steps] + [steps]


def check_record_steps(record_at, steps):
    """Record steps: sorted distinct ints from 0 to steps, both included."""
    steps_list = list(record_at) if hasattr(record_at, "__iter__") else None
    if not steps_list or any(isinstance(t, bool) or not isinstance(t, (int, np.integer))
                             for t in steps_list) or steps_list[0] != 0 or \
            steps_list[-1] != steps or sorted(set(steps_list)) != steps_list:
        raise ValueError(f"record_at must be sorted distinct ints from 0 to steps={steps}, got "
                         f"{record_at!r}")
    return [int(t) for t in steps_list]


class History:
    """The history of a run, or of each member of an ensemble (problems: one per member;
    net then stacked): rows computed by tasks.history_row with the engine's penalty, plus
    extra_metrics(net, data) -> dict of more columns (e.g. gradient-noise diagnostics);
    on_record(t, row) is told every row (progress displays use it). columns[k] is member
    k's (a single run: columns[0]). per_step: loop iterations per recorded step (GD on the
    modified loss with substeps; the step column counts steps of size eta)."""

    def __init__(self, net, engine, problems, on_record=None, extra_metrics=None, per_step=1):
        self.net, self.engine, self.problems = net, engine, problems
        rule = getattr(engine, "rule", None)                 # members with their own scalars
        self.penalties = [rule.member(k) if net.members is not None and hasattr(rule, "member")
                          else engine for k in range(len(problems))]
        self.per_step = check_int("per_step", per_step, low=1)
        for name, fn in (("on_record", on_record), ("extra_metrics", extra_metrics)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be None or a callable ({CALLBACKS[name]}), got "
                                f"{describe(fn)}")
        self.on_record, self.extra_metrics = on_record, extra_metrics
        self.extra_keys = None
        self.columns = [{c: [] for c in p.history_columns()} for p in problems]

    def member(self, k):
        return self.net if self.net.members is None else self.net.member(k, copy=False)

    def record(self, t, lr, active=None):
        """Rows at step t for every member (only the active ones: a frozen member's history
        ends at its divergence); lr: the step size, or one per member."""
        for k, problem in enumerate(self.problems):
            if active is not None and not active[k]:
                continue
            net = self.member(k)
            row = history_row(net, self.penalties[k], problem, lr[k] if np.ndim(lr) else lr)
            if self.extra_metrics is not None:
                row.update(self.checked_extra(row, self.extra_metrics(net, problem.data)))
            self.columns[k]["step"].append(t // self.per_step)
            for key, value in row.items():                   # metric sets add columns
                self.columns[k].setdefault(key, []).append(float(value))
            if self.on_record is not None:
                self.on_record(t // self.per_step, row)

    def checked_extra(self, row, extra):
        """What extra_metrics returned: a dict of new column names -> real numbers, the
        same names at every record (a column missing at one record would misalign)."""
        if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
            raise TypeError(f"extra_metrics must return a dict of column name -> number, got "
                            f"{describe(extra)}")
        bad = {k: v for k, v in extra.items() if isinstance(v, (bool, np.bool_))
               or not isinstance(v, numbers.Real)}
        if bad:
            raise TypeError(f"extra_metrics must return real numbers, got {describe(bad)}")
        taken = sorted(set(extra) & set(row))
        if taken:
            raise ValueError(f"extra_metrics returned column(s) {taken} that the run records "
                             "itself: name them differently")
        if self.extra_keys is None:
            self.extra_keys = sorted(extra)
        elif sorted(extra) != self.extra_keys:
            raise ValueError(f"extra_metrics must return the same columns at every record: "
                             f"first {self.extra_keys}, now {sorted(extra)}")
        return extra

    def last(self, column):
        """The latest value of a column, per member (K,)."""
        return np.array([c[column][-1] for c in self.columns])


TEXT_FINALS = ("note", "gradient", "engine")     # the final keys that hold text, not numbers


def final_metrics(net, problem, history, diverged, wall_time):
    """The run's final numbers (JSON-ready; non-finite values become None). A metric that
    would mean nothing is null and final["note"] says why: parameters that are not finite
    (then the run counts as diverged at its last step if nothing caught it before), or a
    training loss that was not finite from the start."""
    final = task_final(net, problem, history)
    notes = []
    if not np.isfinite(history["train_loss"][0]):
        notes.append(f"the initial training loss is not finite: {overflow_cause(net, problem)} "
                     "overflow the loss, so nothing was trained")
    if not np.isfinite(net.theta).all():
        diverged = problem.config.steps if diverged is False else diverged
        notes.append("the parameters are not finite at the end")
    overflowed = sorted(k for k, v in final.items() if not all_finite(v))
    if overflowed:
        notes.append(f"{', '.join(overflowed)} not finite: every metric of the net is null")
        final = {k: None for k in final}
    final["gradient"], final["engine"] = problem.gradient, problem.engine
    final["diverged"] = diverged
    final["steps_done"] = diverged if diverged is not False else problem.config.steps
    final["wall_time"] = wall_time
    if notes:
        final["note"] = "; ".join(notes)
    return {k: finite_or_none(v) for k, v in final.items()}


def overflow_cause(net, problem):
    """Whom an initial loss that is not finite is due to: the data (e.g. targets near the
    float64 range) or the initial parameters (e.g. init_scale 1e200), the larger in size."""
    size = lambda a: float(np.max(np.abs(a))) if np.size(a) else 0.0
    with np.errstate(all="ignore"):
        data = max(size(problem.data.X), size(problem.Y))
        theta = size(net.theta)                       # nothing was trained: the initial net
    if np.isfinite(data) and (theta > data or not np.isfinite(theta)):
        return f"the initial parameters (largest |theta| {theta:.3g}, data {data:.3g})"
    return "the data (e.g. targets near the float64 range)"


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


def finish(net, problem, history, diverged, wall_time):
    """The Result of a run: final metrics, JSON-ready history and config."""
    final = final_metrics(net, problem, history, diverged, wall_time)
    history = {k: finite_or_none(v) for k, v in history.items()}
    return Result(config_dict(problem.config), history, final, net, dict(problem.given or {}),
                  problem.data.source)
