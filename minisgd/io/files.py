"""Reading a run's ingredients (data/init/batch files) and writing its weights; the
output checks and JSON results are in io/outputs.py. Used by the CLI to replay a run exactly.

File formats:
  data  .npz   exactly the arrays X (N, d), y and, both or neither, X_test, y_test (without
               them the training set is also the test set); y is, for regression, float
               targets (N,) or (N, 1) (what torch's MSELoss reads), for classification
               int labels (N,) or one-hot rows (N, C) of numbers or bools
  init  .npz   arrays W0, W1, ... ((n_in, n_out) layout) and, with biases, b0, b1, ...;
               a diagonal net: arrays u, v (d,); a weight-normalized MLP: W0.. are the
               directions V of its hidden layers and g0, g1, ... their gains (without
               g's, W0.. are taken as effective weights and normalized as torch does)
        .pt    a PyTorch state_dict of an nn.Sequential of Linear layers (needs torch)
  batches .npy int array (steps, b): the training-row indices of each step's batch
Every file is checked before any work; a refusal (ValueError) names the flag and the form
expected. Nothing is ever unpickled (np.load allow_pickle=False, torch weights_only=True).
Not for: the training logic, or writing outputs (io/outputs.py, re-exported here).
"""
import os
import re
import zipfile

import numpy as np

from ..checks import check_float_array, check_int_array, describe
from ..data import Data, check_support
from ..models import MLP
from .outputs import (FLAG_SUFFIX, check_output_path, check_outputs, file_key,  # noqa: F401
                      remove_quietly, write_atomic, write_json_atomic, write_outputs)


NPY_MAGIC, ZIP_MAGICS = b"\x93NUMPY", (b"PK\x03\x04", b"PK\x05\x06")
DATA_KEYS = ("X", "y", "X_test", "y_test")


def file_kind(path, flag):
    """"npz" or "npy", from the file's first bytes; a folder, an unreadable file or any
    other file (text, pickle, ...) is a ValueError naming the flag."""
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path!r} is a folder, not an .npz/.npy file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as err:
        raise ValueError(f"{flag} could not read {path!r}: {err.strerror or err} "
                         f"({FORMS[flag]})") from None
    if head.startswith(ZIP_MAGICS) or head == NPY_MAGIC:
        return "npy" if head == NPY_MAGIC else "npz"
    what = "is an empty file, not" if not head else "is not"
    raise ValueError(f"{flag} {path!r} {what} an .npz/.npy file (NumPy's np.savez / np.save "
                     f"format): {FORMS[flag]}")


FORMS = {"--data": "give an .npz with arrays X (N, d), y and optionally X_test, y_test",
         "--init": "give an .npz with arrays W0, W1, ..., b0, ... (u, v for a diagonal net) "
                   "or a PyTorch state_dict .pt",
         "--batches": "give an .npy int array (steps, b) of training-row indices"}


