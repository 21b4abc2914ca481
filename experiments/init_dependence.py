"""Claim (docs/science.md section 1): smaller batches give more interpretable first-layer features
and less dependence on the initialization.

One data set; for each batch size, --seeds runs that differ in their initial weights and
batch order. Measured per batch size, on the first layer W1 (n_in, n_out) at the end:
  * cross-seed spread: mean over pairs of seeds of ||G_s - G_t||_F, where
    G = |W1 W1^T| / || W1 W1^T ||_F is the normalized Gram matrix (the paper's |W1^T W1| in
    the (out, in) view; invariant to rotations of the hidden units, so seeds are
    comparable). 0 = every seed learned the same first-layer geometry; the value at
    initialization is printed as the reference;
  * distance from the own initialization, ||G_final - G_init||_F (mean over seeds);
  * memory of the initialization: cosine between the final and the initial W1 (flattened),
    on all rows and on the irrelevant rows S^c only (1 = W1 did not move);
  * ||W1[S^c, :]||_F and the fraction of seeds whose detected support is exactly S.
Outputs in --out: init_dependence.png (metrics against b), gram_heatmaps.png (mean and std
over seeds of G per batch size), summary.json, and a markdown table on stdout.

Defaults (16 seeds x b in 2, 8, 32, 128, 30000 steps at eta = 0.1, n = 1000 inputs,
N = 2000 pairs) take about 11 s on 2 cores (the seeds of a batch size run as one ensemble,
minisgd.ensemble, one batch size per --workers process; 48 s one run after the other, the
same numbers); --full: 32 seeds, 100000 steps, n = 5000.
"""
import itertools
import os
import sys
from functools import partial

import numpy as np

from minisgd.ensemble import train_ensemble
from minisgd.metrics import gram
from minisgd.report.experiment import distinct_list
from minisgd.report.experiment import (CORES, above, at_least, check_configs, default_to,
                                       experiment_parser, new_figure, run_jobs, save_figure,
                                       start_report)
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, build_net, spawn_rngs


def parse_args(argv=None):
    p = experiment_parser(__doc__, "init_dependence", full="32 seeds, 100000 steps, n=5000",
                          seeds="inits per batch size, >= 2 (a spread across seeds needs "
                                "two); default 16, --full 32", least_seeds=2, workers=CORES)
    p.add_argument("--steps", type=at_least(1), help="default 30000, --full 100000")
    p.add_argument("--batch-sizes", type=distinct_list(int, positive=True), default="2,8,32,128")
    p.add_argument("--lr", type=above(0), default=0.1)
    p.add_argument("--n", type=at_least(1),
                   help="distinct inputs (N = 2n); default 1000, --full 5000")
    p.add_argument("--data-seed", type=at_least(0), default=0)
    args = p.parse_args(argv)
    return default_to(args, seeds=32 if args.full else 16,
                      steps=100_000 if args.full else 30_000, n=5_000 if args.full else 1_000)


def normalized_gram(W1):
    G = gram(W1)                                             # (n_in, n_in)
    return G / np.linalg.norm(G)


def cosine(A, B):
    return float(np.vdot(A, B) / (np.linalg.norm(A) * np.linalg.norm(B)))


def pairwise_spread(grams):
    return float(np.mean([np.linalg.norm(a - b) for a, b in itertools.combinations(grams, 2)]))


def run_batch_size(args, b):
    """The --seeds runs at batch size b, trained together as one ensemble (members share the
    data of --data-seed, differ in initial weights and batch order; each member's numbers are
    those train() gives it alone): initial and final W1 per seed, and the results."""
    seeds = [args.data_seed + 1 + s for s in range(args.seeds)]   # not the data's own seed
    configs = [Config(lr=args.lr, batch_size=b, steps=args.steps, n=args.n, seed=seed,
                      data_seed=args.data_seed, records_per_decade=5) for seed in seeds]
    inits = [build_net(c.validate(), spawn_rngs(c.seed)[1]).weights[0]        # train's start
             for c in configs]
    return list(zip(inits, train_ensemble(configs)))


