"""Reading and writing a run's ingredients and results: data/init/batch files, weights,
JSON results (written atomically). Used by the CLI to replay a framework's run exactly.

File formats:
  data  .npz   arrays X (N, d), y, optional X_test, y_test; y is, for regression, float
               targets (N,) or (N, 1) (what torch's MSELoss reads), for classification
               int labels (N,) or one-hot rows (N, C)
  init  .npz   arrays W0, W1, ... ((n_in, n_out) layout) and, with biases, b0, b1, ...;
               a diagonal net: arrays u, v (d,); a weight-normalized MLP: W0.. are the
               directions V of its hidden layers and g0, g1, ... their gains (without
               g's, W0.. are taken as effective weights and normalized as torch does)
        .pt    a PyTorch state_dict of an nn.Sequential of Linear layers (needs torch)
  batches .npy int array (steps, b): the training-row indices of each step's batch
Not for: the training logic.
"""
import json
import os
import sys
import tempfile
import zipfile

import numpy as np

from ..checks import check_float_array, check_int_array, describe
from ..data import Data, check_support
from ..models import MLP


def load_npz(path, what):
    """The arrays of an .npz archive as a dict; any unreadable file (missing, truncated,
    empty, not an archive) is a ValueError naming the option."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single array, not an .npz archive of named arrays")
            return {k: archive[k] for k in archive.files}
    except TypeError:                                   # np.load of a .npy: no context manager
        raise ValueError(f"{what} must be an .npz archive of named arrays (np.savez), "
                         f"{path!r} holds a single array") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{what} must be a readable .npz file, could not read {path!r}: "
                         f"{err or type(err).__name__}") from None


def load_data(path, support=None, classes=None, task="support"):
    """Data from an .npz with X, y (and optional X_test, y_test; else the training set is
    used as test set). Regression: `support` names the true support for the metrics.
    Classification (task="classification"): labels as ints or one-hot rows; `classes`
    None takes the largest label + 1."""
    arrays = load_npz(path, "--data")
    for key in ("X", "y"):
        if key not in arrays:
            raise ValueError(f"--data file {path!r} must contain an array {key!r}, "
                             f"found {sorted(arrays)}")
    X = check_float_array("data X", arrays["X"], ndim=2)
    if X.shape[0] == 0:
        raise ValueError(f"data X must hold at least one row, got shape {X.shape}")
    X_test = check_float_array("data X_test", arrays.get("X_test", X), shape=(None, X.shape[1]))
    y, y_test = arrays["y"], arrays.get("y_test", arrays["y"])
    if task == "classification":
        y = class_labels("data y", y, X.shape[0])
        y_test = class_labels("data y_test", y_test, X_test.shape[0])
        if np.unique(y).size < 2:
            raise ValueError("data y (class labels) must hold at least two classes, got only "
                             f"{np.unique(y).tolist()}")
        classes = int(max(y.max(), y_test.max())) + 1 if classes is None else classes
        return Data(X.astype(np.float64), y, X_test.astype(np.float64), y_test, None,
                    classes=classes)
    y = regression_targets("data y", y, X.shape[0])
    y_test = regression_targets("data y_test", y_test, X_test.shape[0])
    return Data(X.astype(np.float64), y.astype(np.float64), X_test.astype(np.float64),
                y_test.astype(np.float64), check_support(support, X.shape[1]))


def regression_targets(name, y, rows):
    """Float targets (rows,) from (rows,) or (rows, 1)."""
    if isinstance(y, np.ndarray) and y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return check_float_array(name, y, shape=(rows,))


def class_labels(name, y, rows):
    """Int labels (rows,) from int labels (rows,) or one-hot rows (rows, C)."""
    if not isinstance(y, np.ndarray) or y.ndim not in (1, 2) or y.shape[0] != rows:
        raise ValueError(f"{name} must be int labels ({rows},) or one-hot rows ({rows}, C), "
                         f"got {describe(y)}")
    if y.ndim == 2:
        if not (np.issubdtype(y.dtype, np.number) and np.isin(y, (0, 1)).all()
                and (y.sum(axis=1) == 1).all()):
            bad = int(np.flatnonzero(~(np.isin(y, (0, 1)).all(axis=1) & (y.sum(axis=1) == 1)))[0]) \
                if np.issubdtype(y.dtype, np.number) else 0
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


def load_init(path, activation, model="mlp", parametrization="uv", weight_norm="none"):
    """An MLP from an .npz (W0, W1, ..., b0, ..., g0, ... for weight norm) or a PyTorch
    state_dict .pt; a diagonal net (model="diagonal") from an .npz with u, v."""
    if model == "diagonal":
        return load_diagonal(path, parametrization)
    if str(path).endswith(".pt"):
        return load_state_dict(path, activation)
    arrays = load_npz(path, "--init")
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
    """MLP from a file written by torch.save(seq.state_dict())."""
    from .torch_bridge import from_state_dict, import_torch
    torch = import_torch()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"--init {path!r} is not a readable PyTorch state_dict: {err}") from None
    return from_state_dict(state, activation)


def save_weights(net, path):
    """Final weights in the --init .npz format, written atomically to exactly `path` (np.savez
    given a name would add ".npz" to it): a failed write leaves any previous file whole."""
    write_atomic(path, ".npz", "wb", lambda fh: np.savez(fh, **weights_to_arrays(net)))


def load_batches(path):
    try:
        batches = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"--batches must be a readable .npy file, could not read {path!r}: "
                         f"{err or type(err).__name__}") from None
    if not isinstance(batches, np.ndarray):
        batches.close()
        raise ValueError(f"--batches must be one .npy array (steps, b), {path!r} is an .npz "
                         "archive")
    return batches


def check_outputs(outputs, inputs=()):
    """Output paths [(flag, path or None)] checked before any work: each one a file that can
    be written (check_output_path), none the file of an input [(flag, path or None)] of the
    run or of another output (the same file by any name: symlinks, '..', hard links)."""
    given = {file_key(path): flag for flag, path in inputs if path}
    written = {}
    for flag, path in outputs:
        if path is None:
            continue
        check_output_path(flag, path)
        key = file_key(path)
        if key in given:
            raise ValueError(f"{flag} {path!r} is the file given as {given[key]}: an output "
                             "must not overwrite an input of the run; give another file path")
        if key in written:
            raise ValueError(f"{flag} {path!r} is also the file of {written[key]}: each "
                             "output needs a file of its own; give another file path")
        written[key] = flag


def file_key(path):
    """What names one file: its device and inode when it exists, else its real path."""
    try:
        st = os.stat(path)
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


def check_output_path(flag, path):
    """An output file path that can be written, checked before any work: not empty, not a
    folder, not a device or pipe, in a folder that exists (it is not made) and takes a
    new file of that name (else the OS's reason: permission denied, read-only, not a
    directory, file name too long); a new name is made and removed at once to know it."""
    if path == "" or os.path.basename(path) in ("", ".", ".."):
        what = "an empty string" if path == "" else f"{path!r}, a folder"
        example = f"result{FLAG_SUFFIX.get(flag, '')}"
        raise ValueError(f"{flag} must be a file path (e.g. {flag} {example}), got {what}")
    if os.path.isdir(path):
        raise ValueError(f"{flag} must be a file path, {path!r} is a folder")
    real = os.path.realpath(path)
    if os.path.exists(real) and not os.path.isfile(real):
        raise ValueError(f"{flag} must be a regular file path, {path!r} is not a regular file "
                         "(a device, pipe or socket would be replaced)")
    folder = os.path.dirname(real)
    if not os.path.lexists(folder):
        raise ValueError(f"{flag} {path!r}: its folder {folder!r} does not exist (make it "
                         "first, or give a file path in an existing folder)")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
        if not os.path.lexists(real):            # the name itself (too long, not allowed)
            os.close(os.open(real, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(real)
    except OSError as err:
        raise ValueError(f"{flag} {path!r} cannot be written: {err.strerror or err} (give "
                         "a file path where a new file can be made)") from None
    return path


FLAG_SUFFIX = {"--json": ".json", "--save": ".npz"}


def write_outputs(writes, prog):
    """Call write(real path) for each (flag, path, write) whose path is given; an OSError
    (full disk, ...) ends the writing with a message naming the flag on stderr, any
    previous file there left whole. Returns the exit status: 0 all written, else 1."""
    for flag, path, write in writes:
        if path is None:
            continue
        try:
            write(os.path.realpath(path))
        except OSError as err:
            print(f"{prog}: {flag} {path!r} could not be written: {err.strerror or err} "
                  "(any previous file there is untouched)", file=sys.stderr)
            return 1
    return 0


def write_json_atomic(obj, path):
    """Write JSON to a temp file in the same folder, fsync, then rename over `path`: a
    reader sees either the old file or the whole new one, never a half-written one."""
    write_atomic(path, ".json", "w", lambda fh: json.dump(obj, fh, indent=1, allow_nan=False))


def write_atomic(path, suffix, mode, write):
    """write(fh) into a temp file beside `path`, fsync, then rename it over `path`; on any
    failure the temp file is removed and `path` is as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    try:
        os.chmod(tmp, 0o644)                     # mkstemp makes 0600; results are shared
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_quietly(path):
    """Delete the file at `path`; one that is already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
