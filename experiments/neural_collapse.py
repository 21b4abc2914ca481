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

Real data (--dataset mnist; also digits, mnist1d: minisgd/data/real.py, the fixed split,
pixels / 255 centred on the training mean): low_rank.py's real-data base, chosen for a
default run within ~300 s of CPU on 2 cores: ReLU MLP 784 -> 64 x 4 -> 10 (C = 10 classes,
so the last hidden layer has room for a simplex of 9 dimensions), weight norm, n = 1000
training rows (the first of the fixed split; the published NC studies train on full
MNIST / CIFAR-10), b = 16, eta = 0.2, lambda = 1e-3, 20000 updates = 320 epochs (the
published NC runs: 350 epochs), constant step, 3 seeds, mean +- std over them. Unlike the
Gaussian mixture, the net fits these rows exactly (train accuracy 1), so the terminal phase
is reached. Verdict (real data), per seed, paired (same init and batches): NC1 and NC3 at
the end with weight decay against without; a measure "collapses with weight decay" when it
ends at least 2x lower than without weight decay in every seed and fell during the run
(end below its value at 10 % of the run) in every seed; a pair with a run flagged CONSTANT
or diverged does not count. Reproduced: NC1 and NC3 both; partly: one of them; not
reproduced: neither. NC2, NC4 and the run without weight norm are reported beside it.
"""
import os
import sys

import numpy as np

from minisgd.data.real import CLASSES, REAL_DATASETS
from minisgd.metrics.collapse import COLUMNS, CONSTANT_SPREAD
from minisgd.report.experiment import finite
from minisgd.report.experiment import (CORES, above, at_least, check_configs, default_to,
                                       experiment_parser, new_figure, run_jobs, save_figure,
                                       start_report)
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, train

NC_COLUMNS = [c for c in COLUMNS if c != "output_spread"]


REAL_DEFAULTS = dict(seeds=3, steps=20000, lr=0.2, wd=1e-3, depth=4, width=64, n=1000)


def parse_args(argv=None):
    p = experiment_parser(__doc__, "neural_collapse", full="200000 updates, 3 seeds",
                          workers=CORES, seeds="default 2, --full 3, --dataset 3")
    p.add_argument("--dataset", choices=REAL_DATASETS,
                   help="real data instead of the Gaussian mixture, with the real-data "
                        "defaults of the module docstring (given flags still win)")
    p.add_argument("--steps", type=at_least(1),
                   help="default 80000, --full 200000, --dataset 20000")
    p.add_argument("--b", type=at_least(1), default=16)
    p.add_argument("--lr", type=above(0), default=0.1)
    p.add_argument("--wd", type=finite(), default=3e-4)
    p.add_argument("--depth", type=at_least(1), default=6)
    p.add_argument("--width", type=at_least(1), default=64)
    p.add_argument("--classes", type=at_least(2), help="default 5 (not with --dataset: 10)")
    p.add_argument("--n", type=at_least(1), default=1000,
                   help="training rows (with --dataset: the first n of the fixed split)")
    p.add_argument("--separation", type=finite(), help="gaussian_mixture separation (2.5)")
    known, _ = p.parse_known_args(argv)
    if known.dataset:                    # string defaults go through the flags' types
        p.set_defaults(**REAL_DEFAULTS)
    args = p.parse_args(argv)
    if args.dataset:
        if args.full:
            p.error("argument --full: the synthetic long run; with --dataset give --steps, "
                    "--seeds instead")
        for flag in ("classes", "separation"):
            if getattr(args, flag) is not None:
                p.error(f"argument --{flag}: decided by --dataset {args.dataset}; leave it out")
        args.classes = CLASSES                          # the data's, for the checks below
    default_to(args, seeds=3 if args.full else 2, steps=200_000 if args.full else 80_000,
               classes=5)
    if args.width < args.classes - 1:
        p.error(f"argument --width: neural collapse needs at least classes - 1 = "
                f"{args.classes - 1} units in the last hidden layer, got {args.width}")
    if not args.wd > 0:
        p.error(f"argument --wd: must be > 0 (the lambda = 0 arm is a control), got {args.wd}")
    return args


def arms(args):
    data = dict(dataset=args.dataset, n=args.n) if args.dataset else dict(
        dataset="gaussian_mixture", classes=args.classes, d=args.width, n=args.n, n_test=2000)
    base = dict(task="classification", **data, depth=args.depth, width=args.width,
                activation="relu", bias=True, init_scheme="torch_default", clip=None,
                loss="mse", weight_norm="layer", batch_size=args.b, lr=args.lr,
                weight_decay=args.wd, steps=args.steps, records_per_decade=8)
    if not args.dataset:
        base["separation"] = args.separation
    base["metrics"] = ("collapse", "layer_norms")
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
        runs = sorted((r for r in results
                       if r["config"] == {**kw, "seed": r["config"]["seed"]}),
                      key=lambda r: r["config"]["seed"])
        mean = lambda f: float(np.mean([f(r) for r in runs]))
        std = lambda f: float(np.std([f(r) for r in runs]))
        row = {"arm": label, "seeds": len(runs), "constant": sum(r["constant"] for r in runs),
               "diverged": sum(r["diverged"] is not False for r in runs)}
        for key in ["train_accuracy", "test_accuracy", "train_loss", "output_spread",
                    "hidden_norm"] + NC_COLUMNS:
            row[key] = mean(lambda r: r["final"][key])
            row[f"{key}_std"] = std(lambda r: r["final"][key])
        for key in ("nc1", "nc3"):
            row[f"{key}_at_10pct"] = mean(lambda r: value_at(r["history"], key, 0.1))
            row[f"seed_{key}"] = [r["final"][key] for r in runs]   # the paired verdict's
            row[f"seed_{key}_at_10pct"] = [value_at(r["history"], key, 0.1) for r in runs]
        row["seed_excluded"] = [bool(r["constant"] or r["diverged"] is not False)
                                for r in runs]
        rows.append(row)
    return rows


def collapse_test(with_wd, without, key, factor=2.0):
    """`key` (nc1 or nc3) of two arms, paired per seed: ratios without / with weight decay
    at the end, 'lower' (every ratio >= factor, no pair with a constant or diverged run),
    'falling' (with weight decay: the end below the value at 10 % of the run, every seed)."""
    ratios = [b / a if a > 0 else float("inf")
              for a, b in zip(with_wd[f"seed_{key}"], without[f"seed_{key}"])]
    excluded = [x or y for x, y in zip(with_wd["seed_excluded"], without["seed_excluded"])]
    lower = all(r >= factor for r in ratios) and not any(excluded)
    falling = all(end < early for end, early in zip(with_wd[f"seed_{key}"],
                                                    with_wd[f"seed_{key}_at_10pct"]))
    reversed_ = all(r <= 1 / factor for r in ratios) and not any(excluded)
    return {"measure": key.upper(), "ratios": ratios, "ratio_mean": float(np.mean(ratios)),
            "ratio_std": float(np.std(ratios)), "excluded_pairs": sum(excluded),
            "lower": bool(lower), "falling": bool(falling),
            "collapses": bool(lower and falling), "reversed": bool(reversed_)}


def judge(rows):
    """The real-data verdict (module docstring): the arm with weight decay against the
    arm without (arms(): first and second), NC1 and NC3; the no-weight-norm arm beside."""
    wd, no_wd, no_wn = rows
    tests = [collapse_test(wd, no_wd, key) for key in ("nc1", "nc3")]
    found = sum(t["collapses"] for t in tests)
    word = "reproduced" if found == 2 else "partly" if found else "not reproduced"
    return {"verdict": word, "tests": tests,
            "without_weight_norm": [collapse_test(wd, no_wn, key) for key in ("nc1", "nc3")],
            "rule": "per seed, paired: a measure collapses with weight decay when it ends "
                    ">= 2x lower than without weight decay in every seed and fell during the "
                    "run (end < value at 10 % of the run) in every seed; reproduced = NC1 "
                    "and NC3, partly = one of them, not reproduced = neither"}


def verdict(summary):
    """The claim's verdict from summary.json, for `python -m minisgd report`: judge() on
    its table."""
    v = judge(summary["table"])
    parts = [f"{t['measure']} without / with weight decay {t['ratio_mean']:.3g}x"
             + (" (reversed)" if t["reversed"] else "") for t in v["tests"]]
    nc1 = v["tests"][0]
    return {"effect": "; ".join(parts), "value": nc1["ratio_mean"],
            "spread": f"NC1 ratio ± {nc1['ratio_std']:.2g} (std over seeds)",
            "seeds": len(nc1["ratios"]), "verdict": v["verdict"], "rule": v["rule"],
            "published": "NC1-NC4 approach 0 with SGD + weight decay + weight norm"}


def verdict_text(v):
    lines = [f"\nVerdict: {v['verdict'].upper()}  (rule: {v['rule']})"]
    for name, tests in (("without / with weight decay", v["tests"]),
                        ("for comparison, without / with weight norm (both with weight "
                         "decay)", v["without_weight_norm"])):
        for t in tests:
            lines.append(f"  {t['measure']} {name} at the end, per seed "
                         f"{', '.join(f'{x:.3g}' for x in t['ratios'])} = "
                         f"{t['ratio_mean']:.3g} ± {t['ratio_std']:.2g}; >= 2x in every seed: "
                         f"{'yes' if t['lower'] else 'no'}"
                         + ("; REVERSED: >= 2x lower WITHOUT in every seed" if t["reversed"]
                            else "") + f"; fell during the run: "
                         f"{'yes' if t['falling'] else 'no'}")
        if name.startswith("without / with weight decay"):
            lines.append("  " + ", ".join(f"{t['measure']} collapses with weight decay: "
                                          f"{'yes' if t['collapses'] else 'no'}"
                                          for t in tests))
    return "\n".join(lines)


def markdown(rows, spread=False):
    """The table; spread (real data): '± std over seeds' on the end values."""
    def p(r, key, spec):
        text = format(r[key], spec)
        return text + f" ± {format(r[key + '_std'], '.2g')}" if spread and r["seeds"] > 1 \
            else text
    head = ["arm", "train acc", "test acc", "NC1 (at 10 % of the run)", "NC2 norms: means / W",
            "NC2 angles: means / W", "NC3 (at 10 %)", "NC4", "output spread",
            "‖W_l‖_F (mean over hidden layers)", "constant predictor"]
    lines = [[r["arm"], p(r, "train_accuracy", ".3f"), p(r, "test_accuracy", ".3f"),
              f"{p(r, 'nc1', '.3g')} ({r['nc1_at_10pct']:.3g})",
              f"{p(r, 'nc2_norm_means', '.3g')} / {p(r, 'nc2_norm_weights', '.3g')}",
              f"{p(r, 'nc2_angle_means', '.3g')} / {p(r, 'nc2_angle_weights', '.3g')}",
              f"{p(r, 'nc3', '.3g')} ({r['nc3_at_10pct']:.3g})", p(r, "nc4", ".3g"),
              p(r, "output_spread", ".3g"), f"{r['hidden_norm']:.3g}",
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
    data = (f"{args.dataset} ({args.classes} classes), N={args.n} training rows"
            if args.dataset else f"{args.classes} classes, N={args.n}")
    save_figure(fig, path, f"Neural collapse of the last hidden layer (train set): ReLU MLP "
                f"{args.depth}x{args.width}, mse, {data}, "
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
    payload = {"args": vars(args), "table": rows, "runs": results}
    real = bool(args.dataset)
    if real:
        payload["verdict"] = judge(rows)
    write_report(args.out, payload, markdown(rows, spread=real), start)
    if real:
        print(verdict_text(payload["verdict"]))
    return rows


if __name__ == "__main__":
    main()