def summarize(b, runs, support):
    irrelevant = [j for j in range(runs[0][0].shape[0]) if j not in support]
    W0s, Wfs = [W0 for W0, _ in runs], [r.net.weights[0] for _, r in runs]
    G0s, Gfs = [normalized_gram(W) for W in W0s], [normalized_gram(W) for W in Wfs]
    finals = [r.final for _, r in runs]
    return {
        "b": b, "seeds": len(runs),
        "spread_final": pairwise_spread(Gfs), "spread_init": pairwise_spread(G0s),
        "distance_from_init": float(np.mean([np.linalg.norm(a - b) for a, b in zip(Gfs, G0s)])),
        "cos_init_all": float(np.mean([cosine(a, b) for a, b in zip(Wfs, W0s)])),
        "cos_init_irrelevant": float(np.mean([cosine(a[irrelevant], b[irrelevant])
                                              for a, b in zip(Wfs, W0s)])),
        "irrelevant_norm_mean": float(np.mean([f["irrelevant_norm"] for f in finals])),
        "irrelevant_norm_std": float(np.std([f["irrelevant_norm"] for f in finals])),
        "support_exact_fraction": float(np.mean([f["detected_support"] == sorted(support)
                                                 for f in finals])),
        "train_loss_mean": float(np.mean([f["train_loss"] for f in finals])),
        "test_loss_mean": float(np.mean([f["test_loss"] for f in finals])),
        "diverged": sum(f["diverged"] is not False for f in finals),
        "wall_time": float(sum(f["wall_time"] for f in finals)),
        "gram_mean": np.mean(Gfs, axis=0).tolist(), "gram_std": np.std(Gfs, axis=0).tolist(),
        # per seed / per pair of seeds (itertools.combinations order), for verdict()
        "pair_distances_final": [float(np.linalg.norm(a - b))
                                 for a, b in itertools.combinations(Gfs, 2)],
        "irrelevant_norms": [float(f["irrelevant_norm"]) for f in finals],
        "support_exact": [f["detected_support"] == sorted(support) for f in finals]}


def plot_metrics(rows, path, title):
    """Left: Gram distances across seeds and from the own init; right: cosine to the init."""
    bs = [r["b"] for r in rows]
    fig, (ax, bx) = new_figure(1, 2, (12, 4.5))
    ax.plot(bs, [r["spread_final"] for r in rows], "o-", label="across seeds, after training")
    ax.axhline(rows[0]["spread_init"], color="gray", ls=":",
               label="across seeds, at initialization")
    ax.plot(bs, [r["distance_from_init"] for r in rows], "s--", label="final vs own initialization")
    ax.set_ylabel(r"Frobenius distance of normalized $|W_1^T W_1|$")
    ax.legend(fontsize=8)
    bx.plot(bs, [r["cos_init_all"] for r in rows], "o-", label="all input rows")
    bx.plot(bs, [r["cos_init_irrelevant"] for r in rows], "s--",
            label=r"irrelevant rows $S^c$ only")
    bx.set_ylabel(r"cosine(final $W_1$, initial $W_1$)  (1 = unchanged)")
    bx.set_ylim(-0.05, 1.05)
    bx.legend(fontsize=8)
    for a in (ax, bx):
        a.set_xscale("log", base=2)
        a.set_xlabel("batch size b (log scale)")
        a.grid(True, alpha=0.3)
    save_figure(fig, path, title, dpi=110)


def plot_grams(rows, support, path):
    """Per batch size: the mean (top) and std (bottom) over seeds of the normalized Gram."""
    k = len(rows)
    fig, axes = new_figure(2, k, (2.9 * k + 1, 6), squeeze=False)
    vmax_std = max(np.max(r["gram_std"]) for r in rows)
    for col, r in enumerate(rows):
        for row, (M, name, vmax) in enumerate([(r["gram_mean"], "mean over seeds", None),
                                               (r["gram_std"], "std over seeds", vmax_std)]):
            ax = axes[row, col]
            im = ax.imshow(np.array(M), cmap="viridis", vmin=0, vmax=vmax)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
            ax.set_title(f"b={r['b']}: {name}", fontsize=9)
            ax.set_xticks(sorted(support))
            ax.set_yticks(sorted(support))
            ax.tick_params(labelsize=7)
            ax.set_xlabel("input coordinate (ticks: true support)", fontsize=7)
    save_figure(fig, path, f"normalized |W1ᵀW1| after training, {rows[0]['seeds']} "
                "initializations per batch size (bright block = learned support; low std = "
                "seeds agree)", dpi=110, fontsize=9)


def markdown(rows):
    head = ["b", "seeds", "spread across seeds (init)", "spread across seeds (final)",
            "distance from own init", "cos(W1, W1 init)", "cos on Sᶜ rows", "‖W1[:,Sᶜ]‖ mean ± sd",
            "support exact", "train loss", "test loss", "diverged", "time s"]
    table = []
    for r in rows:
        cells = [r["b"], r["seeds"], r["spread_init"], r["spread_final"], r["distance_from_init"],
                 r["cos_init_all"], r["cos_init_irrelevant"],
                 f"{r['irrelevant_norm_mean']:.3g} ± {r['irrelevant_norm_std']:.2g}",
                 f"{r['support_exact_fraction']:.0%}", r["train_loss_mean"], r["test_loss_mean"],
                 r["diverged"], r["wall_time"]]
        table.append(cells)
    return markdown_table(head, table)


