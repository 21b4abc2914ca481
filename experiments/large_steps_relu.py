"""Claim (docs/science.md section 2, Andriushchenko et al., ICML 2023): in ReLU networks, SGD
with a large step (kept for a while, then decayed) learns sparser features -- fewer
non-zero hidden activations on the training set -- and generalizes better than SGD with a
small constant step; the longer the large step is kept, the sparser. Label-noise SGD is a
further arm. While the step is large the training loss *stabilizes* (stops decreasing).

Protocol (tml-epfl/sgd-sparse-features: utils.py for the data, fc_nets.py for the nets,
the loop train_fc_net and the feature sparsity; fc_nets_multi_layer.ipynb, last cell, for
the three-layer numbers; fc_nets_two_layer.ipynb, first cell, for the two-layer setup):
  * data: x ~ N(0, I_d) scaled to the unit sphere, n training and 1000 test points, y the
    output of a random ReLU teacher, no label noise. Three-layer: n = 50, d = 5, teacher
    5 -> 2 -> 2 -> 1 with biases, weights N(0, 1), biases PyTorch's default U(+-1/sqrt(fan_in))
    (their init_gaussian sets the weights only). Two-layer: n = 15, d = 2, teacher 2 -> 3 ->
    1 without biases, first-layer rows N(0, I) scaled to unit norm, second layer sign(N(0, 1)).
    Ours from numpy Generators (data draw = data_seed, teacher included); theirs from
    np.random/torch seeds (seed + 1 = 6 and 1) -- other numbers, same distribution;
  * students: three-layer 5 -> 10 -> 10 -> 1 with biases, weights N(0, 0.8^2), biases
    U(+-1/sqrt(fan_in)); two-layer 2 -> 20 -> 1 without biases, W1 N(0, 0.5^2), W2 = 0;
  * loss torch.mean((f - y)^2) = minisgd's mse (no 1/2: the steps are theirs unchanged);
    SGD batch 1, a fresh index per step (np.random.choice(n, 1)), no clipping; 10^4 + 1 steps;
  * step schedule (train_fc_net): eta_t = gamma (1 + (m - 1) (t / T)^0.5) for t < t_d =
    int(p T), then that value / decay from t_d on (T = steps; PublishedSchedule below;
    train()'s own warm-up is linear from 0, so the loop here is train()'s pieces with this
    schedule). Three-layer arms (published): gamma 0.011 constant; gamma 0.04, m = 6, p = 0.1
    / 0.3 / 0.5, decay 3.5 / 2.5 / 5.0. Two-layer: 0.13 constant and 0.455 (no warm-up,
    m = 1) decayed at 10 / 30 / 50 % to 0.13 (factor 3.5): the published steps and
    constant arm; the decay times and factor are OUR choice (the notebook cell that ran
    them was not readable in the stored copy), as is the length, 10^4 + 1 steps. 0.455
    diverges within ~30 steps on most of our draws (it sits at the published draw's edge),
    so three more arms take, per run, the largest step of EDGE_GRID (0.455 down to 0.13)
    that survives EDGE_STEPS constant steps from the same init and SGD seed, decayed to
    0.13 at 10 / 30 / 50 %;
  * label-noise arm (OUR choice of sigma, not published): the small step 0.011 with
    Gaussian label noise sigma = 0.5 on the sampled target for the first half of the run,
    then without (a second train() from the first half's net);
  * counted as published: "active fraction" = (relu(z_l) != 0).mean() on the training set,
    the notebook's printed numbers; "feature sparsity" = fc_nets.feature_sparsity (rows
    normalized, dead neurons dropped, near-duplicates |corr| > 0.99 dropped), the plotted
    one (minisgd.metrics.feature_sparsity).
Published (three-layer, their one seed): active L1 57.0 / 47.6 / 37.8 / 34.0 %, L2 46.6 /
31.2 / 25.2 / 18.2 %, test 0.0614 / 0.0322 / 0.0248 / 0.0206 (constant, decay at 10 / 30 /
50 %); two-layer test 6.10e-4 / 1.62e-4 / 1.38e-4 / 5.41e-5.
Every arm runs --data-seeds draws x --seeds inits/SGD orders; a run that diverges is
counted and listed. Outputs in --out: feature_sparsity.png, stabilization.png (training
loss, sharpness against 2/eta_t, active fraction along one run per arm), summary.json and
a markdown table. Defaults (4 x 4 runs per arm, 2 workers): about 2 minutes on 2 cores;
--full: 8 x 8.
"""
import os
import sys

import numpy as np

