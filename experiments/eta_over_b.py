"""Claim (docs/science.md section 1): SGD's shrinking of the irrelevant first-layer weights is a
second-order implicit regularization whose strength is eta / b. To second order SGD is
gradient flow on C_SGD in the time tau = eta * t, and the Gamma term's weight is
~ eta / (4b); so runs with the same eta / b should trace the same curve of
||W1[:, S^c]||_F against eta * t, and the shrinkage should grow with eta / b.

A grid of (eta, b) pairs in groups of equal eta / b (every pair of a group uses a different
eta), plus full-batch GD at each eta as the reference, all from the same data and the same
initial weights, each run for the same budget eta * t = T (--budget). Measured:
  * collapse: within each equal-eta/b group, the relative spread (max - min) / mean of the
    irrelevant norm n across the group's runs, at each eta * t (interpolated on a log grid);
    as a control, the same spread within groups of equal eta (different eta / b);
  * late rate: r = ln(n(T/10) / n(T)) / (0.9 T), the mean exponential shrinkage per unit of
    eta * t after the initial fit;
  * excess over GD: e = ln(n_GD(T) / n(T)) / T with n_GD the GD run at the same eta: the
    shrinkage SGD adds to what GD at that step size does (GD's own modified loss already
    has the (eta/4)||grad C||^2 term);
  both fitted on log-log axes against eta / b (slope; 1 = proportional), and as
  ~ eta^alpha * b^beta (a function of eta / b alone would give alpha = -beta).
Outputs in --out: collapse.png (one panel per equal-eta/b group), rates.png, summary.json,
markdown tables on stdout.

Defaults (eta in 0.025..0.2, eta/b in 1/40..1/2560, budget eta*t = 1000, n = 1000 inputs,
N = 2000 pairs) take about 10 s on 2 cores (the runs in --workers processes); --full: the
paper's n = 5000 and eta*t = 10000 (1e5 steps at eta = 0.1; tens of minutes for GD).
"""
import os
import sys
from functools import partial

import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import NullFormatter

from minisgd.report.experiment import distinct_list
from minisgd.report.experiment import (CORES, above, at_least, check_configs, default_to,
                                       experiment_parser, new_figure, run_jobs, save_figure,
                                       start_report)
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, train


