"""Claim (docs/science.md section 3; Xu, Rangamani, Liao, Galanti, Poggio): with weight decay
(and weight normalization) SGD on the square loss keeps an intrinsic noise that does not
vanish at convergence; without weight decay an interpolating run comes to rest.

The measure (minisgd/metrics/update_size.py, as TomerGalanti/LowRankBias's
analysis_convergence.py with normalize_dist=True, there per epoch, here per update):
||W_{t+1} - W_t||_F / ||W_t||_F per layer of effective weights (hidden layers g V / ||V||
and the output layer), averaged over the layers and over the updates between two record
steps. Its level at the end is the last window's mean (the last ~20 % of the updates,
records_per_decade = 10); `settled` compares it with the window before (1 = flat).

A reference, not a fit: for a scale-invariant layer (weight norm) under SGD + weight decay
the "spherical motion" equilibrium (Wan et al. 2021) predicts an angular update of about
sqrt(2 eta lambda) per step whatever b, so noise_W{l} of the hidden layers ~ sqrt(2 eta
lambda) if that equilibrium is reached. The output layer is not normalized and follows no
such law. eta lambda is the relative size of the decay step alone (what a vanishing net
without weight norm shows); a net that shrinks to a constant predictor is flagged
(minisgd/metrics/collapse.py): its update sizes are not SGD noise around a learned solution (with
weight norm its directions V can still swing, as g / ||V|| grows when ||V|| shrinks).

Arms, the same net and data as low_rank.py (ReLU MLP 6 x 64, weight norm, mse on one-hot,
C = 5, N = 1000, PyTorch default init, no clipping), 20000 updates, base b = 16, eta = 0.1,
lambda = 3e-4 (low_rank.py's base): base; lambda = 0 (the control); without weight norm
(lambda and 0); full-batch GD + lambda (4000 steps: is the non-vanishing level SGD's or
weight decay's?); and one factor at a time b in 4, 64, eta in 0.05, 0.2, lambda in 1e-4,
1e-3, all at an equal number of updates (the level is per update). Outputs in --out:
sgd_noise.png, summary.json, a markdown table. Defaults about two minutes on 2 cores;
--full: 100000 updates, 3 seeds.
"""
import os
import sys

import numpy as np

from minisgd.metrics import update_size as _noise  # noqa: F401  (registers the "noise" set)
from minisgd.metrics.collapse import CONSTANT_SPREAD, output_spread
from minisgd.report.experiment import distinct_list, finite
from minisgd.report.experiment import (CORES, at_least, check_configs, default_to,
                                       experiment_parser, new_figure, run_jobs, save_figure,
                                       start_report)
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, prepare, train


