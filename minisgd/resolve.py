"""From a Config to the resolved one that runs and is recorded: what the run is given
besides its Config -- data, an initial net, a batch array -- meets it (resolve), and every
resolved value is checked (check_fields, which Config.validate calls after config.py's
FIELD_TABLE has resolved the unset fields). Nothing here changes the Config it is handed.

A given object decides: a field the config leaves unset takes the object's value (d,
classes from the data; model, d, depth, width, activation, bias, weight_norm,
parametrization, classes from the net; batch_size from the batch array), recorded in
"given"; a field set to anything else, even its default, is refused before any work,
naming both. `optimizer='gd'` with a batch array is refused. Each given object is checked
here (type, shape, finiteness): a bad one gets a message about itself, not NumPy's.
Not for: the file formats (io/files.py) or which fields apply where (config.py).
"""
from dataclasses import is_dataclass, replace

import numpy as np

from .checks import (check_bool, check_choice, check_float, check_float_array, check_int,
                     check_int_array, describe)
from .data import INPUTS, TARGETS, Data, check_support
from .data.real import check_real
from .models import ACTIVATIONS
from .models.initializers import INITS
from .optimizers import LRSchedule

WEIGHT_NORMS = ("none", "layer", "unit")
GRADIENTS = ("auto", "rows", "moments")
PARAMETRIZATIONS = ("uv", "u2v2")
DIAGONAL_INITS = ("constant", "normal")


def check_given_data(data):
    """A Data of finite float arrays of matching shapes (labels ints for a classifier)."""
    if not isinstance(data, Data):
        raise TypeError(f"data must be a minisgd.data.Data, got {describe(data)}")
    X = check_float_array("data.X", data.X, ndim=2)
    if X.shape[0] == 0:
        raise ValueError(f"data.X must hold at least one row, got shape {X.shape}")
    check_float_array("data.X_test", data.X_test, shape=(None, X.shape[1]))
    for name, y, rows in (("y", data.y, X.shape[0]), ("y_test", data.y_test, data.X_test.shape[0])):
        if isinstance(y, np.ndarray) and np.issubdtype(y.dtype, np.integer):
            check_int_array(f"data.{name}", y, ndim=1, low=0)
            if y.shape[0] != rows:
                raise ValueError(f"data.{name} must have {rows} entries (one per row), got "
                                 f"shape {y.shape}")
        else:
            check_float_array(f"data.{name}", y, shape=(rows,))
    return data


def resolve(config, data=None, net=None, batches=None):
    """(the resolved Config, given): the values the given objects state brought into a new
    Config (see the module docstring), which is then validated (config.Config.validate);
    given = {field: the object it was taken from or checked against}, which the run
    records. `config` itself is not changed."""
    if not is_dataclass(config) or not hasattr(config, "validate"):
        raise TypeError(f"config must be a minisgd.train.Config, got {describe(config)}")
    statements = []
    if data is not None:
        statements += data_statements(config, check_given_data(data))
    if net is not None:
        statements += net_statements(config, net)
    if batches is not None:
        statements += batch_statements(config, batches)
    taken, given = {}, {}
    for name, value, source in statements:
        if name in ("n", "n_test"):                       # the data's rows decide
            mine = getattr(config, name)
            taken[name] = value
            given[name] = source if mine in (None, value) else \
                f"{source} (the config's {name} = {mine} did not run)"
            continue
        agree(config, name, value, source, taken, given)
    objects = [k for k, v in (("net", net), ("batches", batches)) if v is not None]
    resolved = replace(config, **taken).validate(None if data is None else data.X.shape[0],
                                                 given=objects)
    return resolved, given


