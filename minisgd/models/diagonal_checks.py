"""Argument checks of the diagonal net's public calls: its dtype, the arrays u and v it is
made from, the nets a stack is made of, and the inputs X and targets y of a single net or
of a stack of K nets. Each returns the checked value or raises a TypeError / ValueError
that names the argument and what it got. Not for: the training loop's hot path
(forward_cache, backward), which checks nothing.
"""
import numpy as np

from ..checks import check_float_array, describe

DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def check_dtype(dtype):
    """np.float64 or np.float32 (as a numpy dtype); anything else is a TypeError."""
    try:
        dt = None if dtype is None else np.dtype(dtype)   # np.dtype(None) is float64
    except TypeError:
        dt = None
    if dt is None or dt not in DTYPES:
        raise TypeError(f"dtype must be numpy.float64 or numpy.float32, got {describe(dtype)}")
    return dt


def check_factors(u, v):
    """u and v of a net: float arrays (d,) of one length d >= 1."""
    check_float_array("u", u, ndim=1)
    if u.shape[0] < 1:
        raise ValueError(f"u must hold at least one entry (d >= 1), got {describe(u)}")
    check_float_array("v", v, shape=(u.shape[0],))
    return u, v


def check_stackable(nets, kind):
    """nets: a non-empty list of single (unstacked) nets of class `kind` that share d,
    parametrization and dtype."""
    if not isinstance(nets, (list, tuple)) or len(nets) < 1:
        raise ValueError(f"nets must be a non-empty list of {kind.__name__}, "
                         f"got {describe(nets)}")
    for i, net in enumerate(nets):
        if not isinstance(net, kind) or net.members is not None:
            raise TypeError(f"nets[{i}] must be a single (unstacked) {kind.__name__}, "
                            f"got {describe(net)}")
    first = nets[0]
    for i, net in enumerate(nets):
        if (net.d, net.parametrization, net.dtype) != (first.d, first.parametrization,
                                                       first.dtype):
            raise ValueError(
                f"nets must share d, parametrization and dtype to be stacked: nets[0] has "
                f"(d={first.d}, {first.parametrization!r}, {first.dtype}), nets[{i}] has "
                f"(d={net.d}, {net.parametrization!r}, {net.dtype})")
    return nets


def check_diagonal_inputs(X, d, K):
    """X (B, d); for a stack of K nets (K not None) also (K, B, d). At least one row."""
    check_float_array("X", X)
    shared = X.ndim == 2 and X.shape[1] == d
    if K is None and not shared:
        check_float_array("X", X, shape=(None, d))            # raises, naming the shape
    if K is not None and not (shared or (X.ndim == 3 and X.shape[0] == K
                                         and X.shape[2] == d)):
        raise ValueError(f"X must have shape (any, {d}) (shared by the {K} members) "
                         f"or ({K}, any, {d}), got {describe(X)}")
    if X.shape[-2] == 0:
        raise ValueError(f"X must hold at least one row, got shape {X.shape}")
    return X


def check_stack_targets(y, K, B):
    """Targets for a stack of K nets on B rows: shared by the members, (B,) or (B, 1), or one
    column per member, (K, B) or (K, B, 1). Returned as (B, 1) or (K, B, 1)."""
    check_float_array("y", y)
    shapes = {(B,): (B, 1), (B, 1): (B, 1), (K, B): (K, B, 1), (K, B, 1): (K, B, 1)}
    if y.shape not in shapes:
        raise ValueError(f"y must have shape ({B},) or ({B}, 1) (shared by the {K} members) "
                         f"or ({K}, {B}) or ({K}, {B}, 1), got {describe(y)}")
    return y.reshape(shapes[y.shape])
