"""The `feature_sparsity` metric set: how many ReLU activations are non-zero on the training
set, per hidden layer, counted as the published code counts them.

tml-epfl/sgd-sparse-features, fc_nets.py, FCNet.feature_sparsity(X, n_hidden_to_take=l):

    phi  = relu activations of layer l on X, each row (sample) divided by its norm (0 if 0)
    live = the neurons (columns) positive on at least one sample
    C    = corrcoef of the live columns; walking through them in order, a neuron is dropped
           when |C| > 0.99 with any neuron not dropped yet (so of a group of near-duplicates
           the last one stays)
    feature_sparsity = (non-zeros of phi in the kept columns) / (n * all neurons)

and the numbers its notebook prints (fc_nets_multi_layer.ipynb, "activation_frac_nonzero":
57.0 -> 34.0 % in layer 1, 46.6 -> 18.2 % in layer 2) are the plain share of non-zero
activations, (relu(z_l) != 0).mean(), without dropping anything: active_fraction here.
Columns per hidden layer l = 1, 2, ...: feature_sparsity_L<l>, active_fraction_L<l>,
live_neurons_L<l>, distinct_neurons_L<l> (the kept ones). A column that is constant on its
live samples (corrcoef NaN) is kept, as in the published code.
Not for: the linear layers' norms (norms.py).
"""
import warnings

import numpy as np

from .registry import metric_set

CORR_THRESHOLD = 0.99


def distinct_columns(phi, corr_threshold=CORR_THRESHOLD):
    """Indices of the live columns of phi (n, m) kept after dropping near-duplicates."""
    live = np.flatnonzero((phi > 0.0).sum(axis=0) > 0)
    if live.size < 2:
        return live
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        C = np.corrcoef(phi[:, live].T)                        # (live, live)
    np.fill_diagonal(C, 0.0)
    kept = np.ones(live.size, dtype=bool)
    for j in range(live.size):                                 # the published order
        if np.any(np.abs(C[j, kept]) > corr_threshold):        # NaN compares False
            kept[j] = False
    return live[kept]


def layer_feature_sparsity(H, corr_threshold=CORR_THRESHOLD):
    """{feature_sparsity, active_fraction, live_neurons, distinct_neurons} of one layer's
    activations H (n samples, m neurons), as the module docstring defines them."""
    H = np.asarray(H, dtype=np.float64)
    norms = np.sqrt((H * H).sum(axis=1, keepdims=True))       # (n, 1)
    phi = np.divide(H, norms, out=np.zeros_like(H), where=norms > 0)
    keep = distinct_columns(phi, corr_threshold)
    live = int(((phi > 0.0).sum(axis=0) > 0).sum())
    return {"feature_sparsity": float(np.count_nonzero(phi[:, keep]) / H.size),
            "active_fraction": float(np.count_nonzero(H) / H.size),
            "live_neurons": float(live), "distinct_neurons": float(keep.size)}


@metric_set("feature_sparsity", models=("mlp",))
def feature_sparsity_set(net, problem):
    """Per ReLU layer on the training set: published feature sparsity, share of non-zero activations, live and distinct neurons."""
    if net.activation != "relu":
        raise ValueError("the feature_sparsity metric set counts ReLU activations: "
                         f"activation must be 'relu', got {net.activation!r}")
    acts = net.forward_cache(problem.data.X)                   # [X, a_1, ..., f]
    out = {}
    for l, H in enumerate(acts[1:-1], start=1):
        for key, value in layer_feature_sparsity(H).items():
            out[f"{key}_L{l}"] = value
    return out