def agree(config, name, value, source, taken, given):
    """`source` states name = value: an unset field takes it (into `taken`); a set one,
    or one an earlier object stated, must equal it."""
    mine = taken.get(name, getattr(config, name))
    if mine is None:
        taken[name], given[name] = value, source
    elif mine == value:
        given.setdefault(name, source)
    elif name in given:
        raise ValueError(f"{name} = {mine!r} (from {given[name]}) disagrees with {source}, "
                         f"which has {value!r}")
    else:
        flag = "--" + name.replace("_", "-")
        raise ValueError(f"{name} = {mine!r} disagrees with {source}, which has {value!r}: "
                         f"leave {name} unset ({flag} out; it is taken from there) or make "
                         "them agree")


def data_statements(config, data):
    """[(field, value, source)] that given data state: d, and a classifier's classes."""
    statements = [("d", int(data.X.shape[1]), "the data's columns"),
                  ("n", int(data.X.shape[0]), "the data's rows"),
                  ("n_test", int(data.X_test.shape[0]), "the data's test rows")]
    if config.task == "classification":
        classes = data.classes if data.classes is not None else \
            int(max(data.y.max(), data.y_test.max())) + 1
        statements.append(("classes", int(classes), "the data's labels"))
    return statements


def batch_statements(config, batches):
    """[(field, value, source)] that a batch array states: batch_size."""
    if not isinstance(batches, np.ndarray) or batches.ndim != 2:
        raise ValueError(f"batches must be a (steps, b) int array, got {describe(batches)}")
    if config.optimizer == "gd":
        raise ValueError("optimizer='gd' uses the whole training set every step, but a "
                         "batch array was given (it replays SGD batches): use "
                         "optimizer='sgd' with it")
    return [("batch_size", int(batches.shape[1]), "the batch array's width")]


def net_statements(config, net):
    """[(field, value, source)] that an initial net states: its kind and shape."""
    diagonal = hasattr(net, "effective_predictor")
    if not diagonal and not hasattr(net, "sizes"):
        raise TypeError(f"net must be a minisgd MLP or DiagonalNet, got {describe(net)}")
    if getattr(net, "members", None) is not None:
        raise ValueError(f"net must be a single net, got an ensemble of {net.members}")
    if not all(np.isfinite(p).all() for p in net.params):
        raise ValueError("net (the initial weights) must be finite, got NaN or inf weights")
    source = "the initial net"
    statements = [("model", "diagonal" if diagonal else "mlp", source),
                  ("d", int(net.sizes[0]), "the initial net's inputs")]
    if diagonal:
        return statements + [("parametrization", net.parametrization, source)]
    hidden = net.sizes[1:-1]
    if len(set(hidden)) > 1:
        raise ValueError(f"the initial net's hidden widths {hidden} differ; a Config describes "
                         "nets whose hidden layers share one width")
    statements.append(("depth", len(hidden), source))
    if hidden:
        statements.append(("width", int(hidden[0]), source))
    statements += [("activation", net.activation, source),
                   ("bias", net.biases is not None, source),
                   ("weight_norm", getattr(net, "weight_norm", "none"), source)]
    if config.task == "classification":
        statements.append(("classes", int(net.sizes[-1]), "the initial net's outputs"))
    return statements


# ---- the checks of a resolved config's values ----------------------------------------


def check_fields(config, n_train):
    """The config with its lists normalized (support, metrics as tuples), after checking
    every value; n_train: the training rows (batch_size may not exceed them)."""
    for name in ("d", "n", "n_test", "steps", "records_per_decade"):
        check_int(name, getattr(config, name), low=1)
    check_network(config)
    support = None if config.support is None else check_support(config.support, config.d)
    check_task_fields(config)
    check_optimizer(config, n_train)
    check_run(config)
    check_combinations(config)
    return replace(config, support=support, metrics=check_metric_sets(config, config.metrics))


