"""Claim (docs/science.md section 3; Galanti, Siegel, Gupte, Poggio, public code
TomerGalanti/LowRankBias): SGD + weight decay on the square loss biases a deep net's weight
matrices toward low rank -- lower for smaller batches, larger steps and larger weight
decay, and not at all without weight decay.

A ReLU MLP d -> width x depth -> C (bias, PyTorch's default init, weight normalization
W = g V / ||V||_F on the hidden layers as the published mlp_wn.py) trained with plain SGD
(no momentum, no clipping, constant step) and weight decay on every parameter (as the
published optim.SGD(net.parameters(), weight_decay=...)) on MSELoss of one-hot targets.
Measured at the end, on the hidden layers' effective weights (the published avg_rank is
over model.layers, the output layer fc excluded): rank of W / ||W||_F at tolerance 1e-3
(the published `tolerance`) and 1e-2, the stable rank ||W||_F^2 / ||W||_2^2, next to the
train / test accuracy, the layers' norms, and output_spread (minisgd/metrics/collapse.py): a run
whose output no longer depends on x (spread < 1e-2) is flagged CONSTANT, with why: weight
decay shrank it to a constant (spread below a tenth of the initial one), or it never left
the near-constant start (PyTorch's
default init shrinks the signal by ~3x in variance per ReLU layer: the initial spread is
~0.003) -- either way its ranks say nothing about what was learned.

Arms (one factor at a time around a base b = 16, eta = 0.1, lambda = 3e-4, weight norm,
mse; every run starts from the same data and, per seed, the same initial weights):
  * batch size b in 4, 16, 64, 256, twice: with the number of updates held fixed (--steps;
    weight decay then shrinks every run by the same factor (1 - eta lambda)^T, so only the
    gradient noise differs) and with the number of epochs held fixed (--epochs, the
    published protocol of 500 epochs at every b; small batches then make more updates, so
    weight decay acts longer -- a batch-size effect there can be an update-count effect);
  * a grid of step sizes eta x weight decays lambda at the base b (lambda = 0: the control);
  * without weight normalization (base, and lambda = 0);
  * cross-entropy instead of mse (base, and lambda = 0), the published runs' usual loss.
Where the published values come from (conf/global_settings.py and experiments.csv at
commit 4f3bc67): depth 10, width 100, batch 4-128 (default 16), lr 0.001-2, weight decay
0-6e-3 (default 5e-4), tolerance 1e-3, 500 epochs of CIFAR-10 with the step divided by 5 at
epochs 60, 100, 200. Here, laptop scale: depth 6, width 64, d = 64 (so every hidden layer
is 64 x 64), C = 5 classes of the gaussian_mixture set, N = 1000, 20000 updates (320 epochs
at b = 16), constant step. The base lambda = 3e-4 (the published default is 5e-4) was
picked after a first pass at lambda = 1e-3, where the runs at b = 4 and 16 shrank to a
constant predictor while b = 64 and 256 did not (a batch comparison there compares
collapse, not rank); the grid around the base shows the rest, constant runs included.

Outputs in --out: low_rank.png, summary.json, a markdown table on stdout. Defaults take
about three minutes on 2 cores (--workers processes); --full: depth 10, width 100, d = 100,
100000 updates, 3 seeds.
"""
import os
import sys

import numpy as np

from minisgd.metrics.collapse import CONSTANT_SPREAD, output_spread
from minisgd.metrics.rank import check_tolerances, rank, stable_rank
from minisgd.report.experiment import distinct_list
from minisgd.report.experiment import (CORES, above, at_least, check_configs, default_to,
                                       experiment_parser, new_figure, run_jobs, save_figure,
                                       start_report)
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, build_net, prepare, spawn_rngs, train


