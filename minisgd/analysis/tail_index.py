"""The tail index alpha of gradient noise: the block-sum estimator Simsekli, Sagun and
Gurbuzbalaban (2019) use, from Mohammadi, Mohammadpour and Ogata (2015, Corollary 2.4),
and symmetric alpha-stable samples to test it on.

A symmetric alpha-stable law (S alpha S, 0 < alpha <= 2; alpha = 2 is the Gaussian,
alpha = 1 the Cauchy) is closed under sums: for K1 i.i.d. copies, X_1 + ... + X_K1 has the
law of K1^(1/alpha) X_1. Taking E log|.| of both sides,

    1/alpha = (E log|Y| - E log|X|) / log K1,       Y a sum of K1 samples.

The estimator: K = K1 * K2 samples X_1..X_K, cut into K2 consecutive blocks of K1, Y_i the
block sums, and

    1/alpha_hat = ( (1/K2) sum_i log|Y_i| - (1/K) sum_k log|X_k| ) / log K1

(eps = 2.2e-16 inside each log, as in the published code). Simsekli et al. (public code
umutsimsekli/sgd_tail_index, main.py) flatten the (P, D) mini-batch noise -- P batches, D
coordinates -- into K = P D scalars in row-major order and take K1 the largest divisor of K
not above sqrt(K): pooled_alpha() does exactly that.

Assumptions, and what breaks them:
- the samples are i.i.d. S alpha S (or in its domain of attraction, K1 large). Pooling D
  coordinates violates "identically distributed" whenever the coordinates have different
  scales: a block sum is dominated by its largest-scale terms, so E log|Y| grows faster
  with K1 than one scale would make it, and alpha_hat falls below 2 for purely Gaussian
  coordinates (tests/test_tail_index.py shows how far). per_coordinate_alpha() estimates
  each coordinate apart (K = P samples each), which scale differences cannot bias.
- a stable law. A finite-variance law that is not Gaussian (Student-t(3), Laplace) has 2
  as its limit only as K1 -> infinity: at finite K it reads below 2 (t(3): ~1.87 at
  K = 1e5, ~1.4 at K = 400), so alpha_hat < 2 alone does not prove infinite variance.
- enough samples: with K = 16 (K1 = 4) Gaussian data gives alpha_hat all over the place
  (std of 1/alpha_hat ~ 0.3); compare with a Gaussian null of the same K.
- symmetry and zero location; the estimate is not clipped to (0, 2]: sampling error gives
  values above 2 for Gaussian data. A non-positive log difference (alpha_hat <= 0 or inf)
  and constant samples mean no tail index: block_sum_alpha and pooled_alpha refuse them;
  per_coordinate_alpha refuses constant columns and returns the others as they are.
Not for: computing the noise (noise_shape.minibatch_noise).
"""
import math

import numpy as np

from ..checks import check_float, check_float_array, check_int
from .inputs import NotFinite

EPS = float(np.spacing(1))


def symmetric_stable(alpha, size, rng, scale=1.0):
    """S alpha S samples by Chambers, Mallows and Stuck (1976), beta = 0:

        U ~ Uniform(-pi/2, pi/2),  W ~ Exp(1)
        X = sin(alpha U) / cos(U)^(1/alpha) * (cos((1 - alpha) U) / W)^((1 - alpha)/alpha)

    (alpha = 1: tan U, the Cauchy; alpha = 2: sqrt(2) times a standard normal), times
    scale. rng: a numpy Generator."""
    alpha = check_float("alpha", alpha, low=0.0, high=2.0, low_open=True)
    scale = check_float("scale", scale, low=0.0, low_open=True)
    check_size(size)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    U = rng.uniform(-np.pi / 2, np.pi / 2, size)
    W = rng.exponential(1.0, size)
    if alpha == 1.0:
        return scale * np.tan(U)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        X = np.sin(alpha * U) / np.cos(U) ** (1.0 / alpha) \
            * (np.cos((1.0 - alpha) * U) / W) ** ((1.0 - alpha) / alpha)
    bad = int(np.sum(~np.isfinite(X)))
    if bad:
        raise NotFinite(f"alpha={alpha} draws {bad} of {X.size} samples beyond float64 "
                        "(its tail is too heavy for the formula): use a larger alpha")
    return scale * X


