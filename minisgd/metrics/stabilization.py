"""The `stabilization` metric set: the training loss over a sliding window of the last
steps -- the "bouncing" phase of large-step SGD made visible.

With a large step the iterates bounce between the walls of the valley and the training
loss stops decreasing: it *stabilizes* at a non-zero level (Andriushchenko et al., ICML
2023, section 3), about flat in median, widely spread, and rising at nearly half of the
steps; once the step is decayed it falls again. A streaming set (it needs every step):
after each update the whole training set's loss C_t is appended to a window of the last
W steps (W = window_length(steps)), and each record reports

    window_loss_median       median of C over the window
    window_loss_spread       log10(q90 / q10) of C over the window (decades; 0 = flat)
    window_loss_rise_frac    share of the window's steps with C_t > C_{t-1}

(NaN before the first step). Cost: one forward pass over the training set per step, so
meant for small sets (the published ones have n = 15-80). Single runs only (metrics/).
"""
import numpy as np

from .registry import streaming_metric_set
from ..losses import LOSSES

COLUMNS = ("window_loss_median", "window_loss_spread", "window_loss_rise_frac")


def window_length(steps):
    """W = steps / 20, at least 10 and at most 1000 steps."""
    return int(max(10, min(1000, steps // 20)))


def window_summary(losses):
    """{window_loss_median, _spread, _rise_frac} of a 1-d sequence of losses (in order)."""
    c = np.asarray(losses, dtype=np.float64)
    if c.size == 0:
        return {k: float("nan") for k in COLUMNS}
    q10, q90 = np.quantile(c, [0.1, 0.9])
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = float(np.log10(q90 / q10)) if q10 > 0 else float("inf")
    rise = float(np.mean(np.diff(c) > 0)) if c.size > 1 else float("nan")
    return {"window_loss_median": float(np.median(c)), "window_loss_spread": spread,
            "window_loss_rise_frac": rise}


@streaming_metric_set("stabilization")
class Stabilization:
    """Training loss over the last steps: median, log spread q90/q10, share of rising steps."""

    def __init__(self, net, problem):
        self.X, self.Y, self.loss = problem.data.X, problem.Y, problem.loss
        self.buffer = np.empty(window_length(problem.config.steps))
        self.count = 0                                      # steps seen

    def step(self, net, t):
        f = net.forward_cache(self.X)[-1]                   # (N, n_out)
        self.buffer[self.count % self.buffer.size] = LOSSES[self.loss](f, self.Y)[0]
        self.count += 1

    def window(self):
        """The window's losses, oldest first."""
        W = self.buffer.size
        if self.count <= W:
            return self.buffer[:self.count]
        start = self.count % W
        return np.concatenate([self.buffer[start:], self.buffer[:start]])

    def row(self, net):
        return window_summary(self.window())
