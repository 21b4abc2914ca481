"""The tasks: what each one draws, what it trains on and what it records, in one place.

| task | data (data/) | targets Y the loss reads | history columns (besides step, train_loss, penalty, test_loss, lr) | final keys (besides train_loss, test_loss, diverged, steps_done, wall_time) |
|---|---|---|---|---|
| support | x ~ N(0, I_d) (or +-1), a target on S, label doubling | y (N, 1) | irrelevant_norm, relevant_norm | irrelevant/relevant norm, column_norms, detected_support, precision, recall, steps_to_threshold |
| sparse_regression | x ~ N(0, I_d), y = X beta* + noise | y (N, 1) | l0, beta_error | l0, beta_error, precision, recall, top_hits, detected_support |
| classification | gaussian_mixture / teacher / signals, C classes, labels int | mse: label_scale * one-hot (N, C); cross_entropy: one-hot (N, C) | train_accuracy, test_accuracy (+ clean_accuracy with random_labels > 0) | the same accuracies |

train_loss / test_loss are the data loss the run trains on (mse, or cross-entropy) on the
whole training / test set. With random_labels = p > 0, a fraction p of the training labels
(chosen by the data seed) is replaced by classes drawn uniformly (they may coincide with the
true one); the net trains on, and train_accuracy counts against, those labels, while
clean_accuracy counts against the true training labels; test labels are never touched.
Metric sets (Config.metrics, see metrics/) follow lr in the history and are added to final.
Not for: the loop (train.py) or the metrics' definitions (metrics/).
"""
import dataclasses
from dataclasses import dataclass

import numpy as np

from .engines import piece_slices
from .checks import check_int_array
from .data import Data, make_data
from .losses import LOSSES, one_hot, terms
from .metrics import (compute_metric_sets, irrelevant_norm, relevant_norm, steps_to_threshold,
                      support_summary)
from .metrics.accuracy import correct_count
from .metrics.predictor import l0, linear_predictor, sparsity_summary
from .moments import exact_loss, product

TASK_COLUMNS = {"support": ("irrelevant_norm", "relevant_norm"),
                "sparse_regression": ("l0", "beta_error"),
                "classification": ("train_accuracy", "test_accuracy")}


@dataclass
class Problem:
    """A run's data with the targets its loss reads: Y (N, n_out), Y_test (n_test, n_out);
    for classification labels (N,) / test_labels (n_test,) are the int labels, clean_labels
    the training labels before randomization (None when none were randomized)."""
    config: object
    data: Data
    Y: np.ndarray
    Y_test: np.ndarray
    labels: np.ndarray = None
    test_labels: np.ndarray = None
    clean_labels: np.ndarray = None
    gradient: str = "rows"             # the path computing the gradients (engines.gradient_path)
    engine: str = None                 # the engine that ran (engines.py: reference, ...)
    train_moments: object = None       # moments.Moments of the sets (the moments path):
    test_moments: object = None        # the history's losses then come from them
    streams: dict = None               # the streaming metric sets' states (metrics/)
    given: dict = None                 # config fields taken from given objects (resolve.py)

    @property
    def task(self):
        return self.config.task

    @property
    def loss(self):
        return self.config.loss

    def history_columns(self):
        extra = ("clean_accuracy",) if self.clean_labels is not None else ()
        if self.task == "classification" and self.data.support is not None:
            extra += TASK_COLUMNS["support"]         # known irrelevant inputs (data/real.py)
        return ("step", "train_loss", "penalty", "test_loss") + TASK_COLUMNS[self.task] + \
            extra + ("lr",)


# ---- data ------------------------------------------------------------------------------
def draw_data(config, rng):
    """The data set of a validated config, drawn from the data generator rng."""
    c = config
    if c.task == "support":
        return make_data(rng, c.d, c.support, c.n, c.target, c.input, c.center, c.double,
                         c.label_eps, c.n_test)
    if c.task == "sparse_regression":
        from .data.sparse_regression import make_sparse_regression
        return make_sparse_regression(rng, c.d, c.support, c.n, c.n_test, c.noise)
    from .data.classification import make_classification
    return make_classification(rng, c.dataset, c.d, c.classes, c.n, c.n_test, c.blobs,
                               c.separation, c.noise_inputs)


def check_data(config, data):
    """A given Data (a file, the Python API) must fit the validated config."""
    if data.X.shape[1] != config.d:
        raise ValueError(f"d must equal the data's width {data.X.shape[1]}, got {config.d}")
    if config.task == "classification":
        C = config.classes
        for name, labels in (("y", data.y), ("y_test", data.y_test)):
            check_int_array(f"data {name} (class labels)", labels, ndim=1, low=0, high=None)
            if labels.size and labels.max() >= C:
                raise ValueError(f"classes must exceed every label: data {name} holds label "
                                 f"{labels.max()}, got classes={C}")
        if np.unique(data.y).size < 2:
            raise ValueError("data y (class labels) must hold at least two classes, got only "
                             f"{np.unique(data.y).tolist()}")
        return
    if not np.issubdtype(data.y.dtype, np.floating):
        raise TypeError(f"data y must be float regression targets for task={config.task!r}, "
                        f"got dtype {data.y.dtype}")
    if data.support is not None and tuple(data.support) != tuple(config.support):
        raise ValueError(f"support of the config {tuple(config.support)} must equal the "
                         f"data's support {tuple(data.support)}")


