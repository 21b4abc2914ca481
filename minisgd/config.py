"""The configuration of one training run: every value a run depends on, and the one table
(FIELD_TABLE) of which task, model and optimizer each optional field applies to and the
value it takes there when left unset. Every field is also a `train` CLI flag and a sweep
TOML key. Validation returns a new, resolved Config and never changes its input.
Not for: given data / nets / batch arrays or the checks of the values (resolve.py), or
running anything (train.py).
"""
from dataclasses import dataclass, fields, replace
from typing import Optional

import numpy as np

from .checks import check_choice, describe
from .data import DATASETS, dataset_defaults
from .data.real import sized
from .resolve import check_fields, moments_apply  # noqa: F401  (moments_apply re-exported)

TASKS = ("support", "classification", "sparse_regression")
MODELS = ("mlp", "diagonal")
OPTIMIZERS = ("sgd", "gd")
LOSSES = ("mse", "cross_entropy")


@dataclass
class Config:
    """Everything a run depends on. Defaults are the paper's setup (docs/science.md section 1)
    with SGD at batch size 32.

    None means "unset" for the fields of FIELD_TABLE: model, d, n, n_test, support, target, input,
    center, double, label_eps, threshold, support_rule, classes, dataset, blobs,
    separation, random_labels, label_scale, noise, l0_threshold, depth, width,
    activation, bias, weight_norm, init_scheme, init_scale, parametrization, batch_size,
    replacement, noise_inputs. validate() gives each the value that runs -- taken from a given data
    set, net or batch array (resolve.py), else the table's default for the config's task,
    model and optimizer -- or None where it does not apply; a field that does not apply
    but is set (even to the value it would have elsewhere) is refused. Every other field
    has its value here; None in clip, data_seed means what their comments say."""
    # task: what is learned, from which data, with which loss (tasks.py)
    task: str = "support"            # "support" | "classification" | "sparse_regression"
    model: Optional[str] = None      # "mlp" (default) | "diagonal"
    # data. support task: inputs on d coordinates, a target on `support`
    d: Optional[int] = None          # default 15
    support: Optional[tuple] = None  # default (0, 1, 2, 3, 4)
    n: Optional[int] = None          # default 5000; distinct inputs (2n pairs while double)
    n_test: Optional[int] = None     # default 2000
    target: Optional[str] = None     # default "linear"
    input: Optional[str] = None      # default "gaussian"
    center: Optional[bool] = None    # default True
    double: Optional[bool] = None    # default True
    label_eps: Optional[float] = None   # default 0.001
    # classification: C classes of a data set drawn in code, labels possibly randomized
    classes: Optional[int] = None           # default 3
    dataset: Optional[str] = None           # default "gaussian_mixture"
    blobs: Optional[int] = None             # gaussian_mixture: blobs per class
    separation: Optional[float] = None      # gaussian_mixture / signals: how far apart
    random_labels: Optional[float] = None   # fraction of training labels made random; 0
    label_scale: Optional[float] = None     # loss="mse": targets label_scale * one-hot; 1
    # sparse regression: y = X beta* + noise, beta* on `support`
    noise: Optional[float] = None           # std of the label noise; default 0
    l0_threshold: Optional[float] = None    # |beta_j| above it counts in l0; default 1e-3
    # network: input d -> depth hidden layers of `width` -> 1 (or `classes`) outputs
    depth: Optional[int] = None             # default 3
    width: Optional[int] = None             # default 15
    activation: Optional[str] = None        # default "linear"
    bias: Optional[bool] = None             # default False
    init_scheme: Optional[str] = None       # "kaiming_normal" (MLP) | "constant" (diagonal)
    init_scale: Optional[float] = None      # MLP: none; diagonal net: 0.1
    weight_norm: Optional[str] = None       # "none" (default) | "layer" | "unit"
    parametrization: Optional[str] = None   # diagonal net: "uv" (default) | "u2v2"
    loss: str = "mse"                       # "mse" | "cross_entropy" (classification)
    # optimizer
    optimizer: str = "sgd"
    batch_size: Optional[int] = None        # default 32
    replacement: Optional[bool] = None      # default False
    lr: float = 0.1
    clip: Optional[float] = 1.0             # None: no clipping
    momentum: float = 0.0
    weight_decay: float = 0.0
    decoupled_wd: bool = False
    l1: float = 0.0
    group_l1: float = 0.0
    label_noise: float = 0.0
    decay_at: tuple = ()
    decay_factor: float = 0.1
    warmup: int = 0
    # run
    steps: int = 20000
    seed: int = 0
    data_seed: Optional[int] = None  # None: the data of `seed`; else the data of that seed
    records_per_decade: int = 20
    diverge_factor: float = 1e6
    threshold: Optional[float] = None      # default 0.1 (support task)
    support_rule: Optional[str] = None     # default "gap" (support task)
    dtype: str = "float64"           # "float32": half the memory traffic, ~1e-7 precision
    gradient: str = "auto"           # "rows" | "moments" (linear nets, mse) | "auto" (train.py)
    metrics: tuple = ()              # extra metric sets recorded along the run (metrics/)
    noise_inputs: Optional[int] = None  # real data: k inputs of pure noise appended (real.py)

    @property
    def n_train(self):
        """Training rows of a resolved config's drawn data."""
        return 2 * self.n if self.double else self.n

    @property
    def n_out(self):
        """Outputs of the net (resolved config): one per class for classification, else one."""
        return self.classes if self.task == "classification" else 1

    def validate(self, n_train=None, given=()):
        """The resolved Config (a new one): FIELD_TABLE's fields resolved, every value checked
        (resolve.check_fields: errors name the field and its form), lists as tuples.
        n_train: the rows of given data (not drawn: the recipe's fields do not apply; they
        bound batch_size); given: the other given objects ("net", "batches")."""
        given = set(given) | ({"data"} if n_train is not None else set())
        resolved = resolve_fields(plain_config(self), given=given)
        if "data" in given and self.data_seed is not None and not resolved.random_labels:
            raise ValueError("data_seed seeds the drawn data (and random labels): with given data"
                             f" and no random_labels it does nothing; got {self.data_seed!r}")
        return check_fields(resolved, resolved.n_train if n_train is None else n_train)


