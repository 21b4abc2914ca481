"""What a run is given besides its Config -- data, an initial net, a batch array -- and how
it meets the config, so that the recorded config is what ran.

The rule: a value that both the config and a given object state must agree. A config field
left at its default yields to the object (d from the data's columns, depth / width /
activation / bias / weight_norm from the net, batch_size from the batch array's width), and
the config records the object's value; a field set to anything else must equal it, or the
run is refused before any work. `--optimizer gd` with a batch array is refused: the batches
make it SGD. Every given object is checked for its type, shape and finiteness here, so a
bad one gets a message about itself, not a NumPy error from deep inside the loop.
Not for: the file formats (files.py) or the config's own checks (config.py).
"""
import numpy as np

from .checks import check_float_array, check_int_array, describe
from .config import DEFAULTS, Config
from .data import Data


def check_config(config, name="config"):
    if not isinstance(config, Config):
        raise TypeError(f"{name} must be a minisgd.train.Config, got {describe(config)}")
    return config


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


def agree(config, name, value, source, fixed):
    """config.name takes `value` from `source` when at its default and not yet stated by
    another given object (`fixed`: name -> that object); else it must match."""
    mine = getattr(config, name)
    if mine == value:
        fixed.setdefault(name, source)
        return
    if name in fixed:
        raise ValueError(f"{name} = {mine!r} (from {fixed[name]}) disagrees with {source}, "
                         f"which has {value!r}")
    if mine == DEFAULTS[name] or mine is None:
        setattr(config, name, value)
        fixed[name] = source
        return
    flag = "--" + name.replace("_", "-")
    raise ValueError(f"{name} = {mine!r} disagrees with {source}, which has {value!r}: leave "
                     f"{flag} out (it is taken from there) or make them agree")


def reconcile(config, data=None, net=None, batches=None):
    """Bring the values the given objects state into the config (see the module docstring).
    In place, before the config is validated. Returns {field: the object it was taken
    from or checked against}, which the run records as "given"."""
    check_config(config)
    fixed = {}
    if data is not None:
        check_given_data(data)
        agree(config, "d", int(data.X.shape[1]), "the data's columns", fixed)
        if config.task == "classification":
            classes = data.classes if data.classes is not None else \
                int(max(data.y.max(), data.y_test.max())) + 1
            agree(config, "classes", int(classes), "the data's labels", fixed)
    if net is not None:
        reconcile_net(config, net, fixed)
    if batches is not None:
        if not isinstance(batches, np.ndarray) or batches.ndim != 2:
            raise ValueError(f"batches must be a (steps, b) int array, got {describe(batches)}")
        if config.optimizer == "gd":
            raise ValueError("optimizer='gd' uses the whole training set every step, but a "
                             "batch array was given (it replays SGD batches): use "
                             "optimizer='sgd' with it")
        agree(config, "batch_size", int(batches.shape[1]), "the batch array's width", fixed)
    return fixed


def reconcile_net(config, net, fixed):
    """The initial net's kind and shape into the config."""
    diagonal = hasattr(net, "effective_predictor")
    if not diagonal and not hasattr(net, "sizes"):
        raise TypeError(f"net must be a minisgd MLP or DiagonalNet, got {describe(net)}")
    if getattr(net, "members", None) is not None:
        raise ValueError(f"net must be a single net, got an ensemble of {net.members}")
    agree(config, "model", "diagonal" if diagonal else "mlp", "the initial net", fixed)
    agree(config, "d", int(net.sizes[0]), "the initial net's inputs", fixed)
    if diagonal:
        agree(config, "parametrization", net.parametrization, "the initial net", fixed)
        return
    hidden = net.sizes[1:-1]
    if len(set(hidden)) > 1:
        raise ValueError(f"the initial net's hidden widths {hidden} differ; a Config describes "
                         "nets whose hidden layers share one width")
    agree(config, "depth", len(hidden), "the initial net", fixed)
    if hidden:
        agree(config, "width", int(hidden[0]), "the initial net", fixed)
    agree(config, "activation", net.activation, "the initial net", fixed)
    agree(config, "bias", net.biases is not None, "the initial net", fixed)
    agree(config, "weight_norm", getattr(net, "weight_norm", "none"), "the initial net", fixed)
    if config.task == "classification":
        agree(config, "classes", int(net.sizes[-1]), "the initial net's outputs", fixed)