def read_arrays(path, flag, kind):
    """np.load (never of pickles) of an .npz (kind "npz": a dict of its arrays) or an .npy."""
    if file_kind(path, flag) != kind:
        held = "a single array (.npy)" if kind == "npz" else "an .npz archive"
        raise ValueError(f"{flag} {path!r} holds {held}, not an .{kind} file: {FORMS[flag]}")
    try:
        with open(path, "rb") as fh:
            loaded = np.load(fh, allow_pickle=False)
            return loaded if kind == "npy" else {k: loaded[k] for k in loaded.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        if "pickle" in str(err):
            raise ValueError(f"{flag} {path!r} holds an object (pickled) array, which minisgd "
                             f"never loads: {FORMS[flag]} of numbers") from None
        raise ValueError(f"{flag} {path!r} could not be read as an .{kind} file: "
                         f"{err or type(err).__name__}") from None


def load_npz(path, what):
    """The arrays of an .npz archive as a dict; any other file is a ValueError naming the
    option (what)."""
    return read_arrays(path, what, "npz")


def load_data(path, support=None, classes=None, task="support"):
    """Data from an .npz with exactly the arrays X, y and, together or not at all, X_test,
    y_test (without them the training set is also the test set). Regression: `support`
    names the true support for the metrics. Classification (task="classification"):
    labels as ints or one-hot rows (bool or numbers); `classes` None takes the largest
    label + 1, which must not exceed the training rows."""
    arrays, where = load_npz(path, "--data"), f"--data {path!r}:"
    unknown = sorted(set(arrays) - set(DATA_KEYS))
    missing = [k for k in ("X", "y") if k not in arrays]
    if unknown or missing:
        raise ValueError(f"{where} holds {sorted(arrays)}; a --data file holds exactly the "
                         f"arrays {list(DATA_KEYS[:2])} and optionally both "
                         f"{list(DATA_KEYS[2:])} (names are case-sensitive): "
                         f"{'unknown ' + str(unknown) if unknown else 'no ' + str(missing)}")
    if ("X_test" in arrays) != ("y_test" in arrays):
        have, lack = ("X_test", "y_test") if "X_test" in arrays else ("y_test", "X_test")
        raise ValueError(f"{where} holds {have} but no {lack}: give both X_test and y_test "
                         "(the test set), or neither (the training set is then the test set)")
    X = check_float_array(f"{where} X", arrays["X"], ndim=2)
    X_test = check_float_array(f"{where} X_test", arrays.get("X_test", X), shape=(None, X.shape[1]))
    for name, rows in (("X", X), ("X_test", X_test)):
        if rows.shape[0] == 0:
            raise ValueError(f"{where} {name} must hold at least one row, got shape {rows.shape}")
    y, y_test = arrays["y"], arrays.get("y_test", arrays["y"])
    if task == "classification":
        widths = {a.shape[1] for a in (y, y_test) if a.ndim == 2}     # one-hot: classes
        return class_data(where, X, class_labels(f"{where} y", y, X.shape[0]), X_test,
                          class_labels(f"{where} y_test", y_test, X_test.shape[0]), classes,
                          widths)
    y = regression_targets(f"{where} y", y, X.shape[0])
    y_test = regression_targets(f"{where} y_test", y_test, X_test.shape[0])
    return Data(X.astype(np.float64), y.astype(np.float64), X_test.astype(np.float64),
                y_test.astype(np.float64), check_support(support, X.shape[1]))


def class_data(where, X, y, X_test, y_test, classes, widths=()):
    """Classification Data of checked labels: at least two classes in y, every label <
    classes (given, or the largest label + 1, at most the training rows), and one-hot
    rows as wide as the classes (widths: their numbers of columns)."""
    if np.unique(y).size < 2:
        raise ValueError(f"{where} y (class labels) must hold at least two classes, got only "
                         f"{np.unique(y).tolist()}")
    top = int(max(y.max(), y_test.max()))
    if classes is not None and top >= classes:
        raise ValueError(f"{where} labels must be < classes (--classes {classes}), got label "
                         f"{top}: number the classes 0..{classes - 1}")
    if classes is None and top + 1 > y.shape[0]:
        raise ValueError(f"{where} labels must be < classes, which are taken from the labels "
                         f"(largest + 1 = {top + 1}) and may not exceed the {y.shape[0]} "
                         f"training rows; got label {top}: number the classes 0..C-1")
    for C in widths:
        if C != (top + 1 if classes is None else classes):
            held = f"--classes {classes}" if classes else f"the labels reach only {top}"
            raise ValueError(f"{where} one-hot rows of {C} columns state {C} classes, but "
                             f"{held}: make them agree (--classes {C} if a class has no row)")
    return Data(X.astype(np.float64), y, X_test.astype(np.float64), y_test, None,
                classes=top + 1 if classes is None else classes)


def regression_targets(name, y, rows):
    """Float targets (rows,) from (rows,) or (rows, 1)."""
    if isinstance(y, np.ndarray) and y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return check_float_array(name, y, shape=(rows,))


def class_labels(name, y, rows):
    """Int labels (rows,) from int labels (rows,) or one-hot rows (rows, C) of numbers or
    bools; bool labels (rows,) are refused (class indices or one-hot rows, which?)."""
    if not isinstance(y, np.ndarray) or y.ndim not in (1, 2) or y.shape[0] != rows:
        raise ValueError(f"{name} must be int labels ({rows},) or one-hot rows ({rows}, C), "
                         f"got {describe(y)}")
    if y.ndim == 1 and y.dtype == bool:
        raise TypeError(f"{name}: labels must be ints ({rows},), got a bool array ({rows},): "
                        "give the class indices (0, 1, ...)")
    if y.ndim == 2:
        y = y.astype(np.int64) if y.dtype == bool else y
        hot = np.issubdtype(y.dtype, np.number) and np.isin(y, (0, 1)).all(axis=1) & \
            (y.sum(axis=1) == 1)
        if not np.all(hot):
            bad = int(np.flatnonzero(~hot)[0]) if np.ndim(hot) else 0
            raise ValueError(f"{name} of shape {y.shape} must be one-hot rows (one 1, the rest "
                             f"0); row {bad} is {y[bad].tolist()}")
        return np.argmax(y, axis=1).astype(np.int64)
    check_int_array(name, y, ndim=1, low=0)
    return y.astype(np.int64)


def weights_to_arrays(net):
    if hasattr(net, "effective_predictor"):                   # a diagonal net
        return {"u": net.u, "v": net.v}
    arrays = {f"W{l}": W for l, W in enumerate(net.weights)}
    if net.biases is not None:
        arrays.update({f"b{l}": b for l, b in enumerate(net.biases)})
    if getattr(net, "gains", None) is not None:
        arrays.update({f"g{l}": g for l, g in enumerate(net.gains)})
    return arrays


def check_rows(config, data):
    """A --data file's rows decide n and n_test: a flag giving other numbers is refused
    (the API records them in `given` as not run)."""
    for name, kind, rows in (("n", "training", data.X.shape[0]),
                             ("n_test", "test", data.X_test.shape[0])):
        if getattr(config, name) not in (None, rows):
            raise ValueError(f"{name} = {getattr(config, name)} but the --data file has {rows} "
                             f"{kind} rows, which decide it: leave it out")
    return data


def load_init(path, activation, model="mlp", parametrization="uv", weight_norm="none"):
    """An MLP from an .npz (W0, W1, ..., b0, ..., g0, ... for weight norm) or a PyTorch
    state_dict .pt; a diagonal net (model="diagonal") from an .npz with u, v. Every error
    names --init and the file."""
    try:
        return read_init(path, activation, model, parametrization, weight_norm)
    except (ValueError, TypeError) as err:
        text = str(err)
        raise type(err)(text if "--init" in text else f"--init file {path!r}: {text}") from None


def read_init(path, activation, model, parametrization, weight_norm):
    if model == "diagonal":
        return load_diagonal(path, parametrization)
    if str(path).endswith(".pt"):
        return load_state_dict(path, activation)
    arrays = load_npz(path, "--init")
    unknown = sorted(k for k in arrays if not re.fullmatch(r"[Wbg][0-9]+", k))
    if unknown:
        raise ValueError(f"--init {path!r} holds unknown arrays {unknown}: an MLP's --init "
                         "file holds W0, W1, ..., b0, b1, ... (g0, g1, ... with weight norm)")
    gains = [arrays.pop(f"g{l}") for l in range(len(arrays)) if f"g{l}" in arrays]
    if any(k.startswith("g") for k in arrays):
        raise ValueError(f"--init file {path!r} must number its gains g0, g1, ... without "
                         f"gaps, found {sorted(k for k in arrays if k.startswith('g'))}")
    if gains and weight_norm in (None, "none"):
        raise ValueError(f"--init file {path!r} holds weight-norm gains g0..g{len(gains) - 1}: "
                         "weight_norm must be 'layer' or 'unit' to read it")
    L = sum(1 for k in arrays if k.startswith("W"))
    names = [f"W{l}" for l in range(L)]
    if L == 0 or any(k not in arrays for k in names):
        raise ValueError(f"--init file {path!r} must hold arrays W0, W1, ..., W(L-1), "
                         f"found {sorted(arrays)}")
    has_b = any(k.startswith("b") for k in arrays)
    biases = [arrays.get(f"b{l}") for l in range(L)] if has_b else None
    if biases is not None and any(b is None for b in biases):
        raise ValueError(f"--init file {path!r} has some biases but not b0..b{L - 1}")
    return MLP.from_weights([arrays[k] for k in names], biases, activation=activation,
                            weight_norm=weight_norm or "none", gains=gains or None)


def load_diagonal(path, parametrization):
    from ..models.diagonal import DiagonalNet
    arrays = load_npz(path, "--init")
    if set(arrays) != {"u", "v"}:
        raise ValueError(f"--init file {path!r} for model='diagonal' must hold exactly the "
                         f"arrays 'u' and 'v' (d,), found {sorted(arrays)}")
    return DiagonalNet.from_arrays(arrays["u"], arrays["v"], parametrization=parametrization)


def load_state_dict(path, activation):
    """MLP from a file written by torch.save(seq.state_dict()), read by torch.load with
    weights_only=True (never by unpickling code); without torch, a ValueError."""
    from .torch_bridge import from_state_dict, import_torch
    if not os.path.isfile(path):
        what = "is a folder" if os.path.isdir(path) else "does not exist"
        raise ValueError(f"--init {path!r} {what}: {FORMS['--init']}")
    try:
        torch = import_torch()
    except ImportError:
        raise ValueError(f"--init {path} needs PyTorch: pip install torch==2.13.0 (or give "
                         "the weights as an .npz: W0, W1, ..., b0, ...)") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        why = str(err).split("WeightsUnpickler error:")[-1].split(". ")[0].strip()
        raise ValueError(f"--init {path!r} is not a PyTorch state_dict that torch.load reads "
                         f"with weights_only=True ({type(err).__name__}: {why})") from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"--init {path!r} must hold a state_dict (torch.save(seq.state_dict"
                         f"()): a dict of tensors), got a {type(state).__name__}")
    try:
        return from_state_dict(state, activation)
    except ValueError as err:
        raise ValueError(f"--init {path!r}: {err}") from None


def save_weights(net, path):
    """Final weights in the --init .npz format, written atomically to exactly `path` (np.savez
    given a name would add ".npz" to it): a failed write leaves any previous file whole."""
    write_atomic(path, ".npz", "wb", lambda fh: np.savez(fh, **weights_to_arrays(net)))


def load_batches(path, rows=None):
    """The batch array of an .npy file: ints (steps, b), at least one step, indices >= 0
    (and < rows, the training rows, when given)."""
    batches = read_arrays(path, "--batches", "npy")
    form = f"a (steps, b) int array of training-row indices, got {describe(batches)}"
    if not np.issubdtype(batches.dtype, np.integer) or batches.ndim != 2 or 0 in batches.shape:
        raise ValueError(f"--batches {path!r} must be {form}")
    if batches.min() < 0:
        raise ValueError(f"--batches {path!r} must be {form} (indices >= 0, got {batches.min()})")
    if rows is not None and (batches.shape[1] > rows or batches.max() >= rows):
        raise ValueError(f"--batches {path!r} does not fit the {rows} training rows: batches "
                         f"of b={batches.shape[1]} rows with indices up to {batches.max()} "
                         f"(b must be <= {rows} and every index < {rows})")
    return batches