import minisgd.metrics.feature_sparsity  # noqa: F401  (registers the metric sets)
import minisgd.metrics.sharpness  # noqa: F401
import minisgd.metrics.stabilization  # noqa: F401
from minisgd.analysis.lanczos import top_hessian_eigenvalues
from minisgd.data import Data
from minisgd.models import MLP
from minisgd.report.experiment import (at_least, default_to, experiment_parser, new_figure,
                                       run_jobs, save_figure, start_report)
from minisgd.report.tables import markdown_table, write_report
from minisgd.train import Config, train

SETUPS = {
    "three-layer": dict(n=50, d=5, teacher=[2, 2], student=[10, 10], bias=True,
                        scales=(0.8, 0.8, 0.8)),
    "two-layer": dict(n=15, d=2, teacher=[3], student=[20], bias=False, scales=(0.5, 0.0)),
}
# (name, gamma, warm-up factor m, decay time p, decay factor, label noise sigma)
ARMS = {
    "three-layer": [("small const 0.011", 0.011, 1.0, 0.0, 1.0, 0.0),
                    ("0.04 warm-up, decay 10%", 0.04, 6.0, 0.1, 3.5, 0.0),
                    ("0.04 warm-up, decay 30%", 0.04, 6.0, 0.3, 2.5, 0.0),
                    ("0.04 warm-up, decay 50%", 0.04, 6.0, 0.5, 5.0, 0.0),
                    ("0.011 + label noise 0.5 (first half)", 0.011, 1.0, 0.0, 1.0, 0.5)],
    "two-layer": [("small const 0.13", 0.13, 1.0, 0.0, 1.0, 0.0),
                  ("0.455, decay 10%", 0.455, 1.0, 0.1, 3.5, 0.0),
                  ("0.455, decay 30%", 0.455, 1.0, 0.3, 3.5, 0.0),
                  ("0.455, decay 50%", 0.455, 1.0, 0.5, 3.5, 0.0),
                  ("edge step, decay 10%", None, 1.0, 0.1, None, 0.0),
                  ("edge step, decay 30%", None, 1.0, 0.3, None, 0.0),
                  ("edge step, decay 50%", None, 1.0, 0.5, None, 0.0)],
}
EDGE_GRID = tuple(float(x) for x in np.geomspace(0.455, 0.13, 9))   # descending
EDGE_STEPS = 1000
PUBLISHED = {("three-layer", 0): (57.0, 46.6, 0.0614), ("three-layer", 1): (47.6, 31.2, 0.0322),
             ("three-layer", 2): (37.8, 25.2, 0.0248), ("three-layer", 3): (34.0, 18.2, 0.0206),
             ("two-layer", 0): (None, None, 6.10e-4), ("two-layer", 1): (None, None, 1.62e-4),
             ("two-layer", 2): (None, None, 1.38e-4), ("two-layer", 3): (None, None, 5.41e-5)}
METRICS = ("feature_sparsity", "sharpness", "stabilization")


def parse_args(argv=None):
    p = experiment_parser(__doc__, "large_steps_relu", full="8 data draws x 8 seeds per arm",
                          workers=2, seeds="inits/SGD orders per draw; default 4, --full 8")
    p.add_argument("--data-seeds", type=at_least(1),
                   help="teacher/data draws; default 4, --full 8")
    p.add_argument("--steps", type=at_least(1), default=10_001)
    args = p.parse_args(argv)
    return default_to(args, data_seeds=8 if args.full else 4, seeds=8 if args.full else 4)


# ---- teacher, data, student ---------------------------------------------------------------
def torch_default_bias(rng, n_in, n_out):
    bound = 1.0 / np.sqrt(n_in)
    return rng.uniform(-bound, bound, size=n_out)