def parse_args(argv=None):
    p = experiment_parser(__doc__, "low_rank", workers=CORES,
                          full="depth 10, width 100, d 100, 100000 steps, 3 seeds",
                          seeds="initializations per arm; default 1, --full 3")
    p.add_argument("--steps", type=at_least(1),
                   help="updates of the fixed-steps arms; default 20000")
    p.add_argument("--epochs", type=above(0), help="epochs of the fixed-epochs batch arms; "
                   "default steps * base b / N (the base run is in both)")
    p.add_argument("--batch-sizes", type=distinct_list(int, positive=True), default="4,16,64,256")
    p.add_argument("--lrs", type=distinct_list(float, positive=True), default="0.05,0.1,0.2,0.4")
    p.add_argument("--wds", type=distinct_list(float), default="0,1e-4,3e-4,1e-3",
                   help="weight decays, >= 0")
    p.add_argument("--base-b", type=at_least(1), default=16)
    p.add_argument("--base-lr", type=above(0), default=0.1)
    p.add_argument("--base-wd", type=at_least(0.0, float), default=3e-4)
    p.add_argument("--depth", type=at_least(1))
    p.add_argument("--width", type=at_least(1))
    p.add_argument("--d", type=at_least(1), help="input dimension; default = width")
    p.add_argument("--classes", type=at_least(2), default=5)
    p.add_argument("--n", type=at_least(1), default=1000)
    p.add_argument("--tol", type=distinct_list(float), default="1e-3,1e-2",
                   help="rank tolerances on W/||W||_F; the first is the headline")
    args = p.parse_args(argv)
    full = args.full
    default_to(args, seeds=3 if full else 1, steps=100_000 if full else 20_000,
               depth=10 if full else 6, width=100 if full else 64)
    default_to(args, d=args.width, epochs=args.steps * args.base_b / args.n)
    try:
        args.tol = list(check_tolerances(args.tol))
    except (TypeError, ValueError) as err:
        p.error(f"argument --tol: {err}")
    if min(args.wds) < 0:
        p.error(f"argument --wds: weight decay must be >= 0, got {args.wds}")
    if args.base_b not in args.batch_sizes:       # the base run is the batch sweep's point
        p.error(f"argument --base-b: must be one of --batch-sizes {args.batch_sizes} (the "
                f"base run is that sweep's point at b={args.base_b}), got {args.base_b}")
    return args


def base_config(args):
    return dict(task="classification", dataset="gaussian_mixture", classes=args.classes,
                d=args.d, n=args.n, n_test=2000, depth=args.depth, width=args.width,
                activation="relu", bias=True, init_scheme="torch_default", clip=None,
                loss="mse", weight_norm="layer", batch_size=args.base_b, lr=args.base_lr,
                weight_decay=args.base_wd, steps=args.steps, records_per_decade=2)


def arms(args):
    """[(group, {config overrides})]; a config in several groups is listed in each."""
    out = [("batch, fixed steps", dict(batch_size=b)) for b in args.batch_sizes]
    out += [("batch, fixed epochs",
             dict(batch_size=b, steps=max(1, round(args.epochs * args.n / b))))
            for b in args.batch_sizes]
    out += [("step size x weight decay", dict(lr=lr, weight_decay=wd))
            for wd in args.wds for lr in args.lrs]
    out += [("no weight norm", dict(weight_norm="none", weight_decay=wd))
            for wd in (args.base_wd, 0.0)]
    out += [("cross-entropy", dict(loss="cross_entropy", weight_decay=wd))
            for wd in (args.base_wd, 0.0)]
    return out


def hidden_summary(weights, tols):
    """Ranks per tolerance, stable ranks and norms of the hidden layers' weights."""
    return {"rank": {str(t): [rank(W, t) for W in weights] for t in tols},
            "stable_rank": [stable_rank(W) for W in weights],
            "full_rank": [min(W.shape) for W in weights]}


def run_one(job):
    """Train one config; the numbers of the table (the weights are not sent back)."""
    kw, tols = job
    config = Config(**kw)
    result = train(config)
    problem, _, _ = prepare(Config(**kw))                        # the same data, drawn again
    start = build_net(Config(**kw).validate(), spawn_rngs(kw["seed"])[1])
    f = result.net.forward_cache(problem.data.X)[-1]
    final = result.final
    weights = result.net.effective_weights()
    spread = output_spread(f, problem.Y) if np.all(np.isfinite(f)) else float("nan")
    init_spread = output_spread(start.forward_cache(problem.data.X)[-1], problem.Y)
    return {"config": kw, "end": hidden_summary(weights[:-1], tols),
            "init": hidden_summary(start.effective_weights()[:-1], tols),
            "norms": [float(np.linalg.norm(W)) for W in weights],
            "train_accuracy": final["train_accuracy"], "test_accuracy": final["test_accuracy"],
            "train_loss": final["train_loss"], "output_spread": spread,
            "init_output_spread": init_spread, "constant": bool(not spread >= CONSTANT_SPREAD),
            "vanished": bool(not spread >= CONSTANT_SPREAD and not spread >= init_spread / 10),
            "diverged": final["diverged"],
            "epochs": kw["steps"] * kw["batch_size"] / kw["n"], "wall_time": final["wall_time"]}


def config_key(kw):
    return tuple(sorted(kw.items()))


