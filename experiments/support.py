"""Claim (docs/science.md section 1): mini-batch SGD learns the support of the target in the
first layer -- the weights attached to irrelevant inputs shrink toward zero, faster for
smaller batches -- while full-batch GD leaves them near their initial values unless an
explicit regularizer (weight decay, group-L1 prox) is added.

Every arm shares the same data and the same initial weights (one seed): SGD at
b = 1, 32, 128, 512, GD, GD + weight decay, GD + group-L1 prox. Outputs in --out:
irrelevant_norm.png (norm vs step, log x), heatmaps.png (|W1| and |W1^T W1| per arm),
summary.json (table + every run's history), and a markdown table on stdout.

The default is the paper's scale (SGD 2e5 steps, GD 2e4, GD + weight decay / group-L1 5e3):
about 15 s on 2 cores (the arms run in parallel processes, longest first; the linear net's
GD and b >= 128 arms take the exact moments path, minisgd/moments.py). --quick runs a
quarter of it (SGD 5e4, GD 5e3, regularized GD 2e3).

--seeds K (the published figure and its code show one seed): K seeds per arm (seed, seed+1,
...; seed s gives every arm the same data and init), each arm's seeds trained in lockstep as
one ensemble (members equal their single runs bit for bit); the figure then shows the mean
and a band of one standard deviation per arm, the table mean ± std and how many seeds
found exactly S. 16 seeds at the paper's scale take about 2 minutes on 2 cores.
"""
import os
import sys

import numpy as np

from minisgd.report.experiment import distinct_list
from minisgd.report.experiment import (CORES, above, at_least, check_configs, default_to,
                                       experiment_parser, run_jobs, start_report,
                                       train_seeded_arms)
from minisgd.report.figures import (first_layer_heatmaps, irrelevant_norm_bands,
                                    irrelevant_norm_curves)
from minisgd.report.tables import fmt, markdown_table, write_report
from minisgd.train import Config, train


def parse_args(argv=None):
    p = experiment_parser(__doc__, "support", quick="a quarter of the paper's scale",
                          full="the paper's scale (the default; kept for scripts that ask for "
                               "it)", workers=CORES,
                          seeds="seeds per arm: seed, seed+1, ... (default 1: the published "
                                "figure)")
    p.add_argument("--sgd-steps", type=at_least(1), help="default 2e5, --quick 5e4")
    p.add_argument("--gd-steps", type=at_least(1), help="default 2e4, --quick 5e3")
    p.add_argument("--reg-steps", type=at_least(1),
                   help="GD + WD / group-L1 steps; default 5e3, --quick 2e3")
    p.add_argument("--batch-sizes", type=distinct_list(int, positive=True), default="1,32,128,512")
    p.add_argument("--lr", type=above(0), default=0.1)
    p.add_argument("--weight-decay", type=at_least(0.0, float), default=0.1)
    p.add_argument("--group-l1", type=at_least(0.0, float), default=0.01)
    p.add_argument("--target", default="linear")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=at_least(1), default=5000)
    args = p.parse_args(argv)
    quick = args.quick
    return default_to(args, seeds=1, sgd_steps=50_000 if quick else 200_000,
                      gd_steps=5_000 if quick else 20_000, reg_steps=2_000 if quick else 5_000)


def arms(args):
    """(label, Config) per arm; the same seed gives every arm the same data and init."""
    base = dict(lr=args.lr, target=args.target, seed=args.seed, n=args.n)
    out = [(f"SGD b={b}", Config(optimizer="sgd", batch_size=b, steps=args.sgd_steps, **base))
           for b in args.batch_sizes]
    out.append(("GD", Config(optimizer="gd", steps=args.gd_steps, **base)))
    out.append((f"GD + weight decay {args.weight_decay:g}",
                Config(optimizer="gd", weight_decay=args.weight_decay, steps=args.reg_steps,
                       **base)))
    out.append((f"GD + group-L1 prox {args.group_l1:g}",
                Config(optimizer="gd", group_l1=args.group_l1, steps=args.reg_steps, **base)))
    return out


