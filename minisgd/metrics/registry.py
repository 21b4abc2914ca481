"""The metric-set registry: what a name in Config.metrics stands for, which tasks and
models it applies to, and the calls that check names, start streaming sets and compute a
row. The sets register themselves here from their own modules (metrics/__init__.py imports
them all). Not for: the sets' numbers (their modules) or when a run records (history.py).
"""
import dataclasses
from dataclasses import dataclass

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
