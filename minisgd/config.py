"""The configuration of one training run: every value a run depends on, with the paper's
setup as defaults, validated in one place. Every field is also a `train` CLI flag and a
sweep TOML key. Not for: running anything (train.py).
"""
from dataclasses import asdict, dataclass, fields
from typing import Optional

import numpy as np

from .checks import check_choice, check_float, check_int
from .data import INPUTS, TARGETS, check_support
from .models.initializers import INITS
from .models import ACTIVATIONS
from .optimizers import LRSchedule


@dataclass
class Config:
    """Everything a run depends on. Defaults are the paper's setup (SCIENCE.md section 1)
    with SGD at batch size 32."""
    # data
    d: int = 15
    support: tuple = (0, 1, 2, 3, 4)
    n: int = 5000                    # distinct inputs; 2n training pairs while double=True
    n_test: int = 2000
    target: str = "linear"
    input: str = "gaussian"
    center: bool = True
    double: bool = True
    label_eps: float = 0.001
    # network: input d -> depth hidden layers of `width` -> 1
    depth: int = 3
    width: int = 15
    activation: str = "linear"
    bias: bool = False
    init_scheme: str = "kaiming_normal"
    init_scale: Optional[float] = None
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

    @property
    def n_train(self):
        return 2 * self.n if self.double else self.n

    def validate(self, n_train=None):
        """Check every field; raise ValueError/TypeError naming the field. Returns self."""
        n_train = self.n_train if n_train is None else n_train
        for name in ("d", "n", "n_test", "depth", "width", "steps", "records_per_decade"):
            check_int(name, getattr(self, name), low=0 if name == "depth" else 1)
        self.support = check_support(self.support, self.d)
        check_choice("target", self.target, TARGETS)
        check_choice("input", self.input, INPUTS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("init_scheme", self.init_scheme, INITS)
        check_choice("optimizer", self.optimizer, ("sgd", "gd"))
        check_choice("support_rule", self.support_rule, ("gap", "fraction"))
        check_choice("dtype", self.dtype, ("float64", "float32"))
        if self.optimizer == "sgd":
            check_int("batch_size", self.batch_size, low=1, high=n_train)
        check_float("lr", self.lr, low=0.0, low_open=True)
        for name in ("momentum", "weight_decay", "l1", "group_l1", "label_noise", "label_eps"):
            check_float(name, getattr(self, name), low=0.0, high=1.0 if name == "momentum" else None)
        for name in ("clip", "init_scale"):
            if getattr(self, name) is not None:
                check_float(name, getattr(self, name), low=0.0, low_open=True)
        for name in ("center", "double", "bias", "replacement", "decoupled_wd"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not isinstance(self.decay_at, (tuple, list)):
            raise TypeError(f"decay_at must be a list of fractions in (0, 1], "
                            f"got {self.decay_at!r}")
        if self.init_scheme == "normal" and self.init_scale is None:
            raise ValueError("init_scale must be given (the std of the weights) when "
                             "init_scheme='normal', got None")
        check_float("diverge_factor", self.diverge_factor, low=1.0, low_open=True)
        check_float("threshold", self.threshold, low=0.0, low_open=True)
        check_int("seed", self.seed, low=0)
        if self.data_seed is not None:
            check_int("data_seed", self.data_seed, low=0)
        LRSchedule(self.lr, self.steps, self.decay_at, self.decay_factor, self.warmup)
        return self


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