def parse_args(argv=None):
    p = experiment_parser(__doc__, "sgd_noise", full="100000 updates, 3 seeds", workers=CORES,
                          seeds="default 2, --full 3")
    p.add_argument("--steps", type=at_least(1), help="SGD updates; default 20000, --full 100000")
    p.add_argument("--gd-steps", type=at_least(1),
                   help="full-batch GD steps; default steps / 5")
    p.add_argument("--b", type=at_least(1), default=16, help="base batch size")
    p.add_argument("--lr", type=finite(), default=0.1, help="base step size")
    p.add_argument("--wd", type=finite(), default=3e-4, help="base weight decay")
    p.add_argument("--batch-sizes", type=distinct_list(int, positive=True), default="4,64",
                   help="the batch-size arms besides the base")
    p.add_argument("--lrs", type=distinct_list(float, positive=True), default="0.05,0.2",
                   help="the step-size arms besides the base")
    p.add_argument("--wds", type=distinct_list(float, positive=True), default="1e-4,1e-3",
                   help="the weight-decay arms besides the base (and 0, a control)")
    p.add_argument("--depth", type=at_least(1), default=6)
    p.add_argument("--width", type=at_least(1), default=64)
    p.add_argument("--classes", type=at_least(2), default=5)
    p.add_argument("--n", type=at_least(1), default=1000)
    args = p.parse_args(argv)
    default_to(args, seeds=3 if args.full else 2, steps=100_000 if args.full else 20_000)
    default_to(args, gd_steps=max(1, args.steps // 5))
    if not args.lr > 0 or not args.wd > 0:
        p.error(f"arguments --lr and --wd must be > 0 (the lambda = 0 control is an arm), got "
                f"{args.lr}, {args.wd}")
    return args


def base_config(args):
    return dict(task="classification", dataset="gaussian_mixture", classes=args.classes,
                d=args.width, n=args.n, n_test=2000, depth=args.depth, width=args.width,
                activation="relu", bias=True, init_scheme="torch_default", clip=None,
                loss="mse", weight_norm="layer", optimizer="sgd", batch_size=args.b, lr=args.lr,
                weight_decay=args.wd, steps=args.steps, records_per_decade=10,
                metrics=("noise",))


def arms(args):
    """[(group, label, {config overrides})]."""
    b, wd = args.b, args.wd
    return [
        ("controls", f"SGD b={b}, WN, λ={wd:g} (base)", {}),
        ("controls", f"SGD b={b}, WN, λ=0", dict(weight_decay=0.0)),
        ("controls", f"SGD b={b}, no WN, λ={wd:g}", dict(weight_norm="none")),
        ("controls", f"SGD b={b}, no WN, λ=0", dict(weight_norm="none", weight_decay=0.0)),
        ("controls", f"GD, WN, λ={wd:g} ({args.gd_steps} steps)",
         dict(optimizer="gd", steps=args.gd_steps, batch_size=None)),   # GD: no batch size
    ] + [("batch size", f"b={v}", dict(batch_size=v)) for v in args.batch_sizes] + \
        [("step size", f"η={v:g}", dict(lr=v)) for v in args.lrs] + \
        [("weight decay", f"λ={v:g}", dict(weight_decay=v)) for v in args.wds]


def run_one(kw):
    config = Config(**kw)
    r = train(config)
    problem, _, _ = prepare(Config(**kw))
    f = r.net.forward_cache(problem.data.X)[-1]
    spread = output_spread(f, problem.Y) if np.all(np.isfinite(f)) else float("nan")
    h = r.history
    L = len(r.net.weights)
    return {"config": kw, "step": h["step"], "noise": h["noise"],
            "noise_hidden": [None if v[0] is None else float(np.mean(v[:-1]))
                             for v in zip(*[h[f"noise_W{l}"] for l in range(L)])],
            "noise_output": h[f"noise_W{L - 1}"], "window": h["noise_window"],
            "train_loss": h["train_loss"], "train_accuracy": r.final["train_accuracy"],
            "test_accuracy": r.final["test_accuracy"], "output_spread": spread,
            "constant": bool(not spread >= CONSTANT_SPREAD), "diverged": r.final["diverged"],
            "hidden_norm": float(np.mean([np.linalg.norm(W)
                                          for W in r.net.effective_weights()[:-1]])),
            "wall_time": r.final["wall_time"]}


def same_arm(config, kw):
    """config (a run's, maybe read back from JSON) is the arm kw, whatever the seed."""
    return all(config[k] == v for k, v in kw.items() if k not in ("seed", "metrics"))


def level(run, key="noise"):
    """(last window's mean, last / the window before)."""
    values = run[key]
    return values[-1], values[-1] / values[-2]


def summarize(args, results):
    base = base_config(args)
    rows = []
    for group, label, overrides in arms(args):
        kw = {**base, **overrides}
        runs = [r for r in results if same_arm(r["config"], kw)]
        mean = lambda f: float(np.mean([f(r) for r in runs]))
        c = runs[0]["config"]
        eta_lambda = c["lr"] * c["weight_decay"]
        rows.append({
            "group": group, "arm": label,
            "batch_size": "N" if c["optimizer"] == "gd" else c["batch_size"],
            "lr": c["lr"], "weight_decay": c["weight_decay"], "weight_norm": c["weight_norm"],
            "steps": c["steps"], "seeds": len(runs),
            "noise_end": mean(lambda r: level(r)[0]), "settled": mean(lambda r: level(r)[1]),
            "noise_hidden_end": mean(lambda r: level(r, "noise_hidden")[0]),
            "noise_output_end": mean(lambda r: level(r, "noise_output")[0]),
            "noise_peak": mean(lambda r: max(v for v in r["noise"] if v is not None)),
            "sqrt_2_eta_lambda": float(np.sqrt(2 * eta_lambda)), "eta_lambda": eta_lambda,
            "train_loss": mean(lambda r: r["train_loss"][-1]),
            "train_accuracy": mean(lambda r: r["train_accuracy"]),
            "test_accuracy": mean(lambda r: r["test_accuracy"]),
            "hidden_norm": mean(lambda r: r["hidden_norm"]),
            "constant": sum(r["constant"] for r in runs),
            "diverged": sum(r["diverged"] is not False for r in runs)})
    return rows


def markdown(rows):
    head = ["arm", "b", "η", "λ", "WN", "steps", "noise at end (mean of layers)",
            "last / previous window", "hidden layers", "output layer", "√(2ηλ)", "ηλ",
            "train loss", "train acc", "test acc", "‖W‖ hidden", "constant predictor"]
    lines = [[r["arm"], r["batch_size"], f"{r['lr']:g}", f"{r['weight_decay']:g}",
              "yes" if r["weight_norm"] == "layer" else "no", r["steps"], r["noise_end"],
              f"{r['settled']:.2f}", r["noise_hidden_end"], r["noise_output_end"],
              r["sqrt_2_eta_lambda"], r["eta_lambda"], r["train_loss"],
              f"{r['train_accuracy']:.3f}", f"{r['test_accuracy']:.3f}", r["hidden_norm"],
              f"{r['constant']}/{r['seeds']} CONSTANT" if r["constant"] else "–"]
             for r in rows]
    return markdown_table(head, lines)


def plot(rows, results, args, path):
    """Top: the noise against the update, the controls (left) and one factor at a time
    (right). Bottom: the level at the end against sqrt(2 eta lambda), and every arm's."""
    fig, axes = new_figure(2, 2, (13, 9.5))
    everything = arms(args)
    draw_curves(axes[0, 0], [a for a in everything if a[0] == "controls"], results, args,
                "with / without weight decay, weight norm; GD")
    draw_curves(axes[0, 1], [a for a in everything if a[0] != "controls" or a[2] == {}],
                results, args, "one factor at a time around the base")
    draw_levels(axes[1, 0], [r for r in rows if r["batch_size"] != "N" and r["weight_decay"] > 0])
    draw_arm_bars(axes[1, 1], rows)
    save_figure(fig, path, f"SGD noise of a ReLU MLP {args.depth}x{args.width} (mse, "
                f"{args.classes} classes, N={args.n}), {args.seeds} seed(s)",
                rect=(0, 0, 1, 0.97))


def draw_curves(ax, arms_here, results, args, title):
    """The noise of every run of arms_here against the update, log-log, one colour per arm
    (dashed: a run that ends as a constant predictor)."""
    base = base_config(args)
    for i, (group, label, overrides) in enumerate(arms_here):
        kw = {**base, **overrides}
        for s, r in enumerate(r for r in results if same_arm(r["config"], kw)):
            steps = [t for t, v in zip(r["step"], r["noise"]) if v is not None]
            values = [v for v in r["noise"] if v is not None]
            ax.plot(steps, values, color=f"C{i}", lw=1.2, alpha=0.85,
                    ls="--" if r["constant"] else "-", label=label if s == 0 else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("update t (log scale)")
    ax.set_ylabel("‖W_{t+1} − W_t‖_F / ‖W_t‖_F  (window and layer mean, log)")
    ax.set_title(title + "  (dashed: ends as a constant predictor)", fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)


def draw_levels(cx, sgd):
    """The hidden layers' level at the end of the SGD arms with weight decay against their
    sqrt(2 eta lambda), next to the two references."""
    for r in sgd:
        marker = "x" if r["constant"] else ("o" if r["weight_norm"] == "layer" else "s")
        cx.plot(r["sqrt_2_eta_lambda"], r["noise_hidden_end"], marker, ms=8,
                color="red" if r["constant"] else "C0")
        cx.annotate(r["arm"].split(" (")[0].replace("SGD ", ""),
                    (r["sqrt_2_eta_lambda"], r["noise_hidden_end"]), fontsize=6,
                    xytext=(4, 2), textcoords="offset points")
    grid = np.geomspace(min(r["sqrt_2_eta_lambda"] for r in sgd) / 1.5,
                        max(r["sqrt_2_eta_lambda"] for r in sgd) * 1.5, 10)
    cx.plot(grid, grid, "k:", label="noise = √(2ηλ) (spherical-motion equilibrium)")
    cx.plot(grid, grid ** 2 / 2, "r:", label="noise = ηλ (the decay step alone)")
    cx.set_xscale("log")
    cx.set_yscale("log")
    cx.set_xlabel("√(2ηλ) of the run (log scale)")
    cx.set_ylabel("noise at end, hidden layers (log scale)")
    cx.set_title("level at the end vs √(2ηλ)  (o: weight norm, s: none, red x: constant)",
                 fontsize=9)
    cx.legend(fontsize=7)
    cx.grid(True, which="both", alpha=0.25)


def draw_arm_bars(dx, rows):
    """Every arm's level at the end: hidden layers and output layer."""
    y = np.arange(len(rows))
    dx.barh(y - 0.2, [r["noise_hidden_end"] for r in rows], 0.4, label="hidden layers")
    dx.barh(y + 0.2, [r["noise_output_end"] for r in rows], 0.4, label="output layer")
    dx.set_yticks(y, [r["arm"] for r in rows], fontsize=7)
    dx.set_xscale("log")
    dx.set_xlabel("noise at end, last window mean (log scale)")
    dx.invert_yaxis()
    dx.legend(fontsize=7)
    dx.set_title("every arm's level at the end", fontsize=9)


def main(argv=None):
    args = parse_args(argv)
    base = base_config(args)
    jobs = [{**base, **overrides, "seed": s} for _, _, overrides in arms(args)
            for s in range(args.seeds)]
    check_configs([Config(**kw) for kw in jobs], __file__)
    start = start_report(args.out)
    print(f"  {len(jobs)} runs on {args.workers} worker(s) ...", file=sys.stderr, flush=True)
    cost = lambda kw: kw["steps"] * (1 + (args.n if kw["optimizer"] == "gd"
                                          else kw["batch_size"]) / 32)
    results = run_jobs(run_one, jobs, args.workers, cost=cost)
    rows = summarize(args, results)
    plot(rows, results, args, os.path.join(args.out, "sgd_noise.png"))
    write_report(args.out, {"args": vars(args), "table": rows, "runs": results},
                 markdown(rows), start)
    return rows


if __name__ == "__main__":
    main()
