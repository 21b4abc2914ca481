"""The container every task's data comes in, and the check of its support.

Data holds a training and a test set, whatever the task (support regression, sparse
regression, classification), with the task's extras as optional fields; check_support
validates a support S, the coordinates a target depends on. Not for: drawing data (the
task modules: support.py, sparse_regression.py, classification.py).
"""
import numbers
from dataclasses import dataclass, replace

import numpy as np

from ..checks import describe


@dataclass
class Data:
    """Training and test sets. X: (N, d), y: (N,), X_test: (n_test, d), y_test: (n_test,).

    Regression: y, y_test float targets; support the true support (None when unknown);
    beta the true linear predictor (d,) when there is one (sparse regression), else None.
    Classification: y, y_test int labels in [0, classes); support None; y_clean the
    training labels before any were replaced by random ones (y itself when none were).
    """
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    support: tuple = None
    classes: int = None
    beta: np.ndarray = None
    y_clean: np.ndarray = None
    source: dict = None           # where real data came from (data/real.py); None: drawn here

    @property
    def d(self):
        return self.X.shape[1]


def cast_data(data, dtype):
    """The data in a run's dtype (drawn in float64; a float32 run gets a float32 copy of
    the inputs and the regression targets; class labels stay ints)."""
    if data.X.dtype == dtype:
        return data
    cast = lambda a: a if a is None or not np.issubdtype(a.dtype, np.floating) else a.astype(dtype)
    return replace(data, X=cast(data.X), y=cast(data.y), X_test=cast(data.X_test),
                   y_test=cast(data.y_test))


def check_support(support, d):
    """Support: a non-empty list of distinct ints in [0, d)."""
    if isinstance(support, (str, bytes)) or not hasattr(support, "__iter__"):
        raise TypeError(f"support must be a list of ints, got {describe(support)}")
    S = list(support)
    if not S:
        raise ValueError("support must name at least one input coordinate, got []")
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in S):
        raise TypeError(f"support must be a list of ints, got {S}")
    S = [int(s) for s in S]
    bad = [s for s in S if not 0 <= s < d]
    if bad:
        raise ValueError(f"support entries must be in [0, d={d}), got {bad}")
    if len(set(S)) != len(S):
        raise ValueError(f"support entries must be distinct, got {S}")
    return tuple(S)
