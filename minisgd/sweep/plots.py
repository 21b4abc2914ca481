"""`python -m minisgd plot PATH`: the figures of a sweep folder or of one run JSON file.

The curves follow the task (of the first run):
  support:            irrelevant_norm.<fmt>  ||W1[:, S^c]||_F against the step (log x), one
                      colour per arm (an arm = one value of every swept key except the seed);
                      heatmaps.<fmt>  |W1| and |W1^T W1| per arm (its lowest seed; needs the
                      first-layer weights that sweep run files keep under "weights")
  classification:     accuracy.<fmt>  train and test accuracy; loss.<fmt>  train and test loss;
                      with --noise-inputs, support_norms.<fmt>  the noise and data columns' norms
  sparse_regression:  sparsity.<fmt>  l0 of beta and ||beta - beta*||; loss.<fmt>
and for sweep folders
  <metric>_vs_<axis>.<fmt>  a final metric (default: the task's headline, --metric any
                      numeric final key) against one swept axis, one line per value of the
                      other axes, mean ± std over seeds

matplotlib's Agg backend is used (headless). Not for: drawing (report/figures.py) or running.
"""
import json
import os
import sys
import tempfile

import numpy as np

from .runfiles import layout_problem, load_runs

SWITCHES = ("weight_decay", "l1", "group_l1", "momentum", "label_noise", "warmup", "decay_at",
            "decoupled_wd", "replacement", "bias")   # left out of labels while off (0, false, [])
MAX_HEATMAPS = 8


def add_plot_parser(sub):
    p = sub.add_parser("plot", help="figures of a sweep folder or a run JSON file",
                       description="Draw the irrelevant-norm curves, first-layer heatmaps and "
                                   "a final-metric-vs-axis plot from a sweep folder (or the "
                                   "first two from one run JSON file).")
    p.add_argument("path", metavar="DIR|RUN.json")
    p.add_argument("--out", metavar="DIR",
                   help="where to write (default: DIR/plots, or the run file's folder)")
    p.add_argument("--format", choices=("png", "pdf", "svg"), default="png")
    p.add_argument("--metric", default=None,
                   help="final metric for the metric-vs-axis plot (default: irrelevant_norm, "
                        "test_accuracy for classification, l0 for sparse regression)")
    p.add_argument("--x", metavar="AXIS", help="swept key on the x-axis (default: batch_size, "
                                               "else lr, else the first swept key)")
    return p


