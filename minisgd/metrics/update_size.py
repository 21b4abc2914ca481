"""How big SGD's updates are relative to the weights: the streaming metric set `noise`.

What it measures. Per layer l and update t (W the effective weight the forward pass
multiplies by, for a weight-normalized layer g V / ||V||), the relative update size

    noise_l(t) = ||W_l(t+1) - W_l(t)||_F / ||W_l(t)||_F

and the set reports its mean over a window of consecutive updates: the updates since the
previous record step (a run records at log-spaced steps, history.log_spaced_steps, so
late windows are long, and the last one reads the level at the end of the run). One
update alone is noisy; the window mean is not.

Why the set is called `noise`. It serves the intrinsic-SGD-noise claim (docs/science.md
section 3, "Intrinsic SGD noise"; Xu, Rangamani, Liao, Galanti, Poggio;
experiments/sgd_noise.py): with weight decay (and weight normalization) SGD on the square
loss keeps an intrinsic noise that does not vanish at convergence, so this ratio settles
at a non-zero level instead of decaying to 0, as it would for an interpolating run
without weight decay (every per-sample gradient vanishes there). Run configs and sweep
folders name the set `noise`, so the name stays; what it measures is an update size, not
a statistic of the gradient noise itself.

As TomerGalanti/LowRankBias (analysis_convergence.py, read at commit 4f3bc67): eval_dist
with normalize_dist=True is ||W_old - W_new|| / ||W_old|| per weight matrix (the hidden
layers and the output layer fc), averaged over the layers; the published code takes it
between the start and the end of an epoch, here it is per update and then averaged over
the window. Not for: the per-sample gradient variance Gamma (analysis/gradient_noise.py)
or the gradient-noise covariance and its shape (analysis/noise_shape.py).
"""
import numpy as np

from .registry import streaming_metric_set


@streaming_metric_set("noise", models=("mlp",))
class UpdateNoise:
    """noise_W{l}: mean over the window of ||W_l(t+1) - W_l(t)|| / ||W_l(t)||; noise: their
    mean over the layers (the published average); noise_window: updates in the window."""

    def __init__(self, net, problem):
        self.previous = [np.array(W) for W in net.effective_weights()]     # W_l(t), copies
        self.spare = [np.empty_like(W) for W in self.previous]            # W_l(t+1) goes here
        self.diff = [np.empty_like(W) for W in self.previous]
        self.sizes = [frobenius(W) for W in self.previous]                # ||W_l(t)||
        self.sums = np.zeros(len(self.previous))
        self.count = 0
        self.last = {**{f"noise_W{l}": np.nan for l in range(len(self.previous))},
                     "noise": np.nan, "noise_window": 0.0}     # step 0: no update yet

    def step(self, net, t):
        """After update t: add ||W(t+1) - W(t)|| / ||W(t)|| of every layer, keep W(t+1)
        (written into the spare buffers, which then swap with the previous ones) and its
        norm, the next update's ||W(t)||."""
        weights = net.effective_weights(out=self.spare[:-1] if net.gains is not None else None)
        for l, W in enumerate(weights):
            if W is not self.spare[l]:                     # a view of the parameters: copy
                np.copyto(self.spare[l], W)
            size = self.sizes[l]
            change = frobenius(np.subtract(self.spare[l], self.previous[l], out=self.diff[l]))
            self.sums[l] += change / size if size > 0 else np.inf
            self.sizes[l] = frobenius(self.spare[l])
        self.previous, self.spare = self.spare, self.previous
        self.count += 1

    def row(self, net):
        """The window's means, then a new window; with no update since the last row (the
        final metrics right after the last record) the last window's row again."""
        if self.count:
            means = self.sums / self.count
            self.last = {**{f"noise_W{l}": float(m) for l, m in enumerate(means)},
                         "noise": float(means.mean()), "noise_window": float(self.count)}
            self.sums[:] = 0.0
            self.count = 0
        return dict(self.last)


def frobenius(W):
    """||W||_F as np.linalg.norm(W) computes it (the square root of the dot product of W
    flattened in memory order with itself), without its checks."""
    flat = W.ravel(order="K")
    return np.sqrt(flat.dot(flat))
