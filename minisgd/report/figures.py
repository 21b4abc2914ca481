"""Figures from run results (dicts in the JSON layout of history.Result.to_dict, plus the
final first-layer weights where heatmaps are wanted). matplotlib's non-interactive Agg
backend, so it works on a headless machine. Not for: computing metrics (minisgd/metrics/).
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..metrics import gram  # noqa: E402


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


def irrelevant_norm_groups(groups, path, title=None):
    """||W1[:, S^c]||_F against the step (log x), one colour per group of runs: see
    curve_groups."""
    curve_groups(groups, path, [("irrelevant_norm",
                                 r"irrelevant first-layer norm $\|W_1[:, S^c]\|_F$", False)],
                 title)


def curve_groups(groups, path, panels, title=None):
    """History columns against the step (log x), one panel per (column, y label, log_y) in
    `panels`, one colour per group of runs (e.g. the seeds of one arm): each run a thin
    line, the group mean a thick one (over the runs recorded at the same steps). A diverged
    run is dotted and ends in an x; the y-axis is scaled to the runs that did not diverge,
    so one blow-up does not flatten the rest.

    groups: list of (label, [result_dict, ...]). Step 0 is drawn at x = 1/2 of the first
    recorded step, as in irrelevant_norm_curves.
    """
    k = len(panels)
    fig, axes = plt.subplots(1, k, figsize=(7.5 if k == 1 else 5.2 * k, 4.8), squeeze=False)
    for ax, (column, y_label, log_y) in zip(axes[0], panels):
        draw_groups(ax, groups, column, log_y)
        ax.set_xscale("log")
        ax.set_xlabel("training step t (log scale)")
        ax.set_ylabel(y_label)
        ax.grid(True, which="major", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10) if k > 1 else axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_groups(ax, groups, column, log_y=False):
    """One column of every group's runs on ax (see curve_groups)."""
    colors = plt.cm.tab10.colors if len(groups) <= 10 else plt.cm.tab20.colors
    top, bottom = 0.0, np.inf
    for i, (label, runs) in enumerate(groups):
        color = colors[i % len(colors)]
        style = "--" if runs[0]["config"]["optimizer"] == "gd" else "-"
        ok = [history_xy(r, column) for r in runs if not diverged(r)]
        for run in runs:
            x, y = history_xy(run, column)
            if diverged(run):
                ax.plot(x, y, ":", color=color, lw=1.2)
                ax.plot(x[-1:], y[-1:], "x", color=color, ms=7)
            elif len(runs) > 1:
                ax.plot(x, y, style, color=color, lw=0.7, alpha=0.35)
        n_div = len(runs) - len(ok)
        note = [f"mean of {len(ok)}"] * (len(ok) > 1) + [f"{n_div} diverged"] * (n_div > 0)
        label += f" ({', '.join(note)})" if note else ""
        if ok:
            longest = max(len(x) for x, _ in ok)
            x = next(x for x, _ in ok if len(x) == longest)
            mean = np.mean([y for x_, y in ok if len(x_) == longest], axis=0)
            ax.plot(x, mean, style, color=color, lw=2.0, label=label)
            finite = np.concatenate([y[np.isfinite(y)] for _, y in ok])
            if finite.size:
                top = max(top, finite.max())
                positive = finite[finite > 0]
                bottom = min(bottom, positive.min()) if positive.size else bottom
        else:
            ax.plot([], [], ":", color=color, label=label)
    if log_y and np.isfinite(bottom) and top > 0:
        ax.set_yscale("log")
        ax.set_ylim(bottom / 1.5, 1.5 * top)
    else:
        ax.set_ylim(0, 1.15 * top if top > 0 else None)


def irrelevant_norm_bands(arms, path, title=None):
    """||W1[:, S^c]||_F against the step (log x), per arm the mean over its seeds (line) and
    mean +- one standard deviation (band); for runs recorded at the same steps.

    arms: list of (label, [result_dict, ...]) (the seeds of one arm). GD arms dashed.
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colors = plt.cm.tab10.colors
    for i, (label, runs) in enumerate(arms):
        color = colors[i % len(colors)]
        curves = [history_xy(r, "irrelevant_norm") for r in runs if not diverged(r)]
        longest = max(len(x) for x, _ in curves)
        x = next(x for x, _ in curves if len(x) == longest)
        Y = np.array([y for x_, y in curves if len(x_) == longest])   # (seeds, steps)
        mean, std = Y.mean(axis=0), Y.std(axis=0, ddof=1) if len(Y) > 1 else 0 * Y[0]
        style = "--" if runs[0]["config"]["optimizer"] == "gd" else "-"
        n_div = len(runs) - len(curves)
        note = f" ({len(Y)} seeds" + (f", {n_div} diverged)" if n_div else ")")
        ax.plot(x, mean, style, color=color, lw=1.8, label=label + note)
        ax.fill_between(x, np.maximum(mean - std, 0), mean + std, color=color, alpha=0.2,
                        lw=0)
    ax.set_xscale("log")
    ax.set_xlabel("training step t (log scale)")
    ax.set_ylabel(r"irrelevant first-layer norm $\|W_1[:, S^c]\|_F$")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, title="mean over seeds, band: ± 1 std", title_fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def diverged(run):
    return (run.get("final") or {}).get("diverged", False) is not False


def history_xy(run, column):
    """(steps with step 0 moved to half the first recorded step, values with None -> nan)."""
    x = np.asarray(run["history"]["step"], dtype=float)
    y = np.array([np.nan if v is None else v for v in run["history"][column]], dtype=float)
    if len(x) > 1 and x[0] == 0:
        x[0] = x[1] / 2
    return x, y


def metric_vs_axis(lines, path, x_label, y_label, xticks=None, log_x=False, title=None):
    """A final metric against one swept axis: one line per value of the other axes, the
    mean over seeds with error bars of one standard deviation (none for a single seed).

    lines: list of (label, xs, means, stds, counts), xs numeric (for a categorical axis pass
    positions and xticks = (positions, tick labels)). The y-axis is logarithmic when the
    values are positive and span more than a factor 30.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    values = np.concatenate([np.asarray(m, dtype=float) for _, _, m, _, _ in lines] or [[]])
    for label, xs, means, stds, counts in lines:
        lo, hi = min(counts), max(counts)
        seeds = f" (n={lo})" if lo == hi else f" (n={lo}-{hi})"
        ax.errorbar(xs, means, yerr=stds, marker="o", ms=4, capsize=3, lw=1.5, label=label + seeds)
    if log_x:
        ax.set_xscale("log")
    ax.margins(x=0.08)
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 30:
        ax.set_yscale("log")
    if xticks is not None:
        ax.set_xticks(xticks[0], xticks[1])
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(True, which="major", alpha=0.3)
    several = any(max(counts) > 1 for *_, counts in lines)
    ax.legend(fontsize=8, title="mean ± std over seeds" if several else None, title_fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
