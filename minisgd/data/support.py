"""Synthetic data: inputs in R^d and targets that depend only on a support S of coordinates.

The paper's setup (docs/science.md section 1): x ~ N(0, I_d), d = 15, S = first 5 coordinates,
n = 5000 points, irrelevant coordinates centred to empirical mean zero, every point used
twice with labels f(x) + eps and f(x) - eps, eps = 0.001 * N(0, 1), so N = 2n = 10000 and
the training loss can never reach zero. Not for: batching (batches.py).
"""
import numpy as np

from ..checks import check_choice, check_float, check_int, make_rng
from .container import Data, check_support

INPUTS = ("gaussian", "rademacher")
TARGETS = ("linear", "sine", "staircase", "product", "teacher")


def sample_inputs(rng, n, d, kind="gaussian"):
    """(n, d) inputs: N(0, I_d) or independent Rademacher signs +-1."""
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(n, d))
    return rng.standard_normal((n, d))


def make_teacher(rng, r, width=32):
    """A random ReLU teacher r -> width -> 1 (Kaiming init), reading only the support."""
    from ..models import MLP
    return MLP([r, width, 1], activation="relu", bias=True, init="torch_default", seed=rng)


def target_values(X, support, target="linear", teacher=None):
    """f(x) for each row of X, using only the coordinates in `support` (order matters for
    the staircase): z = X[:, S]  (n, r)

        linear:    sum_k z_k             sine:    sin(sum_k z_k)
        staircase: sum_k z_k^(k+1)       (x_s1 + x_s2^2 + ... + x_sr^r, the paper's)
        product:   prod_k z_k            (parity on Rademacher inputs)
        teacher:   a fixed random ReLU net of z
    """
    Z = X[:, list(support)]                                   # (n, r)
    if target == "linear":
        return Z.sum(axis=1)
    if target == "sine":
        return np.sin(Z.sum(axis=1))
    if target == "staircase":
        powers = np.arange(1, Z.shape[1] + 1)                 # (r,)
        return (Z ** powers).sum(axis=1)
    if target == "product":
        return Z.prod(axis=1)
    return teacher.forward_cache(Z)[-1][:, 0]


def make_data(seed, d=15, support=(0, 1, 2, 3, 4), n=5000, target="linear",
              inputs="gaussian", center=True, double=True, label_eps=0.001, n_test=2000):
    """Draw a training set (centred, label-doubled as in the paper) and a test set.

    center: subtract the training mean of each irrelevant coordinate (test set untouched).
    double: rows [X; X] with labels [f + eps; f - eps], eps ~ label_eps * N(0, 1) per point;
            without it, labels f + eps once.  y_test = f(X_test), noiseless.
    """
    rng = make_rng(seed)
    d = check_int("d", d, low=1)
    support = check_support(support, d)
    n = check_int("n", n, low=1)
    n_test = check_int("n_test", n_test, low=1)
    check_choice("target", target, TARGETS)
    check_choice("inputs", inputs, INPUTS)
    label_eps = check_float("label_eps", label_eps, low=0.0)
    teacher = make_teacher(rng, len(support)) if target == "teacher" else None
    X = sample_inputs(rng, n, d, inputs)
    if center:
        irrelevant = [j for j in range(d) if j not in support]
        X[:, irrelevant] -= X[:, irrelevant].mean(axis=0)
    f = target_values(X, support, target, teacher)
    eps = label_eps * rng.standard_normal(n)
    if double:
        X, y = np.vstack([X, X]), np.concatenate([f + eps, f - eps])
    else:
        y = f + eps
    X_test = sample_inputs(rng, n_test, d, inputs)
    y_test = target_values(X_test, support, target, teacher)
    return Data(X, y, X_test, y_test, support)
