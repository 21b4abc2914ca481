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
about 100 s on 2 cores (--workers processes; the runs that can share a stacked step, such
as the eta x lambda grid, in stacks of up to 4: report/experiment.train_grouped, each run
equal to its single run); --full: depth 10, width 100, d = 100, 100000 updates, 3 seeds.

Real data (--dataset mnist; also digits, mnist1d: minisgd/data/real.py, the fixed split,
pixels / 255 centred on the training mean). The same net family and measure, other
defaults, chosen so that the default run stays within ~300 s of CPU on 2 cores:
  * net 784 -> 64 x 4 -> 10 (the published mlp_wn is 10 x 100 on 3 x 32 x 32 CIFAR-10 or on
    MNIST padded to 32 x 32): minisgd's hand-written step costs ~0.8 ms at b = 16 on this
    net, almost all of it per-layer overhead, so depth costs more than width; at depth 6
    and PyTorch's default init an MNIST run (eta = 0.1) was still at chance after 3000
    updates, depth 4 fits the subset;
  * n = 1000 training rows (--n, the first rows of the fixed split; the published runs use
    all 60000), test on the split's 1000 test rows;
  * 5000 updates at every arm (80 epochs at b = 16, 20 at b = 4, 320 at b = 64), constant
    step (the published schedule divides it by 5 at epochs 60, 100, 200);
  * base b = 16 (the published default), eta = 0.2, lambda = 1e-3 (published default 5e-4
    with lr up to 2; at eta = 0.1, lambda = 3e-4, eta lambda T = 0.15 decays too little in
    5000 updates to show anything); grid eta in 0.1, 0.2, 0.4 x lambda in 0, 1e-3, 2e-3 (at
    eta = 0.4, lambda = 3e-3 a first pass fell to 40 % train accuracy and rank ~2: not a
    quasi-interpolating solution, so 2e-3 is the top), b in 4, 16, 64 (b = 256 costs 3-4x
    per update);
  * every comparison at an equal number of updates: the fixed-epochs arms run only when
    --epochs is given, the cross-entropy arms are left out (the claim is the square
    loss's); with and without weight norm at the base lambda and at 0;
  * 3 seeds (initialization and batch order; the data and split are fixed), mean +- std
    over them, and the rank of each hidden layer, first layer (64 x 784) included as in
    the published avg_rank over model.layers;
  * output_spread keeps its meaning (it is relative to the targets' spread): at
    initialization this net's is ~0.01 on MNIST, at the CONSTANT threshold, so a run that
    never leaves the start is flagged, while a trained one ends at 0.5-1.
Verdict (real data), on the stable rank averaged over the hidden layers (the published
tolerance 1e-3 sits near a random 64 x 64 matrix's smallest normalized singular values,
docs/science.md section 3, so rank@1e-3 barely moves), per seed, paired (same init and batches): an effect is "yes"
when the arm predicted lower is lower in every seed and by at least 10 % of the other arm
on average, "reversed" when the same holds the other way, else "no"; runs flagged
CONSTANT or diverged are left out of their pair. Predicted: lower at the largest lambda
than at lambda = 0 (base eta, b); lower at the largest eta than the smallest (base lambda,
b); lower at the smallest b than the largest (base eta, lambda); and NO step-size effect at
lambda = 0 (the control: weight decay is necessary). Reproduced: all four as predicted;
partly: at least one of the three effects; not reproduced: none.
"""
import os
import sys

import numpy as np

from minisgd.data.real import REAL_DATASETS
from minisgd.metrics.collapse import CONSTANT_SPREAD, output_spread
from minisgd.metrics.rank import check_tolerances, rank, stable_rank
from minisgd.report.experiment import distinct_list
from minisgd.report.experiment import (CORES, above, at_least, check_configs, default_to,
                                       experiment_parser, new_figure, save_figure,
                                       start_report, train_grouped)
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, build_net, prepare, spawn_rngs


# the real-data defaults (module docstring), as the flags' text
REAL_DEFAULTS = dict(seeds=3, steps=5000, depth=4, width=64, n=1000, batch_sizes="4,16,64",
                     lrs="0.1,0.2,0.4", wds="0,1e-3,2e-3", base_lr=0.2, base_wd=1e-3)


def parse_args(argv=None):
    p = experiment_parser(__doc__, "low_rank", workers=CORES,
                          full="depth 10, width 100, d 100, 100000 steps, 3 seeds",
                          seeds="initializations per arm; default 1, --full 3, --dataset 3")
    p.add_argument("--dataset", choices=REAL_DATASETS,
                   help="real data instead of the Gaussian mixture, with the real-data "
                        "defaults of the module docstring (given flags still win)")
    p.add_argument("--steps", type=at_least(1),
                   help="updates of the fixed-steps arms; default 20000 (--dataset 5000)")
    p.add_argument("--epochs", type=above(0), help="epochs of the fixed-epochs batch arms; "
                   "default steps * base b / N (the base run is in both); with --dataset "
                   "those arms run only when --epochs is given")
    p.add_argument("--batch-sizes", type=distinct_list(int, positive=True), default="4,16,64,256")
    p.add_argument("--lrs", type=distinct_list(float, positive=True), default="0.05,0.1,0.2,0.4")
    p.add_argument("--wds", type=distinct_list(float), default="0,1e-4,3e-4,1e-3",
                   help="weight decays, >= 0")
    p.add_argument("--base-b", type=at_least(1), default=16)
    p.add_argument("--base-lr", type=above(0), default=0.1)
    p.add_argument("--base-wd", type=at_least(0.0, float), default=3e-4)
    p.add_argument("--depth", type=at_least(1))
    p.add_argument("--width", type=at_least(1))
    p.add_argument("--d", type=at_least(1), help="input dimension; default = width "
                   "(not with --dataset: the data's)")
    p.add_argument("--classes", type=at_least(2), help="default 5 (not with --dataset: 10)")
    p.add_argument("--n", type=at_least(1), default=1000,
                   help="training rows (with --dataset: the first n of the fixed split)")
    p.add_argument("--tol", type=distinct_list(float), default="1e-3,1e-2",
                   help="rank tolerances on W/||W||_F; the first is the headline")
    known, _ = p.parse_known_args(argv)
    if known.dataset:                    # string defaults go through the flags' types
        p.set_defaults(**REAL_DEFAULTS)
    args = p.parse_args(argv)
    full = args.full
    if args.dataset:
        if full:
            p.error("argument --full: the paper-scale synthetic run; with --dataset give "
                    "--depth, --width, --steps, --n, --seeds instead")
        for flag in ("d", "classes"):
            if getattr(args, flag) is not None:
                p.error(f"argument --{flag}: decided by --dataset {args.dataset}; leave it out")
    else:
        default_to(args, seeds=3 if full else 1, steps=100_000 if full else 20_000,
                   depth=10 if full else 6, width=100 if full else 64, classes=5)
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
    if args.dataset:                 # the verdict's pairs are arms of the sweeps
        for flag, values, base in (("lrs", args.lrs, args.base_lr),
                                   ("wds", args.wds, args.base_wd)):
            if base not in values:
                p.error(f"argument --base-{flag[:-1]}: must be one of --{flag} {values} "
                        f"with --dataset (the verdict compares arms of that sweep), got {base}")
    return args


def base_config(args):
    data = dict(dataset=args.dataset, n=args.n) if args.dataset else dict(
        dataset="gaussian_mixture", classes=args.classes, d=args.d, n=args.n, n_test=2000)
    return dict(task="classification", **data, depth=args.depth, width=args.width,
                activation="relu", bias=True, init_scheme="torch_default", clip=None,
                loss="mse", weight_norm="layer", batch_size=args.base_b, lr=args.base_lr,
                weight_decay=args.base_wd, steps=args.steps, records_per_decade=2)


def arms(args):
    """[(group, {config overrides})]; a config in several groups is listed in each."""
    out = [("batch, fixed steps", dict(batch_size=b)) for b in args.batch_sizes]
    if args.epochs is not None:               # real data: only when --epochs is given
        out += [("batch, fixed epochs",
                 dict(batch_size=b, steps=max(1, round(args.epochs * args.n / b))))
                for b in args.batch_sizes]
    out += [("step size x weight decay", dict(lr=lr, weight_decay=wd))
            for wd in args.wds for lr in args.lrs]
    out += [("no weight norm", dict(weight_norm="none", weight_decay=wd))
            for wd in (args.base_wd, 0.0)]
    if not args.dataset:                      # real data: the square loss only
        out += [("cross-entropy", dict(loss="cross_entropy", weight_decay=wd))
                for wd in (args.base_wd, 0.0)]
    return out


def hidden_summary(weights, tols):
    """Ranks per tolerance, stable ranks and norms of the hidden layers' weights."""
    return {"rank": {str(t): [rank(W, t) for W in weights] for t in tols},
            "stable_rank": [stable_rank(W) for W in weights],
            "full_rank": [min(W.shape) for W in weights]}


def run_summary(kw, result, tols):
    """The numbers of the table from one run's Result."""
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
        runs = sorted(by_key[config_key({**base, **overrides})],
                      key=lambda r: r["config"]["seed"])
        mean = lambda f: float(np.mean([f(r) for r in runs]))
        std = lambda f: float(np.std([f(r) for r in runs]))
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
        t0 = str(args.tol[0])                            # the spread over seeds, per layer
        for key, f in ((f"rank@{args.tol[0]:g}", lambda r: np.mean(r["end"]["rank"][t0])),
                       ("stable_rank", lambda r: np.mean(r["end"]["stable_rank"])),
                       ("train_accuracy", lambda r: r["train_accuracy"]),
                       ("test_accuracy", lambda r: r["test_accuracy"])):
            row[f"{key}_std"] = std(f)
        row["stable_rank_layers"] = np.mean([r["end"]["stable_rank"] for r in runs],
                                            axis=0).tolist()
        row["stable_rank_layers_std"] = np.std([r["end"]["stable_rank"] for r in runs],
                                               axis=0).tolist()
        row["rank_layers"] = np.mean([r["end"]["rank"][t0] for r in runs], axis=0).tolist()
        row["seed_list"] = [r["config"]["seed"] for r in runs]   # the paired verdict's
        row["seed_stable_rank"] = [float(np.mean(r["end"]["stable_rank"])) for r in runs]
        row["seed_excluded"] = [bool(r["constant"] or r["diverged"] is not False)
                                for r in runs]
        rows.append(row)
    return rows


def flag(r):
    """'-' or 'k/n CONSTANT (weights vanished)' / '(never left the start)'."""
    if not r["constant"]:
        return "–"
    why = "shrank to it" if r["vanished"] == r["constant"] else (
        "never left the start" if not r["vanished"] else "vanished or never left the start")
    return f"{r['constant']}/{r['seeds']} CONSTANT ({why})"


def pm(r, key, spec):
    """r[key] formatted, with '± std over seeds' when there are several seeds."""
    text = format(r[key], spec)
    return text + f" ± {format(r[key + '_std'], spec)}" if r["seeds"] > 1 else text


def markdown(rows, tols, per_layer=False):
    """The table; per_layer (real data): the stable rank of each hidden layer too."""
    t0 = f"{tols[0]:g}"
    head = (["arms", "b", "η", "λ", "WN", "loss", "steps", "epochs", f"rank@{t0} (init)"]
            + [f"rank@{t:g}" for t in tols[1:]]
            + ["stable rank (init)"] + (["stable rank per hidden layer"] if per_layer else [])
            + ["train acc", "test acc", "‖W_l‖ hidden", "output spread (init)",
               "constant predictor"])
    lines = []
    for r in rows:
        cells = [r["group"], r["batch_size"], f"{r['lr']:g}", f"{r['weight_decay']:g}",
                 "yes" if r["weight_norm"] == "layer" else "no",
                 "CE" if r["loss"] == "cross_entropy" else "mse", r["steps"],
                 f"{r['epochs']:.0f}", f"{pm(r, f'rank@{t0}', '.1f')} "
                 f"({r[f'init rank@{t0}']:.1f})"]
        cells += [f"{r[f'rank@{t:g}']:.1f}" for t in tols[1:]]
        cells += [f"{pm(r, 'stable_rank', '.2f')} ({r['init_stable_rank']:.1f})"]
        if per_layer:
            cells += [" / ".join(f"{v:.1f}" for v in r["stable_rank_layers"])]
        cells += [pm(r, "train_accuracy", ".3f"), pm(r, "test_accuracy", ".3f"),
                  f"{r['hidden_norm']:.3g}",
                  f"{r['output_spread']:.3g} ({r['init_output_spread']:.2g})", flag(r)]
        lines.append(cells)
    return markdown_table(head, lines)


def find_row(rows, group, **values):
    return next(r for r in rows if r["group"] == group and
                all(r[k] == v for k, v in values.items()))


def paired_effect(low, high, margin=0.1):
    """Is the stable rank of arm `low` below that of arm `high`? Per seed, pairs of runs
    neither flagged constant nor diverged: 'yes' when low < high in every pair and the
    mean difference is at least margin x high's mean, 'reversed' when the same holds the
    other way, 'no' otherwise, 'undecided' with fewer than 2 pairs. Returns (word,
    {"differences": high - low per pair, "mean", "std", "relative"})."""
    pairs = [(a, b) for a, b, xa, xb in zip(low["seed_stable_rank"], high["seed_stable_rank"],
                                            low["seed_excluded"], high["seed_excluded"])
             if not (xa or xb)]
    if len(pairs) < 2:
        return "undecided", {"pairs": len(pairs)}
    diff = np.array([b - a for a, b in pairs])
    rel = float(diff.mean() / np.mean([b for _, b in pairs]))
    word = ("yes" if np.all(diff > 0) and rel >= margin else
            "reversed" if np.all(diff < 0) and -rel >= margin else "no")
    return word, {"pairs": len(pairs), "differences": diff.tolist(),
                  "mean": float(diff.mean()), "std": float(diff.std()), "relative": rel}


def judge(rows, args):
    """The real-data verdict (module docstring): four paired comparisons of the stable
    rank at an equal number of updates, then the rule."""
    g, b, lr, wd = "step size x weight decay", args.base_b, args.base_lr, args.base_wd
    grid = lambda eta, lam: find_row(rows, g, lr=eta, weight_decay=lam)
    batch = lambda v: find_row(rows, "batch, fixed steps", batch_size=v)
    lrs, wds, bs = sorted(args.lrs), sorted(args.wds), sorted(args.batch_sizes)
    tests = [("weight decay", f"λ={wds[-1]:g} below λ={wds[0]:g} (η={lr:g}, b={b})",
              grid(lr, wds[-1]), grid(lr, wds[0]), "yes"),
             ("step size", f"η={lrs[-1]:g} below η={lrs[0]:g} (λ={wd:g}, b={b})",
              grid(lrs[-1], wd), grid(lrs[0], wd), "yes"),
             ("batch size", f"b={bs[0]} below b={bs[-1]} (η={lr:g}, λ={wd:g}, "
              f"{args.steps} updates each)", batch(bs[0]), batch(bs[-1]), "yes"),
             ("control: step size without weight decay",
              f"η={lrs[-1]:g} below η={lrs[0]:g} at λ=0 (b={b}): predicted no",
              grid(lrs[-1], 0.0), grid(lrs[0], 0.0), "no")]
    if wds[0] != 0:
        tests = tests[:3]                                  # no lambda = 0 control in --wds
    out = []
    for name, what, low, high, predicted in tests:
        word, numbers = paired_effect(low, high)
        out.append({"effect": name, "comparison": what, "found": word,
                    "predicted": predicted, **numbers,
                    "train_accuracy": [low["train_accuracy"], high["train_accuracy"]]})
    found = sum(t["found"] == "yes" for t in out[:3])
    control_ok = all(t["found"] == t["predicted"] for t in out[3:]) and len(out) == 4
    undecided = any(t["found"] == "undecided" for t in out)
    word = ("inconclusive" if undecided else
            "reproduced" if found == 3 and control_ok else
            "partly" if found else "not reproduced")
    return {"verdict": word, "tests": out,
            "rule": "stable rank (mean over hidden layers), paired per seed, non-constant "
                    "runs: 'yes' = lower in every seed and by >= 10 % on average; "
                    "reproduced = weight decay, step size and batch size all 'yes' and the "
                    "lambda = 0 control 'no'; partly = at least one of the three 'yes'; "
                    "inconclusive = a comparison with fewer than 2 usable seed pairs"}


def verdict(summary):
    """The claim's verdict from summary.json, for `python -m minisgd report` (effect, value,
    spread, seeds, published, verdict, rule): judge() on its table and arguments."""
    from types import SimpleNamespace
    v = judge(summary["table"], SimpleNamespace(**summary["args"]))
    parts = [f"{t['effect']}: {100 * t['relative']:.0f} % lower" if "relative" in t else
             f"{t['effect']} undecided" for t in v["tests"]]
    first = v["tests"][0]
    return {"effect": "stable rank, lower arm vs higher (paired per seed, equal updates): "
                      + "; ".join(parts),
            "value": first.get("relative"),
            "spread": (f"weight decay: {first['mean']:+.2f} ± {first['std']:.2f} (std of the "
                       "paired differences)") if "std" in first else "fewer than 2 pairs",
            "seeds": summary["args"]["seeds"], "verdict": v["verdict"], "rule": v["rule"],
            "published": "lower rank for larger weight decay and steps and smaller batches "
                         "(CIFAR-10, at fixed epochs)"}


def verdict_text(v):
    lines = [f"\nVerdict: {v['verdict'].upper()}  (rule: {v['rule']})"]
    for t in v["tests"]:
        numbers = (f"high - low per seed {', '.join(f'{d:+.2f}' for d in t['differences'])}"
                   f" = {t['mean']:+.2f} ± {t['std']:.2f} ({100 * t['relative']:+.0f} %)"
                   if "differences" in t else f"{t['pairs']} usable pair(s)")
        lines.append(f"  {t['effect']}: {t['comparison']}: {t['found']} "
                     f"(predicted {t['predicted']}); {numbers}; train accuracy "
                     f"{t['train_accuracy'][0]:.3f} / {t['train_accuracy'][1]:.3f}")
    return "\n".join(lines)


def mark_collapsed(ax, xs, ys, flags, label_done):
    """A red cross on every arm with a collapsed run; labelled once per axis."""
    for x, y, flag in zip(xs, ys, flags):
        if flag:
            ax.plot([x], [y], "x", color="red", ms=10, mew=2,
                    label=None if label_done[0] else "constant predictor (flagged)")
            label_done[0] = True


def draw_lines(ax, lines, init):
    """Each (xs, ys, constant flags, style, label[, std over seeds]) a line (with error
    bars when the std is given), with a red cross on its arms that have a constant run;
    the value at initialization dotted."""
    done = [False]
    for xs, ys, flags, style, label, *err in lines:
        if err and err[0] is not None:
            ax.errorbar(xs, ys, yerr=err[0], fmt=style, capsize=3, label=label)
        else:
            ax.plot(xs, ys, style, label=label)
        mark_collapsed(ax, xs, ys, flags, done)
    ax.axhline(init, color="gray", ls=":", label="at initialization")


def spread(rs, key):
    """The std over seeds of `key` per row when the rows have it and several seeds."""
    return [r[key + "_std"] for r in rs] if rs and rs[0]["seeds"] > 1 and \
        key + "_std" in rs[0] else None


def batch_lines(rows, key):
    """`key` against b: fixed updates (solid), fixed epochs (dashed, when they ran)."""
    lines = []
    for group, style in (("batch, fixed steps", "o-"), ("batch, fixed epochs", "s--")):
        rs = [r for r in rows if r["group"] == group]
        if not rs:
            continue
        what = (f"{rs[0]['steps']} updates each" if group.endswith("steps") else
                f"{rs[0]['epochs']:.0f} epochs each")
        lines.append(([r["batch_size"] for r in rs], [r[key] for r in rs],
                      [r["constant"] for r in rs], style, f"{group} ({what})",
                      spread(rs, key)))
    return lines


def grid_lines(rows, wds, key):
    """`key` against eta, one line per weight decay (0: the control)."""
    grid = [r for r in rows if r["group"] == "step size x weight decay"]
    lines = []
    for wd in wds:
        rs = [r for r in grid if r["weight_decay"] == wd]
        lines.append(([r["lr"] for r in rs], [r[key] for r in rs], [r["constant"] for r in rs],
                      "o-", f"λ={wd:g}" + (" (control)" if wd == 0 else ""), spread(rs, key)))
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


def data_name(args):
    """The data, for titles."""
    return (f"{args.dataset} (N={args.n} training rows)" if args.dataset else
            f"{args.classes} classes, N={args.n}")


def plot(rows, args, path):
    """Rows: the headline rank, the stable rank (and with real data the stable rank of each
    hidden layer). Columns: against b, against eta per weight decay, the base run next to
    its controls."""
    t0 = f"{args.tol[0]:g}"
    metrics = [(f"rank@{t0}", f"rank of W/‖W‖_F (tol {t0}), mean over hidden layers",
                f"init rank@{t0}"),
               ("stable_rank", "stable rank ‖W‖_F²/‖W‖_2², mean over hidden layers",
                "init_stable_rank")]
    real = bool(args.dataset)
    fig, axes = new_figure(3 if real else 2, 3, (16, 13) if real else (16, 9))
    errors = " (error bars: std over seeds)" if args.seeds > 1 else ""
    for (ax, bx, cx), (key, ylabel, init_key) in zip(axes, metrics):
        draw_lines(ax, batch_lines(rows, key), rows[0][init_key])
        ax.set_xscale("log", base=2)
        ax.set_xticks(args.batch_sizes, [str(b) for b in args.batch_sizes])
        ax.set_xlabel("batch size b (log scale)")
        ax.set_title(f"η={args.base_lr:g}, λ={args.base_wd:g}, weight norm, mse" + errors,
                     fontsize=9)
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
            if real:                   # from 0: a rank that barely moves looks so
                top = max([rows[0][init_key]] + [r[key] for r in rows])
                a.set_ylim(0, (rows[0]["full_rank"] if key.startswith("rank") else top) * 1.08)
        draw_controls(cx, rows, args.base_b, key, rows[0][init_key], ylabel.split(",")[0])
    if real:
        draw_layers(axes[2], rows, args)
    save_figure(fig, path, f"ReLU MLP {args.depth}x{args.width}, {data_name(args)}, SGD + "
                f"weight decay, {args.seeds} seed(s): rank of the hidden layers at the end")


def draw_layers(axes, rows, args):
    """The stable rank of each hidden layer (x: layer 1 = the first, d -> width) for the
    weight decays at the base eta, the step sizes at the base lambda, the batch sizes at
    the base eta and lambda (equal updates); error bars: std over seeds."""
    g = "step size x weight decay"
    panels = [
        ([(f"λ={wd:g}" + (" (control)" if wd == 0 else ""),
           find_row(rows, g, lr=args.base_lr, weight_decay=wd)) for wd in args.wds],
         f"weight decay λ (η={args.base_lr:g}, b={args.base_b})"),
        ([(f"η={lr:g}", find_row(rows, g, lr=lr, weight_decay=args.base_wd))
          for lr in args.lrs], f"step size η (λ={args.base_wd:g}, b={args.base_b})"),
        ([(f"b={b}", find_row(rows, "batch, fixed steps", batch_size=b))
          for b in args.batch_sizes],
         f"b (η={args.base_lr:g}, λ={args.base_wd:g}, {args.steps} updates each)")]
    for ax, (arms_here, title) in zip(axes, panels):
        for i, (label, r) in enumerate(arms_here):
            layers = np.arange(1, len(r["stable_rank_layers"]) + 1)
            ax.errorbar(layers + 0.06 * (i - 1), r["stable_rank_layers"],
                        yerr=r["stable_rank_layers_std"] if r["seeds"] > 1 else None,
                        fmt="o-", capsize=3, color=f"C{i}",
                        label=label + (" (constant run)" if r["constant"] else ""))
        ax.set_xticks(layers, [f"{l}" + (" (from the input)" if l == 1 else "")
                               for l in layers])
        ax.set_xlabel("hidden layer")
        ax.set_ylabel("stable rank ‖W‖_F²/‖W‖_2² of the layer", fontsize=8)
        ax.set_title("each hidden layer against " + title, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)


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
    print(f"  {len(jobs)} runs on {args.workers} worker(s), the grid's in stacks of up to 4 "
          "...", file=sys.stderr, flush=True)
    trained = train_grouped([Config(**kw) for kw in jobs], args.workers,
                            cost=lambda c: c.steps * (1 + c.batch_size / 32))
    results = [run_summary(kw, r, args.tol) for kw, r in zip(jobs, trained)]
    rows = aggregate(args, results)
    plot(rows, args, os.path.join(args.out, "low_rank.png"))
    constant = sum(r["constant"] for r in results)
    note = f"; {constant} of {len(results)} runs end as a constant predictor (flagged)"
    payload = {"args": vars(args), "table": rows, "runs": results}
    real = bool(args.dataset)
    if real:
        payload["verdict"] = judge(rows, args)
    write_report(args.out, payload, markdown(rows, args.tol, per_layer=real), start, note)
    if real:
        print(verdict_text(payload["verdict"]))
    return rows


if __name__ == "__main__":
    main()
