"""Sparse linear regression: y = <beta*, x> with beta* non-zero only on a support S.

The diagonal-linear-network task of Andriushchenko et al., "SGD with large step sizes
learns sparse features" (ICML 2023), published setup n = 80, d = 200, r = |S| = 20: with
n < d the training set has a whole affine space of interpolators, and the question is
which one (S)GD picks. Not for: the nonlinear support targets of the headline
experiment (support.py) or classification (classification.py).
"""
import numpy as np

from ..checks import check_float, check_int, make_rng
from .container import Data, check_support


def sparse_predictor(rng, d, support):
    """beta* (d,): |g_S| / ||g_S|| on the support, 0 elsewhere, g ~ N(0, I).

    Unit norm and non-negative, so every relevant coordinate carries signal of one sign.
    """
    S = list(support)
    g = rng.standard_normal(len(S))                           # (r,)
    beta = np.zeros(d)                                        # (d,)
    beta[S] = np.abs(g) / np.linalg.norm(g)
    return beta


def make_sparse_regression(seed, d, support, n, n_test, noise=0.0):
    """Training set X (n, d), y = X beta* + noise * N(0, 1); test set of n_test rows with
    noiseless targets y_test = X_test beta*.  x ~ N(0, I_d) for both sets.

    seed: an int or a Generator (split with .spawn, so the same Generator passed twice
    gives two different data sets).

    Returns Data(X, y, X_test, y_test, support=tuple(support), beta=beta*).

    What the published code does (tml-epfl/sgd-sparse-features; the README's
    diag_nets.ipynb is not among the stored files, so this is read from
    diag_nets_2d_loss_surface.ipynb, first cell, module-level code, no function):

        np.random.seed(0)
        X      = np.random.multivariate_normal(np.zeros(d), np.eye(d), n)
        X_test = np.random.multivariate_normal(np.zeros(d), np.eye(d), n_test)  # 1000
        theta_star = np.random.randn(d); theta_star[r:] = 0
        theta_star = np.abs(theta_star) / np.linalg.norm(theta_star)
        y, y_test = X @ theta_star, X_test @ theta_star          # no label noise

    with n = 20, d = 30, r = 3 in that notebook; the n = 80, d = 200, r = 20 row is the
    `hps` table of diag_nets_level_set_stabilization.ipynb.

    Where we depart:
      - the support is a list of coordinates given by the caller (theirs: the first r);
      - x is drawn with standard_normal (theirs: multivariate_normal with identity
        covariance: the same distribution, other numbers);
      - draws come from an explicit Generator split into three independent streams
        (beta*, training set, test set), so beta* and the test set do not change with n
        (theirs: the global NumPy state, X then X_test then theta_star), and the first
        rows of X do not change either;
      - optional label noise `noise` * N(0, 1) on the training labels only (theirs: none);
        the noise is drawn even when noise = 0, so X is the same for every noise level;
      - n_test is chosen by the caller (theirs: 1000).
    """
    d = check_int("d", d, low=1)
    support = check_support(support, d)
    n = check_int("n", n, low=1)
    n_test = check_int("n_test", n_test, low=1)
    noise = check_float("noise", noise, low=0.0)
    task_rng, train_rng, test_rng = make_rng(seed).spawn(3)
    beta = sparse_predictor(task_rng, d, support)             # (d,)
    X = train_rng.standard_normal((n, d))                     # (n, d)
    y = X @ beta + noise * train_rng.standard_normal(n)       # (n,)
    X_test = test_rng.standard_normal((n_test, d))            # (n_test, d)
    y_test = X_test @ beta                                    # (n_test,)
    return Data(X, y, X_test, y_test, support=support, beta=beta)
