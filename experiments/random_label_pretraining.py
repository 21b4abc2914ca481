"""Claim (docs/science.md section 4; Liu, Papailiopoulos, Achlioptas, NeurIPS 2020, "Bad global
minima exist and SGD can reach them"): without explicit regularization, SGD started from a
net that was first trained to fit random labels fits the true labels again but generalizes
markedly worse than SGD from the plain initialization; with explicit regularization (weight
decay, data augmentation) the pretraining does no harm.

Per seed, from ONE initial net: (A) train on the true labels; (B) train on a random-label
set until it is fit (train accuracy >= --fit on it), then on the true labels with the same
phase-2 recipe as A. Phase-2 arms: no explicit regularization; weight decay; data-side
regularization (fresh input noise, or fresh coordinate zeroing, on every sample SGD sees);
and B from a harder random-label set (R noisy copies per input). Reported: test accuracy of
A and B, the paired gap B - A per seed (mean and std over seeds), whether each phase fit.

Protocol, and where each choice comes from (public code chao1224/BadGlobalMinima):
- Random-label ("confusion") set: cifar10_data/confusion_data_generation.py builds, per
  training image, `confusion_R` copies, each with int(ratio * #values) values set to 0
  (ratio 0.1, positions from a fresh shuffle per copy) and each copy a uniform random label
  (np.random.randint(10)). Here the same: R copies per input, int(0.1 * d) coordinates of
  each copy zeroed, labels uniform over the C classes. The pretraining set does NOT contain
  the true-labelled inputs (as there). Pretraining script default R = 1 (the generator's
  default is 10): the base arm uses R = 1, the "harder set" arm R = --hard-R (default 4).
- Pretraining (adversarial_init_pre_train.py): plain SGD, batch 128, lr 0.1, no momentum,
  no weight decay, no augmentation, until train accuracy >= 99.99 % checked every 25
  epochs, at most 350 epochs. Here: plain SGD, no WD, no augmentation, train accuracy on the
  random-label set checked every --check steps, stop at >= --fit (0.999: 1 - 1/N at N of a
  few thousand is the same "every point fit" as 99.99 % at N = 5e5), at most
  --max-pretrain steps, with the published step-size schedule over that budget (lr x0.1
  at 150/350 and 250/350 of --max-pretrain): at constant lr 0.1 the 4-copy set stalls at
  98.4-99.0 % train accuracy after 80000 updates (4 seeds), SGD's noise keeping a few
  percent of the random labels unfit.
- True-label phase (adversarial_init_main.py): lr 0.1, batch 128, a fixed 350 epochs with
  lr x0.1 at epochs 150 and 250, momentum 0.9, WD 5e-4, crop + flip augmentation, each
  switchable. Here: a fixed --steps (default 6000 = 192 epochs at N = 1000, b = 32), lr
  --lr x0.1 at 150/350 and 250/350 of the run, as there; NO momentum in any arm (departure:
  the arms differ in one regularizer only); weight decay only in the WD arm; augmentation
  only in the data-side arm. Random-init A runs (random_init_main.py) use the same recipe.
- Weight-decay strength: how much coupled WD shrinks the weights is exp(-lambda * sum_t
  eta_t) (absent the data gradient). Published: lambda = 5e-4, sum_t eta_t = 391 steps/epoch
  x (150 x 0.1 + 100 x 0.01 + 100 x 0.001) = 6295, product 3.1. Here lambda is set so
  that lambda * sum_t eta_t equals --wd-product (default 3.1): at the defaults
  sum_t eta_t = 276, lambda = 1.1e-2. Matching the WD value 5e-4 instead would give a
  product of 0.14, a regularizer that barely acts (try --wd 5e-4).
- Data-side regularization: the published main phase uses random crops and flips, which
  have no analogue on vectors without spatial structure. Here: a fresh N(0, sigma^2 I)
  input noise on every sample SGD sees (--augment noise, sigma = --noise 0.5, a quarter of
  the within-blob variance of gaussian_mixture), or a fresh zeroing of a fraction
  --zero of the coordinates (--augment zero; the confusion set's operation used as
  augmentation, as the issue suggests).
- Departures of scale: an MLP (ReLU, 2 x 128 by default, PyTorch default init, bias, no
  clipping) instead of ResNet-18/VGG on CIFAR-10; a synthetic gaussian_mixture task
  (d = 20, C = 5, N = 1000, Bayes accuracy ~81 %, minisgd/data/classification.py) instead
  of images; batch 32 instead of 128 so that the run has enough steps per epoch;
  cross-entropy by default (as published), --loss mse for the square loss (one-hot targets
  x --label-scale).

Measured at the defaults (4 seeds, test accuracy B - A in points, paired mean +- std;
README-style record in the report of issue 15, section 1): cross-entropy, no explicit
regularization: 0.0 +- 1.5 after the 1-copy set, -10.5 +- 1.0 after the 4-copy set (fit
to 99.3-99.6 %, short of --fit); weight decay: -0.5 +- 0.8 and +0.3 +- 0.4; input noise:
-1.5 +- 0.5 and -4.3 +- 1.3; coordinate zeroing 0.2 (--augment zero): -1.7 +- 0.7 and
-3.6 +- 0.9. Square loss: -6.3 +- 0.7 and -21.1 +- 1.7 without
regularization; weight decay +0.5 +- 0.2 and +0.7 +- 0.1 (but it holds train accuracy to
~78 %); input noise -2.5 +- 0.7 and -5.0 +- 0.8.

Every random draw (data, init, confusion sets, batch order, augmentation) comes from a numpy
Generator spawned from the seed. Training is done by minisgd.train.train in chunks of
--check steps, each chunk continuing from the previous net (plain SGD has no state to carry)
on a data set made of the chunk's exact sample sequence (so augmentation is fresh per
sample, batches given explicitly, each epoch a fresh permutation). Outputs in --out:
random_label_pretraining.png, summary.json and a markdown table. Defaults about three
minutes on 2 cores; --full: 8 seeds and twice the phase-2 steps.
"""
import os
import sys
from functools import partial