def run_plot(args, parser):
    if args.out is not None and not args.out.strip():
        parser.error("argument --out: must be a folder path, got an empty one (leave --out "
                     "out for the default)")
    try:
        paths = plot_path(args.path, args.out, args.format, args.metric, args.x)
    except ValueError as err:
        parser.error(str(err))
    except OSError as err:                   # the figures' folder: read-only, full, a file
        print(f"python -m minisgd plot: error: cannot write the figures to "
              f"{args.out or 'the default folder'}: {err.strerror or err} ({err.filename})",
              file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


HEADLINE = {"support": "irrelevant_norm", "classification": "test_accuracy",
            "sparse_regression": "l0"}
CURVES = {    # task -> [(figure stem, [(history column, y label, log y), ...])]
    "classification": [("accuracy", [("train_accuracy", "train accuracy", False),
                                     ("test_accuracy", "test accuracy", False)]),
                       ("loss", [("train_loss", "train loss (log scale)", True),
                                 ("test_loss", "test loss (log scale)", True)])],
    "sparse_regression": [("sparsity", [("l0", r"$\ell_0$ of $\beta$ (|β_j| > threshold)", False),
                                        ("beta_error", r"$\|\beta - \beta^*\|_2$ (log scale)",
                                         True)]),
                          ("loss", [("train_loss", "train loss (log scale)", True),
                                    ("test_loss", "test loss (log scale)", True)])],
}


def plot_path(path, out=None, fmt="png", metric=None, x=None):
    """Draw the figures for a sweep folder or a run file; returns the written paths."""
    if os.path.isdir(path):
        skipped = []
        info, runs = load_runs(path, skipped)
        for line in skipped:
            print(f"minisgd plot: skipped {line}", file=sys.stderr)
        records = [r for _, r in runs]
        if not records:
            raise ValueError(f"{path} holds no usable run files (expected {path}/runs/*.json)")
        axes = info["axes"] if info else varying_keys(records)
        out = out or os.path.join(path, "plots")
        prefix = ""
    else:
        records = [read_run_json(path)]
        axes, out = [], out or os.path.dirname(os.path.abspath(path))
        prefix = os.path.splitext(os.path.basename(path))[0] + "_"
    if os.path.isdir(path) and os.path.realpath(out).startswith(
            os.path.join(os.path.realpath(path), "runs") + os.sep):
        raise ValueError(f"--out {out!r} is inside the sweep's runs/ folder, which holds run "
                         "files only; give another folder")
    try:
        os.makedirs(out, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()          # writable, before drawing anything
    except OSError as err:
        raise ValueError(f"--out {out!r} cannot be a folder for the figures: "
                         f"{err.strerror or err}") from None
    name = lambda stem: os.path.join(out, f"{prefix}{stem}.{fmt}")
    return draw_all(records, axes, name, metric, x)


def read_run_json(path):
    try:
        with open(path) as fh:
            record = json.load(fh)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read run file {path!r}: {err}") from None
    if not isinstance(record, dict) or not isinstance(record.get("history"), dict) \
            or not isinstance(record.get("config"), dict) \
            or not isinstance(record.get("final"), dict):
        raise ValueError(f"{path!r} is not a finished run (a JSON object with config, "
                         "history and final, as written by `train --json` or a sweep)")
    record.setdefault("status", "ok")
    record.setdefault("version", "?")
    record.setdefault("wall_time", 0.0)
    problem = layout_problem(record)
    if problem:
        raise ValueError(f"{path!r} does not have the layout of a run file: {problem}")
    missing = [k for k in ("optimizer", "d") if k not in record["config"]]
    if missing:
        raise ValueError(f"{path!r}: its config lacks {missing}")
    return record


def varying_keys(records):
    keys = [k for k in records[0]["config"]]
    return [k for k in keys if len({json.dumps(r["config"].get(k)) for r in records}) > 1]


def draw_all(records, axes, name, metric, x):
    from ..report import figures
    finished = [r for r in records if isinstance(r.get("history"), dict)]
    if not finished:
        raise ValueError("every run failed; nothing to plot")
    arm_axes = [a for a in axes if a != "seed"]
    c = finished[0]["config"]
    task = c.get("task", "support")
    asked, metric = metric is not None, HEADLINE[task] if metric is None else metric
    x = check_axis_and_metric(finished, axes, arm_axes, x, metric, asked)
    arms = group(finished, arm_axes)
    runs = f", {len(finished)} runs" if len(finished) > 1 else ""
    if task != "support":
        return draw_curves(task, c, arms, runs, name, figures, arm_axes) + \
            draw_metric(finished, arm_axes, x, metric, name, figures)
    written = [name("irrelevant_norm")]
    figures.irrelevant_norm_groups(list(arms.items()), written[-1],
                                   title=f"d={c['d']}, S={c['support']}, {c['target']} target"
                                         + runs)
    heat = [(label, np.asarray(min(runs, key=lambda r: r["config"]["seed"])["weights"]["W0"],
                               dtype=float))
            for label, runs in arms.items() if all(has_weights(r) for r in runs)][:MAX_HEATMAPS]
    if heat:
        written.append(name("heatmaps"))
        figures.first_layer_heatmaps(heat, c["support"], written[-1])
    return written + draw_metric(finished, arm_axes, x, metric, name, figures)


def draw_curves(task, c, arms, runs, name, figures, arm_axes):
    """The task's history figures (CURVES); returns their paths."""
    if task == "classification":
        loss = "" if "loss" in arm_axes else f", {c['loss'].replace('_', '-')} loss"
        noise = f" + {c['noise_inputs']} noise inputs" if c.get("noise_inputs") else ""
        what = f"{c['classes']} classes, {c['dataset'] or 'given data'}{noise}{loss}"
    else:
        what = f"sparse regression, d={c['d']}, |S|={len(c['support'])}, n={c['n']}"
    written = []
    support = [("support_norms", [("irrelevant_norm", r"irrelevant norm $\|W_1[:, S^c]\|_F$"
                                   " (noise inputs)", False),
                                  ("relevant_norm", r"relevant norm $\|W_1[:, S]\|_F$", False)])]
    noise = any("irrelevant_norm" in r["history"] for group in arms.values() for r in group)
    for stem, panels in CURVES[task] + (support if noise else []):
        written.append(name(stem))
        figures.curve_groups(list(arms.items()), written[-1], panels, title=what + runs)
    return written


def draw_metric(finished, arm_axes, x, metric, name, figures):
    """The final metric against the x axis (when there is one); returns the paths."""
    written = []
    kept = [r for r in finished if not figures.diverged(r)]
    if x is not None and kept:
        n_left = len(finished) - len(kept)
        left_out = f"; {n_left} diverged run(s) left out" if n_left else ""
        lines, xticks, log_x = metric_lines(kept, arm_axes, x, metric)
        written.append(name(f"{metric}_vs_{x}"))
        gd = x == "batch_size" and any(r["config"]["optimizer"] == "gd" for r in finished)
        x_label = x + (" (GD drawn at b = N, the full batch)" if gd else "")
        figures.metric_vs_axis(lines, written[-1], x_label, f"final {metric}", xticks, log_x,
                               title=f"final {metric} against {x}, {len(kept)} runs{left_out}")
    return written


def check_axis_and_metric(records, axes, arm_axes, x, metric, asked=False):
    """The x axis of the metric plot (None: no swept axis but the seed), checked with the
    metric before anything is drawn (always when --metric was given: `asked`)."""
    if x is not None and x not in axes:
        raise ValueError(f"--x must be a swept key ({', '.join(axes) or 'none here'}), got {x!r}")
    default = next((a for a in ("batch_size", "lr") if a in arm_axes), None)
    x = x or default or (arm_axes[0] if arm_axes else None)
    finals = [r.get("final") or {} for r in records]
    present = [f[metric] for f in finals if f.get(metric) is not None or metric in f]
    if (x is not None or asked) and (not present or not any(map(is_number, present)) and
                                     any(v is not None for v in present)):
        known = sorted(k for k, v in records[0]["final"].items() if is_number(v))
        what = "a number per run (the metric plot needs one)" if present else "a final metric"
        raise ValueError(f"--metric {metric!r} is not {what} of these runs "
                         f"(numeric ones: {', '.join(known)})")
    return x


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def has_weights(record):
    return isinstance(record.get("weights"), dict) and record["weights"].get("W0") is not None


def group(records, keys):
    """{arm label: [records]} in order of first appearance."""
    arms = {}
    for record in records:
        arms.setdefault(arm_label(record["config"], keys), []).append(record)
    return arms


def arm_label(config, keys):
    """'SGD b=32, lr=0.1' style label from the given keys (switched-off options omitted)."""
    parts = []
    if "optimizer" in keys or "batch_size" in keys:
        sgd = config["optimizer"] == "sgd"
        parts.append(("SGD" if sgd else "GD") + (f" b={config['batch_size']}"
                                                 if sgd and "batch_size" in keys else ""))
    parts += [f"{k}={config[k]:g}" if isinstance(config[k], float) else f"{k}={config[k]}"
              for k in keys if k not in ("optimizer", "batch_size") and config[k] is not None
              and not (k in SWITCHES and not config[k])]
    return ", ".join(parts) or config["optimizer"].upper()


def axis_value(config, x):
    """The x value of a run; for batch_size, GD counts as the full batch N."""
    if x == "batch_size" and config["optimizer"] == "gd":
        return 2 * config["n"] if config["double"] else config["n"]
    value = config[x]
    return tuple(value) if isinstance(value, list) else value


def metric_lines(records, arm_axes, x, metric):
    """(lines for figures.metric_vs_axis, xticks or None, log_x)."""
    others = [a for a in arm_axes if a != x]
    values = sorted({axis_value(r["config"], x) for r in records}, key=repr)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numeric:
        values = sorted(values)
    position = {v: (v if numeric else i) for i, v in enumerate(values)}
    lines = []
    arms = group(records, others)
    if not others and len({r["config"]["optimizer"] for r in records}) > 1:
        arms = {"all runs": records}
    for label, runs in arms.items():
        by_x = {}
        for r in runs:
            v = (r.get("final") or {}).get(metric)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                by_x.setdefault(axis_value(r["config"], x), []).append(float(v))
        xs = sorted(by_x, key=lambda v: position[v])
        if xs:
            lines.append((label, [position[v] for v in xs], [np.mean(by_x[v]) for v in xs],
                          [np.std(by_x[v], ddof=1) if len(by_x[v]) > 1 else 0.0 for v in xs],
                          [len(by_x[v]) for v in xs]))
    xticks = None if numeric else (list(range(len(values))), [str(v) for v in values])
    log_x = numeric and min(values) > 0 and max(values) / min(values) >= 8
    return lines, xticks, log_x
