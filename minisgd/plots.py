"""Figures from run results (dicts in the JSON layout of train.Result.to_dict, plus the
final first-layer weights where heatmaps are wanted). matplotlib's non-interactive Agg
backend, so it works on a headless machine. Not for: computing metrics (metrics.py).
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .metrics import gram  # noqa: E402


def irrelevant_norm_curves(runs, path, title=None):
    """||W1[:, S^c]||_F against the step (log x-axis), one line per run.

    runs: list of (label, result_dict). Step 0 is drawn at x = 1/2 of the first recorded
    step so the initial value shows on the log axis.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, run in runs:
        steps = np.asarray(run["history"]["step"], dtype=float)
        values = np.array([np.nan if v is None else v for v in run["history"]["irrelevant_norm"]])
        x = steps.copy()
        if len(x) > 1 and x[0] == 0:
            x[0] = x[1] / 2
        style = "--" if run["config"]["optimizer"] == "gd" else "-"
        ax.plot(x, values, style, label=label, lw=1.8)
    ax.set_xscale("log")
    ax.set_xlabel("training step t (log scale)")
    ax.set_ylabel(r"irrelevant first-layer norm $\|W_1[:, S^c]\|_F$")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(title="optimizer", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def first_layer_heatmaps(runs, support, path):
    """Per run: |W1| in the (out, in) view (columns = input coordinates) and the Gram
    matrix |W1^T W1| (in x in). A learned support shows as bright support columns / a
    bright |S| x |S| block; true support coordinates are marked on the x-axis."""
    k = len(runs)
    fig, axes = plt.subplots(2, k, figsize=(2.3 * k + 1, 5.2), squeeze=False)
    for col, (label, W1) in enumerate(runs):
        W_out_in = np.abs(W1.T)                                  # (n_out, n_in)
        G = gram(W1)                                             # (n_in, n_in)
        for row, (M, name) in enumerate([(W_out_in, "|W1|"), (G, "|W1ᵀW1|")]):
            ax = axes[row, col]
            im = ax.imshow(M, cmap="viridis", vmin=0, aspect="equal")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
            ax.set_title(f"{label}\n{name}" if row == 0 else name, fontsize=8)
            ax.set_xticks(sorted(support))
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
            ax.set_xlabel("input coordinate (ticks: true support)", fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