import numpy as np

from minisgd.data import Data, make_classification
from minisgd.models import MLP
from minisgd.report.experiment import (CORES, above, at_least, default_to, experiment_parser,
                                       new_figure, run_jobs, save_figure, start_report, within)
from minisgd.report.tables import markdown_table, write_report
from minisgd.config import unset_given
from minisgd.train import Config, train

DECAY_AT, DECAY = (150 / 350, 250 / 350), 0.1      # adversarial_init_main.py's schedule
PUBLISHED_WD_PRODUCT = 5e-4 * 391 * (150 * 0.1 + 100 * 0.01 + 100 * 0.001)   # 3.1
REGS = ("none", "wd", "data")
STARTS = ("B", "Bhard")


def parse_args(argv=None):
    p = experiment_parser(__doc__, "random_label_pretraining", workers=CORES,
                          full="8 seeds, 12000 phase-2 steps", seeds="default 4, --full 8")
    p.add_argument("--steps", type=at_least(1),
                   help="true-label phase steps; default 6000, --full 12000")
    p.add_argument("--max-pretrain", type=at_least(1), default=80000,
                   help="most random-label steps (default 80000)")
    p.add_argument("--check", type=at_least(1), default=250,
                   help="steps between fit checks / records")
    p.add_argument("--fit", type=within(0, 1), default=0.999,
                   help="train accuracy that counts as fit")
    p.add_argument("--loss", choices=("cross_entropy", "mse"), default="cross_entropy")
    p.add_argument("--label-scale", type=above(0), help="mse targets: scale x one-hot")
    p.add_argument("--dataset", choices=("gaussian_mixture", "teacher", "signals"),
                   default="gaussian_mixture")
    for flag, least, default in (("--d", 1, 20), ("--classes", 2, 5), ("--n", 1, 1000),
                                 ("--n-test", 1, 2000), ("--depth", 1, 2), ("--width", 1, 128),
                                 ("--b", 1, 32)):
        p.add_argument(flag, type=at_least(least), default=default)
    p.add_argument("--lr", type=above(0), default=0.1)
    p.add_argument("--zero-ratio", type=within(0, 1), default=0.1,
                   help="fraction of coordinates zeroed in each random-label copy")
    p.add_argument("--hard-R", type=at_least(1), default=4,
                   help="copies per input of the harder set")
    p.add_argument("--wd-product", type=above(0), default=round(PUBLISHED_WD_PRODUCT, 2),
                   help="lambda * sum_t eta_t of the WD arm (published: 3.1)")
    p.add_argument("--wd", type=above(0),
                   help="the WD arm's lambda itself (overrides --wd-product)")
    p.add_argument("--augment", choices=("noise", "zero"), default="noise")
    p.add_argument("--noise", type=above(0), default=0.5, help="input-noise std (augment=noise)")
    p.add_argument("--zero", type=within(0, 1), default=0.2, help="fraction zeroed (augment=zero)")
    args = p.parse_args(argv)
    default_to(args, seeds=8 if args.full else 4, steps=12000 if args.full else 6000)
    if args.b > args.n:
        p.error(f"argument --b: must be <= n={args.n}, got {args.b}")
    return default_to(args, wd=args.wd_product / eta_sum(args.lr, args.steps))