def parse_args(argv=None):
    p = experiment_parser(__doc__, "eta_over_b", full="budget eta*t = 10000 (several minutes)",
                          workers=CORES)
    p.add_argument("--lrs", type=distinct_list(float, positive=True), default="0.025,0.05,0.1,0.2",
                   help="step sizes eta")
    p.add_argument("--ratios", type=distinct_list(float, positive=True), default="40,160,640,2560",
                   help="groups: b / eta for each group (eta / b = 1 / value); eta * value "
                        "must be an integer batch size")
    p.add_argument("--budget", type=above(0),
                   help="eta * t of every run; default 1000, --full 10000")
    p.add_argument("--n", type=at_least(1),
                   help="distinct inputs (N = 2n); default 1000, --full 5000")
    p.add_argument("--no-gd", action="store_true", help="skip the GD references (faster)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    default_to(args, budget=10_000.0 if args.full else 1_000.0, n=5_000 if args.full else 1_000)
    if args.budget < 10 * max(args.lrs):
        p.error(f"argument --budget: must be at least 10 steps of the largest eta, "
                f"got {args.budget}")
    for lr in args.lrs:
        for R in args.ratios:
            if abs(lr * R - round(lr * R)) > 1e-9 or round(lr * R) < 1:
                p.error(f"eta={lr} times b/eta={R:g} must be a positive integer batch size")
    return args


def grid(args):
    """(eta, b, ratio) for every pair; ratio = eta / b."""
    return [(lr, int(round(lr * R)), 1.0 / R) for R in args.ratios for lr in args.lrs]


def curve(res, lr, taus):
    """Irrelevant norm interpolated at the times tau = eta * t (linear in log tau)."""
    steps = np.array(res.history["step"][1:], dtype=float)
    values = np.array([np.nan if v is None else v for v in res.history["irrelevant_norm"][1:]])
    return np.interp(np.log(taus), np.log(lr * steps), values)


def rate(res, lr, T):
    n_start, n_end = curve(res, lr, np.array([T / 10, T]))
    return float(np.log(n_start / n_end) / (0.9 * T))


def spread(curves):
    """Relative spread (max - min) / mean across runs, at each tau: (n_tau,)."""
    C = np.array(curves)
    return (C.max(axis=0) - C.min(axis=0)) / C.mean(axis=0)


def group_spreads(runs, key, taus):
    """Per group of equal `key` ('ratio' or 'lr'): max spread over tau and spread at T."""
    out = []
    for value in sorted({r[key] for r in runs}):
        members = [r for r in runs if r[key] == value]
        if len(members) < 2:
            continue
        s = spread([r["curve"] for r in members])
        out.append({key: value, "runs": [(r["lr"], r["b"]) for r in members],
                    "max_spread": float(np.nanmax(s)), "spread_at_budget": float(s[-1]),
                    "final_norms": [r["final"] for r in members]})
    return out


def fit(runs, key):
    """log-log fits of runs' `key` ('rate' or 'excess'): against eta / b, and against eta
    and b separately (runs with a value <= 0 cannot be logged and are listed apart)."""
    ok = [r for r in runs if r[key] is not None and r[key] > 0]
    out = {"quantity": key, "runs_fitted": len(ok),
           "excluded_nonpositive": [(r["lr"], r["b"]) for r in runs if r[key] is not None
                                    and r[key] <= 0]}
    values = [r[key] for r in runs if r[key] is not None]
    if len(values) >= 2:
        rank = lambda v: np.argsort(np.argsort(v))
        ratios = [r["ratio"] for r in runs if r[key] is not None]
        out["spearman_vs_eta_over_b"] = float(np.corrcoef(rank(ratios), rank(values))[0, 1])
    if len(ok) < 4:
        return out
    y = np.log([r[key] for r in ok])
    x = np.log([r["ratio"] for r in ok])
    slope, intercept = np.polyfit(x, y, 1)
    A = np.column_stack([np.ones(len(ok)), np.log([r["lr"] for r in ok]),
                         np.log([r["b"] for r in ok])])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    r2 = lambda pred: float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))
    out.update(slope=float(slope), intercept=float(intercept), r2=r2(slope * x + intercept),
               alpha_eta=float(coef[1]), beta_b=float(coef[2]), r2_two_factor=r2(A @ coef))
    out["slope_at_fixed_eta"] = {}                   # d ln(value) / d ln(eta/b) = -d ln / d ln b
    for lr in sorted({r["lr"] for r in ok}):
        same = [r for r in ok if r["lr"] == lr]
        if len(same) >= 2:
            out["slope_at_fixed_eta"][lr] = float(np.polyfit(
                np.log([r["ratio"] for r in same]), np.log([r[key] for r in same]), 1)[0])
    return out


def fit_text(f, name):
    if "slope" not in f:
        return f"{name}: fewer than 4 positive values, no fit ({f})"
    return (f"{name}: fit over {f['runs_fitted']} runs ∝ (η/b)^{f['slope']:.3f} "
            f"(R² = {f['r2']:.3f}); "
            f"two-factor fit ∝ η^{f['alpha_eta']:.3f} · b^{f['beta_b']:.3f} (R² = "
            f"{f['r2_two_factor']:.3f}); Spearman with η/b = {f['spearman_vs_eta_over_b']:.3f}; "
            f"excluded (≤ 0): {f['excluded_nonpositive']}; slope against η/b at fixed η: "
            + ", ".join(f"η={lr:g}: {v:.2f}" for lr, v in f["slope_at_fixed_eta"].items()))


def run_config(args, lr, b, optimizer="sgd"):
    """The run of step eta = lr for the budget eta * t; GD: the whole set, b unused."""
    sgd_only = {"batch_size": b} if optimizer == "sgd" else {}
    return Config(optimizer=optimizer, lr=lr, steps=int(round(args.budget / lr)), n=args.n,
                  seed=args.seed, records_per_decade=20, **sgd_only)