def aggregate(args, results):
    """One row per (group, arm): means over seeds of the hidden layers' means."""
    by_key = {}
    for r in results:
        by_key.setdefault(config_key({k: v for k, v in r["config"].items() if k != "seed"}),
                          []).append(r)
    rows = []
    base = base_config(args)
    for group, overrides in arms(args):
        runs = by_key[config_key({**base, **overrides})]
        mean = lambda f: float(np.mean([f(r) for r in runs]))
        c = runs[0]["config"]
        row = {"group": group, "batch_size": c["batch_size"], "lr": c["lr"],
               "weight_decay": c["weight_decay"], "weight_norm": c["weight_norm"],
               "loss": c["loss"], "steps": c["steps"], "epochs": runs[0]["epochs"],
               "seeds": len(runs)}
        for t in args.tol:
            row[f"rank@{t:g}"] = mean(lambda r: np.mean(r["end"]["rank"][str(t)]))
            row[f"init rank@{t:g}"] = mean(lambda r: np.mean(r["init"]["rank"][str(t)]))
        row["stable_rank"] = mean(lambda r: np.mean(r["end"]["stable_rank"]))
        row["init_stable_rank"] = mean(lambda r: np.mean(r["init"]["stable_rank"]))
        for key in ("train_accuracy", "test_accuracy", "train_loss", "output_spread"):
            row[key] = mean(lambda r: r[key])
        row["hidden_norm"] = mean(lambda r: np.mean(r["norms"][:-1]))
        row["init_output_spread"] = mean(lambda r: r["init_output_spread"])
        row["constant"] = sum(r["constant"] for r in runs)
        row["vanished"] = sum(r["vanished"] for r in runs)
        row["diverged"] = sum(r["diverged"] is not False for r in runs)
        row["full_rank"] = int(np.mean(runs[0]["end"]["full_rank"]))
        rows.append(row)
    return rows


def flag(r):
    """'-' or 'k/n CONSTANT (weights vanished)' / '(never left the start)'."""
    if not r["constant"]:
        return "–"
    why = "shrank to it" if r["vanished"] == r["constant"] else (
        "never left the start" if not r["vanished"] else "vanished or never left the start")
    return f"{r['constant']}/{r['seeds']} CONSTANT ({why})"


def markdown(rows, tols):
    t0 = f"{tols[0]:g}"
    head = (["arms", "b", "η", "λ", "WN", "loss", "steps", "epochs", f"rank@{t0} (init)"]
            + [f"rank@{t:g}" for t in tols[1:]]
            + ["stable rank (init)", "train acc", "test acc", "‖W_l‖ hidden",
               "output spread (init)", "constant predictor"])
    lines = []
    for r in rows:
        cells = [r["group"], r["batch_size"], f"{r['lr']:g}", f"{r['weight_decay']:g}",
                 "yes" if r["weight_norm"] == "layer" else "no",
                 "CE" if r["loss"] == "cross_entropy" else "mse", r["steps"],
                 f"{r['epochs']:.0f}", f"{r[f'rank@{t0}']:.1f} ({r[f'init rank@{t0}']:.1f})"]
        cells += [f"{r[f'rank@{t:g}']:.1f}" for t in tols[1:]]
        cells += [f"{r['stable_rank']:.2f} ({r['init_stable_rank']:.1f})",
                  f"{r['train_accuracy']:.3f}", f"{r['test_accuracy']:.3f}",
                  f"{r['hidden_norm']:.3g}",
                  f"{r['output_spread']:.3g} ({r['init_output_spread']:.2g})", flag(r)]
        lines.append(cells)
    return markdown_table(head, lines)


def mark_collapsed(ax, xs, ys, flags, label_done):
    """A red cross on every arm with a collapsed run; labelled once per axis."""
    for x, y, flag in zip(xs, ys, flags):
        if flag:
            ax.plot([x], [y], "x", color="red", ms=10, mew=2,
                    label=None if label_done[0] else "constant predictor (flagged)")
            label_done[0] = True


def draw_lines(ax, lines, init):
    """Each (xs, ys, constant flags, style, label) a line, with a red cross on its arms
    that have a constant run; the value at initialization dotted."""
    done = [False]
    for xs, ys, flags, style, label in lines:
        ax.plot(xs, ys, style, label=label)
        mark_collapsed(ax, xs, ys, flags, done)
    ax.axhline(init, color="gray", ls=":", label="at initialization")


def batch_lines(rows, key):
    """`key` against b: fixed updates (solid), fixed epochs (dashed)."""
    lines = []
    for group, style in (("batch, fixed steps", "o-"), ("batch, fixed epochs", "s--")):
        rs = [r for r in rows if r["group"] == group]
        what = (f"{rs[0]['steps']} updates each" if group.endswith("steps") else
                f"{rs[0]['epochs']:.0f} epochs each")
        lines.append(([r["batch_size"] for r in rs], [r[key] for r in rs],
                      [r["constant"] for r in rs], style, f"{group} ({what})"))
    return lines


