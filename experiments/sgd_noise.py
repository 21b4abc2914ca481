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

Real data (--dataset mnist; also digits, mnist1d: minisgd/data/real.py, the fixed split,
pixels / 255 centred on the training mean): low_rank.py's real-data base, chosen for a
default run within ~300 s of CPU on 2 cores (the `noise` set doubles the cost of an
update, to ~1.6 ms at b = 16): ReLU MLP 784 -> 64 x 4 -> 10 with weight norm, n = 1000
training rows, b = 16, eta = 0.2, lambda = 1e-3, 5000 updates (80 epochs; the published
runs: 500 epochs of CIFAR-10, measured per epoch), full-batch GD for 1000 steps (a GD step
on 1000 MNIST rows costs ~9 ms); the arms: the five controls, and one factor at a time
eta in 0.1, 0.4 and lambda in 5e-4, 2e-3 (the batch-size arms only when --batch-sizes is
given: b = 64 costs twice the base per update; --batch-sizes none leaves them out anywhere),
3 seeds, mean +- std over them. Verdict (real data), from the level at the end (the last
window's mean over all layers), per seed: the floor is "above" when the run with weight
decay ends at least 2x above the same run without it (same init and batches) in every
seed; "settled" when its last window is within 0.9-1.1x of the window before in every
seed (the windows are log-spaced, ~20 % of the run each: a level growing like t^0.5 moves
by ~12 % per window, which is not a floor; a first pass with a 0.8-1.25 band called such a
still-rising curve settled, so the band was narrowed). Reproduced: above and settled with weight norm; partly: above but not settled (or
above only without weight norm); not reproduced: not above. A pair with a run flagged
CONSTANT or diverged counts as not above.
"""
import os
import sys

import numpy as np

from minisgd.data.real import REAL_DATASETS
from minisgd.metrics import update_size
from minisgd.metrics.collapse import CONSTANT_SPREAD, output_spread
from minisgd.report.experiment import distinct_list, finite
from minisgd.report.experiment import (CORES, at_least, check_configs, default_to,
                                       experiment_parser, new_figure, run_jobs, save_figure,
                                       start_report)
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, prepare, train


REAL_DEFAULTS = dict(seeds=3, steps=5000, lr=0.2, wd=1e-3, batch_sizes="none", lrs="0.1,0.4",
                     wds="5e-4,2e-3", depth=4, width=64, n=1000)
NOISE_SET = update_size.UpdateNoise     # the runs' "noise" metric set (registered on import)


def arm_list(kind, positive=False):
    """distinct_list, or 'none' for no arms of that factor."""
    parse = distinct_list(kind, positive)
    return lambda text: [] if str(text).strip().lower() == "none" else parse(text)


def parse_args(argv=None):
    p = experiment_parser(__doc__, "sgd_noise", full="100000 updates, 3 seeds", workers=CORES,
                          seeds="default 2, --full 3, --dataset 3")
    p.add_argument("--dataset", choices=REAL_DATASETS,
                   help="real data instead of the Gaussian mixture, with the real-data "
                        "defaults of the module docstring (given flags still win)")
    p.add_argument("--steps", type=at_least(1),
                   help="SGD updates; default 20000, --full 100000, --dataset 5000")
    p.add_argument("--gd-steps", type=at_least(1),
                   help="full-batch GD steps; default steps / 5")
    p.add_argument("--b", type=at_least(1), default=16, help="base batch size")
    p.add_argument("--lr", type=finite(), default=0.1, help="base step size")
    p.add_argument("--wd", type=finite(), default=3e-4, help="base weight decay")
    p.add_argument("--batch-sizes", type=arm_list(int, positive=True), default="4,64",
                   help="the batch-size arms besides the base ('none': no such arms)")
    p.add_argument("--lrs", type=arm_list(float, positive=True), default="0.05,0.2",
                   help="the step-size arms besides the base ('none': no such arms)")
    p.add_argument("--wds", type=arm_list(float, positive=True), default="1e-4,1e-3",
                   help="the weight-decay arms besides the base (and 0, a control; "
                        "'none': no such arms)")
    p.add_argument("--depth", type=at_least(1), default=6)
    p.add_argument("--width", type=at_least(1), default=64)
    p.add_argument("--classes", type=at_least(2), help="default 5 (not with --dataset: 10)")
    p.add_argument("--n", type=at_least(1), default=1000,
                   help="training rows (with --dataset: the first n of the fixed split)")
    known, _ = p.parse_known_args(argv)
    if known.dataset:                    # string defaults go through the flags' types
        p.set_defaults(**REAL_DEFAULTS)
    args = p.parse_args(argv)
    if args.dataset:
        if args.full:
            p.error("argument --full: the synthetic long run; with --dataset give --steps, "
                    "--seeds instead")
        if args.classes is not None:
            p.error(f"argument --classes: decided by --dataset {args.dataset}; leave it out")
    else:
        default_to(args, classes=5)
    default_to(args, seeds=3 if args.full else 2, steps=100_000 if args.full else 20_000)
    default_to(args, gd_steps=max(1, args.steps // 5))
    if not args.lr > 0 or not args.wd > 0:
        p.error(f"arguments --lr and --wd must be > 0 (the lambda = 0 control is an arm), got "
                f"{args.lr}, {args.wd}")
    return args


def base_config(args):
    data = dict(dataset=args.dataset, n=args.n) if args.dataset else dict(
        dataset="gaussian_mixture", classes=args.classes, d=args.width, n=args.n, n_test=2000)
    return dict(task="classification", **data, depth=args.depth, width=args.width,
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
        runs = sorted((r for r in results if same_arm(r["config"], kw)),
                      key=lambda r: r["config"]["seed"])
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
            "diverged": sum(r["diverged"] is not False for r in runs),
            **{f"{key}_std": float(np.std([f(r) for r in runs])) for key, f in (
                ("noise_end", lambda r: level(r)[0]), ("settled", lambda r: level(r)[1]),
                ("noise_hidden_end", lambda r: level(r, "noise_hidden")[0]),
                ("noise_output_end", lambda r: level(r, "noise_output")[0]),
                ("train_accuracy", lambda r: r["train_accuracy"]),
                ("test_accuracy", lambda r: r["test_accuracy"]))},
            "seed_noise_end": [level(r)[0] for r in runs],      # the paired verdict's
            "seed_settled": [level(r)[1] for r in runs],
            "seed_excluded": [bool(r["constant"] or r["diverged"] is not False)
                              for r in runs]})
    return rows


def floor_test(with_wd, without, factor=2.0, band=(0.9, 1.1)):
    """The two rows' levels at the end, paired per seed: ratios with / without weight
    decay, 'above' (every ratio >= factor, no run of a pair flagged constant or
    diverged), 'settled' (the run with weight decay: last / previous window within band
    in every seed)."""
    ratios = [a / b if b > 0 else float("inf")
              for a, b in zip(with_wd["seed_noise_end"], without["seed_noise_end"])]
    excluded = [x or y for x, y in zip(with_wd["seed_excluded"], without["seed_excluded"])]
    above = all(r >= factor for r in ratios) and not any(excluded)
    settled = all(band[0] <= v <= band[1] for v in with_wd["seed_settled"])
    return {"with": with_wd["arm"], "without": without["arm"], "ratios": ratios,
            "ratio_mean": float(np.mean(ratios)), "ratio_std": float(np.std(ratios)),
            "settled_values": with_wd["seed_settled"], "excluded_pairs": sum(excluded),
            "above": bool(above), "settled": bool(settled)}


def judge(rows):
    """The real-data verdict (module docstring) from the four SGD controls."""
    wn, wn0, nown, nown0 = rows[:4]                    # arms(): the controls come first
    tests = {"weight norm": floor_test(wn, wn0), "no weight norm": floor_test(nown, nown0)}
    gd = rows[4]
    w = tests["weight norm"]
    word = ("reproduced" if w["above"] and w["settled"] else
            "partly" if w["above"] or tests["no weight norm"]["above"] else "not reproduced")
    return {"verdict": word, "tests": tests,
            "sgd_over_gd": wn["noise_end"] / gd["noise_end"] if gd["noise_end"] else None,
            "gd": {"steps": gd["steps"], "train_accuracy": gd["train_accuracy"],
                   "sgd_train_accuracy": wn["train_accuracy"]},
            "rule": "level at the end (last window, mean over layers), paired per seed: "
                    "'above' = with weight decay >= 2x without in every seed; 'settled' = "
                    "its last / previous window in [0.9, 1.1] in every seed; reproduced = "
                    "above and settled with weight norm, partly = above but not settled (or "
                    "above only without weight norm), not reproduced = not above"}


def verdict(summary):
    """The claim's verdict from summary.json, for `python -m minisgd report`: judge() on
    its table."""
    v = judge(summary["table"])
    w = v["tests"]["weight norm"]
    return {"effect": f"end-of-run update size with / without weight decay (weight norm): "
                      f"{w['ratio_mean']:.3g}x; settled: {'yes' if w['settled'] else 'no'} "
                      f"(last / previous window {', '.join(f'{x:.2f}' for x in w['settled_values'])})",
            "value": w["ratio_mean"], "spread": f"± {w['ratio_std']:.2g} (std over seeds)",
            "seeds": len(w["ratios"]), "verdict": v["verdict"], "rule": v["rule"],
            "published": "distance between epochs / 2 lambda plateaus at 0.1-1 with weight "
                         "decay, decays to ~1e-6 without"}


def verdict_text(v):
    lines = [f"\nVerdict: {v['verdict'].upper()}  (rule: {v['rule']})"]
    for name, t in v["tests"].items():
        lines.append(
            f"  {name}: {t['with']} / {t['without']} at the end, per seed "
            f"{', '.join(f'{x:.3g}' for x in t['ratios'])} = {t['ratio_mean']:.3g} ± "
            f"{t['ratio_std']:.2g} -> above: {'yes' if t['above'] else 'no'}; last / previous "
            f"window with weight decay {', '.join(f'{x:.2f}' for x in t['settled_values'])}"
            f" -> settled: {'yes' if t['settled'] else 'no'}"
            + (f"; {t['excluded_pairs']} pair(s) with a constant or diverged run"
               if t["excluded_pairs"] else ""))
    if v["sgd_over_gd"] is not None:
        g = v["gd"]
        lines.append(f"  SGD / full-batch GD (both with weight decay and weight norm) at the "
                     f"end: {v['sgd_over_gd']:.3g}x (train accuracy: SGD "
                     f"{g['sgd_train_accuracy']:.3f} after its updates, GD "
                     f"{g['train_accuracy']:.3f} after {g['steps']} steps)")
    return "\n".join(lines)


def pm(r, key, spec=None):
    """r[key] (formatted by spec, else as markdown_table shows a number), with '± std over
    seeds' when there are several seeds and the row has that std."""
    value = r[key] if spec is None else format(r[key], spec)
    if r["seeds"] < 2 or key + "_std" not in r:
        return value
    spec = spec or ".3g"
    return f"{format(r[key], spec)} ± {format(r[key + '_std'], '.2g')}"


def markdown(rows, spread=False):
    """The table; spread (real data): '± std over seeds' on the levels and accuracies."""
    p = pm if spread else (lambda r, key, spec=None: r[key] if spec is None else
                           format(r[key], spec))
    head = ["arm", "b", "η", "λ", "WN", "steps", "noise at end (mean of layers)",
            "last / previous window", "hidden layers", "output layer", "√(2ηλ)", "ηλ",
            "train loss", "train acc", "test acc", "‖W‖ hidden", "constant predictor"]
    lines = [[r["arm"], r["batch_size"], f"{r['lr']:g}", f"{r['weight_decay']:g}",
              "yes" if r["weight_norm"] == "layer" else "no", r["steps"], p(r, "noise_end"),
              p(r, "settled", ".2f"), p(r, "noise_hidden_end"), p(r, "noise_output_end"),
              r["sqrt_2_eta_lambda"], r["eta_lambda"], r["train_loss"],
              p(r, "train_accuracy", ".3f"), p(r, "test_accuracy", ".3f"), r["hidden_norm"],
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
    data = (f"{args.dataset}, N={args.n} training rows" if args.dataset else
            f"{args.classes} classes, N={args.n}")
    save_figure(fig, path, f"SGD noise of a ReLU MLP {args.depth}x{args.width} (mse, "
                f"{data}), {args.seeds} seed(s)",
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
