"""The configuration of one training run: every value a run depends on, with the paper's
setup as defaults, validated in one place. Every field is also a `train` CLI flag and a
sweep TOML key. Not for: running anything (train.py).
"""
from dataclasses import asdict, dataclass, fields
from typing import Optional

import numpy as np

from .checks import check_choice, check_float, check_int
from .data import DATASETS, INPUTS, TARGETS, check_support, dataset_defaults
from .models import ACTIVATIONS
from .models.initializers import INITS
from .optimizers import LRSchedule


@dataclass
class Config:
    """Everything a run depends on. Defaults are the paper's setup (SCIENCE.md section 1)
    with SGD at batch size 32."""
    # task: what is learned, from which data, with which loss (tasks.py)
    task: str = "support"            # "support" | "classification" | "sparse_regression"
    model: str = "mlp"               # "mlp" | "diagonal"
    # data. support task: inputs on d coordinates, a target on `support`
    d: int = 15
    support: tuple = (0, 1, 2, 3, 4)
    n: int = 5000                    # distinct inputs; 2n training pairs while double=True
    n_test: int = 2000
    target: str = "linear"
    input: str = "gaussian"
    center: bool = True
    double: bool = True
    label_eps: float = 0.001
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
    depth: int = 3
    width: int = 15
    activation: str = "linear"
    bias: bool = False
    init_scheme: str = "kaiming_normal"
    init_scale: Optional[float] = None
    weight_norm: str = "none"               # "none" | "layer" | "unit" (hidden layers)
    parametrization: Optional[str] = None   # diagonal net: "uv" (default) | "u2v2"
    loss: str = "mse"                       # "mse" | "cross_entropy" (classification)
    # optimizer
    optimizer: str = "sgd"
    batch_size: int = 32
    replacement: bool = False
    lr: float = 0.1
    clip: Optional[float] = 1.0
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
    threshold: float = 0.1
    support_rule: str = "gap"
    dtype: str = "float64"           # "float32": half the memory traffic, ~1e-7 precision
    gradient: str = "auto"           # "rows" | "moments" (linear nets, mse) | "auto" (train.py)
    metrics: tuple = ()              # extra metric sets recorded along the run (metrics/)

    @property
    def n_train(self):
        return 2 * self.n if self.double else self.n

    @property
    def n_out(self):
        """Outputs of the net: one per class for classification, else one."""
        return self.classes if self.task == "classification" else 1

    def validate(self, n_train=None):
        """Check every field; raise ValueError/TypeError naming the field. Returns self.

        First the task and model decide which fields apply (resolve_fields): a field that
        does not apply is set to None (recorded as not applying) when left at its default,
        and refused when given; a task's own field left at None gets the task's default,
        so the recorded config says what ran."""
        resolve_fields(self)
        n_train = self.n_train if n_train is None else n_train
        for name in ("d", "n", "n_test", "steps", "records_per_decade"):
            check_int(name, getattr(self, name), low=1)
        if self.model == "mlp":
            check_int("depth", self.depth, low=0)
            check_int("width", self.width, low=1)
            check_choice("activation", self.activation, ACTIVATIONS)
            check_bool("bias", self.bias)
            check_choice("init_scheme", self.init_scheme, INITS)
            check_choice("weight_norm", self.weight_norm, WEIGHT_NORMS)
            if self.weight_norm != "none" and self.depth == 0:
                raise ValueError(f"weight_norm={self.weight_norm!r} normalizes the hidden "
                                 "layers: depth must be >= 1, got 0")
        else:
            check_choice("init_scheme", self.init_scheme, DIAGONAL_INITS)
            check_choice("parametrization", self.parametrization, PARAMETRIZATIONS)
        if self.support is not None:
            self.support = check_support(self.support, self.d)
        if self.task == "support":
            check_choice("target", self.target, TARGETS)
            check_choice("input", self.input, INPUTS)
            check_float("label_eps", self.label_eps, low=0.0)
            for name in ("center", "double"):
                check_bool(name, getattr(self, name))
        if self.task == "support":
            check_choice("support_rule", self.support_rule, ("gap", "fraction"))
            check_float("threshold", self.threshold, low=0.0, low_open=True)
        if self.task == "classification":
            check_classification(self)
        if self.task == "sparse_regression":
            check_float("noise", self.noise, low=0.0)
            check_float("l0_threshold", self.l0_threshold, low=0.0, low_open=True)
        check_choice("optimizer", self.optimizer, ("sgd", "gd"))
        check_choice("dtype", self.dtype, ("float64", "float32"))
        if self.optimizer == "sgd":
            check_int("batch_size", self.batch_size, low=1, high=n_train)
            check_bool("replacement", self.replacement)
        check_float("lr", self.lr, low=0.0, low_open=True)
        for name in ("momentum", "weight_decay", "l1", "group_l1", "label_noise"):
            check_float(name, getattr(self, name), low=0.0, high=1.0 if name == "momentum" else None)
        for name in ("clip", "init_scale"):
            if getattr(self, name) is not None:
                check_float(name, getattr(self, name), low=0.0, low_open=True)
        check_bool("decoupled_wd", self.decoupled_wd)
        if not isinstance(self.decay_at, (tuple, list)):
            raise TypeError(f"decay_at must be a list of fractions in (0, 1], "
                            f"got {self.decay_at!r}")
        if self.init_scheme == "normal" and self.init_scale is None:
            raise ValueError("init_scale must be given (the std of the weights) when "
                             "init_scheme='normal', got None")
        check_float("diverge_factor", self.diverge_factor, low=1.0, low_open=True)
        check_int("seed", self.seed, low=0)
        if self.data_seed is not None:
            check_int("data_seed", self.data_seed, low=0)
        check_choice("gradient", self.gradient, GRADIENTS)
        if self.gradient == "moments":
            check_moments_apply(self)
        check_combinations(self)
        self.metrics = check_metric_sets(self, self.metrics)
        LRSchedule(self.lr, self.steps, self.decay_at, self.decay_factor, self.warmup)
        return self