def grid_lines(rows, wds, key):
    """`key` against eta, one line per weight decay (0: the control)."""
    grid = [r for r in rows if r["group"] == "step size x weight decay"]
    lines = []
    for wd in wds:
        rs = [r for r in grid if r["weight_decay"] == wd]
        lines.append(([r["lr"] for r in rs], [r[key] for r in rs], [r["constant"] for r in rs],
                      "o-", f"λ={wd:g}" + (" (control)" if wd == 0 else "")))
    return lines


def draw_controls(cx, rows, base_b, key, init, label):
    """Bars of `key`: the base run, then without weight norm and with cross-entropy."""
    controls = [r for r in rows if r["group"] in ("no weight norm", "cross-entropy")]
    base = next(r for r in rows if r["group"] == "batch, fixed steps" and
                r["batch_size"] == base_b)
    bars = [base] + controls
    names = [f"{'WN' if r['weight_norm'] == 'layer' else 'no WN'}, "
             f"{'CE' if r['loss'] == 'cross_entropy' else 'mse'}, λ={r['weight_decay']:g}"
             for r in bars]
    colors = ["red" if r["constant"] else ("C0" if r["weight_decay"] else "C7") for r in bars]
    cx.barh(range(len(bars)), [r[key] for r in bars], color=colors)
    cx.set_yticks(range(len(bars)), names, fontsize=8)
    cx.axvline(init, color="gray", ls=":")
    cx.set_xlabel(label)
    cx.set_title("base and controls (grey: λ=0, red: constant, dotted: init)", fontsize=9)


def plot(rows, args, path):
    """Rows: the headline rank, the stable rank. Columns: against b, against eta per
    weight decay, the base run next to its controls."""
    t0 = f"{args.tol[0]:g}"
    metrics = [(f"rank@{t0}", f"rank of W/‖W‖_F (tol {t0}), mean over hidden layers",
                f"init rank@{t0}"),
               ("stable_rank", "stable rank ‖W‖_F²/‖W‖_2², mean over hidden layers",
                "init_stable_rank")]
    fig, axes = new_figure(2, 3, (16, 9))
    for (ax, bx, cx), (key, ylabel, init_key) in zip(axes, metrics):
        draw_lines(ax, batch_lines(rows, key), rows[0][init_key])
        ax.set_xscale("log", base=2)
        ax.set_xticks(args.batch_sizes, [str(b) for b in args.batch_sizes])
        ax.set_xlabel("batch size b (log scale)")
        ax.set_title(f"η={args.base_lr:g}, λ={args.base_wd:g}, weight norm, mse", fontsize=9)
        draw_lines(bx, grid_lines(rows, args.wds, key), rows[0][init_key])
        bx.set_xscale("log")
        bx.set_xticks(args.lrs, [f"{v:g}" for v in args.lrs])
        bx.minorticks_off()
        bx.set_xlabel("step size η (log scale)")
        bx.set_title(f"b={args.base_b}, {args.steps} updates, weight norm, mse", fontsize=9)
        for a in (ax, bx):
            a.set_ylabel(ylabel, fontsize=8)
            a.grid(True, alpha=0.3)
            a.legend(fontsize=7)
        draw_controls(cx, rows, args.base_b, key, rows[0][init_key], ylabel.split(",")[0])
    save_figure(fig, path, f"ReLU MLP {args.depth}x{args.width}, {args.classes} classes, "
                f"N={args.n}, SGD + weight decay, {args.seeds} seed(s): rank of the hidden "
                "layers at the end")


def main(argv=None):
    args = parse_args(argv)
    base = base_config(args)
    check_configs([Config(**{**base, **overrides}) for _, overrides in arms(args)], __file__)
    start = start_report(args.out)
    unique = {}
    for _, overrides in arms(args):
        for seed in range(args.seeds):
            kw = {**base, **overrides, "seed": seed}
            unique[config_key(kw)] = kw
    jobs = sorted(unique.values(), key=lambda kw: -kw["steps"] * (1 + kw["batch_size"] / 32))
    print(f"  {len(jobs)} runs on {args.workers} worker(s) ...", file=sys.stderr, flush=True)
    results = run_jobs(run_one, [(kw, args.tol) for kw in jobs], args.workers)
    rows = aggregate(args, results)
    plot(rows, args, os.path.join(args.out, "low_rank.png"))
    constant = sum(r["constant"] for r in results)
    note = f"; {constant} of {len(results)} runs end as a constant predictor (flagged)"
    write_report(args.out, {"args": vars(args), "table": rows, "runs": results},
                 markdown(rows, args.tol), start, note)
    return rows


if __name__ == "__main__":
    main()
