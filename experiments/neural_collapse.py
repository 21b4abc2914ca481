"""Claim (docs/science.md section 3; Xu, Rangamani, Liao, Galanti, Poggio): square-loss training
with SGD + weight decay + weight normalization drives the last hidden layer to neural
collapse (Papyan, Han, Donoho), and weight decay is what makes it happen.

NC1-NC4 (minisgd/metrics/collapse.py: NC1 = Tr(Sigma_W Sigma_B^+)/C, NC2 equinorm and
equiangularity of the centred class means and of the classifiers, NC3 = distance between
the normalized classifiers and centred means, NC4 = disagreement with the nearest class
mean) on the training set, recorded along training at log-spaced steps (the `collapse`
metric set), for three arms from the same data and, per seed, the same initial weights:
SGD + weight decay + weight norm (the claim), without weight decay, and without weight
norm. Every number sits beside train accuracy and output_spread: a net that shrinks to a
constant predictor is flagged, since its NC numbers say nothing.

Setup as low_rank.py's base (ReLU MLP 6 x 64, d = 64, PyTorch default init, no clipping,
mse on one-hot, C = 5 gaussian_mixture classes, N = 1000; b = 16, eta = 0.1, lambda = 3e-4),
but trained 4x longer (80000 updates = 1280 epochs): collapse is a late, terminal-phase
effect. The published NC studies (Papyan et al.; Han, Papyan, Donoho on MSE) train
350 epochs on image sets that the nets fit exactly; this set has a Bayes accuracy of ~81 %
(minisgd/data/classification.py), so fitting it means memorizing, which weight decay resists.
Outputs in --out: neural_collapse.png, summary.json, a markdown table. Defaults about two
and a half minutes on 2 cores (one run per process); --full: 200000 updates, 3 seeds.
"""
import os
import sys

import numpy as np

from minisgd.metrics.collapse import COLUMNS, CONSTANT_SPREAD
from minisgd.report.experiment import finite
from minisgd.report.experiment import (CORES, above, at_least, check_configs, default_to,
                                       experiment_parser, new_figure, run_jobs, save_figure,
                                       start_report)
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, train

NC_COLUMNS = [c for c in COLUMNS if c != "output_spread"]


def parse_args(argv=None):
    p = experiment_parser(__doc__, "neural_collapse", full="200000 updates, 3 seeds",
                          workers=CORES, seeds="default 2, --full 3")
    p.add_argument("--steps", type=at_least(1), help="default 80000, --full 200000")
    p.add_argument("--b", type=at_least(1), default=16)
    p.add_argument("--lr", type=above(0), default=0.1)
    p.add_argument("--wd", type=finite(), default=3e-4)
    p.add_argument("--depth", type=at_least(1), default=6)
    p.add_argument("--width", type=at_least(1), default=64)
    p.add_argument("--classes", type=at_least(2), default=5)
    p.add_argument("--n", type=at_least(1), default=1000)
    p.add_argument("--separation", type=finite(), help="gaussian_mixture separation (2.5)")
    args = p.parse_args(argv)
    default_to(args, seeds=3 if args.full else 2, steps=200_000 if args.full else 80_000)
    if args.width < args.classes - 1:
        p.error(f"argument --width: neural collapse needs at least classes - 1 = "
                f"{args.classes - 1} units in the last hidden layer, got {args.width}")
    if not args.wd > 0:
        p.error(f"argument --wd: must be > 0 (the lambda = 0 arm is a control), got {args.wd}")
    return args


def arms(args):
    base = dict(task="classification", dataset="gaussian_mixture", classes=args.classes,
                d=args.width, n=args.n, n_test=2000, depth=args.depth, width=args.width,
                activation="relu", bias=True, init_scheme="torch_default", clip=None,
                loss="mse", weight_norm="layer", batch_size=args.b, lr=args.lr,
                weight_decay=args.wd, steps=args.steps, records_per_decade=8,
                separation=args.separation, metrics=("collapse", "layer_norms"))
    return [(f"SGD + WD {args.wd:g} + WN", base),
            ("SGD + WN, no WD", {**base, "weight_decay": 0.0}),
            (f"SGD + WD {args.wd:g}, no WN", {**base, "weight_norm": "none"})]


def run_one(kw):
    r = train(Config(**kw))
    keep = ["step", "train_accuracy", "test_accuracy", "train_loss"] + list(COLUMNS)
    norms = [r.final[f"norm_W{l}"] for l in range(kw["depth"])]     # the hidden layers
    return {"config": kw, "history": {k: r.history[k] for k in keep},
            "final": {**{k: r.final[k] for k in keep[1:]},
                      "hidden_norm": float(np.mean(norms))},
            "constant": bool(not (r.final["output_spread"] or 0) >= CONSTANT_SPREAD),
            "diverged": r.final["diverged"], "wall_time": r.final["wall_time"]}


def value_at(history, key, fraction):
    """The value at the first record step >= fraction * last step."""
    steps = np.array(history["step"])
    i = int(np.argmax(steps >= fraction * steps[-1]))
    return history[key][i]