def expected_cost(config):
    """Rough cost of an arm in units of one b=1 step (per-step time grows with the batch)."""
    b = config.validate().n_train if config.optimizer == "gd" else config.batch_size
    return config.steps * (1 + b / 16)


def first_step_below(history, value):
    """First recorded step where the irrelevant norm is below `value` (docs/science.md
    section 1 uses 2)."""
    for t, v in zip(history["step"], history["irrelevant_norm"]):
        if v is not None and v < value:
            return t
    return None


def table_rows(results):
    rows = []
    for label, res in results:
        f, h = res.final, res.history
        rows.append({
            "arm": label, "steps": f["steps_done"], "engine": f["engine"],
            "irrelevant_start": h["irrelevant_norm"][0],
            "irrelevant_norm": f["irrelevant_norm"], "relevant_norm": f["relevant_norm"],
            "detected_support": f["detected_support"], "precision": f["precision"],
            "recall": f["recall"], "steps_to_ratio_threshold": f["steps_to_threshold"],
            "steps_to_irrelevant_below_2": first_step_below(h, 2.0),
            "train_loss": f["train_loss"], "test_loss": f["test_loss"],
            "diverged": f["diverged"], "wall_time": f["wall_time"]})
    return rows


def markdown(rows, threshold):
    head = ["arm", "steps", "engine", "‖W1[:,Sᶜ]‖ start", "‖W1[:,Sᶜ]‖ final", "‖W1[:,S]‖ final",
            "detected support", "prec", "recall", f"steps to ratio<{threshold:g}",
            "steps to ‖W1[:,Sᶜ]‖<2", "train loss", "test loss", "time s"]
    keys = ["arm", "steps", "engine", "irrelevant_start", "irrelevant_norm", "relevant_norm",
            "detected_support", "precision", "recall", "steps_to_ratio_threshold",
            "steps_to_irrelevant_below_2", "train_loss", "test_loss", "wall_time"]
    table = []
    for r in rows:
        cells = [",".join(map(str, r[k])) if k == "detected_support" else
                 r[k] if k == "engine" else fmt(r[k]) for k in keys]
        if r["diverged"] is not False:
            cells[0] += f" (diverged at {r['diverged']})"
        table.append(cells)
    return markdown_table(head, table)


def run_seeded_arms(arms_list, workers, seeds):
    """Per arm, its seeds trained in lockstep (train_seeded_arms), with a progress line
    per arm. Returns [(label, [Result per seed])] in arm order."""
    results = train_seeded_arms(arms_list, workers, seeds, expected_cost)
    for label, ordered in results:
        norms = [r.final["irrelevant_norm"] for r in ordered]
        print(f"  {label:28s} {seeds} seeds  irrelevant norm {np.mean(norms):.3f} ± "
              f"{np.std(norms, ddof=1):.3f}  ({sum(r.final['wall_time'] for r in ordered):.1f} s)",
              file=sys.stderr, flush=True)
    return results


def seeded_rows(results):
    """Table rows of mean ± std over each arm's seeds."""
    rows = []
    for label, runs in results:
        per_seed = table_rows([(label, r) for r in runs])
        stat = lambda key: [r[key] for r in per_seed if isinstance(r[key], (int, float))]
        support = runs[0].config["support"]
        rows.append({"arm": label, "seeds": len(runs), "steps": per_seed[0]["steps"],
                     "engine": per_seed[0]["engine"],
                     **{key: (float(np.mean(stat(key))), float(np.std(stat(key), ddof=1)))
                        for key in ("irrelevant_start", "irrelevant_norm", "relevant_norm",
                                    "train_loss", "test_loss")},
                     "exact_support": sum(r["detected_support"] == support for r in per_seed),
                     "steps_to_irrelevant_below_2": stat("steps_to_irrelevant_below_2"),
                     "diverged": sum(r["diverged"] is not False for r in per_seed),
                     "wall_time": sum(r["wall_time"] for r in per_seed)})
    return rows


