"""Gradient noise along a run: the per-sample gradient variance Gamma and ||grad C||^2,
split by first-layer rows.

For the data loss C = (1/N) sum_i C_i (mse; C_i the loss of sample i alone) with gradient
g = grad C and per-sample gradients g_i = grad C_i, the two quantities that the modified
loss of SGD is made of (docs/science.md section 1, "Mechanism") are

    ||grad C||^2 = ||g||^2
    Gamma        = (1/N) sum_i ||g_i - g||^2           (a sum over every parameter)

Gamma is split over disjoint groups of parameters -- the irrelevant first-layer weights
(rows j not in S of weights[0], layout (n_in, n_out)), the relevant first-layer rows, and
the rest (deeper weights and all biases) -- so that a run can show *where* SGD's noise sits.
The three parts add up to Gamma; the same split is given for ||g||^2.

Cost: one ordinary forward + backward over all N samples (for g), then a second pass in
chunks of `chunk` samples that builds the chunk's per-sample gradients with
MLP.backward(per_sample=True): about 2-3x the cost of one full-batch gradient, and
chunk * n_params floats of memory. Record it at the log-spaced history steps only
(gradient_noise_metrics() plugs into train(..., extra_metrics=...)), not at every step.

Not for: curvature (hvp.py, hessian.py, lanczos.py) or the noise's covariance and shape
at one point (noise_shape.py, tail_index.py).
"""
import numpy as np

from ..checks import check_float_array, check_int, describe
from ..data import check_support
from ..losses import check_targets, mse
from ..models.mlp import MLP
from .inputs import NotFinite, check_finite_result, check_net

GROUPS = ("irrelevant", "relevant", "rest")
NOISE_COLUMNS = ("grad_norm_sq", "gamma") + tuple(f"gamma_{g}" for g in GROUPS) + \
    tuple(f"grad_norm_sq_{g}" for g in GROUPS)


def check_noise_inputs(net, X, y, support, loss="mse"):
    """Validate (net, X, y, support) for the diagnostics; returns (X, Y (N, K), support)."""
    if not isinstance(net, MLP):
        raise TypeError("net must be a minisgd.MLP (the diagnostics need its per-sample "
                        f"gradients, MLP.backward(per_sample=True)), got {describe(net)}")
    check_net(net, diagonal=False)
    if loss != "mse":
        raise ValueError(f"loss must be 'mse' (the only loss the diagnostics implement), "
                         f"got {loss!r}")
    X = check_float_array("X", X, shape=(None, net.sizes[0]))
    if X.shape[0] < 2:
        raise ValueError("X must hold at least 2 samples: the per-sample gradient variance "
                         f"Gamma is undefined for a batch of size {X.shape[0]}")
    Y = check_targets("mse", y, X.shape[0], net.sizes[-1])
    return X, Y, check_support(support, net.sizes[0])


def group_masks(net, support):
    """Boolean masks shaped like each parameter: which entries belong to each group.

    Returns {group: [mask per parameter]} in the order of net.params (weights, then biases).
    """
    irrelevant_rows = np.ones(net.sizes[0], dtype=bool)
    irrelevant_rows[list(support)] = False
    masks = {g: [np.zeros(p.shape, dtype=bool) for p in net.params] for g in GROUPS}
    masks["irrelevant"][0][irrelevant_rows, :] = True                 # W1[S^c, :]
    masks["relevant"][0][~irrelevant_rows, :] = True                  # W1[S, :]
    for l in range(1, len(net.params)):
        masks["rest"][l][...] = True                                  # deeper W, biases
    return masks


def full_gradient(net, X, Y):
    """(C, [dC/dp for p in net.params]) on the whole set, one forward + backward."""
    acts = net.forward_cache(X)
    value, delta = mse(acts[-1], Y)                                   # delta: (N, K)
    grads = net.backward(acts, delta)
    return value, grads.weights + (grads.biases or [])


def gradient_noise(net, X, y, support, chunk=1024):
    """||grad C||^2 and Gamma = (1/N) sum_i ||grad C_i - grad C||^2 on (X, y), split.

    Returns a dict of floats: grad_norm_sq, gamma, and gamma_<group> / grad_norm_sq_<group>
    for group in irrelevant (W1[S^c, :]), relevant (W1[S, :]) and rest. Two passes (see
    the module docstring for the cost): g first, then sum_i ||g_i - g||^2 chunk by chunk,
    which avoids the cancellation of the one-pass formula (1/N) sum ||g_i||^2 - ||g||^2.
    """
    X, Y, support = check_noise_inputs(net, X, y, support)
    chunk = check_int("chunk", chunk, low=1)
    N = X.shape[0]
    masks = group_masks(net, support)
    _, g = full_gradient(net, X, Y)
    sums = {group: 0.0 for group in GROUPS}
    for start in range(0, N, chunk):
        Xc, Yc = X[start:start + chunk], Y[start:start + chunk]        # (B, d), (B, K)
        acts = net.forward_cache(Xc)
        _, delta = mse(acts[-1], Yc)
        per = net.backward(acts, delta, per_sample=True)              # arrays (B, *shape)
        for p_i, g_p, k in zip(per.weights + (per.biases or []), g, range(len(g))):
            dev2 = (p_i - g_p) ** 2                                   # (B, *shape)
            for group in GROUPS:
                m = masks[group][k]
                if m.any():
                    sums[group] += float(dev2[:, m].sum())
    out = {"grad_norm_sq": sum(float(np.sum(g_p * g_p)) for g_p in g)}
    out["gamma"] = sum(sums.values()) / N
    for group in GROUPS:
        out[f"gamma_{group}"] = sums[group] / N
        out[f"grad_norm_sq_{group}"] = sum(float(np.sum(g_p[m] ** 2))
                                           for g_p, m in zip(g, masks[group]))
    check_finite_result("gradient noise", np.array(list(out.values())))
    return out


def gradient_noise_metrics(chunk=1024):
    """An extra_metrics function for train(): fn(net, data) -> gradient_noise(...) on the
    training set (data.X, data.y, data.support). Adds the columns grad_norm_sq, gamma,
    gamma_irrelevant, gamma_relevant, gamma_rest and grad_norm_sq_<group> to the history,
    at the log-spaced record steps only."""
    chunk = check_int("chunk", chunk, low=1)

    def extra(net, data):
        try:
            return gradient_noise(net, data.X, data.y, data.support, chunk=chunk)
        except NotFinite:                           # recorded as null, as the run's losses
            return dict.fromkeys(NOISE_COLUMNS, float("nan"))
    return extra

