"""Claim (docs/science.md section 1): mini-batch SGD learns the support of a sparse target in the
first layer and full-batch GD does not -- not only for the paper's deep linear net on a
linear target, but across architectures and data.

The headline comparison (SGD at batch size b vs GD, same eta, same number of steps, same
data and initial weights within a variant) on each variant of the paper's setup:
ReLU and tanh nets; the sine and staircase targets; a support that is not the first
coordinates; Rademacher (+-1) inputs; d = 100 inputs with |S| = 3. One table: irrelevant
and relevant norms, detected support (precision / recall), losses. Outputs in --out:
variants.png (irrelevant norm against the step, one panel per variant), summary.json and
the markdown table on stdout.

Defaults (n = 1000 inputs, N = 2000 pairs, b = 8, eta = 0.1, 10000 steps for both
optimizers) take about 20 s on 2 cores (the runs in --workers processes, one BLAS thread
each), GD's full-batch steps being most of it;
--full: n = 5000, 40000 steps (about 15 minutes).
"""
import os
import sys

import numpy as np

from minisgd.report.experiment import (CORES, above, at_least, check_configs, default_to,
                                       experiment_parser, new_figure, run_jobs, save_figure,
                                       sign_test, start_report)
from minisgd.report.figures import history_xy
from minisgd.report.tables import fmt, markdown_table, write_report
from minisgd.train import Config, train

VARIANTS = {
    "baseline (linear net, linear target)": {},
    "ReLU net": {"activation": "relu"},
    "tanh net": {"activation": "tanh"},
    "sine target": {"target": "sine"},
    "staircase target": {"target": "staircase"},
    "support {2,5,8,11,14}": {"support": (2, 5, 8, 11, 14)},
    "Rademacher inputs": {"input": "rademacher"},
    "d=100, S={0,1,2}": {"d": 100, "support": (0, 1, 2)},
}