def one_run(args, taus, job):
    """One run of the grid, job = (lr, b, optimizer): its curve, rates and result."""
    lr, b, optimizer = job
    config = run_config(args, lr, b, optimizer)
    res, steps = train(config), config.steps
    return {"lr": lr, "b": b, "ratio": lr / b, "steps": steps, "result": res,
            "curve": curve(res, lr, taus), "rate": rate(res, lr, args.budget),
            "start": res.history["irrelevant_norm"][0],
            "at_tenth": float(curve(res, lr, np.array([args.budget / 10]))[0]),
            "final": res.final["irrelevant_norm"], "train_loss": res.final["train_loss"],
            "test_loss": res.final["test_loss"], "diverged": res.final["diverged"],
            "wall_time": res.final["wall_time"]}


def report_run(job, r):
    lr, b, optimizer = job
    name = "GD" if optimizer == "gd" else f"b={b:<4d} eta/b=1/{b / lr:<5g}"
    print(f"  eta={lr:<6g} {name:22s} {r['steps']:>7d} steps  irrelevant norm "
          f"{r['final']:.3f}  ({r['wall_time']:.1f} s)", file=sys.stderr, flush=True)


def run_grid(args, taus):
    """SGD runs of the grid and, unless --no-gd, GD at each eta ({eta: run}), in --workers
    processes, the longest first (each run is the same train() wherever it runs)."""
    jobs = [(lr, b, "sgd") for lr, b, _ in grid(args)]
    gd_lrs = [] if args.no_gd else list(args.lrs)
    jobs += [(lr, 2 * args.n, "gd") for lr in gd_lrs]
    cost = lambda job: args.budget / job[0] * (1 + job[1] / 32)     # steps x (1 + rows / 32)
    done = run_jobs(partial(one_run, args, taus), jobs, args.workers, cost=cost,
                    done=report_run)
    runs, gd = done[:len(jobs) - len(gd_lrs)], dict(zip(gd_lrs, done[len(jobs) - len(gd_lrs):]))
    for r in runs:
        ref = gd.get(r["lr"])
        r["excess"] = (None if ref is None
                       else float(np.log(ref["final"] / r["final"]) / args.budget))
    return runs, gd


def styles_for(runs):
    """The step sizes, and a colour and a marker for each."""
    lrs = sorted({r["lr"] for r in runs})
    colors = dict(zip(lrs, colormaps["plasma"](np.linspace(0.0, 0.8, len(lrs)))))
    markers = dict(zip(lrs, "v^os*D"[:len(lrs)]))
    return lrs, colors, markers