def seeded_markdown(rows):
    head = ["arm", "seeds", "steps", "engine", "‖W1[:,Sᶜ]‖ start", "‖W1[:,Sᶜ]‖ final", "‖W1[:,S]‖ final",
            "exactly S", "steps to ‖W1[:,Sᶜ]‖<2 (median)", "train loss", "test loss",
            "diverged", "time s"]
    pm = lambda v: f"{v[0]:.3g} ± {v[1]:.2g}"
    table = []
    for r in rows:
        below = r["steps_to_irrelevant_below_2"]
        table.append([r["arm"], str(r["seeds"]), str(r["steps"]), r["engine"],
                      pm(r["irrelevant_start"]),
                      pm(r["irrelevant_norm"]), pm(r["relevant_norm"]),
                      f"{r['exact_support']}/{r['seeds']}",
                      f"{int(np.median(below))} ({len(below)} seeds)" if below else "–",
                      pm(r["train_loss"]), pm(r["test_loss"]), str(r["diverged"]),
                      f"{r['wall_time']:.1f}"])
    return markdown_table(head, table)


def train_arm(arm):
    """(label, Config) -> (label, its Result)."""
    label, config = arm
    return label, train(config)


def report_arm(arm, done):
    label, res = done
    print(f"  {label:28s} {res.final['steps_done']:>7d} steps  "
          f"irrelevant norm {res.final['irrelevant_norm']:.3f}  "
          f"({res.final['wall_time']:.1f} s)", file=sys.stderr, flush=True)


def run_arms(arms_list, workers):
    """train() each arm, in `workers` processes (one BLAS thread each) when > 1, longest
    first, so that the workers finish at about the same time; [(label, Result)] in arm
    order. The numbers do not depend on where an arm runs."""
    return run_jobs(train_arm, arms_list, workers, cost=lambda arm: expected_cost(arm[1]),
                    done=report_arm)


def main(argv=None):
    args = parse_args(argv)
    arm_list = arms(args)
    check_configs([config for _, config in arm_list], __file__)
    start = start_report(args.out)
    if args.seeds > 1:
        return seeded_main(args, arm_list, start)
    results = run_arms(arm_list, args.workers)
    support = results[0][1].config["support"]
    irrelevant_norm_curves([(l, r.to_dict()) for l, r in results],
                           os.path.join(args.out, "irrelevant_norm.png"),
                           title=f"d=15, S={support}, {args.target} target, eta={args.lr}, "
                                 "same data and init for every arm")
    first_layer_heatmaps([(l, r.net.weights[0]) for l, r in results], support,
                         os.path.join(args.out, "heatmaps.png"))
    rows = table_rows(results)
    write_report(args.out, {"args": vars(args), "table": rows,
                            "runs": {l: r.to_dict() for l, r in results},
                            "first_layers": {l: r.net.weights[0].tolist() for l, r in results}},
                 markdown(rows, results[0][1].config["threshold"]), start,
                 f" with {args.workers} worker(s)")
    return rows


def seeded_main(args, arm_list, start):
    results = run_seeded_arms(arm_list, args.workers, args.seeds)
    support = results[0][1][0].config["support"]
    irrelevant_norm_bands([(l, [r.to_dict() for r in runs]) for l, runs in results],
                          os.path.join(args.out, "irrelevant_norm.png"),
                          title=f"d=15, S={support}, {args.target} target, eta={args.lr}, "
                                f"{args.seeds} seeds per arm\n(seed s: the same data and "
                                "init in every arm)")
    first_layer_heatmaps([(f"{l} (seed {args.seed})", runs[0].net.weights[0])
                          for l, runs in results], support,
                         os.path.join(args.out, "heatmaps.png"))
    rows = seeded_rows(results)
    finals = {l: [{k: v for k, v in r.final.items()} for r in runs] for l, runs in results}
    write_report(args.out, {"args": vars(args), "table": rows, "finals": finals,
                            "histories": {l: [r.history for r in runs] for l, runs in results}},
                 seeded_markdown(rows), start, f" with {args.workers} worker(s)")
    return rows