def parse_args(argv=None):
    p = experiment_parser(__doc__, "variants", full="n=5000, 40000 steps", workers=CORES)
    p.add_argument("--steps", type=at_least(1),
                   help="for SGD and GD alike; default 10000, --full 40000")
    p.add_argument("--n", type=at_least(1),
                   help="distinct inputs (N = 2n); default 1000, --full 5000")
    p.add_argument("--batch-size", type=at_least(1), default=8)
    p.add_argument("--lr", type=above(0), default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", help="comma-separated variant numbers (0-based) to run")
    args = p.parse_args(argv)
    default_to(args, steps=40_000 if args.full else 10_000, n=5_000 if args.full else 1_000)
    names = list(VARIANTS)
    if args.only is not None:
        try:
            picked = [int(i) for i in args.only.split(",")]
        except ValueError:
            picked = []
        if not picked or not all(0 <= i < len(names) for i in picked) or \
                len(set(picked)) < len(picked):
            p.error(f"argument --only: must be distinct comma-separated numbers in [0, "
                    f"{len(names) - 1}], got {args.only!r}")
        args.only = [names[i] for i in picked]
    else:
        args.only = names
    return args


def configs(args, changes):
    base = dict(n=args.n, lr=args.lr, steps=args.steps, seed=args.seed, records_per_decade=10)
    base.update(changes)
    return (Config(optimizer="sgd", batch_size=args.batch_size, **base),
            Config(optimizer="gd", **base))


def row(name, optimizer, res):
    f, h = res.final, res.history
    return {"variant": name, "optimizer": optimizer, "support": list(res.config["support"]),
            "d": res.config["d"], "irrelevant_start": h["irrelevant_norm"][0],
            "irrelevant_final": f["irrelevant_norm"], "relevant_final": f["relevant_norm"],
            "detected_support": f["detected_support"], "precision": f["precision"],
            "recall": f["recall"], "train_loss": f["train_loss"], "test_loss": f["test_loss"],
            "diverged": f["diverged"], "wall_time": f["wall_time"]}


def plot(results, path, title):
    """One panel per variant: the irrelevant norm of its SGD run (solid) and GD run (dashed)
    against the step (log x; step 0 at half the first record)."""
    k = len(results)
    cols = min(4, k)
    rows = (k + cols - 1) // cols
    fig, axes = new_figure(rows, cols, (4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, (name, runs) in zip(axes.flat, results.items()):
        for label, res, style in ((f"SGD b={runs['sgd'].config['batch_size']}", runs["sgd"], "-"),
                                  ("GD", runs["gd"], "--")):
            ax.plot(*history_xy({"history": res.history}, "irrelevant_norm"), style, lw=1.8,
                    label=label)
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_title(name, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    for ax in axes[-1]:
        ax.set_xlabel("training step t (log scale)", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(r"$\|W_1[:, S^c]\|_F$", fontsize=9)
    for ax in list(axes.flat)[k:]:
        ax.set_visible(False)
    save_figure(fig, path, title, dpi=105)


def markdown(rows):
    head = ["variant", "opt", "‖W1[:,Sᶜ]‖ start", "‖W1[:,Sᶜ]‖ final", "SGD / GD final",
            "‖W1[:,S]‖ final", "detected support", "prec", "recall", "train loss", "test loss",
            "time s"]
    table = []
    gd_final = {r["variant"]: r["irrelevant_final"] for r in rows if r["optimizer"] == "GD"}
    for r in rows:
        ratio = (r["irrelevant_final"] / gd_final[r["variant"]]
                 if r["optimizer"] != "GD" and gd_final.get(r["variant"]) else None)
        detected = r["detected_support"]
        shown = ",".join(map(str, detected)) if len(detected) <= 8 else f"{len(detected)} inputs"
        name = r["variant"] + ("" if r["diverged"] is False else f" (diverged at {r['diverged']})")
        cells = [name, r["optimizer"], fmt(r["irrelevant_start"]), fmt(r["irrelevant_final"]),
                 fmt(ratio), fmt(r["relevant_final"]), shown, fmt(r["precision"]),
                 fmt(r["recall"]), fmt(r["train_loss"]), fmt(r["test_loss"]), fmt(r["wall_time"])]
        table.append(cells)
    return markdown_table(head, table)


def main(argv=None):
    args = parse_args(argv)
    pairs = {name: configs(args, VARIANTS[name]) for name in args.only}
    check_configs([c for pair in pairs.values() for c in pair], __file__)
    start = start_report(args.out)
    jobs = [c for pair in pairs.values() for c in pair]                 # SGD, GD per variant
    done = run_jobs(train, jobs, args.workers, cost=lambda c: c.steps * (c.batch_size or 2 * c.n))
    results, rows = {}, []
    for i, name in enumerate(pairs):
        runs = results[name] = {"sgd": done[2 * i], "gd": done[2 * i + 1]}
        rows += [row(name, f"SGD b={args.batch_size}", runs["sgd"]), row(name, "GD", runs["gd"])]
        print(f"  {name:38s} irrelevant norm SGD {runs['sgd'].final['irrelevant_norm']:.3f}  "
              f"GD {runs['gd'].final['irrelevant_norm']:.3f}", file=sys.stderr, flush=True)
    plot(results, os.path.join(args.out, "variants.png"),
         f"SGD (b={args.batch_size}) vs GD, eta={args.lr}, {args.steps} steps each, "
         f"N={2 * args.n}; same data and initial weights within a panel")
    write_report(args.out, {"args": vars(args), "table": rows,
                            "runs": {f"{name} / {opt}": r.to_dict()
                                     for name, runs in results.items() for opt, r in runs.items()}},
                 markdown(rows), start)
    return rows


# ---- verdict (docs/science.md section 1; minisgd report) --------------------------------
VERDICT_RULE = ("r = SGD / GD final ‖W1[:,Sᶜ]‖ per variant (one seed each; same data and init "
                "within a variant). Reproduced: r ≤ 0.5 in every variant; partly: r < 1 in "
                "enough variants for a one-sided sign test at p ≤ 0.05 (e.g. 5 of 5, 7 of 8); "
                "opposite: r > 1 in that many; else not reproduced.")


def verdict(summary):
    """The claim's verdict from summary.json (VERDICT_RULE): effect, value, spread, seeds,
    published, verdict, rule."""
    final = {(r["variant"], r["optimizer"] == "GD"): r["irrelevant_final"]
             for r in summary["table"]}
    names = list(dict.fromkeys(r["variant"] for r in summary["table"]))
    ratio = lambda v: (final[v, False] / final[v, True]
                       if isinstance(final[v, False], (int, float)) and
                       isinstance(final[v, True], (int, float)) else float("nan"))
    r = np.array([ratio(v) for v in names])
    below, above_ = int(np.sum(r < 1)), int(np.sum(r > 1))
    if np.all(r <= 0.5):
        result = "reproduced"
    elif sign_test(below, len(r)) <= 0.05:
        result = "partly"
    elif sign_test(above_, len(r)) <= 0.05:
        result = "opposite"
    else:
        result = "not reproduced"
    return {"effect": f"final ‖W1[:,Sᶜ]‖, SGD / GD: median {np.nanmedian(r):.3g} over "
                      f"{len(r)} variants; SGD below GD in {below}/{len(r)}, by 2x or more in "
                      f"{int(np.sum(r <= 0.5))}/{len(r)}",
            "value": float(np.nanmedian(r)),
            "spread": f"range {np.nanmin(r):.3g}–{np.nanmax(r):.3g} over {len(r)} variants "
                      "(one seed each: no spread over seeds)",
            "seeds": 1, "published": None, "verdict": result, "rule": VERDICT_RULE}


if __name__ == "__main__":
    main()
