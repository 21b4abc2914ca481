"""Input validation at the API boundary.

Every public function checks its arguments here *before* doing any work, so that a bad
value gives a message naming the argument, the expected form and what was received,
instead of a NumPy traceback from deep inside a matmul. Not for: numerical logic.
"""
import numbers

import numpy as np


def describe(value):
    """Short description of a value for error messages: type, and shape/dtype for arrays."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else type(value).__name__


def check_int(name, value, low=None, high=None):
    """An int (bool excluded) in [low, high]; returns it as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {describe(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be an int in [{lo}, {hi}], got {value}")
    return value


def check_float(name, value, low=None, high=None, low_open=False):
    """A finite real number in [low, high] (or (low, high] with low_open); returns a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    value = float(value)
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and value > high
    if not np.isfinite(value) or bad_low or bad_high:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be a finite number in {bracket}{lo}, {hi}], got {value}")
    return value


def check_bool(name, value):
    """True or False (a numpy bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_choice(name, value, choices):
    """One of a fixed set of names."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_float_array(name, value, ndim=None, shape=None):
    """A finite floating-point ndarray with the given ndim/shape (None entries are free).

    Integer, boolean and object arrays are refused rather than silently cast, because a
    cast would change the dtype of the computation (and hide a user mistake such as
    passing class labels where regression targets are expected).
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray of floats, got {describe(value)}")
    if not np.issubdtype(value.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype (float64 or float32), "
                        f"got {describe(value)}; convert it explicitly with .astype(float)")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got {describe(value)}")
    if shape is not None:
        wanted = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        fits = value.ndim == len(shape) and all(
            s is None or s == v for s, v in zip(shape, value.shape))
        if not fits:
            raise ValueError(f"{name} must have shape {wanted}, got {describe(value)}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return value


def check_int_array(name, value, ndim=None, low=None, high=None):
    """An integer ndarray (e.g. class labels, batch indices) with values in [low, high]."""
    if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.integer):
        raise TypeError(f"{name} must be a numpy array of ints, got {describe(value)}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got {describe(value)}")
    if value.size and low is not None and value.min() < low:
        raise ValueError(f"{name} values must be >= {low}, got min {value.min()}")
    if value.size and high is not None and value.max() > high:
        raise ValueError(f"{name} values must be <= {high}, got max {value.max()}")
    return value


def make_rng(seed, name="seed"):
    """A numpy Generator from an int seed, or the Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise TypeError(f"{name} must be an int or a numpy.random.Generator, got None "
                        "(minisgd never draws from unseeded randomness)")
    return np.random.default_rng(check_int(name, seed, low=0))


def check_step_size(lr, t):
    """A given schedule's eta_t: a finite number > 0 (or one per member), else refused."""
    if isinstance(lr, float) and 0.0 < lr < np.inf:       # the usual answer, checked cheaply
        return lr
    values = np.asarray(lr, dtype=object if isinstance(lr, str) else None)
    if not np.issubdtype(values.dtype, np.number) or values.dtype == bool or \
            not (np.isfinite(values) & (values > 0)).all():
        raise ValueError(f"schedule must return a finite step size > 0 (or one per member), "
                         f"got {lr!r} at step {t}")
    return lr