def check_network(config):
    """The MLP's shape, activation, init and weight norm, or the diagonal net's."""
    if config.model == "mlp":
        check_int("depth", config.depth, low=0)
        check_int("width", config.width, low=1)
        check_choice("activation", config.activation, ACTIVATIONS)
        check_bool("bias", config.bias)
        if config.init_scheme is not None:                 # None: the net is given
            check_choice("init_scheme", config.init_scheme, INITS)
        check_choice("weight_norm", config.weight_norm, WEIGHT_NORMS)
        if config.weight_norm != "none" and config.depth == 0:
            raise ValueError(f"weight_norm={config.weight_norm!r} normalizes the hidden "
                             "layers: depth must be >= 1, got 0")
    else:
        if config.init_scheme not in DIAGONAL_INITS + (None,):
            raise ValueError(f"init_scheme must be one of {list(DIAGONAL_INITS)} for "
                             f"model='diagonal' (constant: u = alpha 1, v = 0; normal), got "
                             f"{config.init_scheme!r}")
        check_choice("parametrization", config.parametrization, PARAMETRIZATIONS)
    if config.init_scale is not None:
        check_float("init_scale", config.init_scale, low=0.0, low_open=True)
    if config.init_scheme == "normal" and config.init_scale is None:
        raise ValueError("init_scale must be given (the std of the weights) when "
                         "init_scheme='normal', got None")


def check_task_fields(config):
    """The fields of the config's task (the others are None: config.FIELD_TABLE)."""
    if config.task == "support":
        if config.target is not None:                     # None: the data are given
            check_choice("target", config.target, TARGETS)
            check_choice("input", config.input, INPUTS)
            check_float("label_eps", config.label_eps, low=0.0)
            for name in ("center", "double"):
                check_bool(name, getattr(config, name))
        check_choice("support_rule", config.support_rule, ("gap", "fraction"))
        check_float("threshold", config.threshold, low=0.0, low_open=True)
    if config.task == "classification":
        check_classification(config)
    if config.task == "sparse_regression":
        if config.noise is not None:                      # None: the data are given
            check_float("noise", config.noise, low=0.0)
        check_float("l0_threshold", config.l0_threshold, low=0.0, low_open=True)


def check_classification(config):
    check_int("classes", config.classes, low=2)
    check_real(config)                                    # real data: its own sizes
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


def check_optimizer(config, n_train):
    """The optimizer, its batches, step sizes, penalties and schedule."""
    check_choice("dtype", config.dtype, ("float64", "float32"))
    if config.optimizer == "sgd":
        check_int("batch_size", config.batch_size, low=1, high=n_train)
        if config.replacement is not None:                # None: the batches are given
            check_bool("replacement", config.replacement)
    check_float("lr", config.lr, low=0.0, low_open=True)
    for name in ("momentum", "weight_decay", "l1", "group_l1", "label_noise"):
        check_float(name, getattr(config, name), low=0.0, high=1.0 if name == "momentum" else None)
    if config.clip is not None:
        check_float("clip", config.clip, low=0.0, low_open=True)
    check_bool("decoupled_wd", config.decoupled_wd)
    if config.decoupled_wd and not config.weight_decay:
        raise ValueError("decoupled_wd applies weight_decay apart from the gradient, so it does "
                         "nothing with weight_decay = 0: give weight_decay > 0 or leave it off")
    if not isinstance(config.decay_at, (tuple, list)):
        raise TypeError(f"decay_at must be a list of fractions in (0, 1), "
                        f"got {config.decay_at!r}")
    LRSchedule(config.lr, config.steps, config.decay_at, config.decay_factor, config.warmup)


def check_run(config):
    """Divergence, seeds and the gradient path."""
    check_float("diverge_factor", config.diverge_factor, low=1.0, low_open=True)
    check_int("seed", config.seed, low=0)
    if config.data_seed is not None:
        check_int("data_seed", config.data_seed, low=0)
    check_choice("gradient", config.gradient, GRADIENTS)
    if config.gradient == "moments":
        why = moments_apply(config)
        if why is not None:
            raise ValueError(f"gradient='moments' is exact only for linear MLPs under mse "
                             f"without weight norm, got {why}")


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
