"""The argument checks of an MLP's constructors (MLP(...), MLP.from_weights): layer sizes,
weight normalization, gains and directions, each error naming the argument.
Not for: the net itself (mlp.py).
"""
import numpy as np

from ..checks import check_choice, check_float_array, check_int, describe
from .weight_norm import WEIGHT_NORMS, weight_norms


def check_weight_norm(weight_norm, layers):
    """weight_norm is one of WEIGHT_NORMS and, unless "none", the net has a hidden layer."""
    check_choice("weight_norm", weight_norm, WEIGHT_NORMS)
    if weight_norm != "none" and layers < 2:
        raise ValueError(f"weight_norm={weight_norm!r} normalizes the hidden layers, but a net "
                         f"of {layers} layer has none; use weight_norm='none'")
    return weight_norm


def check_gains(gains, weights, weight_norm):
    """gains for from_weights: None, or one per hidden layer, shaped () ("layer") or
    (n_out,) ("unit"). Returns them as arrays, or None."""
    if gains is None:
        return None
    if weight_norm == "none":
        raise ValueError("gains were given but weight_norm='none'; pass weight_norm='layer' "
                         "or 'unit', or gains=None")
    hidden = len(weights) - 1
    if not isinstance(gains, (list, tuple)) or len(gains) != hidden:
        raise ValueError(f"gains must be None or a list of {hidden} arrays (one per hidden "
                         f"layer), got {describe(gains)}")
    checked = []
    for l, (g, W) in enumerate(zip(gains, weights)):
        shape = () if weight_norm == "layer" else (W.shape[1],)
        if weight_norm == "layer" and isinstance(g, (float, np.floating)):
            g = np.asarray(g)
        check_float_array(f"gains[{l}]", g, shape=shape)
        checked.append(g)
    return checked


def check_directions(weights, weight_norm):
    """The normalized layers' V must have non-zero norms (W = g V / ||V||)."""
    for l, V in enumerate(weights[:-1]):
        if np.any(weight_norms(np.asarray(V, dtype=np.float64), weight_norm) == 0.0):
            part = "" if weight_norm == "layer" else "a column of "
            raise ValueError(f"weights[{l}]: {part}V has norm 0, which weight_norm="
                             f"{weight_norm!r} cannot normalize")


def check_sizes(sizes):
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise ValueError("sizes must be a list of at least two layer widths "
                         f"[n_in, ..., n_out], got {describe(sizes)}")
    return [check_int(f"sizes[{i}]", s, low=1) for i, s in enumerate(sizes)]


def check_arrays(weights, biases):
    """from_weights' arrays: a non-empty list of 2-d float weights whose shapes chain, and
    None or one bias (n_out,) per layer."""
    if not isinstance(weights, (list, tuple)) or len(weights) < 1:
        raise ValueError(f"weights must be a non-empty list of 2-d arrays, got {describe(weights)}")
    for l, W in enumerate(weights):
        check_float_array(f"weights[{l}]", W, ndim=2)
        if l > 0 and W.shape[0] != weights[l - 1].shape[1]:
            raise ValueError(f"weights[{l}] must have {weights[l - 1].shape[1]} rows "
                             f"(the width of weights[{l - 1}]), got shape {W.shape}")
    if biases is not None:
        if not isinstance(biases, (list, tuple)) or len(biases) != len(weights):
            raise ValueError(f"biases must be None or a list of {len(weights)} arrays, "
                             f"got {describe(biases)}")
        for l, (b, W) in enumerate(zip(biases, weights)):
            check_float_array(f"biases[{l}]", b, shape=(W.shape[1],))


def check_stackable(nets, MLP):
    """MLP.stack's nets: a non-empty list or tuple of single MLPs (instances of the class
    MLP, passed in: this module is imported by it); returns the first."""
    if not isinstance(nets, (list, tuple)) or not nets:
        kind = TypeError if not isinstance(nets, (list, tuple)) else ValueError
        raise kind(f"nets must be a non-empty list of MLPs, got {describe(nets)}")
    for k, net in enumerate(nets):
        if not isinstance(net, MLP):
            raise TypeError(f"nets must be a list of MLPs, got nets[{k}] = {describe(net)}")
        if net.members is not None:
            raise ValueError(f"nets must be single MLPs, got nets[{k}], a stack of "
                             f"{net.members} members")
    return nets[0]


def check_dtype(dtype):
    """float64 or float32 (the dtypes a net computes in); returns the numpy dtype."""
    try:
        wanted = np.dtype(dtype)
    except TypeError:
        wanted = None
    if wanted not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {describe(dtype)}")
    return wanted
