"""What a run is given besides its Config -- data, an initial net, a batch array -- and how
it meets the config: resolve() returns the resolved Config that runs and records, and never
changes the one it was handed.

The rule: a given object decides. A field the config leaves unset (None) takes the
object's value (d from the data's columns, classes from its labels; model, d, depth,
width, activation, bias, weight_norm, parametrization, classes from the net; batch_size
from the batch array's width), and the run records where it came from ("given"); a field
set to anything else -- its usual default included -- is refused before any work, naming
both. `optimizer='gd'` with a batch array is refused: the batches make it SGD. Every given
object is checked for its type, shape and finiteness here, so a bad one gets a message
about itself, not a NumPy error from deep inside the loop.
Not for: the file formats (io/files.py) or the config's own fields (config.py).
"""
from dataclasses import replace

import numpy as np

from .checks import check_float_array, check_int_array, describe
from .config import Config
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


def resolve(config, data=None, net=None, batches=None):
    """(the resolved Config, given): the values the given objects state brought into a new
    Config (see the module docstring), which is then validated (config.Config.validate);
    given = {field: the object it was taken from or checked against}, which the run
    records. `config` itself is not changed."""
    check_config(config)
    statements = []
    if data is not None:
        statements += data_statements(config, check_given_data(data))
    if net is not None:
        statements += net_statements(config, net)
    if batches is not None:
        statements += batch_statements(config, batches)
    taken, given = {}, {}
    for name, value, source in statements:
        agree(config, name, value, source, taken, given)
    resolved = replace(config, **taken).validate(None if data is None else data.X.shape[0])
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
    statements = [("d", int(data.X.shape[1]), "the data's columns")]
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