# ---- the schedule, the sets ------------------------------------------------------------

def lr_at(lr, steps, t):
    """The published step size at update t of a `steps`-update budget: lr, x0.1 from
    150/350 of the run, x0.01 from 250/350 (adversarial_init_*.py, --schedule 150 250)."""
    return lr * DECAY ** sum(t >= round(f * steps) for f in DECAY_AT)


def eta_sum(lr, steps):
    """sum_t eta_t of the phase-2 schedule (what weight decay's shrinkage depends on)."""
    return float(sum(lr_at(lr, steps, t) for t in range(steps)))


def confusion_set(rng, X, copies, zero_ratio, classes):
    """The published random-label set: `copies` copies of each row of X (N, d), each with
    int(zero_ratio * d) coordinates set to 0, each with a uniform random label."""
    N, d = X.shape
    Xc = np.repeat(X, copies, axis=0)                                      # (N R, d)
    k = int(zero_ratio * d)
    cols = np.argsort(rng.random(Xc.shape), axis=1)[:, :k]                 # (N R, k)
    np.put_along_axis(Xc, cols, 0.0, axis=1)
    return Xc, rng.integers(0, classes, size=Xc.shape[0])


def augmented(rng, X, how, strength):
    """X with fresh augmentation per row: N(0, strength^2) noise, or a fraction `strength`
    of its coordinates zeroed (how: None, "noise", "zero")."""
    if how is None:
        return X
    if how == "noise":
        return X + strength * rng.standard_normal(X.shape)
    return np.where(rng.random(X.shape) < strength, 0.0, X)


def accuracy(net, X, y):
    return float(np.mean(np.argmax(net.forward_cache(X)[-1], axis=1) == y))