TASKS = ("support", "classification", "sparse_regression")
MODELS = ("mlp", "diagonal")
LOSSES = ("mse", "cross_entropy")
WEIGHT_NORMS = ("none", "layer", "unit")
GRADIENTS = ("auto", "rows", "moments")
PARAMETRIZATIONS = ("uv", "u2v2")
DIAGONAL_INITS = ("constant", "normal")
DEFAULTS = {f.name: f.default for f in fields(Config)}


def applying_fields(config):
    """{field: the task/model default it takes when None (None: no default)} for the fields
    that apply to this config's task and model; every other field listed in OWNED does not
    apply."""
    task, model = config.task, config.model
    own = {}
    if task == "support":
        own.update(support=None, target=None, input=None, center=None, double=None,
                   label_eps=None, threshold=None, support_rule=None)
    if task == "sparse_regression":
        own.update(support=None, noise=0.0, l0_threshold=1e-3)
    if task == "classification":
        dataset = config.dataset if config.dataset is not None else "gaussian_mixture"
        own.update(classes=3, dataset="gaussian_mixture", random_labels=0.0)
        if dataset in DATASETS:
            defaults = dataset_defaults(dataset)
            own.update({k: v for k, v in defaults.items() if k in ("blobs", "separation")})
        if config.loss == "mse":
            own.update(label_scale=1.0)
    if config.optimizer == "sgd":
        own.update(batch_size=None, replacement=None)
    if model == "mlp":
        own.update(depth=None, width=None, activation=None, bias=None, weight_norm=None)
    else:
        own.update(parametrization="uv")
    return own


OWNED = ("support", "target", "input", "center", "double", "label_eps", "threshold",
         "support_rule", "noise", "l0_threshold", "classes", "dataset", "blobs",
         "separation", "random_labels", "label_scale", "depth", "width", "activation",
         "bias", "weight_norm", "parametrization", "batch_size", "replacement")
SGD_ONLY = ("batch_size", "replacement")


