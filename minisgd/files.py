"""Reading and writing a run's ingredients and results: data/init/batch files, weights,
JSON results (written atomically). Used by the CLI to replay a framework's run exactly.

File formats:
  data  .npz   arrays X (N, d), y (N,), optional X_test, y_test
  init  .npz   arrays W0, W1, ... ((n_in, n_out) layout) and, with biases, b0, b1, ...
        .pt    a PyTorch state_dict of an nn.Sequential of Linear layers (needs torch)
  batches .npy int array (steps, b): the training-row indices of each step's batch
Not for: the training logic.
"""
import json
import os
import tempfile

import numpy as np

from .checks import check_float_array
from .data import Data, check_support
from .models import MLP


def load_npz(path, what):
    try:
        return dict(np.load(path, allow_pickle=False))
    except (OSError, ValueError) as err:
        raise ValueError(f"{what} must be a readable .npz file, could not read {path!r}: {err}") from None


def load_data(path, support):
    """Data from an .npz with X, y (and optional X_test, y_test; else the training set is
    used as test set). `support` names the true support for the metrics."""
    arrays = load_npz(path, "--data")
    for key in ("X", "y"):
        if key not in arrays:
            raise ValueError(f"--data file {path!r} must contain an array {key!r}, "
                             f"found {sorted(arrays)}")
    X = check_float_array("data X", arrays["X"], ndim=2)
    y = check_float_array("data y", arrays["y"], shape=(X.shape[0],))
    X_test = arrays.get("X_test", X)
    X_test = check_float_array("data X_test", X_test, shape=(None, X.shape[1]))
    y_test = check_float_array("data y_test", arrays.get("y_test", y), shape=(X_test.shape[0],))
    return Data(X.astype(np.float64), y.astype(np.float64), X_test.astype(np.float64),
                y_test.astype(np.float64), check_support(support, X.shape[1]))


def weights_to_arrays(net):
    arrays = {f"W{l}": W for l, W in enumerate(net.weights)}
    if net.biases is not None:
        arrays.update({f"b{l}": b for l, b in enumerate(net.biases)})
    return arrays


def load_init(path, activation):
    """An MLP from an .npz (W0, W1, ..., b0, ...) or a PyTorch state_dict .pt."""
    if str(path).endswith(".pt"):
        return load_state_dict(path, activation)
    arrays = load_npz(path, "--init")
    L = sum(1 for k in arrays if k.startswith("W"))
    names = [f"W{l}" for l in range(L)]
    if L == 0 or any(k not in arrays for k in names):
        raise ValueError(f"--init file {path!r} must hold arrays W0, W1, ..., W(L-1), "
                         f"found {sorted(arrays)}")
    has_b = any(k.startswith("b") for k in arrays)
    biases = [arrays.get(f"b{l}") for l in range(L)] if has_b else None
    if biases is not None and any(b is None for b in biases):
        raise ValueError(f"--init file {path!r} has some biases but not b0..b{L - 1}")
    return MLP.from_weights([arrays[k] for k in names], biases, activation=activation)


def load_state_dict(path, activation):
    """MLP from a file written by torch.save(seq.state_dict())."""
    from .torch_io import from_state_dict, import_torch
    torch = import_torch()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"--init {path!r} is not a readable PyTorch state_dict: {err}") from None
    return from_state_dict(state, activation)


def save_weights(net, path):
    """Final weights in the --init .npz format."""
    np.savez(path, **weights_to_arrays(net))


def load_batches(path):
    try:
        batches = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"--batches must be a readable .npy file, could not read {path!r}: {err}") from None
    return batches


def write_json_atomic(obj, path):
    """Write JSON to a temp file in the same folder, fsync, then rename over `path`: a
    reader sees either the old file or the whole new one, never a half-written one."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        os.chmod(tmp, 0o644)                     # mkstemp makes 0600; results are shared
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=1, allow_nan=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