# ---- one phase: one train() through the loop's stop / stream interface ----------------
class AugmentedEpochs:
    """SGD's batches for a phase: a fresh permutation of the training rows per epoch (from
    the experiment's rng), each row augmented afresh every time SGD sees it. Drawn `check`
    steps at a time -- the permutation, the augmentation of those rows, then one integer
    draw -- the order in which 0.4.0's chunked runs drew (that draw was their seed), so the
    numbers are 0.4.0's."""

    def __init__(self, rng, b, check, steps, augment=None, strength=None):
        self.rng, self.b, self.check, self.steps = rng, b, check, steps
        self.augment, self.strength = augment, strength

    def __str__(self):
        how = "" if self.augment is None else f", {self.augment} augmentation {self.strength:g}"
        return f"epochs of b={self.b} from the experiment's generator{how}"

    def __call__(self, X, Y, _rng):
        order, t, b = np.empty(0, dtype=np.int64), 0, self.b
        while t < self.steps:
            chunk = min(self.check, self.steps - t)
            while order.size < chunk * b:
                order = np.concatenate([order, self.rng.permutation(X.shape[0])])
            rows, order = order[:chunk * b], order[chunk * b:]             # (chunk b,)
            Xa, Ya = augmented(self.rng, X[rows], self.augment, self.strength), Y[rows]
            self.rng.integers(2**31)
            for s in range(chunk):
                yield Xa[s * b:(s + 1) * b], Ya[s * b:(s + 1) * b]
            t += chunk


def run_phase(net, base, X, y, test, rng, steps, check, lr_of_t, weight_decay=0.0,
              augment=None, strength=None, fit=None):
    """Train net (copied by train) on (X, y) for `steps` updates, or until the train
    accuracy on (X, y) reaches `fit`: one train() run whose history is recorded every
    `check` updates (the step, the train accuracy on (X, y), the test accuracy) and whose
    stop() ends it at the first record reaching `fit`. Batches: AugmentedEpochs.
    Returns (net, records)."""
    data = Data(X, y, test[0], test[1], classes=base["classes"])
    config = unset_given(Config(**base, n=X.shape[0], steps=steps, weight_decay=weight_decay),
                         "data", "net")                  # the net and the data are given
    reached = None if fit is None else (lambda t, h: h["train_accuracy"][-1] >= fit)
    result = train(config, data=data, net=net, schedule=lr_of_t, stop=reached,
                   stream=AugmentedEpochs(rng, base["batch_size"], check, steps, augment,
                                          strength),
                   record_at=sorted(set(range(0, steps, check)) | {steps}))
    if result.final["diverged"] is not False:
        raise RuntimeError(f"training diverged at update {result.final['diverged']}: lower --lr")
    h = result.history
    return result.net, list(zip(h["step"], h["train_accuracy"], h["test_accuracy"]))


def base_config(args):
    kw = dict(task="classification", classes=args.classes, d=args.d, n_test=args.n_test,
              depth=args.depth, width=args.width, activation="relu", bias=True,
              init_scheme="torch_default", clip=None, loss=args.loss, batch_size=args.b,
              lr=args.lr, records_per_decade=1)
    if args.loss == "mse" and args.label_scale is not None:
        kw["label_scale"] = args.label_scale
    return kw


def first_fit(records, fit):
    """The first recorded step whose train accuracy is >= fit, or None."""
    return next((s for s, a, _ in records if a >= fit), None)


def run_seed(args, seed):
    """Every arm of one seed: its data, one initial net, two random-label pretrainings,
    nine true-label runs. Returns {run name: {"records", "fit_step", ...}}."""
    streams = np.random.SeedSequence(seed).spawn(5)
    data_rng, init_rng, conf_rng, pre_rng, main_rng = (np.random.default_rng(s) for s in streams)
    data = make_classification(data_rng, args.dataset, args.d, args.classes, args.n, args.n_test)
    test = (data.X_test, data.y_test)
    base = base_config(args)
    net0 = MLP([args.d] + [args.width] * args.depth + [args.classes], activation="relu",
               bias=True, init="torch_default", seed=init_rng)
    out, starts = pretrain(args, base, net0, data.X, test, conf_rng, pre_rng)
    main = lambda t: lr_at(args.lr, args.steps, t)
    regs = {"none": {}, "wd": {"weight_decay": args.wd},
            "data": {"augment": args.augment,
                     "strength": args.noise if args.augment == "noise" else args.zero}}
    for reg, kw in regs.items():
        for start in ("A", "B", "Bhard"):
            net, rec = run_phase(starts[start], base, data.X, data.y, test, main_rng,
                                 args.steps, args.check, main, **kw)
            out[f"{start} {reg}"] = {"records": rec, "fit_step": first_fit(rec, args.fit),
                                     "train_accuracy": rec[-1][1], "test_accuracy": rec[-1][2]}
    return out