def teacher_net(rng, setup):
    s = SETUPS[setup]
    sizes = [s["d"]] + s["teacher"] + [1]
    Ws = [rng.standard_normal((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]   # (n_in, n_out)
    if setup == "two-layer":
        Ws[0] /= np.linalg.norm(Ws[0], axis=0, keepdims=True)     # each neuron's w unit norm
        Ws[1] = np.sign(Ws[1])
        return MLP.from_weights(Ws, None, activation="relu")
    bs = [torch_default_bias(rng, a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    return MLP.from_weights(Ws, bs, activation="relu")


def sphere(rng, n, d):
    X = rng.standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def teacher_data(setup, data_seed):
    """Data(X, y, X_test, y_test) of one teacher draw (task, train, test streams)."""
    task_rng, train_rng, test_rng = np.random.default_rng(data_seed).spawn(3)
    teacher = teacher_net(task_rng, setup)
    s = SETUPS[setup]
    X, X_test = sphere(train_rng, s["n"], s["d"]), sphere(test_rng, 1000, s["d"])
    return Data(X, teacher.forward(X)[:, 0], X_test, teacher.forward(X_test)[:, 0],
                support=tuple(range(s["d"])))


def student_net(setup, seed):
    s = SETUPS[setup]
    rng = np.random.default_rng([seed, 7])
    sizes = [s["d"]] + s["student"] + [1]
    Ws = [rng.standard_normal((a, b)) * sc for a, b, sc in zip(sizes[:-1], sizes[1:], s["scales"])]
    bs = [torch_default_bias(rng, a, b) for a, b in zip(sizes[:-1], sizes[1:])] if s["bias"] \
        else None
    return MLP.from_weights(Ws, bs, activation="relu")


# ---- the published step schedule and a train() that takes it ------------------------------
class PublishedSchedule:
    """eta_t = gamma (1 + (m - 1) (t / T)^0.5) for t < t_d = int(p T), then eta_{t_d} / decay
    (train_fc_net with warmup_exponent 0.5; p = 0: constant gamma)."""

    def __init__(self, gamma, steps, warmup_factor=1.0, p=0.0, decay=1.0):
        self.gamma, self.T, self.m, self.decay = gamma, steps, warmup_factor, decay
        self.t_d = int(p * steps)

    def __str__(self):
        if not self.t_d:
            return f"constant {self.gamma:g}"
        return (f"eta_t = {self.gamma:g} (1 + ({self.m:g} - 1) (t / {self.T})^0.5) until "
                f"t = {self.t_d}, then / {self.decay:g}")

    def __call__(self, t):
        if self.t_d == 0:
            return self.gamma
        s = min(t, self.t_d)
        lr = self.gamma * (1.0 + (self.m - 1.0) * (s / self.T) ** 0.5)
        return lr / self.decay if t >= self.t_d else lr


def record_steps(steps, count=61):
    """0 .. steps on a linear grid of `count` points (theirs: 151), plus the first 10 steps."""
    grid = np.unique(np.round(np.linspace(0, steps, count)).astype(int))
    return sorted(set(range(min(10, steps))) | {int(t) for t in grid if t > 0} | {steps})


def train_scheduled(config, schedule, data, net, record_at):
    """train() with the published step schedule (LRSchedule cannot express it) and these
    record steps, on the general rows path, one BLAS thread."""
    return train(config, data=data, net=net, schedule=schedule, record_at=record_at, threads=1)


def run_config(setup, steps, seed, data_seed, lr, label_noise=0.0, metrics=METRICS):
    s = SETUPS[setup]
    return Config(task="support", d=s["d"], support=tuple(range(s["d"])), n=s["n"],
                  depth=len(s["student"]), width=s["student"][0],    # data and net are given
                  activation="relu", bias=s["bias"], optimizer="sgd", batch_size=1,
                  replacement=True, clip=None, lr=lr, steps=steps, seed=seed,
                  label_noise=label_noise, metrics=metrics)     # data_seed drew the data


def edge_step(setup, data, net, seed, data_seed):
    """The largest EDGE_GRID step at which a constant-step run of EDGE_STEPS steps (same
    init, same SGD seed) does not diverge (the smallest grid step if all do)."""
    for lr in EDGE_GRID:
        c = run_config(setup, EDGE_STEPS, seed, data_seed, lr, metrics=())
        r = train_scheduled(c, PublishedSchedule(lr, EDGE_STEPS), data, net, [0, EDGE_STEPS])
        if r.final["diverged"] is False:
            return lr
    return EDGE_GRID[-1]


def run_arm(job):
    """One run of one arm: (setup, arm index, data_seed, seed, steps) -> summary dict."""
    setup, k, data_seed, seed, steps = job
    name, gamma, m, p, decay, sigma = ARMS[setup][k]
    data, net = teacher_data(setup, data_seed), student_net(setup, 100 * data_seed + seed)
    if gamma is None:                                  # large step = this run's edge,
        gamma = edge_step(setup, data, net, seed, data_seed)   # decayed to the small step
        decay = gamma / ARMS[setup][0][1]
    metrics = METRICS if (data_seed, seed) == (0, 0) else ("feature_sparsity",)  # the figure's
    config = lambda n_steps, s, lr, noise=0.0: run_config(setup, n_steps, s, data_seed, lr,
                                                          noise, metrics)
    if sigma:                                          # label noise for the first half
        half = steps // 2
        first = train_scheduled(config(half, seed, gamma, sigma),
                                PublishedSchedule(gamma, half), data, net, record_steps(half))
        if first.final["diverged"] is not False:
            result, offset, parts = first, 0, [first]
        else:
            second = train_scheduled(config(steps - half, seed + 10_000, gamma),
                                     PublishedSchedule(gamma, steps - half),
                                     data, first.net, record_steps(steps - half))
            result, offset, parts = second, half, [first, second]
    else:
        result = train_scheduled(config(steps, seed, gamma),
                                 PublishedSchedule(gamma, steps, m, p, decay), data, net,
                                 record_steps(steps))
        offset, parts = 0, [result]
    history = joined_history(parts, [0, offset])
    final = dict(result.final)
    if final["diverged"] is False:                     # lambda_max of the final net, every run
        final["sharpness"] = float(top_hessian_eigenvalues(result.net, data.X, data.y, k=1)[0])
    return {"setup": setup, "arm": k, "name": name, "data_seed": data_seed, "seed": seed,
            "gamma": gamma,
            "final": final, "history": history}


def joined_history(parts, offsets):
    """One history from consecutive runs (steps shifted by each part's start)."""
    out = {}
    for part, off in zip(parts, offsets):
        h = part.history
        rows = range(len(h["step"])) if off == 0 else range(1, len(h["step"]))
        for key, values in h.items():
            out.setdefault(key, []).extend(
                [(values[i] + off) if key == "step" else values[i] for i in rows])
    return out


# ---- summary, table, figures ----------------------------------------------------------------
def quartiles(values):
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return None
    return [float(np.quantile(v, q)) for q in (0.5, 0.25, 0.75)]


def summarize(results, setup):
    rows = []
    layers = len(SETUPS[setup]["student"])
    for k, arm in enumerate(ARMS[setup]):
        runs = [r for r in results if r["setup"] == setup and r["arm"] == k]
        ok = [r["final"] for r in runs if r["final"]["diverged"] is False]
        row = {"setup": setup, "arm": arm[0], "runs": len(runs), "diverged": len(runs) - len(ok),
               "diverged_at": [r["final"]["diverged"] for r in runs
                               if r["final"]["diverged"] is not False],
               "test": quartiles([f["test_loss"] for f in ok]),
               "train": quartiles([f["train_loss"] for f in ok]),
               "sharpness": quartiles([f["sharpness"] for f in ok]),
               "published": PUBLISHED.get((setup, k)),
               "gamma_range": [min(r["gamma"] for r in runs), max(r["gamma"] for r in runs)]}
        for l in range(1, layers + 1):
            for key in ("active_fraction", "feature_sparsity", "distinct_neurons"):
                row[f"{key}_L{l}"] = quartiles([f[f"{key}_L{l}"] for f in ok])
        rows.append(row)
    return rows


def cell(q, scale=1.0, fmt="{:.3g}"):
    if q is None:
        return "–"
    return (fmt + " [" + fmt + ", " + fmt + "]").format(*(x * scale for x in q))


def markdown(rows):
    head = ["setup", "arm", "large step", "runs", "diverged", "active % L1", "active % L2",
            "feature sparsity % L1 (published def.)", "feature sparsity % L2",
            "distinct neurons L1", "test loss", "published active L1 / L2 / test"]
    table = []
    for r in rows:
        pub = r["published"]
        pub_cell = "–" if pub is None else " / ".join("–" if v is None else f"{v:.3g}" for v in pub)
        g = r["gamma_range"]
        table.append([r["setup"], r["arm"], f"{g[0]:.3g}" if g[0] == g[1] else
                      f"{g[0]:.3g}–{g[1]:.3g}", r["runs"], r["diverged"],
                      cell(r.get("active_fraction_L1"), 100, "{:.1f}"),
                      cell(r.get("active_fraction_L2"), 100, "{:.1f}"),
                      cell(r.get("feature_sparsity_L1"), 100, "{:.1f}"),
                      cell(r.get("feature_sparsity_L2"), 100, "{:.1f}"),
                      cell(r.get("distinct_neurons_L1"), 1, "{:.0f}"), cell(r["test"]), pub_cell])
    return markdown_table(head, table)


SPARSITY_PANELS = [  # (setup, final key, scale, y label, index in PUBLISHED)
    ("three-layer", "active_fraction_L1", 100, "three-layer: active % in layer 1", 0),
    ("three-layer", "active_fraction_L2", 100, "three-layer: active % in layer 2", 1),
    ("three-layer", "test_loss", 1, "three-layer: test loss (log scale)", 2),
    ("two-layer", "test_loss", 1, "two-layer: test loss (log scale)", 2)]


def plot_sparsity(results, path, title):
    """Per SPARSITY_PANELS entry: every run's final value per arm (dots), the published one
    (a star)."""
    fig, axes = new_figure(1, 4, (20, 5))
    rng = np.random.default_rng(0)                             # jitter of the dots only
    for ax, (setup, key, scale, label, pub_i) in zip(axes, SPARSITY_PANELS):
        draw_arm_values(ax, results, setup, key, scale, pub_i, rng)
        ax.set_ylabel(label)
        if key == "test_loss":
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path, title, dpi=110)


def draw_arm_values(ax, results, setup, key, scale, pub_i, rng):
    """scale x final[key] of setup's runs that did not diverge, one column per arm."""
    arms = ARMS[setup]
    for k in range(len(arms)):
        vals = [r["final"][key] * scale for r in results if r["setup"] == setup and
                r["arm"] == k and r["final"]["diverged"] is False]
        ax.plot(k + rng.uniform(-0.15, 0.15, len(vals)), vals, "o", ms=4, alpha=0.6,
                color="C0", label="our runs (draws x seeds)" if k == 0 else None)
        pub = PUBLISHED.get((setup, k))
        if pub and pub[pub_i] is not None:
            ax.plot(k, pub[pub_i], "r*", ms=14, label="published (one seed)" if k == 0 else None)
    ax.set_xticks(range(len(arms)))
    ax.set_xticklabels([a[0] for a in arms], rotation=30, ha="right", fontsize=7)


def plot_stabilization(results, path, title):
    """Along the three-layer runs of draw 0, seed 0 (one per arm): the training loss and its
    window median, the sharpness against 2 / eta_t, the active fraction of layer 1."""
    fig, axes = new_figure(1, 3, (18, 4.8))
    first = [r for r in results if r["setup"] == "three-layer" and r["data_seed"] == 0
             and r["seed"] == 0]
    for r in sorted(first, key=lambda r: r["arm"]):
        h, color = r["history"], f"C{r['arm']}"
        step = np.array(h["step"], dtype=float)
        med = np.array([np.nan if v is None else v for v in h["window_loss_median"]], dtype=float)
        axes[0].plot(step, np.array(h["train_loss"], dtype=float), color=color, alpha=0.35, lw=0.8)
        axes[0].plot(step, med, color=color, lw=2, label=r["name"])
        axes[1].plot(step, np.array(h["sharpness"], dtype=float), color=color, lw=1.5,
                     label=fr"{r['name']}: $\lambda_{{max}}$")
        axes[1].plot(step, 2.0 / np.array(h["lr"], dtype=float), color=color, ls="--", lw=1)
        axes[2].plot(step, 100 * np.array(h["active_fraction_L1"], dtype=float), color=color,
                     label=r["name"])
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss: thin at records, thick = median of last window (log)")
    axes[1].set_yscale("log")
    axes[1].set_ylabel(r"$\lambda_{max}$ of the training-loss Hessian (solid), $2/\eta_t$ (dashed)")
    axes[2].set_ylabel("active % of layer-1 ReLUs on the training set")
    for a in axes:
        a.set_xlabel("step")
        a.grid(True, alpha=0.3)
        a.legend(fontsize=7)
    save_figure(fig, path, title, dpi=110)


def main(argv=None):
    args = parse_args(argv)
    start = start_report(args.out)
    jobs = [(setup, k, ds, s, args.steps) for setup in SETUPS for k in range(len(ARMS[setup]))
            for ds in range(args.data_seeds) for s in range(args.seeds)]
    results = run_jobs(run_arm, jobs, args.workers)
    print(f"  {len(results)} runs", file=sys.stderr)
    rows = summarize(results, "three-layer") + summarize(results, "two-layer")
    title = (f"ReLU teacher-student, {args.data_seeds} teacher draws x {args.seeds} inits/SGD "
             f"orders per arm, {args.steps} steps, batch 1")
    plot_sparsity(results, os.path.join(args.out, "feature_sparsity.png"), title)
    plot_stabilization(results, os.path.join(args.out, "stabilization.png"),
                       "three-layer, teacher draw 0, seed 0: one run per arm")
    light = [{k: v for k, v in r.items() if k != "history"} for r in results]
    example = [r for r in results if r["data_seed"] == 0 and r["seed"] == 0]
    write_report(args.out, {"args": vars(args), "table": rows, "runs": light,
                            "example_histories": example}, markdown(rows), start)
    return rows, results


if __name__ == "__main__":
    main()