def summarize(args, results):
    rows = []
    for label, kw in arms(args):
        runs = [r for r in results if r["config"] == {**kw, "seed": r["config"]["seed"]}]
        mean = lambda f: float(np.mean([f(r) for r in runs]))
        row = {"arm": label, "seeds": len(runs), "constant": sum(r["constant"] for r in runs),
               "diverged": sum(r["diverged"] is not False for r in runs)}
        for key in ["train_accuracy", "test_accuracy", "train_loss", "output_spread",
                    "hidden_norm"] + NC_COLUMNS:
            row[key] = mean(lambda r: r["final"][key])
        for key in ("nc1", "nc3"):
            row[f"{key}_at_10pct"] = mean(lambda r: value_at(r["history"], key, 0.1))
        rows.append(row)
    return rows


def markdown(rows):
    head = ["arm", "train acc", "test acc", "NC1 (at 10 % of the run)", "NC2 norms: means / W",
            "NC2 angles: means / W", "NC3 (at 10 %)", "NC4", "output spread",
            "‖W_l‖_F (mean over hidden layers)", "constant predictor"]
    lines = [[r["arm"], f"{r['train_accuracy']:.3f}", f"{r['test_accuracy']:.3f}",
              f"{r['nc1']:.3g} ({r['nc1_at_10pct']:.3g})",
              f"{r['nc2_norm_means']:.3g} / {r['nc2_norm_weights']:.3g}",
              f"{r['nc2_angle_means']:.3g} / {r['nc2_angle_weights']:.3g}",
              f"{r['nc3']:.3g} ({r['nc3_at_10pct']:.3g})", f"{r['nc4']:.3g}",
              f"{r['output_spread']:.3g}", f"{r['hidden_norm']:.3g}",
              f"{r['constant']}/{r['seeds']} CONSTANT" if r["constant"] else "–"]
             for r in rows]
    return markdown_table(head, lines)


PANELS = [("nc1", "NC1 = Tr(Σ_W Σ_B⁺)/C (log)", True),
          ("nc2_norm_means", "NC2 equinorm: CV of ‖μ_c − μ_G‖ (log)", True),
          ("nc2_angle_means", "NC2 equiangularity of the means (log)", True),
          ("nc3", "NC3 = ‖W/‖W‖ − M/‖M‖‖²_F (log)", True),
          ("nc4", "NC4: disagreement with nearest class mean", False),
          ("train_accuracy", "train accuracy (solid), test (dashed)", False)]


def plot(results, args, path):
    """One panel per PANELS column against the update (log x), one colour per arm, one
    line per seed (dotted: a run that ends as a constant predictor)."""
    fig, axes = new_figure(2, 3, (15, 8.5))
    for i, (label, kw) in enumerate(arms(args)):
        runs = [r for r in results if r["config"] == {**kw, "seed": r["config"]["seed"]}]
        for s, r in enumerate(runs):
            draw_run(axes, r, f"C{i}", label if s == 0 else None)
    for ax, (key, ylabel, log) in zip(axes.flat, PANELS):
        ax.set_xscale("log")
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("update t (log scale)")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(True, which="both", alpha=0.25)
    axes[1, 2].axhline(1 / args.classes, color="gray", ls=":", lw=1)
    axes[0, 0].legend(fontsize=8)
    save_figure(fig, path, f"Neural collapse of the last hidden layer (train set): ReLU MLP "
                f"{args.depth}x{args.width}, mse, {args.classes} classes, N={args.n}, "
                f"b={args.b}, η={args.lr:g}, {args.seeds} seed(s) (all → 0 under collapse)")


def draw_run(axes, r, color, label):
    """One run's history on every panel (its recorded, finite, and on a log axis positive
    values); the test accuracy dashed next to the train accuracy."""
    h = r["history"]
    for ax, (key, ylabel, log) in zip(axes.flat, PANELS):
        pts = [(t, v) for t, v in zip(h["step"], h[key])
               if t > 0 and v is not None and np.isfinite(v) and (v > 0 or not log)]
        name = label and label + (" (constant predictor)" if r["constant"] else "")
        ax.plot(*zip(*pts), color=color, lw=1.3, ls=":" if r["constant"] else "-", label=name)
        if key == "train_accuracy":
            ax.plot(h["step"][1:], h["test_accuracy"][1:], color=color, lw=1, ls="--")


def main(argv=None):
    args = parse_args(argv)
    jobs = [{**kw, "seed": s} for _, kw in arms(args) for s in range(args.seeds)]
    check_configs([Config(**kw) for kw in jobs], __file__)
    start = start_report(args.out)
    print(f"  {len(jobs)} runs on {args.workers} worker(s) ...", file=sys.stderr, flush=True)
    results = run_jobs(run_one, jobs, args.workers)
    rows = summarize(args, results)
    plot(results, args, os.path.join(args.out, "neural_collapse.png"))
    write_report(args.out, {"args": vars(args), "table": rows, "runs": results},
                 markdown(rows), start)
    return rows


if __name__ == "__main__":
    main()