def pretrain(args, base, net0, X, test, conf_rng, pre_rng):
    """net0 trained on the 1-copy (B) and the --hard-R-copy (Bhard) random-label sets until
    they are fit: ({"pretrain B": ..., "pretrain Bhard": ...}, the start nets by name)."""
    pre = lambda t: lr_at(args.lr, args.max_pretrain, t)
    out, starts = {}, {"A": net0}
    for name, copies in (("B", 1), ("Bhard", args.hard_R)):
        Xc, yc = confusion_set(conf_rng, X, copies, args.zero_ratio, args.classes)
        net, rec = run_phase(net0, base, Xc, yc, test, pre_rng, args.max_pretrain, args.check,
                             pre, fit=args.fit)
        out[f"pretrain {name}"] = {"records": rec, "fit_step": first_fit(rec, args.fit),
                                   "set_size": int(Xc.shape[0])}
        starts[name] = net
    return out, starts


# ---- table, figure ---------------------------------------------------------------------

def reg_label(args, reg):
    if reg == "none":
        return "no explicit regularization"
    if reg == "wd":
        return f"weight decay {args.wd:.3g} (λΣη = {args.wd * eta_sum(args.lr, args.steps):.2g})"
    if args.augment == "noise":
        return f"input noise σ = {args.noise:g}"
    return f"coordinate zeroing {args.zero:g}"


def start_label(args, start):
    return "1 copy / input" if start == "B" else f"{args.hard_R} copies / input"


def mean_std(values):
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def summarize(args, results):
    """One row per (regularizer, random-label set): A and B test accuracy over seeds, the
    paired gap B - A, train accuracies, how many runs fit."""
    rows = []
    for reg in REGS:
        for start in STARTS:
            A = [r[f"A {reg}"] for r in results]
            B = [r[f"{start} {reg}"] for r in results]
            pre = [r[f"pretrain {start}"] for r in results]
            rows.append({
                "regularizer": reg, "label": reg_label(args, reg), "pretrain_set": start,
                "pretrain_label": start_label(args, start), "seeds": len(results),
                "pretrain_fit": sum(p["fit_step"] is not None for p in pre),
                "pretrain_steps": [p["records"][-1][0] for p in pre],
                "pretrain_train_acc": [p["records"][-1][1] for p in pre],
                "A_test": mean_std([a["test_accuracy"] for a in A]),
                "B_test": mean_std([b["test_accuracy"] for b in B]),
                "gap": mean_std([b["test_accuracy"] - a["test_accuracy"] for a, b in zip(A, B)]),
                "A_train": mean_std([a["train_accuracy"] for a in A]),
                "B_train": mean_std([b["train_accuracy"] for b in B]),
                "A_fit": sum(a["fit_step"] is not None for a in A),
                "B_fit": sum(b["fit_step"] is not None for b in B)})
    return rows


def pm(ms, scale=100, digits=1):
    return f"{scale * ms[0]:.{digits}f} ± {scale * ms[1]:.{digits}f}"


def markdown(rows):
    head = ["phase-2 regularizer", "random-label set (B)", "B set fit (steps; train acc %)",
            "test acc A (%)", "test acc B (%)", "B − A (points, paired)",
            "train acc A / B (%)", f"fit ≥ {FIT_SHOWN}: A / B"]
    lines = [[r["label"], r["pretrain_label"],
              f"{r['pretrain_fit']}/{r['seeds']} ({', '.join(map(str, r['pretrain_steps']))}; "
              f"{100 * min(r['pretrain_train_acc']):.2f}–"
              f"{100 * max(r['pretrain_train_acc']):.2f})",
              pm(r["A_test"]), pm(r["B_test"]), pm(r["gap"]),
              f"{pm(r['A_train'])} / {pm(r['B_train'])}",
              f"{r['A_fit']}/{r['seeds']} / {r['B_fit']}/{r['seeds']}"] for r in rows]
    return markdown_table(head, lines)


