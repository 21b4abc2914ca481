"""Claim (SCIENCE.md section 1, "Mechanism"): SGD's shrinking of the irrelevant first-layer
weights is the second-order implicit regularizer of its modified loss

    C_SGD = C + (eta/4) ||grad C||^2 + ((N - b)/(N - 1)) (eta / (4b)) Gamma,

i.e. SGD with step eta follows the gradient flow of C_SGD (Smith et al. 2021). Then full-batch
GD on C_SGD (computed exactly, Hessian-vector products by hand) should shrink the irrelevant
weights like SGD does, while GD on C + (eta/4)||grad C||^2 (GD's own modified loss, no Gamma)
should not.

Arms, all from the same data and the same initial weights (one seed), all run for the same
number of steps of size eta (so for the same time eta * t): SGD at batch size b (several
batch orders), plain GD, and GD on C_SGD and on C + (eta/4)||grad C||^2, each with step eta
and with k sub-steps of eta / k per step (--substeps "1,4"), plus GD on C itself with the
sub-steps (~ the gradient flow of C, no implicit regularization). Step eta is "GD on C_SGD"
taken literally; sub-steps approach the gradient flow of C_SGD that the theory is about (GD
with step eta adds its own discretization terms). Gamma and its share on the irrelevant weights
are recorded along every run (minisgd.analysis.gradient_noise). Outputs in --out: modified_loss.png
(irrelevant norm, Gamma on the irrelevant weights, training loss against the step),
summary.json, and a markdown table on stdout.

Defaults (n = 1000 inputs, N = 2000 pairs, b = 8, eta = 0.1, 2000 steps, sub-steps 1 and 4)
take about a minute on 2 cores: one C_SGD gradient costs ~6 plain full-batch gradients.
--full: the paper's n = 5000 (N = 10000) and 20000 steps (about half an hour). BLAS threads
are set to 1 (the matrices are 15 x 15; threads only add contention on a shared machine).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import ctypes  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

import numpy as np  # noqa: E402

from minisgd.analysis.gradient_noise import gradient_noise_metrics  # noqa: E402
from minisgd.report.tables import fmt, markdown_table, number_list, write_report  # noqa: E402
from minisgd.analysis.modified_loss import train_modified  # noqa: E402
from minisgd.train import Config, build_net, make_data, spawn_rngs, train  # noqa: E402


def keep_freed_memory():
    """Ask glibc to keep freed memory instead of returning it to the OS after every step
    (M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = 512 MB, 64 MB). A C_SGD gradient allocates ~30
    temporaries per piece of rows and keeps the first pass's ones for the second; without
    this, freeing them returns the memory to the OS and the next step faults it back in
    (measured at N = 2000: 1.9 ms per gradient with it, 2.8-3.7 ms without). No effect on
    the numbers; silently skipped off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 512 * 2 ** 20)
        libc.mallopt(-3, 64 * 2 ** 20)
    except (OSError, AttributeError):
        pass


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join("results", "modified_loss"))
    p.add_argument("--full", action="store_true", help="n=5000, 20000 steps (~30 min)")
    p.add_argument("--steps", type=int, help="default 2000, --full 20000")
    p.add_argument("--n", type=int, help="distinct inputs (N = 2n); default 1000, --full 5000")
    p.add_argument("--batch-size", type=int, default=8, help="b of the SGD run and of C_SGD")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--sgd-orders", type=int, default=4, help="SGD batch orders (seeds)")
    p.add_argument("--substeps", type=number_list(int, positive=True), default="1,4",
                   help="comma-separated k: GD on each modified loss is run with k steps of "
                        "eta/k per SGD step, for each k (k > 1: closer to the gradient flow; "
                        "costs k times more)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.steps is None:
        args.steps = 20_000 if args.full else 2_000
    if args.n is None:
        args.n = 5_000 if args.full else 1_000
    for name in ("steps", "n", "batch_size", "sgd_orders"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not args.lr > 0:
        p.error(f"--lr must be > 0, got {args.lr}")
    return args


def run_arms(args):
    """(label, kind, Result) per arm. SGD batch orders differ only in their batch stream:
    data and initial weights are passed in, drawn from args.seed as train(config) would."""
    config = Config(n=args.n, lr=args.lr, batch_size=args.batch_size, steps=args.steps,
                    seed=args.seed, records_per_decade=10)
    config = config.validate()                                   # resolved
    data_rng, init_rng = spawn_rngs(args.seed)[:2]
    data = make_data(data_rng, config.d, config.support, config.n, config.target, config.input,
                     config.center, config.double, config.label_eps, config.n_test)
    net = build_net(config, init_rng)
    noise = gradient_noise_metrics(chunk=1024)
    arms = []

    def run(label, kind, fn):
        start = time.perf_counter()
        res = fn()
        print(f"  {label:34s} irrelevant norm {res.final['irrelevant_norm']:.3f}  "
              f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
        arms.append((label, kind, res))

    b = args.batch_size
    for k in range(args.sgd_orders):
        cfg = replace(config, seed=args.seed + 1000 + k)          # batch order only
        run(f"SGD b={b} (order {k})", "sgd", lambda: train(cfg, data=data, net=net,
                                                           extra_metrics=noise))
    gd = replace(config, optimizer="gd", batch_size=None, replacement=None)  # not for GD
    run("GD", "gd", lambda: train(gd, data=data, net=net, extra_metrics=noise))
    objectives = (("c_sgd", f"GD on C_SGD (b={b})", True, True),
                  ("grad_norm", "GD on C + (η/4)‖∇C‖²", False, True),
                  ("plain", "GD on C", False, False))
    for k in args.substeps:
        step = "step η" if k == 1 else f"step η/{k}"
        for kind, name, variance, grad_norm in objectives:
            if kind == "plain" and k == 1:
                continue                                   # that is the GD arm above
            run(f"{name}, {step}", f"{kind}/{k}",
                lambda: train_modified(config, variance=variance, grad_norm=grad_norm,
                                       data=data, net=net, extra_metrics=noise, substeps=k))
    return arms


def kinds(arms):
    """Arm kinds in order of first appearance: 'sgd', 'gd', 'c_sgd/k', 'grad_norm/k'."""
    return list(dict.fromkeys(k for _, k, _ in arms))


def table_rows(arms):
    """One row per kind (SGD: mean over batch orders, with min-max of the final norm)."""
    sgd = [r for _, k, r in arms if k == "sgd"]
    start = sgd[0].history["irrelevant_norm"][0]
    sgd_drop = start - np.mean([r.final["irrelevant_norm"] for r in sgd])
    rows = []
    for kind in kinds(arms):
        runs = [(l, r) for l, k, r in arms if k == kind]
        label = runs[0][0].split(" (order")[0] + (f" ({len(runs)} orders)" if kind == "sgd" else "")
        finals = [r.final["irrelevant_norm"] for _, r in runs]
        h = [r.history for _, r in runs]
        mean = lambda key: float(np.mean([r.final[key] for _, r in runs]))
        last = lambda key: float(np.mean([x[key][-1] for x in h]))
        rows.append({
            "arm": label, "kind": kind, "steps": runs[0][1].final["steps_done"],
            "irrelevant_start": start, "irrelevant_final": float(np.mean(finals)),
            "irrelevant_final_range": [float(min(finals)), float(max(finals))],
            "fraction_of_sgd_drop": (start - float(np.mean(finals))) / sgd_drop,
            "relevant_final": mean("relevant_norm"), "train_loss": mean("train_loss"),
            "test_loss": mean("test_loss"), "gamma_final": last("gamma"),
            "gamma_irrelevant_share": last("gamma_irrelevant") / last("gamma"),
            "grad_norm_sq_final": last("grad_norm_sq"),
            "recall_precision": [mean("recall"), mean("precision")],
            "diverged": [r.final["diverged"] for _, r in runs],
            "wall_time": float(sum(r.final["wall_time"] for _, r in runs))})
    return rows


def markdown(rows):
    head = ["arm", "steps", "‖W1[:,Sᶜ]‖ start", "‖W1[:,Sᶜ]‖ final", "fraction of SGD's drop",
            "‖W1[:,S]‖ final", "train loss", "test loss", "Γ final", "Γ share on W1[:,Sᶜ]",
            "‖∇C‖² final", "time s"]
    table = []
    for r in rows:
        lo, hi = r["irrelevant_final_range"]
        final = fmt(r["irrelevant_final"]) + (f" ({lo:.3g}–{hi:.3g})" if hi > lo else "")
        cells = [r["arm"], fmt(r["steps"]), fmt(r["irrelevant_start"]), final,
                 fmt(r["fraction_of_sgd_drop"]), fmt(r["relevant_final"]), fmt(r["train_loss"]),
                 fmt(r["test_loss"]), fmt(r["gamma_final"]), fmt(r["gamma_irrelevant_share"]),
                 fmt(r["grad_norm_sq_final"]), fmt(r["wall_time"])]
        if any(d is not False for d in r["diverged"]):
            cells[0] += f" (diverged at {r['diverged']})"
        table.append(cells)
    return markdown_table(head, table)


COLORS = {"sgd": "tab:blue", "gd": "black", "c_sgd": "tab:red", "grad_norm": "tab:green",
          "plain": "black"}


def style(kind):
    """SGD thin blue; GD dashed black; C_SGD red, C + (eta/4)|grad C|^2 green; GD on C with
    sub-steps black; solid for step eta, dotted for sub-steps."""
    if kind == "sgd":
        return dict(color=COLORS["sgd"], lw=1.0, alpha=0.7)
    if kind == "gd":
        return dict(color="black", ls="--", lw=1.8)
    name, k = kind.split("/")
    return dict(color=COLORS[name], lw=2.2 if k == "1" else 1.8, ls="-" if k == "1" else ":")


def plot(arms, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    seen = set()
    for label, kind, res in arms:
        h = res.history
        x = np.array(h["step"], dtype=float)
        x[0] = x[1] / 2                                   # show step 0 on the log axis
        name = label.split(" (order")[0] + (" (each batch order)" if kind == "sgd" else "")
        lab = None if kind in seen else name
        seen.add(kind)
        axes[0].plot(x, h["irrelevant_norm"], label=lab, **style(kind))
        axes[1].plot(x, h["gamma_irrelevant"], **style(kind))
        axes[2].plot(x, h["train_loss"], **style(kind))
    axes[0].set_ylabel(r"irrelevant first-layer norm $\|W_1[:, S^c]\|_F$")
    axes[1].set_ylabel(r"$\Gamma$ on the irrelevant weights $W_1[S^c, :]$")
    axes[2].set_ylabel("training loss C (mse, whole training set)")
    for ax in axes[1:]:
        ax.set_yscale("log")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("training step t in steps of η (log scale)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower left")
    axes[1].set_title("per-sample gradient variance, measured at each run's iterates",
                      fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=105)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    keep_freed_memory()
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    try:
        arms = run_arms(args)
    except (ValueError, TypeError) as err:
        sys.exit(f"modified_loss.py: error: {err}")
    N = 2 * args.n
    k = (N - args.batch_size) / (N - 1) * args.lr / (4 * args.batch_size)
    plot(arms, os.path.join(args.out, "modified_loss.png"),
         f"same data (N={N}) and init; eta={args.lr}, b={args.batch_size}: "
         f"C_SGD = C + {args.lr / 4:g}|grad C|^2 + {k:.3g} Gamma")
    rows = table_rows(arms)
    write_report(args.out, {"args": vars(args), "gamma_coefficient": k, "table": rows,
                            "runs": {l: r.to_dict() for l, _, r in arms}},
                 markdown(rows), start)
    return rows


if __name__ == "__main__":
    main()
