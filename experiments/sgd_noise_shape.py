"""Claims (docs/science.md section 5): SGD's gradient noise is anisotropic and aligned with the
loss curvature (Zhu et al. 2019), and it is heavy-tailed (Simsekli et al. 2019; Panigrahi
et al. 2019: Gaussian-like for large batches).

At record steps of each run (step 0 included) on the *training set*:
- H: the exact Hessian of the mse data loss (full_hessian of minisgd/analysis/hessian.py,
  D HVPs) and its whole spectrum;
- Sigma: the per-sample gradient covariance (minisgd/analysis/noise_shape.py); Zhu et al.'s
  ratio Tr(H Sigma) / (Tr(H) Tr(Sigma) / D) (1 = isotropic), the top-5 subspace overlap of
  H's and Sigma's eigenvectors and Sigma's share along H's top 5 (both k/D at random);
- the tail index of mini-batch noise at the measurement batch size b_m
  (minisgd/analysis/tail_index.py): the published pooled estimate (all coordinates of all
  P = N // b_m batch noises as one sample set) next to the median of per-coordinate estimates
  (K1 = isqrt(P) and the last P mod K1 batches dropped, so that every P works). b_m = the
  run's own b is the published protocol; the sweep over b_m at each point shows the effect
  of the batch size alone. Next to each, a Gaussian null: Gaussian noise of the same shape
  (P, D) and the same per-coordinate std, through the same estimators -- the pooled null is
  what pooling coordinates of different scales alone returns, the per-coordinate null band
  the sampling spread at this P. Coordinates with identically zero noise (weights of dead
  ReLU units) are counted and left out of the per-coordinate estimates (not of the pooled
  one, as published).

Tasks: the headline task (Config() defaults: the paper's 15-15-15-15-1 linear net, 690
parameters, N = 10000, eta = 0.1, clip 1, 20000 steps), SGD b in 1, 32, 128, 512; and a
classification task (Config(task="classification", loss="mse", activation="relu",
bias=True): 3-class Gaussian mixture, N = 5000, 768 parameters), b in 1, 8, 32, 128. Square
loss for classification: the hand-written HVPs exist for mse only, not cross-entropy.
Outputs in --out: noise_shape.png, tail_vs_batch.png, summary.json and a markdown table.
Defaults about a minute on 2 cores (50-55 s); --quick: 2000 steps, fewer points (~30 s).
"""
import math
import os
import sys
import time
from functools import partial

import numpy as np
from matplotlib import colormaps

from minisgd.analysis import hessian as cv
from minisgd.analysis import noise_shape as ns
from minisgd.analysis import tail_index as ti
from minisgd.report.experiment import distinct_list
from minisgd.report.experiment import (CORES, at_least, check_configs, default_to,
                                       experiment_parser, new_figure, run_jobs, save_figure,
                                       start_report)
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, train

TASKS = ("headline", "classification")
K_TOP = 5
HUTCHINSON_PROBES = 200


def parse_args(argv=None):
    p = experiment_parser(__doc__, "sgd_noise_shape", quick="2000 steps, 3 record points",
                          workers=CORES)
    p.add_argument("--steps", type=at_least(10), help="SGD steps per run; default 20000")
    p.add_argument("--headline-b", type=distinct_list(int, positive=True), default="1,32,128,512")
    p.add_argument("--class-b", type=distinct_list(int, positive=True), default="1,8,32,128")
    p.add_argument("--class-n", type=at_least(1), default=5000,
                   help="classification training set")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    return default_to(args, steps=2000 if args.quick else 20000)


def record_steps(steps, quick):
    """0, then log-spaced points up to steps."""
    fracs = (0.1, 1.0) if quick else (0.001, 0.01, 0.1, 1.0)
    return sorted({0, *(max(1, int(round(f * steps))) for f in fracs)})


def make_config(task, b, args):
    if task == "headline":
        return Config(batch_size=b, steps=args.steps, seed=args.seed)
    return Config(task="classification", loss="mse", activation="relu", bias=True,
                  n=args.class_n, batch_size=b, steps=args.steps, seed=args.seed)