FIT_SHOWN = "--fit"


def plot(args, results, path):
    """Test accuracy (solid) and train accuracy (thin dotted) against the update, counted
    from the start of the true-label phase (pretraining at negative updates, symlog
    axis so that the short true-label phase is readable next to the long pretraining); one
    panel per phase-2 regularizer; each seed one line."""
    fig, axes = new_figure(1, 3, (16, 6), sharey=True)
    for ax, reg in zip(axes, REGS):
        for i, r in enumerate(results):
            for start in ("A",) + STARTS:
                draw_run(ax, args, r, start, reg, labelled=i == 0 and ax is axes[0])
        ax.axvline(0, color="gray", lw=1)
        ax.set_xscale("symlog", linthresh=args.check, linscale=1.0)
        ax.axhline(1 / args.classes, color="gray", ls="--", lw=0.8,
                   label=f"chance (1/{args.classes})" if ax is axes[0] else None)
        ax.set_title(f"true-label phase: {reg_label(args, reg)}", fontsize=10)
        ax.set_xlabel("SGD update (symlog); < 0: random labels, ≥ 0: true labels", fontsize=9)
        ax.grid(True, alpha=0.25)
    axes[0].set_ylabel("accuracy (solid: test; dotted: train on the current set)")
    fig.legend(loc="lower center", ncol=3, fontsize=9, frameon=False)
    save_figure(fig, path, f"Random-label pretraining, {args.dataset} d={args.d}, "
                f"C={args.classes}, N={args.n}, ReLU MLP {args.depth}x{args.width}, "
                f"{args.loss}, b={args.b}, η={args.lr:g}, {args.seeds} seeds (one line each)",
                rect=(0, 0.1, 1, 1))


COLOURS = {"A": "C0", "B": "C1", "Bhard": "C3"}


def draw_run(ax, args, r, start, reg, labelled):
    """One seed's start (A, B or Bhard) under regularizer reg: its pretraining (if any) at
    negative updates, then its true-label phase; test solid, train dotted."""
    pre = r[f"pretrain {start}"]["records"] if start != "A" else []
    main = r[f"{start} {reg}"]["records"]
    T = pre[-1][0] if pre else 0
    steps = [s - T for s, _, _ in pre] + [s for s, _, _ in main]
    test = [a for _, _, a in pre] + [a for _, _, a in main]
    train_acc = [a for _, a, _ in pre] + [a for _, a, _ in main]
    names = {"A": "A: true labels from the initialization",
             "B": "B: random labels (1 copy / input), then true labels",
             "Bhard": f"B: random labels ({args.hard_R} copies / input), then true labels"}
    ax.plot(steps, test, color=COLOURS[start], lw=1.2,
            label=names[start] + " — test" if labelled else None)
    ax.plot(steps, train_acc, color=COLOURS[start], lw=0.7, ls=":",
            label="train (on the current phase's set)" if labelled and start == "A" else None)


def main(argv=None):
    args = parse_args(argv)
    start = start_report(args.out)
    print(f"  {args.seeds} seeds x (2 pretrainings + 9 true-label runs) on "
          f"{min(args.workers, args.seeds)} worker(s); weight decay {args.wd:.3g} ...",
          file=sys.stderr, flush=True)
    results = run_jobs(partial(run_seed, args), list(range(args.seeds)), args.workers)
    rows = summarize(args, results)
    plot(args, results, os.path.join(args.out, "random_label_pretraining.png"))
    write_report(args.out, {"args": vars(args), "table": rows, "runs": results},
                 markdown(rows).replace(FIT_SHOWN, f"{args.fit:g}"), start)
    return rows


if __name__ == "__main__":
    main()