def randomize_labels(data, fraction, rng):
    """Data whose training labels are, on round(fraction * N) rows chosen by rng, replaced
    by classes drawn uniformly from rng; y_clean keeps the true labels. fraction 0: data."""
    if not fraction:
        return data
    N = data.y.shape[0]
    rows = rng.permutation(N)[:int(round(fraction * N))]
    y = data.y.copy()
    y[rows] = rng.integers(0, data.classes, size=rows.size)
    return dataclasses.replace(data, y=y, y_clean=data.y)


def make_problem(config, data):
    """The Problem of a validated config and its (cast) data. Given regression data without
    a support take the config's (the support the run's metrics are measured against)."""
    if config.task != "classification":
        if data.support is None:
            data = dataclasses.replace(data, support=tuple(config.support))
        return Problem(config, data, data.y[:, None], data.y_test[:, None])
    C = config.classes
    scale = config.label_scale if config.loss == "mse" else 1.0
    Y = one_hot(data.y, C, data.X.dtype)
    Y_test = one_hot(data.y_test, C, data.X.dtype)
    if scale != 1.0:
        Y *= scale
        Y_test *= scale
    clean = data.y_clean if data.y_clean is not None and data.y_clean is not data.y else None
    return Problem(config, data, Y, Y_test, data.y, data.y_test, clean)


# ---- what is recorded ------------------------------------------------------------------
def evaluate(net, X, Y, loss, labels=None):
    """(data loss, accuracy) of net on a whole set, the forward pass in the pieces of
    engines.piece_slices (no (N, width) activations kept); accuracy None without
    labels. The pieces' losses are means over the whole set, so they add up."""
    value, correct = 0.0, 0
    count = terms(loss, X.shape[0], Y.shape[1])
    for rows in piece_slices(X.shape[0]):
        f = net.forward_cache(X[rows])[-1]
        value += LOSSES[loss](f, Y[rows], count=count)[0]
        if labels is not None:
            correct += correct_count(f, labels[rows])
    return value, (None if labels is None else correct / X.shape[0])


def set_loss(net, problem, which):
    """(data loss, accuracy) on the training ("train") or test set: from the set's moments
    when the run has them (exact, moments.exact_loss), else from the rows (evaluate)."""
    M = problem.train_moments if which == "train" else problem.test_moments
    if M is not None:
        return exact_loss(product(net), M, problem.Y.shape[1]), None
    if which == "train":
        return evaluate(net, problem.data.X, problem.Y, problem.loss, problem.labels)
    return evaluate(net, problem.data.X_test, problem.Y_test, problem.loss, problem.test_labels)


def history_row(net, optimizer, problem, lr):
    """One history row (without the step), in the order of problem.history_columns()."""
    data, loss = problem.data, problem.loss
    train_loss, train_acc = set_loss(net, problem, "train")
    row = {"train_loss": train_loss, "penalty": optimizer.penalty(net)}
    test_loss, test_acc = set_loss(net, problem, "test")
    row["test_loss"] = test_loss
    if data.support is not None and problem.task != "sparse_regression":
        W1 = net.effective_weights()[0]
        row.update(irrelevant_norm=irrelevant_norm(W1, data.support),
                   relevant_norm=relevant_norm(W1, data.support))
    if problem.task == "sparse_regression":
        beta = linear_predictor(net)
        row.update(l0=l0(beta, problem.config.l0_threshold),
                   beta_error=np.nan if data.beta is None else np.linalg.norm(beta - data.beta))
    elif problem.task == "classification":
        row.update(train_accuracy=train_acc, test_accuracy=test_acc)
        if problem.clean_labels is not None:
            row["clean_accuracy"] = evaluate(net, data.X, problem.Y, loss,
                                             problem.clean_labels)[1]
    row["lr"] = lr
    row.update(compute_metric_sets(problem.config.metrics, net, problem))
    return row


def task_final(net, problem, history):
    """The task's final numbers (JSON-ready), before the run's losses and status."""
    data, config = problem.data, problem.config
    if problem.task == "support" or (problem.task == "classification" and data.support):
        final = support_summary(net.effective_weights()[0], data.support,
                                rule=config.support_rule or "gap")
    elif problem.task == "sparse_regression":
        beta = linear_predictor(net)
        beta_star = np.zeros_like(beta) if data.beta is None else data.beta
        final = sparsity_summary(beta, beta_star, data.support, config.l0_threshold)
        if data.beta is None:                  # given data: no true predictor to compare with
            final["beta_error"] = None
    else:
        final = {}
    train_loss, train_acc = set_loss(net, problem, "train")
    test_loss, test_acc = set_loss(net, problem, "test")
    final.update(train_loss=train_loss, test_loss=test_loss)
    if "irrelevant_norm" in history:
        final["steps_to_threshold"] = steps_to_threshold(
            history["step"], history["irrelevant_norm"], history["relevant_norm"],
            config.threshold or 0.1)
    if problem.task == "classification":
        final.update(train_accuracy=train_acc, test_accuracy=test_acc)
        if problem.clean_labels is not None:
            final["clean_accuracy"] = evaluate(net, data.X, problem.Y, problem.loss,
                                               problem.clean_labels)[1]
    final.update(compute_metric_sets(config.metrics, net, problem))
    return final