# ---- verdict (docs/science.md section 1; minisgd report) --------------------------------
VERDICT_RULE = ("q = final ‖W1[:,Sᶜ]‖ of SGD at the smallest batch / that of GD, per seed "
                "(same data and init). Reproduced: q ≤ 0.5 in every seed, with exactly S "
                "found by that SGD arm in every seed and by GD in none, regularized GD ending "
                "≤ 0.5x GD and the largest batch above the smallest; partly: q < 1 in every "
                "seed; opposite: q ≥ 2 in every seed; else not reproduced. One seed may give "
                "'reproduced': q is paired within a seed, and 2x is far outside its seed "
                "spread.")


def verdict_arms(summary):
    """{arm label: (final irrelevant norms per seed, seeds finding exactly S)} from a
    summary.json of either layout (one seed: table + runs; --seeds K: finals + table)."""
    out = {}
    if "finals" in summary:
        exact = {r["arm"]: r["exact_support"] for r in summary["table"]}
        for label, finals in summary["finals"].items():
            out[label] = ([f["irrelevant_norm"] for f in finals], exact[label])
        return out
    for r in summary["table"]:
        support = summary["runs"][r["arm"]]["config"]["support"]
        out[r["arm"]] = ([r["irrelevant_norm"]], int(list(r["detected_support"]) ==
                                                     list(support)))
    return out


def as_float(value):
    """value as a float, nan for None (a diverged arm) or anything not a number."""
    return float(value) if isinstance(value, (int, float)) else float("nan")


def verdict(summary):
    """The headline's verdict from summary.json (VERDICT_RULE): effect, value, spread,
    seeds, published, verdict, rule."""
    arms = verdict_arms(summary)
    sgd = sorted((int(l.split("=")[1]), l) for l in arms if l.startswith("SGD b="))
    (b_min, small), (b_max, large) = sgd[0], sgd[-1]
    gd_norms, gd_exact = arms["GD"]
    norms, exact = arms[small]
    seeds = len(norms)
    q = np.array([as_float(a) / as_float(g) for a, g in zip(norms, gd_norms)])
    regs = [l for l in arms if l.startswith("GD + ") and float(l.split()[-1]) > 0]
    gd_mean = np.mean([as_float(g) for g in gd_norms])
    checks = {"exactly S at b=%d in every seed" % b_min: exact == seeds,
              "GD never exactly S": gd_exact == 0,
              "regularized GD ≤ 0.5x GD": all(np.mean([as_float(v) for v in arms[l][0]])
                                              <= 0.5 * gd_mean for l in regs),
              "largest batch above smallest": b_max == b_min or
              np.mean([as_float(v) for v in arms[large][0]]) >
              np.mean([as_float(v) for v in norms])}
    if np.all(q <= 0.5) and all(checks.values()):
        result = "reproduced"
    elif np.all(q < 1):
        result = "partly"
    elif np.all(q >= 2):
        result = "opposite"
    else:
        result = "not reproduced"
    failed = [k for k, ok in checks.items() if not ok]
    return {"effect": f"final ‖W1[:,Sᶜ]‖, SGD b={b_min} / GD: {np.mean(q):.3g} "
                      f"(SGD {np.mean([as_float(v) for v in norms]):.3g}, GD {gd_mean:.3g}); "
                      f"exactly S at b={b_min} in {exact}/{seeds} seeds, GD {gd_exact}/{seeds}"
                      + (f"; failed: {', '.join(failed)}" if failed else ""),
            "value": float(np.mean(q)),
            "spread": (f"± {np.std(q, ddof=1):.2g} (std over {seeds} seeds)" if seeds > 1
                       else "one seed: no spread"),
            "seeds": seeds,
            "published": "GD stays near 3.6, SGD b=1 ends at 0.1–0.2: ratio ≈ 0.03–0.06 "
                         "(approx., read off the paper's figure; one seed)",
            "verdict": result, "rule": VERDICT_RULE}


if __name__ == "__main__":
    main()