def main(argv=None):
    args = parse_args(argv)
    base, *_ = check_configs([Config(n=args.n, lr=args.lr, seed=args.data_seed)]
                             + [Config(n=args.n, batch_size=b) for b in args.batch_sizes],
                             __file__)                          # resolved: its support
    start = start_report(args.out)
    ensembles = run_jobs(partial(run_batch_size, args), list(args.batch_sizes), args.workers,
                         cost=lambda b: 1 + b / 32)             # one ensemble per process
    rows = []
    for b, runs in zip(args.batch_sizes, ensembles):
        rows.append(summarize(b, runs, base.support))
        print(f"  b={b:<5d} spread {rows[-1]['spread_final']:.3f}  cos to init "
              f"{rows[-1]['cos_init_all']:.3f}  ({rows[-1]['wall_time']:.1f} s)",
              file=sys.stderr, flush=True)
    title = (f"{args.seeds} initializations per batch size, same data (N={2 * args.n}), "
             f"eta={args.lr}, {args.steps} steps")
    plot_metrics(rows, os.path.join(args.out, "init_dependence.png"), title)
    plot_grams(rows, base.support, os.path.join(args.out, "gram_heatmaps.png"))
    write_report(args.out, {"args": vars(args), "table": rows}, markdown(rows), start)
    return rows


# ---- verdict (docs/science.md section 1; minisgd report) --------------------------------
VERDICT_RULE = ("q = cross-seed spread of the normalized Gram at the smallest batch / at the "
                "largest, with its jackknife standard error over seeds (SE). Reproduced: "
                "q ≤ 0.5, q + 2 SE < 1 and at least as many seeds find exactly S at the "
                "smallest batch as at the largest; partly: q + 2 SE < 1 only; opposite: "
                "q ≥ 2 and q − 2 SE > 1; else not reproduced. Without an SE (fewer than 3 "
                "seeds): partly if q ≤ 0.5, else not reproduced.")


def pair_mean_without(D, k, leave):
    """Mean of the condensed pair distances D over k seeds, leaving seed `leave` out."""
    pairs = itertools.combinations(range(k), 2)
    return float(np.mean([d for d, (i, j) in zip(D, pairs) if leave not in (i, j)]))


def jackknife_ratio(small, large):
    """(q, its jackknife SE over seeds or None) of spread(small) / spread(large), from the
    rows' pair distances (the same init seeds at every batch size)."""
    q = small["spread_final"] / large["spread_final"]
    k = small["seeds"]
    if k < 3 or "pair_distances_final" not in small:
        return q, None
    qs = np.array([pair_mean_without(small["pair_distances_final"], k, i) /
                   pair_mean_without(large["pair_distances_final"], k, i) for i in range(k)])
    return q, float(np.sqrt((k - 1) / k * np.sum((qs - qs.mean()) ** 2)))


def verdict(summary):
    """The claim's verdict from summary.json (VERDICT_RULE): effect, value, spread, seeds,
    published, verdict, rule."""
    rows = sorted(summary["table"], key=lambda r: r["b"])
    small, large = rows[0], rows[-1]
    q, se = jackknife_ratio(small, large)
    exact = [round(r["support_exact_fraction"] * r["seeds"]) for r in (small, large)]
    below = se is not None and q + 2 * se < 1
    if below and q <= 0.5 and exact[0] >= exact[1]:
        result = "reproduced"
    elif below or (se is None and q <= 0.5):
        result = "partly"
    elif se is not None and q >= 2 and q - 2 * se > 1:
        result = "opposite"
    else:
        result = "not reproduced"
    return {"effect": f"cross-seed spread of the normalized Gram, b={small['b']} / "
                      f"b={large['b']}: {q:.3g} ({small['spread_final']:.3g} vs "
                      f"{large['spread_final']:.3g}); exactly S in {exact[0]}/{small['seeds']} "
                      f"vs {exact[1]}/{large['seeds']} seeds",
            "value": float(q),
            "spread": (f"± {se:.2g} (jackknife SE over {small['seeds']} seeds)"
                       if se is not None else f"no spread ({small['seeds']} seeds, or a "
                                              "summary without per-pair distances)"),
            "seeds": int(small["seeds"]),
            "published": None, "verdict": result, "rule": VERDICT_RULE}


if __name__ == "__main__":
    main()