def plot_collapse(runs, gd, taus, path, title):
    """One panel per equal-eta/b group: its runs (colour = eta) and GD at each eta (thin)."""
    ratios = sorted({r["ratio"] for r in runs}, reverse=True)
    lrs, colors, _ = styles_for(runs)
    fig, axes = new_figure(1, len(ratios), (4.2 * len(ratios), 4.4), sharey=True,
                           squeeze=False)
    for ax, q in zip(axes[0], ratios):
        for r in (r for r in runs if r["ratio"] == q):
            ax.plot(taus, r["curve"], color=colors[r["lr"]], lw=2.2,
                    label=f"SGD η={r['lr']:g}, b={r['b']}")
        for lr, r in gd.items():
            ax.plot(taus, r["curve"], color=colors[lr], lw=1.0, ls="--",
                    label=f"GD η={lr:g}" if q == ratios[0] else None)
        ax.set_xscale("log")
        ax.set_title(f"η/b = 1/{1 / q:g}", fontsize=10)
        ax.set_xlabel(r"$\eta\, t$  (log scale)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7.5, loc="lower left")
    axes[0][0].set_ylabel(r"irrelevant first-layer norm $\|W_1[:, S^c]\|_F$")
    save_figure(fig, path, title + ". Equal η/b would put a panel's thick curves on one "
                "curve; dashed: GD at each η (the same in every panel)", dpi=105)


RATE_PANELS = (("rate", "late shrinkage rate per unit ηt\n" r"$\ln(n(T/10)/n(T))\,/\,0.9T$"),
               ("excess",
                "excess shrinkage over GD at the same η\n" r"$\ln(n_{GD}(T)/n(T))\,/\,T$"))


def plot_rates(runs, fits, path, title):
    """The late rate (left) and the excess over GD (right) against eta / b, log-log: one
    line per eta (b varies along it), the fit over all runs dashed."""
    fig, axes = new_figure(1, 2, (13, 6))
    for ax, (key, label) in zip(axes, RATE_PANELS):
        draw_rates(ax, runs, key)
        draw_fit(ax, fits[key], [r["ratio"] for r in runs])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("η / b (log scale)")
        ax.set_ylabel(label + "  (≤ 0 drawn at 1e-8)", fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    save_figure(fig, path, title + "; n = irrelevant norm, T = budget", dpi=105)


def draw_rates(ax, runs, key):
    """runs' `key` against eta / b, one line per eta (values <= 0 drawn at 1e-8)."""
    lrs, colors, markers = styles_for(runs)
    for lr in lrs:
        pts = [(r["ratio"], max(r[key], 1e-8)) for r in runs
               if r["lr"] == lr and r[key] is not None]
        if pts:
            ax.plot(*zip(*pts), marker=markers[lr], color=colors[lr], ms=7, lw=0.8,
                    label=f"SGD η = {lr:g} (line: fixed η, varying b)")


def draw_fit(ax, f, ratios):
    """The fit of f (fit()) over the range of ratios, and the two-factor fit as a legend
    entry; nothing when there was too little to fit."""
    if "slope" not in f:
        return
    xs = np.array([min(ratios), max(ratios)])
    ax.plot(xs, np.exp(f["intercept"]) * xs ** f["slope"], "k--", lw=1,
            label=f"fit ∝ (η/b)^{f['slope']:.2f}  (R²={f['r2']:.2f})")
    ax.plot([], [], " ", label=f"two-factor fit ∝ η^{f['alpha_eta']:.2f} · "
                               f"b^{f['beta_b']:.2f}  (R²={f['r2_two_factor']:.2f})")


def tables(runs, gd, by_ratio, by_lr, fits, T):
    rows = [[f"1/{1 / r['ratio']:g}", r["lr"], r["b"], r["steps"], r["start"], r["at_tenth"],
             r["final"], r["rate"], r["excess"], r["train_loss"], r["test_loss"],
             "no" if r["diverged"] is False else f"at {r['diverged']}", r["wall_time"]]
            for r in runs]
    rows += [["GD", lr, r["b"], r["steps"], r["start"], r["at_tenth"], r["final"], r["rate"], None,
              r["train_loss"], r["test_loss"],
              "no" if r["diverged"] is False else f"at {r['diverged']}", r["wall_time"]]
             for lr, r in gd.items()]
    head = ["η/b", "η", "b", "steps", "‖W1[:,Sᶜ]‖ start", f"at ηt={T / 10:g}", f"at ηt={T:g}",
            "late rate", "excess over GD", "train loss", "test loss", "diverged", "time s"]
    pairs = lambda g: ", ".join(f"({a:g},{b})" for a, b in g["runs"])
    group_rows = [[f"equal η/b = 1/{1 / g['ratio']:g}", pairs(g), g["max_spread"],
                   g["spread_at_budget"]] for g in by_ratio]
    group_rows += [[f"control: equal η = {g['lr']:g}", pairs(g), g["max_spread"],
                    g["spread_at_budget"]] for g in by_lr]
    group_head = ["group", "(η, b) runs", "max relative spread over ηt", f"spread at ηt={T:g}"]
    return (markdown_table(head, rows) + "\n\n" + markdown_table(group_head, group_rows)
            + "\n\n" + fit_text(fits["rate"], "late rate")
            + "\n" + fit_text(fits["excess"], "excess over GD"))


def main(argv=None):
    args = parse_args(argv)
    check_configs([run_config(args, lr, b) for lr, b, _ in grid(args)]
                  + [run_config(args, lr, None, "gd") for lr in args.lrs], __file__)
    start = start_report(args.out)
    taus = np.logspace(0, np.log10(args.budget), 60)
    runs, gd = run_grid(args, taus)
    by_ratio = sorted(group_spreads(runs, "ratio", taus), key=lambda g: -g["ratio"])
    by_lr = group_spreads(runs, "lr", taus)
    fits = {key: fit(runs, key) for key in ("rate", "excess")}
    title = (f"same data (N={2 * args.n}) and initial weights for every run; "
             f"budget ηt = {args.budget:g}")
    plot_collapse(runs, gd, taus, os.path.join(args.out, "collapse.png"), title)
    plot_rates(runs, fits, os.path.join(args.out, "rates.png"), title)
    as_json = lambda r: ({k: v for k, v in r.items() if k not in ("result", "curve")}
                         | {"curve": r["curve"].tolist(), "run": r["result"].to_dict()})
    write_report(args.out, {"args": vars(args), "fits": fits, "groups_equal_eta_over_b": by_ratio,
                            "groups_equal_eta": by_lr, "taus": taus.tolist(),
                            "runs": [as_json(r) for r in runs],
                            "gd": {str(lr): as_json(r) for lr, r in gd.items()}},
                 tables(runs, gd, by_ratio, by_lr, fits, args.budget), start)
    return {"runs": runs, "gd": gd, "fits": fits, "by_ratio": by_ratio, "by_lr": by_lr}


# ---- verdict (docs/science.md section 1, "Mechanism"; minisgd report) -------------------
VERDICT_RULE = ("Fit the late rate as ∝ η^α · b^β over the SGD runs (least squares on logs; "
                "SE from its residuals). η/b predicts α = −β and growth with η/b. "
                "Reproduced: α − 2 SE > 0, β + 2 SE < 0 and |α + β| ≤ 2 SE(α + β); partly: "
                "only the growth (α, β of the right signs beyond 2 SE); opposite: both signs "
                "reversed beyond 2 SE; else (or fewer than 4 shrinking runs) not reproduced.")


def rate_fit_with_errors(runs):
    """(alpha, beta, SE alpha, SE beta, alpha + beta, its SE, runs fitted) of the
    least-squares fit ln rate = c + alpha ln eta + beta ln b over the runs with a rate > 0;
    None when that fit is not determined (fewer than 4 runs, or eta or b not varied)."""
    ok = [r for r in runs if isinstance(r.get("rate"), (int, float)) and r["rate"] > 0]
    A = np.column_stack([np.ones(len(ok)), np.log([r["lr"] for r in ok]),
                         np.log([r["b"] for r in ok])])
    if len(ok) < 4 or np.linalg.matrix_rank(A) < 3:
        return None
    y = np.log([r["rate"] for r in ok])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    dof = len(ok) - 3
    sigma2 = float(np.sum((y - A @ coef) ** 2)) / dof if dof > 0 else float("inf")
    cov = sigma2 * np.linalg.inv(A.T @ A)
    se_sum = float(np.sqrt(cov[1, 1] + cov[2, 2] + 2 * cov[1, 2]))
    return (float(coef[1]), float(coef[2]), float(np.sqrt(cov[1, 1])),
            float(np.sqrt(cov[2, 2])), float(coef[1] + coef[2]), se_sum, len(ok))


def verdict(summary):
    """The claim's verdict from summary.json (VERDICT_RULE): effect, value, spread, seeds,
    published, verdict, rule."""
    fit_ = rate_fit_with_errors(summary["runs"])
    published = "a function of η/b alone (same curve against ηt for equal η/b), growing with it"
    if fit_ is None:
        return {"effect": "fewer than 4 runs with a positive late rate: no fit", "value": None,
                "spread": "one seed: no spread", "seeds": 1, "published": published,
                "verdict": "not reproduced", "rule": VERDICT_RULE}
    alpha, beta, se_a, se_b, total, se_total, k = fit_
    if alpha - 2 * se_a > 0 and beta + 2 * se_b < 0:
        result = "reproduced" if abs(total) <= 2 * se_total else "partly"
    elif alpha + 2 * se_a < 0 and beta - 2 * se_b > 0:
        result = "opposite"
    else:
        result = "not reproduced"
    return {"effect": f"late rate ∝ η^{alpha:.2f} · b^{beta:.2f} over {k} runs: α + β = "
                      f"{total:.2f} (0 if η/b alone set it)",
            "value": total,
            "spread": f"± {se_total:.2g} (SE of α + β from the fit's residuals; α ± {se_a:.2g}, "
                      f"β ± {se_b:.2g}; one seed)",
            "seeds": 1, "published": published, "verdict": result, "rule": VERDICT_RULE}


if __name__ == "__main__":
    main()