def check_size(size):
    """An int >= 0 or a tuple of them (a numpy shape)."""
    sizes = size if isinstance(size, tuple) else (size,)
    for s in sizes:
        check_int("size", s, low=0)
    return size


def published_block(K):
    """The published choice of K1: the largest divisor of K not above sqrt(K)."""
    return max(i for i in range(1, math.isqrt(K) + 1) if K % i == 0)


def check_block(block, K):
    """K1 = block: an int in [2, K // 2] dividing K; None: published_block(K), which must
    be at least 2 (K prime has none)."""
    if K < 4:
        raise ValueError(f"the tail-index estimator needs at least 4 samples (two blocks of "
                         f"two), got K={K}")
    if block is None:
        block = published_block(K)
        if block < 2:
            raise ValueError(f"K={K} samples have no divisor in [2, sqrt(K)] to use as the "
                             "block size; pass block= a divisor or drop samples")
        return block
    block = check_int("block", block, low=2, high=K // 2)
    if K % block:
        raise ValueError(f"block={block} does not divide the sample count K={K}: the K "
                         f"samples must split into K2 = K / block whole blocks")
    return block


def block_sum_alpha(x, block=None):
    """alpha_hat of 1-D samples x (K,) with blocks of K1 = block consecutive samples
    (module docstring). block=None: the published choice."""
    x = check_float_array("x", x, ndim=1)
    K = x.size
    K1 = check_block(block, K)
    if x.size and np.all(x == x[0]):
        raise ValueError(f"x is constant (every sample is {float(x[0])!r}): the estimator needs "
                         "samples of a symmetric law around 0, and gives no tail index here")
    Y = x.reshape(K // K1, K1).sum(axis=1)                           # (K2,) block sums
    diff = (np.mean(np.log(np.abs(Y) + EPS)) - np.mean(np.log(np.abs(x) + EPS))) / math.log(K1)
    if not diff > 0:
        raise ValueError(f"x gives no tail index: the block sums are not larger than the "
                         f"samples (log difference / log K1 = {diff:.3g} <= 0, alpha_hat would "
                         "be <= 0 or inf); the samples are not i.i.d. symmetric around 0")
    return float(1.0 / diff)


def pooled_alpha(noise, block=None):
    """Simsekli et al.'s pooled estimate: every coordinate of every row of noise (P, D) as
    one sample set of K = P D scalars (row-major), published block choice by default."""
    noise = check_float_array("noise", noise, ndim=2)
    return block_sum_alpha(noise.reshape(-1), block)


def per_coordinate_alpha(noise, block=None):
    """alpha_hat of each column of noise (P, D) on its own P samples: (D,). block=None:
    the published choice for K = P. Constant columns are refused; a column whose log
    difference is <= 0 (sampling error at small P) gives alpha_hat <= 0 or inf, returned
    as it is so that quantiles over the columns keep their meaning (block_sum_alpha refuses
    such a sample set)."""
    noise = check_float_array("noise", noise, ndim=2)
    P = noise.shape[0]
    K1 = check_block(block, P)
    constant = np.flatnonzero(np.all(noise == noise[:1], axis=0))
    if constant.size:
        raise ValueError(f"noise columns {constant.tolist()} are constant (e.g. parameters "
                         "that get no gradient): they have no tail index; drop them, "
                         "noise[:, keep]")
    Y = noise.reshape(P // K1, K1, -1).sum(axis=1)                   # (K2, D)
    diff = (np.log(np.abs(Y) + EPS).mean(axis=0)
            - np.log(np.abs(noise) + EPS).mean(axis=0)) / math.log(K1)  # (D,)
    with np.errstate(divide="ignore"):
        return 1.0 / diff
