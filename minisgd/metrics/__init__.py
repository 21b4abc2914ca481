"""Metrics, pure functions of weights and data, one module per family:

  support.py           first-layer support: irrelevant / relevant norms, detected support
  accuracy.py          classification accuracy
  predictor.py         a net's linear predictor beta; l0, ||beta - beta*||, top-|S| hits
  norms.py             metric set `layer_norms`
  sparsity.py          metric set `sparsity`: l0 at several thresholds, top-|S| hits
  feature_sparsity.py  metric set `feature_sparsity`: distinct live ReLU features per layer
  stabilization.py     metric set `stabilization` (streaming): the loss over a sliding window
  sharpness.py         metric set `sharpness`: top Hessian eigenvalue (analysis/lanczos.py)
  rank.py              metric set `rank`: rank of W/||W||_F at a tolerance, stable rank
  update_size.py       metric set `noise` (streaming): ||W_{t+1} - W_t|| / ||W_t|| per window
  collapse.py          metric set `collapse`: NC1-NC4 of the last hidden layer (train set)

Metric sets: a run's Config.metrics names extra sets of numbers recorded at every history
step and in `final` (the value at the end). A set is a function (net, problem) -> {column:
float}, registered here with @metric_set(name, tasks, models); problem is the run's
tasks.Problem (data, targets, loss). Later sets (rank, collapse, noise, sharpness, ...)
register the same way, in a module of their own imported at the bottom of this file.

A set that needs every step, not only the record steps (e.g. the size of each update), is
a class registered with @streaming_metric_set(name, tasks, models): train() makes one
object per run, Stream(net, problem), calls .step(net, t) after every update t (t = 0, 1,
...) and .row(net) at the record steps and at the end. Single runs only: an ensemble with
a streaming set is refused (the sweep then trains those runs one by one).
"""
import dataclasses
from dataclasses import dataclass

from .support import (column_norms, complement, detect_support, gram, irrelevant_norm,
                      precision_recall, relevant_norm, steps_to_threshold, support_summary)

ALL_TASKS = ("support", "classification", "sparse_regression")
ALL_MODELS = ("mlp", "diagonal")


@dataclass(frozen=True)
class MetricSet:
    name: str
    compute: object          # (net, problem) -> {column name: float}
    tasks: tuple
    models: tuple
    about: str
    streaming: bool = False
    check: object = None     # check(config): raise when the set cannot serve this config


METRIC_SETS = {}


def metric_set(name, tasks=ALL_TASKS, models=ALL_MODELS, check=None):
    """Register fn(net, problem) -> dict as the metric set `name` (a decorator). check:
    an optional check(config) that raises ValueError naming what the set needs, run by
    Config.validate, so a set that cannot serve a run refuses it before any work."""
    def register(fn):
        if name in METRIC_SETS:
            raise ValueError(f"metric set {name!r} is registered twice")
        about = (fn.__doc__ or "").strip().split("\n")[0]
        METRIC_SETS[name] = MetricSet(name, fn, tuple(tasks), tuple(models), about,
                                      check=check)
        return fn
    return register


def streaming_metric_set(name, tasks=ALL_TASKS, models=ALL_MODELS, check=None):
    """Register a class Stream(net, problem) with .step(net, t) and .row(net) -> dict as the
    streaming metric set `name` (a decorator; see the module docstring)."""
    def register(cls):
        metric_set(name, tasks, models, check)(cls)
        METRIC_SETS[name] = dataclasses.replace(METRIC_SETS[name], streaming=True)
        return cls
    return register


def start_streams(names, net, problem):
    """{name: Stream(net, problem)} for the streaming sets among names."""
    return {n: METRIC_SETS[n].compute(net, problem) for n in names if METRIC_SETS[n].streaming}


def check_metric_names(names, task, model, config=None):
    """names as a tuple of registered metric sets that apply to the task and model (and,
    given the config, pass their own check)."""
    if isinstance(names, str) or not isinstance(names, (tuple, list)):
        raise TypeError(f"metrics must be a list of metric-set names, got {names!r}")
    for name in names:
        if name not in METRIC_SETS:
            raise ValueError(f"metrics: unknown metric set {name!r}; known: "
                             f"{sorted(METRIC_SETS)}")
        entry = METRIC_SETS[name]
        if task not in entry.tasks or model not in entry.models:
            raise ValueError(f"metrics: {name!r} applies to tasks {list(entry.tasks)} and "
                             f"models {list(entry.models)}, got task={task!r}, model={model!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"metrics must not name a set twice, got {list(names)}")
    for name in names:
        if config is not None and METRIC_SETS[name].check is not None:
            METRIC_SETS[name].check(config)
    return tuple(names)


def compute_metric_sets(names, net, problem):
    """{column: value} of every named set, in the order named."""
    row = {}
    for name in names:
        entry = METRIC_SETS[name]
        row.update(problem.streams[name].row(net) if entry.streaming
                   else entry.compute(net, problem))
    return row


from . import norms  # noqa: E402,F401  (these imports register the metric sets)
from . import feature_sparsity, sharpness, sparsity, stabilization  # noqa: E402,F401
from . import collapse, rank, update_size  # noqa: E402,F401

__all__ = ["METRIC_SETS", "MetricSet", "metric_set", "streaming_metric_set", "start_streams",
           "check_metric_names",
           "compute_metric_sets", "column_norms", "complement", "detect_support", "gram",
           "irrelevant_norm", "precision_recall", "relevant_norm", "steps_to_threshold",
           "support_summary"]