CONFIG_FIELDS = fields(Config)


@dataclass(frozen=True)
class By:
    """A default that depends on another field: values[the resolved value of `field`]."""
    field: str
    values: dict


@dataclass(frozen=True)
class Field:
    """Where an unset-able field applies (the tasks, models, optimizers and losses it
    applies to; drawn: only when the data is drawn, not given; unless: the given objects,
    "net" or "batches", that decide it instead) and its default there."""
    default: object
    task: tuple = TASKS
    model: tuple = MODELS
    optimizer: tuple = OPTIMIZERS
    loss: tuple = LOSSES
    drawn: bool = False
    unless: tuple = ()


GIVEN = {"data": ("given data, which decides", "data drawn from the config's recipe"),
         "net": ("a given initial net", "a net drawn from the config: the weights come from "
                 "the net"),
         "batches": ("a given batch array", "batches drawn from the config: the array decides")}
SUPPORT, SPARSE, CLASSIFY = ("support",), ("sparse_regression",), ("classification",)
RECIPES = {name: dataset_defaults(name) for name in DATASETS}
# The fields whose None means "unset", in the order they are resolved (model and dataset
# before the fields whose default depends on them). README.md points here.
FIELD_TABLE = {
    "model": Field("mlp"),
    "dataset": Field("gaussian_mixture", task=CLASSIFY, drawn=True),
    "d": Field(By("dataset", sized(DATASETS, 15, 0))),     # a real dataset's own sizes
    "n": Field(By("dataset", sized(DATASETS, 5000, 1))),
    "n_test": Field(By("dataset", sized(DATASETS, 2000, 2))),
    "support": Field((0, 1, 2, 3, 4), task=SUPPORT + SPARSE),
    "target": Field("linear", task=SUPPORT, unless=("data",)),
    "input": Field("gaussian", task=SUPPORT, unless=("data",)),
    "center": Field(True, task=SUPPORT, unless=("data",)),
    "double": Field(True, task=SUPPORT, unless=("data",)),
    "label_eps": Field(0.001, task=SUPPORT, unless=("data",)),
    "threshold": Field(0.1, task=SUPPORT),
    "support_rule": Field("gap", task=SUPPORT),
    "classes": Field(By("dataset", sized(DATASETS, 3, 3)), task=CLASSIFY),
    "blobs": Field(By("dataset", {k: v["blobs"] for k, v in RECIPES.items()}),
                   task=CLASSIFY, drawn=True),
    "separation": Field(By("dataset", {k: v["separation"] for k, v in RECIPES.items()}),
                        task=CLASSIFY, drawn=True),
    "random_labels": Field(0.0, task=CLASSIFY),
    "noise_inputs": Field(None, task=CLASSIFY, drawn=True),
    "label_scale": Field(1.0, task=CLASSIFY, loss=("mse",)),
    "noise": Field(0.0, task=SPARSE, drawn=True),
    "l0_threshold": Field(1e-3, task=SPARSE),
    "depth": Field(3, model=("mlp",)),
    "width": Field(15, model=("mlp",)),
    "activation": Field("linear", model=("mlp",)),
    "bias": Field(False, model=("mlp",)),
    "weight_norm": Field("none", model=("mlp",)),
    "init_scheme": Field(By("model", {"mlp": "kaiming_normal", "diagonal": "constant"}),
                         unless=("net",)),
    "init_scale": Field(By("model", {"mlp": None, "diagonal": 0.1}), unless=("net",)),
    "parametrization": Field("uv", model=("diagonal",)),
    "batch_size": Field(32, optimizer=("sgd",)),
    "replacement": Field(False, optimizer=("sgd",), unless=("batches",)),
}
UNSET = tuple(FIELD_TABLE)
SGD_ONLY = tuple(k for k, f in FIELD_TABLE.items() if f.optimizer == ("sgd",))