def coordinate_alphas(noise):
    """Per-coordinate estimates on the first K1 * (P // K1) batches, K1 = isqrt(P), of the
    coordinates whose noise varies over them (dead ReLU units' weights have none; at small
    N a coordinate can also be constant over the batches used)."""
    K1 = math.isqrt(noise.shape[0])
    rows = noise[:K1 * (noise.shape[0] // K1)]
    live = ~np.all(rows == rows[:1], axis=0)
    return ti.per_coordinate_alpha(rows[:, live], block=K1)


def tail_indices(G, sizes, seed):
    """{b_m: [pooled, per-coord median, q10, q90, P, pooled Gaussian null, null per-coord
    q10, q90]} of the mini-batch noise of G. The nulls: Gaussian noise of the same shape
    (P, D) and the same per-coordinate std -- what the estimators return when the noise is
    Gaussian but the coordinates' scales differ as measured (the pooled estimate's broken
    assumption) and P is as small as here (per-coordinate sampling spread)."""
    out = {}
    for b in sizes:
        if G.shape[0] // b < 4:
            continue
        rng = np.random.default_rng([seed, b])
        noise = ns.minibatch_noise(G, b, rng)                           # (P, D)
        per = coordinate_alphas(noise)
        per = per[np.isfinite(per)]
        null = rng.standard_normal(noise.shape) * noise.std(axis=0)    # (P, D) Gaussian
        null_per = coordinate_alphas(null)
        null_per = null_per[np.isfinite(null_per)]
        out[b] = [ti.pooled_alpha(noise), *np.quantile(per, [0.5, 0.1, 0.9]).tolist(),
                  noise.shape[0], ti.pooled_alpha(null),
                  *np.quantile(null_per, [0.1, 0.9]).tolist(),
                  int(np.sum(np.abs(noise).max(axis=0) == 0))]          # dead coordinates
    return out


def diagnose(net, X, Y, sizes, seed):
    """Every number of one record point (module docstring) and the whole spectrum."""
    H = cv.full_hessian(net, X, Y)
    lam, U = cv.spectrum(H)
    G = ns.per_sample_gradients(net, X, Y)                            # (N, D)
    S = ns.noise_covariance(G)
    zhu = ns.zhu_indicator(H, S)
    al = ns.alignment(H, S, k=K_TOP)
    s_eig = np.linalg.eigvalsh(S)[::-1]
    row = {**cv.spectrum_summary(lam), "tr_sigma": float(s_eig.sum()),
           "sigma_top_share": float(s_eig[0] / s_eig.sum()),
           "zhu_ratio": zhu["ratio"], "subspace_top5": al["subspace"],
           "overlap_1": float(al["overlaps"][0]), "sigma_in_top5": al["sigma_in_top_k"],
           "random_baseline": al["random_baseline"], "D": int(H.shape[0])}
    return row, lam, tail_indices(G, sizes, seed)


def targets(task, net, data):
    """Y (N, n_out) the mse reads: y for the headline task, one-hot labels (label_scale 1)
    for classification (tasks.make_problem builds the same)."""
    if task == "headline":
        return data.y.reshape(-1, 1)
    return np.eye(net.sizes[-1])[data.y]


def run_arm(args, arm):
    """Train one arm (task, b), diagnosing at the record points; returns a JSON-ready
    dict."""
    task, b = arm
    config = make_config(task, b, args)
    sizes = args.headline_b if task == "headline" else args.class_b
    at = record_steps(args.steps, args.quick)
    points, hutch = [], {}

    def extra(net, data):
        Y = targets(task, net, data)
        t0 = time.perf_counter()
        row, lam, tails = diagnose(net, data.X, Y, sizes, args.seed)
        if len(points) == len(at) - 1:                 # the final point: Hutchinson too
            hutch["estimate"], hutch["stderr"] = cv.hutchinson_trace(
                net, data.X, Y, probes=HUTCHINSON_PROBES, seed=args.seed)
        points.append({**row, "spectrum": lam.tolist(),
                       "tails": {str(k): v for k, v in tails.items()},
                       "diag_time": time.perf_counter() - t0})
        return {"zhu_ratio": row["zhu_ratio"]}

    res = train(config, extra_metrics=extra, record_at=at)
    for p, t, loss in zip(points, res.history["step"], res.history["train_loss"]):
        p["step"], p["train_loss"] = int(t), loss
    print(f"  {task:14s} b={b:<4d} done ({res.final['wall_time']:.0f} s, "
          f"diagnostics {sum(p['diag_time'] for p in points):.0f} s)", file=sys.stderr, flush=True)
    return {"task": task, "b": b, "points": points, "final": res.final,
            "hutchinson_final": hutch}


def arms(args):
    return [("headline", b) for b in args.headline_b] + \
           [("classification", b) for b in args.class_b]


def table_rows(results):
    rows = []
    for r in results:
        for p in r["points"]:
            own = p["tails"].get(str(r["b"]))
            rows.append([r["task"], r["b"], p["step"], p["train_loss"], p["lambda_max"],
                         p["trace"], p["negative_mass"], p["zhu_ratio"], p["subspace_top5"],
                         p["sigma_in_top5"], p["random_baseline"],
                         None if own is None else own[4],
                         None if own is None else own[0],
                         None if own is None else own[5],
                         None if own is None else f"{own[1]:.3g} [{own[2]:.2g}, {own[3]:.2g}]",
                         None if own is None else f"[{own[6]:.2g}, {own[7]:.2g}]",
                         None if own is None else own[8]])
    return rows


HEAD = ["task", "b", "step", "train loss", "lambda_max", "Tr H", "neg. mass", "Zhu ratio",
        "top-5 subspace", "Sigma share in H top-5", "random k/D", "P batches",
        "alpha pooled (b_m = b)",
        "pooled, Gaussian null", "alpha per-coord median [q10, q90]",
        "per-coord Gaussian null [q10, q90]", "zero-noise coords"]


def figure(results, path):
    """Per task (a row): the whole Hessian spectrum at each record point of the run whose b
    is nearest 32; then, against the step, one line per run: Zhu's ratio, the top-5
    alignment of Sigma and H, the tail index of the run's own batch noise."""
    fig, axes = new_figure(2, 4, (20, 9), squeeze=False)
    for row, task in enumerate(TASKS):
        runs = [r for r in results if r["task"] == task]
        if not runs:
            continue
        ref = min(runs, key=lambda r: abs(r["b"] - 32))
        draw_spectra(axes[row, 0], task, ref)
        for r, c in zip(runs, colormaps["viridis"](np.linspace(0, 0.9, len(runs)))):
            draw_point_series(axes[row, 1:], r, c)
        label_point_panels(axes[row, 1:], task, runs[0]["points"][0]["random_baseline"],
                           max(p["step"] for p in ref["points"]))
    save_figure(fig, path)


def draw_spectra(ax, task, ref):
    """The Hessian's eigenvalues in decreasing order, one line per record point of ref."""
    colors = colormaps["plasma"](np.linspace(0, 0.85, len(ref["points"])))
    for p, c in zip(ref["points"], colors):
        lam = np.array(p["spectrum"])
        ax.plot(np.arange(1, lam.size + 1), lam, color=c, label=f"step {p['step']}")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("eigenvalue index")
    ax.set_ylabel("eigenvalue of H (symlog)")
    ax.set_title(f"{task}: whole Hessian spectrum, SGD b={ref['b']} "
                 f"(D={ref['points'][-1]['D']})")
    ax.legend(fontsize=8)


def draw_point_series(axes, r, c):
    """Run r against the step on the three panels: Zhu's ratio; the subspace overlap (solid)
    and Sigma's share along H's top 5 (dashed); the pooled tail index of its own batch
    noise (solid), the per-coordinate median (dashed), the pooled Gaussian null (dotted)."""
    st = [p["step"] for p in r["points"]]
    own = [p["tails"].get(str(r["b"])) for p in r["points"]]
    axes[0].plot(st, [p["zhu_ratio"] for p in r["points"]], "o-", color=c, label=f"b={r['b']}")
    axes[1].plot(st, [p["subspace_top5"] for p in r["points"]], "o-", color=c,
                 label=f"b={r['b']}")
    axes[1].plot(st, [p["sigma_in_top5"] for p in r["points"]], "s--", color=c)
    axes[2].plot(st, [o[0] if o else np.nan for o in own], "o-", color=c, label=f"b={r['b']}")
    axes[2].plot(st, [o[1] if o else np.nan for o in own], "s--", color=c)
    axes[2].plot(st, [o[5] if o else np.nan for o in own], ":", color=c, lw=1)


def label_point_panels(axes, task, base, last_step):
    """References (isotropic, random k/D, Gaussian), titles and axes of the three panels
    against the step."""
    axes[0].axhline(1.0, color="k", lw=0.8, ls=":", label="isotropic (1)")
    axes[0].set_yscale("log")
    axes[0].set_title(f"{task}: Tr(H Sigma) / (Tr H Tr Sigma / D)")
    axes[1].axhline(base, color="k", lw=0.8, ls=":", label=f"random k/D={base:.3f}")
    axes[1].set_title(f"{task}: top-{K_TOP} of Sigma vs H\n(solid: subspace overlap, "
                      "dashed: Sigma's share along H's top 5)", fontsize=10)
    axes[1].set_ylim(0, 1.05)
    axes[2].axhline(2.0, color="k", lw=0.8, ls=":", label="Gaussian (2)")
    axes[2].set_title(f"{task}: tail index of b-noise (b_m = b)\n(solid: pooled, "
                      "dashed: per-coord median, dotted: Gaussian null)", fontsize=10)
    for ax in axes:
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(0, 2 * last_step)
        ax.set_xlabel("step (symlog)")
        ax.legend(fontsize=7, ncol=2)


def tail_figure(results, path):
    """Per task: the tail index at the end of each run against the measurement batch size
    b_m, next to the same at the initialization."""
    fig, axes = new_figure(1, 2, (13, 4.8), squeeze=False)
    for ax, task in zip(axes[0], TASKS):
        runs = [r for r in results if r["task"] == task]
        colors = colormaps["viridis"](np.linspace(0, 0.9, max(len(runs), 1)))
        for r, c in zip(runs, colors):
            bm, t = tails_by_batch(r["points"][-1])
            ax.plot(bm, t[:, 0], "o-", color=c, label=f"trained b={r['b']}: pooled")
            ax.plot(bm, t[:, 1], "s--", color=c, label=f"trained b={r['b']}: per-coord median")
            ax.plot(bm, t[:, 5], ":", color=c, lw=1,
                    label=f"trained b={r['b']}: pooled Gaussian null")
        bm, t0 = tails_by_batch(runs[0]["points"][0])
        ax.plot(bm, t0[:, 0], "k^-", label="init: pooled")
        ax.fill_between(bm, t0[:, 6], t0[:, 7], color="0.8", alpha=0.5,
                        label="init: per-coord Gaussian null q10-q90")
        ax.plot(bm, t0[:, 1], "kv--", label="init: per-coord median")
        ax.axhline(2.0, color="k", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 4)
        ax.set_xlabel("measurement batch size b_m")
        ax.set_ylabel("alpha estimate (dotted: pooled Gaussian null)")
        ax.set_title(f"{task}: tail index at the end of training vs b_m")
        ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path)


def tails_by_batch(point):
    """(measurement batch sizes b_m, ascending; the point's tail numbers per b_m (rows))."""
    bm = sorted(int(k) for k in point["tails"])
    return bm, np.array([point["tails"][str(k)] for k in bm])


def main(argv=None):
    args = parse_args(argv)
    check_configs([make_config(task, b, args) for task, b in arms(args)], __file__)
    start = start_report(args.out)
    results = run_jobs(partial(run_arm, args), arms(args), args.workers,
                       cost=lambda arm: arm[0] == "classification")     # slow ones first
    figure(results, os.path.join(args.out, "noise_shape.png"))
    tail_figure(results, os.path.join(args.out, "tail_vs_batch.png"))
    rows = table_rows(results)
    hutch = [[r["task"], r["b"], r["points"][-1]["trace"], r["hutchinson_final"]["estimate"],
              r["hutchinson_final"]["stderr"]] for r in results]
    table = (markdown_table(HEAD, rows) + "\n\nTr H at the end, exact vs Hutchinson "
             f"({HUTCHINSON_PROBES} probes):\n\n"
             + markdown_table(["task", "b", "exact", "Hutchinson", "stderr"], hutch))
    write_report(args.out, {"args": vars(args), "table": rows, "runs": results}, table, start,
                 f" with {args.workers} worker(s)")
    return results


# ---- verdict (docs/science.md section 5; minisgd report) --------------------------------
VERDICT_RULES = {
    "alignment": "At each run's last record point: aligned if Tr(HΣ) ≥ 2x its isotropic value "
                 "and Σ's share along H's top 5 ≥ 2x the random k/D. Reproduced: every run "
                 "aligned; partly: at least half; opposite: the Zhu ratio ≤ 0.5 in at least "
                 "half; else not reproduced.",
    "tails": "At each run's last record point, for its own batch noise: heavy-tailed if the "
             "per-coordinate median α is below the Gaussian null's q10 (the pooled α is "
             "confounded by pooling scales). Reproduced: more than half of the runs; partly: "
             "at least one; opposite: the median above the null's q90 in more than half; "
             "else not reproduced.",
}
VERDICT_RULES["both"] = ("The two parts' verdicts combined: reproduced if both are, "
                         "opposite if both are, not reproduced if neither is reproduced or "
                         "partly, else partly. Alignment: " + VERDICT_RULES["alignment"] +
                         " Tails: " + VERDICT_RULES["tails"])


def alignment_verdict(runs):
    """(verdict, effect, value, spread) of the alignment part."""
    last = [r["points"][-1] for r in runs]
    zhu = np.array([p["zhu_ratio"] for p in last])
    share = np.array([p["sigma_in_top5"] / p["random_baseline"] for p in last])
    aligned = int(np.sum((zhu >= 2) & (share >= 2)))
    if aligned == len(runs):
        result = "reproduced"
    elif 2 * aligned >= len(runs):
        result = "partly"
    elif 2 * np.sum(zhu <= 0.5) >= len(runs):
        result = "opposite"
    else:
        result = "not reproduced"
    effect = (f"Tr(HΣ) / isotropic: median {np.median(zhu):.3g}; Σ in H's top 5 / random: "
              f"median {np.median(share):.3g}; aligned in {aligned}/{len(runs)} runs")
    return result, effect, float(np.median(zhu)), (
        f"range {zhu.min():.3g}–{zhu.max():.3g} (Zhu ratio) over {len(runs)} runs (tasks x b, "
        "one seed)")


def tails_verdict(runs):
    """(verdict, effect, value, spread) of the heavy-tail part (runs whose own b has a tail
    estimate)."""
    own = [(r, r["points"][-1]["tails"].get(str(r["b"]))) for r in runs]
    own = [(r, t) for r, t in own if t is not None]
    heavy = [f"{r['task']} b={r['b']}" for r, t in own if t[1] < t[6]]
    light = sum(t[1] > t[7] for _, t in own)
    if own and 2 * len(heavy) > len(own):
        result = "reproduced"
    elif heavy:
        result = "partly"
    elif own and 2 * light > len(own):
        result = "opposite"
    else:
        result = "not reproduced"
    pooled = [t[0] for _, t in own]
    effect = (f"per-coordinate α below the Gaussian band in {len(heavy)}/{len(own)} runs"
              + (f" ({', '.join(heavy)})" if heavy else "") +
              (f"; pooled α {min(pooled):.2g}–{max(pooled):.2g} (its Gaussian null "
               f"{min(t[5] for _, t in own):.2g}–{max(t[5] for _, t in own):.2g})"
               if own else ""))
    medians = [t[1] for _, t in own]
    return result, effect, (float(np.median(medians)) if medians else None), (
        f"per-coordinate medians {min(medians):.2g}–{max(medians):.2g} over {len(own)} runs "
        "(one seed)" if medians else "no tail estimate")


def combined(verdicts):
    """One verdict from the parts' (VERDICT_RULES['both'])."""
    if all(v == "reproduced" for v in verdicts):
        return "reproduced"
    if all(v == "opposite" for v in verdicts):
        return "opposite"
    if all(v in ("not reproduced", "opposite") for v in verdicts):
        return "not reproduced"
    return "partly"


def verdict(summary, part="both"):
    """The verdict from summary.json of part 'alignment' (Zhu et al.), 'tails' (Simsekli et
    al.) or 'both' (VERDICT_RULES): effect, value, spread, seeds, published, verdict, rule."""
    if part not in VERDICT_RULES:
        raise ValueError(f"part must be one of {sorted(VERDICT_RULES)}, got {part!r}")
    runs = summary["runs"]
    parts = {"alignment": alignment_verdict(runs), "tails": tails_verdict(runs)}
    published = {"alignment": "Tr(HΣ) above its isotropic value (Zhu et al. 2019)",
                 "tails": "pooled tail index α < 2: heavy tails (Simsekli et al. 2019); "
                          "Gaussian-like for b ≥ 256 early (Panigrahi et al. 2019)"}
    if part != "both":
        result, effect, value, spread = parts[part]
    else:
        result = combined([v[0] for v in parts.values()])
        effect = "; ".join(f"{k}: {v[1]} ({v[0]})" for k, v in parts.items())
        value, spread = parts["alignment"][2], parts["alignment"][3]
    return {"effect": effect, "value": value, "spread": spread, "seeds": 1,
            "published": published.get(part, "; ".join(published.values())),
            "verdict": result, "rule": VERDICT_RULES[part]}


if __name__ == "__main__":
    main()