def resolve_fields(config):
    """Task, model and optimizer decide the fields (see Config.validate). In place."""
    check_choice("optimizer", config.optimizer, ("sgd", "gd"))
    check_choice("task", config.task, TASKS)
    check_choice("model", config.model, MODELS)
    check_choice("loss", config.loss, LOSSES)
    if config.task == "classification" and config.dataset is not None:
        check_choice("dataset", config.dataset, DATASETS)
    own = applying_fields(config)
    what = f"task={config.task!r}" if config.model == "mlp" else \
        f"task={config.task!r} with model='diagonal'"
    for name in OWNED:
        where = "optimizer='gd' (every step uses the whole training set)" \
            if name in SGD_ONLY and config.optimizer == "gd" else what
        value = getattr(config, name)
        if name in own:
            if value is None and own[name] is not None:
                setattr(config, name, own[name])
        elif value is not None:
            if equal(value, DEFAULTS[name]):
                setattr(config, name, None)                  # recorded as not applying
            else:
                raise ValueError(f"{name} does not apply to {where}, got {value!r} (leave it "
                                 "unset)")
    if config.model == "diagonal":
        if config.init_scheme == DEFAULTS["init_scheme"]:
            config.init_scheme = "constant"                  # u = alpha 1, v = 0
        if config.init_scale is None:
            config.init_scale = 0.1                          # alpha


def equal(a, b):
    return (tuple(a) if isinstance(a, list) else a) == (tuple(b) if isinstance(b, list) else b)


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def check_classification(config):
    check_int("classes", config.classes, low=2)
    if config.n < config.classes:
        raise ValueError(f"n must be at least classes={config.classes} (every class in the "
                         f"training set), got {config.n}")
    check_float("random_labels", config.random_labels, low=0.0, high=1.0)
    if config.blobs is not None:
        check_int("blobs", config.blobs, low=1)
    if config.separation is not None:
        check_float("separation", config.separation, low=0.0, low_open=True)
    if config.label_scale is not None:
        check_float("label_scale", config.label_scale, low=0.0, low_open=True)


def moments_apply(config):
    """Why the moments path (moments.py) cannot compute this run's gradient, or None."""
    if config.model != "mlp":
        return f"model={config.model!r} (it needs an MLP)"
    if config.activation != "linear":
        return f"activation={config.activation!r} (it needs a linear net)"
    if config.loss != "mse":
        return f"loss={config.loss!r} (it needs the square loss)"
    if config.weight_norm != "none":
        return f"weight_norm={config.weight_norm!r}"
    return None


def check_moments_apply(config):
    why = moments_apply(config)
    if why is not None:
        raise ValueError(f"gradient='moments' is exact only for linear MLPs under mse without "
                         f"weight norm, got {why}")


def check_combinations(config):
    """Options that each make sense but not together."""
    if config.loss == "cross_entropy" and config.task != "classification":
        raise ValueError(f"loss='cross_entropy' needs task='classification', got task="
                         f"{config.task!r} (regression tasks train on 'mse')")
    if config.loss == "cross_entropy" and config.label_noise:
        raise ValueError("label_noise adds Gaussian noise to square-loss targets: it must be "
                         f"0 with loss='cross_entropy', got {config.label_noise}")
    if config.model == "diagonal" and config.task == "classification":
        raise ValueError("model='diagonal' has one output: task must be 'support' or "
                         "'sparse_regression', got 'classification'")
    if config.task == "sparse_regression" and config.model == "mlp" and \
            config.activation != "linear":
        raise ValueError("task='sparse_regression' reads the net's linear predictor beta: "
                         f"model='diagonal' or activation='linear', got {config.activation!r}")
    if config.model == "mlp" and config.weight_norm != "none" and (config.l1 or config.group_l1):
        raise ValueError("l1 / group_l1 soft-threshold the first layer's weights, which "
                         "weight_norm reparametrizes: use them with weight_norm='none'")


def check_metric_sets(config, names):
    """The names of extra metric sets, as a tuple (see minisgd.metrics.METRIC_SETS)."""
    from .metrics import check_metric_names
    return check_metric_names(names, config.task, config.model, config)


def config_dict(config):
    """JSON-ready dict of a Config (tuples as lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()}


def config_from_dict(values):
    """Config from a dict (e.g. a JSON file or TOML table); unknown keys are an error."""
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()}
    return Config(**values)