def resolve_fields(config, given=()):
    """A new Config whose FIELD_TABLE fields are resolved: a field that applies and is
    unset takes its default there; one that does not apply is None, and refused when set.
    given: the objects given ("data", "net", "batches"; their fields do not apply)."""
    for name, choices in (("task", TASKS), ("optimizer", OPTIMIZERS), ("loss", LOSSES)):
        check_choice(name, getattr(config, name), choices)
    at = {"task": config.task, "optimizer": config.optimizer, "loss": config.loss,
          "given": set(given)}
    values = {}
    for name, field in FIELD_TABLE.items():
        values[name] = at[name] = resolve_field(name, field, getattr(config, name), at)
        if name == "model":
            check_choice("model", values[name], MODELS)
        if name == "dataset" and values[name] is not None:
            check_choice("dataset", values[name], DATASETS)
    if isinstance(values.get("noise_inputs"), int) and config.d is None:
        values["d"] += values["noise_inputs"]             # a real dataset's inputs + noise
    return replace(config, **values)


def resolve_field(name, field, value, at):
    """The value of one table field at `at` (the task, model, ... resolved so far)."""
    where, only = not_applying(field, at)
    if where is None:
        if value is not None:
            return value
        return field.default.values[at[field.default.field]] \
            if isinstance(field.default, By) else field.default
    if value is not None:
        raise ValueError(f"{name} does not apply to {where} (only to {only}): leave it unset, "
                         f"got {value!r}")
    return None


def not_applying(field, at):
    """(where the field does not apply, where it does) at `at`; (None, None) if it does."""
    for key in ("task", "model", "optimizer", "loss"):
        scope = getattr(field, key)
        if key in at and at[key] not in scope:
            only = " or ".join(f"{key}={s!r}" for s in scope)
            if key == "optimizer":
                only += "; GD uses the whole training set every step"
            return f"{key}={at[key]!r}", only
    if field.drawn and "data" in at["given"]:
        return "given data", "data drawn from the config's recipe"
    for name in field.unless:
        if name in at["given"]:
            return GIVEN[name]
    return None, None


def unset_given(config, *given):
    """A copy of `config` with the fields that the given objects ("data", "net",
    "batches") decide unset: the data recipe's (and data_seed, unless labels are randomized),
    the initialization's, replacement (a run given those objects refuses them set)."""
    names = [name for name, field in FIELD_TABLE.items()
             if (field.drawn and "data" in given) or set(field.unless) & set(given)]
    names += [] if config.random_labels or "data" not in given else ["data_seed"]
    return replace(config, **dict.fromkeys(names))


def field_default(config, name):
    """The value an unset `name` takes for this config's task, model and optimizer (the
    config's own value when set); None where it does not apply."""
    value = getattr(config, name)
    if value is not None or name not in FIELD_TABLE:
        return value
    return getattr(resolve_fields(replace(config, **{name: None})), name)


def check_config(config, name="config"):
    if not isinstance(config, Config):
        raise TypeError(f"{name} must be a minisgd.train.Config, got {describe(config)}")
    return config


def plain(value):
    """A numpy scalar as the Python number (bool, str) it holds, in tuples and lists too:
    what runs and is recorded (np.float32(0.1) is 0.10000000149011612)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return type(value)(plain(v) for v in value)
    return value


def plain_config(config):
    """The Config with every numpy scalar given as a value made the plain Python one."""
    changed = {f.name: plain(getattr(config, f.name)) for f in fields(config)
               if plain(getattr(config, f.name)) is not getattr(config, f.name)}
    return replace(config, **changed) if changed else config


def config_dict(config):
    """JSON-ready dict of a Config (tuples as lists, numpy scalars as Python numbers)."""
    values = ((f.name, plain(getattr(config, f.name))) for f in CONFIG_FIELDS)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in values}


def config_from_dict(values):
    """Config from a dict (e.g. a JSON file or TOML table); unknown keys are an error."""
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()}
    return Config(**values)
