"""The argument checks the analysis functions share: the net they measure (a single,
plain, finite MLP or DiagonalNet), seeds, on/off switches, vectors of numbers, and the
refusal of a result that is not finite. Each error names the argument and the form it
must have. Not for: the checks of arrays and numbers themselves (minisgd/checks.py).
"""
import numbers

import numpy as np

from ..checks import check_float_array, describe, make_rng
from ..models.diagonal import DiagonalNet
from ..models.mlp import MLP


class NotFinite(ValueError):
    """A measurement refused because the net or its result is not finite at this point: a
    metric recorded along a run can catch it and record null (the run's non-finite)."""


def check_net(net, diagonal=True):
    """A single net with plain parameters (no weight norm) that are all finite: an MLP, or
    (diagonal=True) a DiagonalNet."""
    kinds = (MLP, DiagonalNet) if diagonal else (MLP,)
    if not isinstance(net, kinds):
        names = "minisgd.MLP or DiagonalNet" if diagonal else "minisgd.MLP"
        raise TypeError(f"net must be a {names}, got {describe(net)}")
    if net.members is not None:
        raise ValueError(f"net must be a single net, got a stack of {net.members} members")
    if getattr(net, "gains", None) is not None:
        raise ValueError(f"net has weight_norm={net.weight_norm!r}: the diagnostics and HVPs "
                         "are written for plain weights; use a net with weight_norm='none'")
    if not np.all(np.isfinite(net.theta)):
        raise NotFinite("net's parameters are not finite (NaN or inf): nothing can be "
                         "measured at this point")
    return net


def check_seed(seed, name="seed"):
    """A numpy Generator from an int seed >= 0 (or the Generator itself)."""
    return make_rng(seed, name)


def check_switch(name, value):
    """True or False (not a truthy string)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_vector(name, value):
    """A non-empty 1-d list, tuple or array of finite real numbers, as float64 (D,)."""
    array = np.asarray(value) if isinstance(value, (list, tuple, np.ndarray)) else None
    if array is None or array.dtype == bool or not (np.issubdtype(array.dtype, np.integer)
                                                    or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"{name} must be a 1-d array or list of real numbers, got "
                        f"{describe(value)}")
    return check_nonempty(name, check_float_array(name, array.astype(np.float64), ndim=1))


def check_nonempty(name, array):
    if array.size == 0:
        raise ValueError(f"{name} must hold at least one number, got {describe(array)}")
    return array


def check_finite_result(what, value):
    """Refuse a result holding NaN or inf (an overflow at this point), naming it."""
    if isinstance(value, numbers.Real) or isinstance(value, np.ndarray):
        if not np.all(np.isfinite(value)):
            raise NotFinite(f"the {what} is not finite (NaN or inf) at this net and data: "
                             "the products overflow float64")
    return value
