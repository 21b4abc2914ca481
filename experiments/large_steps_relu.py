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

Real data (--dataset mnist1d; issue 22, section 2, item 4): the same claim for an MLP
classifier on MNIST-1D, after the published real-data protocol (tml-epfl/sgd-sparse-features,
deep_nets/: train.py, utils_train.get_lr_schedule "piecewise_0{1,3,5}epochs", the runs listed
in plot_feature_sparsity.ipynb: CIFAR-10, ResNet-18, lr 0.002 constant against lr_max 0.05
kept for 10 / 30 / 50 % of the run, then divided by 10). REAL holds the defaults.
  * data: MNIST-1D (minisgd.data.real: make_dataset(get_dataset_args()), its own 4000 / 1000
    split, inputs centred by the training mean), all 4000 training rows (--n: a prefix).
    Why MNIST-1D: its MLPs overfit (published MLP baseline 68 % test accuracy, ours 62 % at
    the small step) -- room for an implicit regularizer to show in test error -- and its 40
    inputs make a run ~4x cheaper than MNIST's 784 here (10^4 steps: ~2.5 s of CPU against
    ~9 s). The other two real sets were scanned (10^4 constant steps, width 100,
    cross-entropy, b = 32, 1-2 seeds) and show no loss stabilization at any step short of
    divergence: MNIST (5000 images) fits its training set at every step 0.05 - 0.9, the
    loss falling throughout (to 2e-3 - 1e-5), and diverges at 1.0; digits fits at every
    step 0.05 - 1.0 (loss 3e-3 - 4e-5). Without a stabilizing large step the protocol has
    nothing to test there, so --dataset takes mnist1d only (REAL is where another set's
    measured defaults would go);
  * net: 40 -> 100 -> 100 -> 10, ReLU, biases, PyTorch's default init U(+-1/sqrt(fan_in))
    -- MNIST-1D's MLPBase (greydanus/mnist1d, notebooks/models.py, hidden_size 100) without
    its residual connection around layer 2 (minisgd's MLP has none: OUR departure);
  * loss: cross-entropy, as the published real-data code (deep_nets/train.py:
    F.cross_entropy) and MNIST-1D's baselines (nn.CrossEntropyLoss) train; the square loss
    of the synthetic arms above is the teacher's regression loss. Once a cross-entropy
    classifier fits its training set the loss (and with it SGD's noise) goes to zero, so
    whether the large step keeps the loss up is checked in every run (rule (1) below);
  * optimizer: plain SGD, batch 32, without replacement (epochs, as a shuffled DataLoader),
    no momentum, weight decay, clipping or augmentation: the claim is about the step size
    alone. Departures from the CIFAR runs: batch 256, momentum 0.9, weight decay 5e-4,
    augmentation, 100 epochs. Ours: 25 000 steps = 200 epochs, long enough for the arm
    decayed at 50 % to fit its training set (train error 0.3 %);
  * arms (PublishedSchedule with m = 1): the small step 0.05 constant; the large step 0.5
    kept until t_d = int(p T), p = 0.1 / 0.3 / 0.5, then divided by 10 (the published factor)
    -- onto the small step, so the decayed arms differ from each other and from the small
    arm only in how long the large step was kept; and the large step never decayed (p = 1,
    the limit). Departures: their code divides lr_max by 10 x 0.5 / p (0.001 / 0.003 /
    0.005 after lr_max 0.05) and again by 100 at 90 % of the run; their small step is 1/25
    of the large, ours 1/10. Each seed fixes the init and the batch order, shared by every
    arm (paired comparisons); --seeds 5 by default;
  * the large step, by measurement: --scan 0.05,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,1 --steps
    10000 --seeds 2 (constant steps, 10^4 steps each; table in docs/science.md). Up to 0.3
    the training loss keeps falling (to 6e-4 at 0.3, train error 0); from 0.4 on it
    stabilizes: its median over the last quarter is no lower than 0.7 x that over the second
    quarter, at 0.24 / 0.50 / 0.54 / 0.74 / 0.98 / 1.75 for 0.4 / 0.5 / 0.6 / 0.7 / 0.8 / 1
    (train error 9 / 12 / 15 / 27 / 34 / 72 %); none diverges, but the larger steps lose
    more of the fit, and at 1 layer 2 is nearly dead (0.5 % active). 0.5 is one grid step
    above the onset of stabilization (0.4): bouncing at a fifth of chance-level loss ln 10,
    not lost. Isolated records at chance-level loss occur at 0.5 (1 run of 2), 0.6, 0.8 and
    1; the protocol's own 0.5 runs record none over their large-step phases. The small
    step is 0.5 / 10. Sensitivity (--lr-large 0.4 and 0.7, 3 seeds): docs/science.md;
  * counted at the end of each run: test error = 1 - test accuracy on the 1000 test
    signals; per hidden layer the published feature sparsity (minisgd.metrics.feature_sparsity:
    fc_nets.py's score, dead and |corr| > 0.99 duplicate neurons dropped; deep_nets/
    utils_eval.py drops |corr| > 0.95 without normalizing rows, which changes no non-zero)
    and the plain active fraction, on the 4000 training signals;
  * verdict (real_verdict; the rule is printed with it): (1) the large step stabilizes the
    loss: over the longest-kept arm's large-step phase (T/20 to its decay) the median loss
    of the second half is >= FALLING (0.7) x that of the first half in every seed, while
    the small step's loss over the same steps falls below 0.7 x in every seed, and no run
    reaches ln C there; (2) per hidden layer, the arm means of feature sparsity do not rise
    along small -> 10 -> 30 -> 50 %, and the 50 % arm is below the small arm in every seed;
    (3) every decayed arm's paired mean test error is below the small arm's; (4) no step
    along small -> 10 -> 30 -> 50 % raises the paired mean test error by more than 2
    standard errors. Reproduced = (1), (2) in every layer, (3) and (4); partly = (1) and
    some of (2) - (4); not reproduced = (1) and none; inconclusive = not (1).
Outputs (--out, default results/large_steps_relu_mnist1d): feature_sparsity.png (per arm,
mean +- std and each seed: feature sparsity of both layers, test error), training.png
(training loss, test error and layer-2 sparsity along seed 0's run of each arm),
summary.json, the table and the verdict. Default: 5 arms x 5 seeds x 25 000 steps, 200 -
245 s of CPU (user + sys, measured on a shared 2-core machine) on 2 workers; --full: 10 seeds.
"""
import functools
import os
import sys

import numpy as np

from minisgd.metrics import feature_sparsity, sharpness, stabilization
from minisgd.analysis.lanczos import top_hessian_eigenvalues
from minisgd.data import Data
from minisgd.models import MLP
from minisgd.data.real import SIZES, real_classification
from minisgd.report.experiment import (above, at_least, default_to, distinct_list,
                                       experiment_parser, new_figure, run_jobs, save_figure,
                                       sign_test, start_report)
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
REGISTERED = (feature_sparsity, sharpness, stabilization)   # importing registers METRICS


def parse_args(argv=None):
    p = experiment_parser(__doc__, "large_steps_relu", full="8 data draws x 8 seeds per arm "
                          "(with --dataset: 10 seeds)", workers=2,
                          seeds="inits/SGD orders per draw; default 4, --full 8 (with "
                          "--dataset: seeds per arm, default 5, --full 10)")
    p.set_defaults(out=None)           # results/large_steps_relu, or ..._<dataset> with --dataset
    next(a for a in p._actions if a.dest == "out").help = (
        "folder for the figures and summary.json (default results/large_steps_relu; with "
        "--dataset: results/large_steps_relu_<dataset>)")
    p.add_argument("--data-seeds", type=at_least(1),
                   help="teacher/data draws; default 4, --full 8 (not with --dataset)")
    p.add_argument("--steps", type=at_least(1),
                   help="steps per run; default 10001 (with --dataset: the dataset's, REAL)")
    real = p.add_argument_group("real data (an MLP classifier; every option below needs "
                                "--dataset; defaults per dataset in REAL)")
    real.add_argument("--dataset", choices=sorted(REAL), help="run the real-data protocol "
                      "on this dataset instead of the synthetic teacher (module docstring)")
    real.add_argument("--n", type=at_least(1), help="training rows (a prefix of the fixed "
                      "split; default all)")
    real.add_argument("--width", type=at_least(1), help="hidden units per layer (2 layers)")
    real.add_argument("--batch-size", type=at_least(1), help="SGD batch size")
    real.add_argument("--lr-small", type=above(0), help="the small constant step; the large "
                      "step decays to it")
    real.add_argument("--lr-large", type=above(0), help="the large step, kept until a "
                      "fraction --keep of the run")
    real.add_argument("--keep", type=distinct_list(float, positive=True),
                      help="fractions of the run the large step is kept (default 0.1,0.3,0.5)")
    real.add_argument("--scan", type=distinct_list(float, positive=True), metavar="LRS",
                      help="instead of the protocol: constant-step runs at these steps (e.g. "
                           "0.05,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,1), a table of stabilization "
                           "and collapse per step -- how lr-large was chosen")
    args = p.parse_args(argv)
    if args.dataset is None:
        for name in REAL_OPTIONS:
            if getattr(args, name) is not None:
                p.error(f"argument --{name.replace('_', '-')}: needs --dataset (it sets up "
                        f"the real-data run)")
        return default_to(args, data_seeds=8 if args.full else 4, seeds=8 if args.full else 4,
                          steps=10_001, out=os.path.join("results", "large_steps_relu"))
    if args.data_seeds is not None:
        p.error("argument --data-seeds: not with --dataset (real data has one fixed split; "
                "--seeds sets the runs per arm)")
    if args.keep is not None and not all(0 < k < 1 for k in args.keep):
        p.error(f"argument --keep: each fraction must be in (0, 1), got {args.keep}")
    defaults = REAL[args.dataset]
    default_to(args, seeds=10 if args.full else 5, keep=list(REAL_KEEP),
               out=os.path.join("results", f"large_steps_relu_{args.dataset}"),
               **{k: v for k, v in defaults.items()})
    if args.lr_small >= args.lr_large:
        p.error(f"argument --lr-small: must be below --lr-large ({args.lr_large:g}), got "
                f"{args.lr_small:g}")
    limit = SIZES[args.dataset][1]
    if args.n is not None and args.n > limit:
        p.error(f"argument --n: must be <= {limit} (the training rows of {args.dataset}), "
                f"got {args.n}")
    if args.batch_size > (args.n or limit):
        p.error(f"argument --batch-size: must be <= the training rows ({args.n or limit}), "
                f"got {args.batch_size}")
    return args


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


# ---- real data (--dataset): an MLP classifier on real digits --------------------------------
# per dataset: 2 hidden layers of `width`, SGD batch, steps, the small and the large step
# (module docstring: where each comes from, how lr_large was measured with --scan)
REAL = {"mnist1d": dict(width=100, batch_size=32, steps=25_000, lr_small=0.05, lr_large=0.5)}
REAL_KEEP = (0.1, 0.3, 0.5)
REAL_OPTIONS = ("dataset", "n", "width", "batch_size", "lr_small", "lr_large", "keep", "scan")
REAL_LAYERS = 2
REAL_METRICS = ("feature_sparsity_L1", "feature_sparsity_L2", "active_fraction_L1",
                "active_fraction_L2", "distinct_neurons_L1", "distinct_neurons_L2")
FALLING = 0.7            # a loss "falls" over a window when late median < 0.7 x early median
SIGNIFICANT = 2.0        # a paired mean difference > 2 standard errors counts as a rise


@functools.lru_cache(maxsize=2)
def real_data(name, n):
    """The Data of a real dataset (minisgd.data.real), read once per process."""
    return real_classification(name, n)


def real_settings(args):
    """What every real-data run of this invocation shares."""
    return {"dataset": args.dataset, "n": args.n, "width": args.width,
            "batch_size": args.batch_size, "steps": args.steps, "lr_small": args.lr_small,
            "lr_large": args.lr_large, "keep": tuple(args.keep)}


def real_arms(s):
    """[(name, schedule)]: the small constant step, the large step decayed to the small one
    at each keep fraction p (PublishedSchedule with m = 1, decay = lr_large / lr_small),
    and the large step never decayed (p = 1, the limit of keeping it longer)."""
    T, small, large = s["steps"], s["lr_small"], s["lr_large"]
    arms = [(f"small const {small:g}", PublishedSchedule(small, T))]
    arms += [(f"{large:g}, decay at {100 * p:g}%", PublishedSchedule(large, T, 1.0, p,
                                                                    large / small))
             for p in s["keep"]]
    return arms + [(f"large const {large:g}", PublishedSchedule(large, T))]


def real_config(s, seed, lr, steps):
    """The Config of a real-data run (the data and the schedule are given to train())."""
    return Config(task="classification", depth=REAL_LAYERS, width=s["width"],
                  activation="relu", bias=True, init_scheme="torch_default",
                  loss="cross_entropy", optimizer="sgd", batch_size=s["batch_size"],
                  clip=None, lr=lr, steps=steps, seed=seed, metrics=("feature_sparsity",))


def real_record_steps(s):
    """record_steps(T) plus every decay step and the step before it."""
    T = s["steps"]
    extra = {int(p * T) + d for p in s["keep"] for d in (-1, 0)}
    return sorted(set(record_steps(T)) | {t for t in extra if 0 < t < T})


def large_phase(s, k):
    """(start, end) record steps over which arm k's loss is compared with the small step's:
    from T/20 to the decay (the large-const arm: to T; the small arm: as the longest-kept
    decayed arm)."""
    T, keep = s["steps"], s["keep"]
    ends = [T] + [int(p * T) for p in keep] + [T]
    end = int(max(keep) * T) if k == 0 else ends[k]
    return T // 20, end


def run_real(job):
    """One real-data run: (settings, arm index, seed) -> summary dict with its history."""
    s, k, seed = job
    name, schedule = real_arms(s)[k]
    data = real_data(s["dataset"], s["n"])
    r = train(real_config(s, seed, schedule(0), s["steps"]), data=data, schedule=schedule,
              record_at=real_record_steps(s), threads=1)
    return {"arm": k, "name": name, "seed": seed, "schedule": str(schedule),
            "final": real_final(r.final, r.history, large_phase(s, k), data.classes),
            "history": {key: r.history[key] for key in
                        ("step", "lr", "train_loss", "test_accuracy", "train_accuracy",
                         "feature_sparsity_L1", "feature_sparsity_L2")}}


def real_final(final, history, window, classes):
    """The numbers a run reports: test / train error, the sparsity columns, and over the
    window (start, end) of record steps: the median training loss over its first and its
    second half and their ratio (late / early: < FALLING means the loss still falls, about 1
    or more that it has stabilized), and whether the loss ever reached chance level
    ln(classes) there (a collapse, not a bounce)."""
    out = {"diverged": final["diverged"], "train_loss": final["train_loss"],
           "test_error": 1.0 - final["test_accuracy"],
           "train_error": 1.0 - final["train_accuracy"],
           **{m: final[m] for m in REAL_METRICS}}
    start, end = window
    losses = [c for t, c in zip(history["step"], history["train_loss"]) if start <= t < end]
    steps = [t for t in history["step"] if start <= t < end]
    half = [t < (start + end) / 2 for t in steps]
    early = [c for c, h in zip(losses, half) if h]
    late = [c for c, h in zip(losses, half) if not h]
    out["phase_loss_early"] = float(np.median(early)) if early else None
    out["phase_loss_late"] = float(np.median(late)) if late else None
    out["phase_ratio"] = out["phase_loss_late"] / out["phase_loss_early"] \
        if early and late else None
    out["collapsed"] = bool(losses and max(losses) >= np.log(classes))
    return out


def mean_std(values):
    """[mean, std over seeds (ddof 1; 0 for one seed)] of the non-None values, or None."""
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return None
    return [float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0]


REAL_COLUMNS = ("test_error", "train_error", "train_loss") + REAL_METRICS + \
    ("phase_loss_early", "phase_loss_late", "phase_ratio")


def summarize_real(results, s):
    rows = []
    for k, (name, schedule) in enumerate(real_arms(s)):
        runs = sorted((r for r in results if r["arm"] == k), key=lambda r: r["seed"])
        ok = [r["final"] for r in runs if r["final"]["diverged"] is False]
        row = {"arm": name, "schedule": str(schedule), "runs": len(runs),
               "diverged": len(runs) - len(ok),
               "collapsed": sum(bool(f["collapsed"]) for f in ok),
               "phase": list(large_phase(s, k))}
        for key in REAL_COLUMNS:
            row[key] = mean_std([f[key] for f in ok])
            row[key + "_per_seed"] = [f[key] for f in ok]
        rows.append(row)
    return rows


def paired(a_row, b_row, key):
    """Per-seed differences a - b of `key` (the runs are paired: same seed = same init and
    batch order), their mean and standard error (0 for one seed)."""
    d = np.array(a_row[key + "_per_seed"], dtype=float) - \
        np.array(b_row[key + "_per_seed"], dtype=float)
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0
    return {"per_seed": [float(x) for x in d], "mean": float(d.mean()), "se": se}


def real_verdict(rows, s):
    """The verdict from the numbers, by the rule stated in `rule` (module docstring)."""
    small, decayed = rows[0], rows[1:1 + len(s["keep"])]
    longest, chain = decayed[-1], [small] + decayed
    order = " -> ".join(["small const"] + [f"decay at {100 * p:g}%" for p in s["keep"]])
    rule = (f"(1) stabilization: over the longest-kept arm's large-step phase (T/20 to its "
            f"decay), the median training loss of the phase's second half is >= {FALLING:g} x "
            f"that of its first half in every seed, while the small step's loss over the same "
            f"steps falls below {FALLING:g} x in every seed, and no run reaches chance-level "
            f"loss ln C there; (2) sparsity falls in layer l: the arm means of feature sparsity"
            f" are non-increasing along {order}, and the longest-kept arm is below the small "
            f"arm in every seed (paired); (3) the large step helps: every decayed arm's test "
            f"error is below the small arm's in paired mean; (4) test error does not rise as "
            f"the large step is kept longer: no step along {order} raises the paired mean test "
            f"error by more than {SIGNIFICANT:g} standard errors. Reproduced = (1) and (2) in "
            f"every layer and (3) and (4); partly = (1) and some of (2)-(4); not reproduced = "
            f"(1) and none of (2)-(4); inconclusive = not (1) or a run diverged.")
    checks = {}
    if any(r["diverged"] for r in chain):
        return {"verdict": "inconclusive: a run diverged", "rule": rule, "checks": checks}
    checks["longest_phase_ratio_per_seed"] = longest["phase_ratio_per_seed"]
    checks["small_phase_ratio_per_seed"] = small["phase_ratio_per_seed"]
    checks["collapsed_runs"] = longest["collapsed"]
    checks["stabilized"] = bool(
        all(x is not None and x >= FALLING for x in longest["phase_ratio_per_seed"]) and
        all(x is not None and x < FALLING for x in small["phase_ratio_per_seed"]) and
        longest["collapsed"] == 0)
    falls = []
    for l in range(1, REAL_LAYERS + 1):
        key = f"feature_sparsity_L{l}"
        means = [r[key][0] for r in chain]
        d = paired(longest, small, key)
        checks[f"L{l}_means"] = means
        checks[f"L{l}_longest_minus_small"] = d
        checks[f"L{l}_sparsity_falls"] = bool(all(b <= a for a, b in zip(means, means[1:])) and
                                              all(x < 0 for x in d["per_seed"]))
        falls.append(checks[f"L{l}_sparsity_falls"])
    helps = [paired(r, small, "test_error") for r in decayed]
    steps = [paired(b, a, "test_error") for a, b in zip(chain[1:], chain[2:])]
    checks["test_error_decayed_minus_small"] = helps
    checks["test_error_next_minus_previous"] = steps
    checks["large_step_helps"] = bool(all(h["mean"] < 0 for h in helps))
    checks["test_error_does_not_rise"] = bool(all(st["mean"] <= SIGNIFICANT * st["se"]
                                                  for st in steps))
    parts = falls + [checks["large_step_helps"], checks["test_error_does_not_rise"]]
    if not checks["stabilized"]:
        verdict = ("inconclusive: the large step did not stabilize the loss, or collapsed "
                   "(choose --lr-large with --scan)")
    elif all(parts):
        verdict = "reproduced"
    elif any(parts):
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return {"verdict": verdict, "rule": rule, "checks": checks}


def pm(ms, scale=1.0, digits=1):
    return "–" if ms is None else f"{ms[0] * scale:.{digits}f} ± {ms[1] * scale:.{digits}f}"


def markdown_real(rows):
    head = ["arm", "runs", "test error %", "train error %", "feature sparsity % L1",
            "feature sparsity % L2", "active % L1", "active % L2", "distinct neurons L1",
            "distinct neurons L2", "train loss over the large-step phase: 1st half -> 2nd half "
            "(median)", "collapsed"]
    table = []
    for r in rows:
        early, late = r["phase_loss_early"], r["phase_loss_late"]
        phase = "–" if early is None or late is None else \
            f"{early[0]:.3g} -> {late[0]:.3g} (steps {r['phase'][0]}–{r['phase'][1]})"
        table.append([r["arm"], r["runs"] - r["diverged"], pm(r["test_error"], 100),
                      pm(r["train_error"], 100), pm(r["feature_sparsity_L1"], 100),
                      pm(r["feature_sparsity_L2"], 100), pm(r["active_fraction_L1"], 100),
                      pm(r["active_fraction_L2"], 100), pm(r["distinct_neurons_L1"], 1, 0),
                      pm(r["distinct_neurons_L2"], 1, 0), phase, r["collapsed"]])
    return markdown_table(head, table)


def verdict(summary):
    """The claim's verdict from summary.json, for `python -m minisgd report`: real_verdict()
    on the table of a --dataset run, teacher_verdict() on the teacher-student runs."""
    if "settings" not in summary:
        return teacher_verdict(summary)
    v, s = real_verdict(summary["table"], summary["settings"]), summary["settings"]
    c = v["checks"]
    word = "inconclusive" if v["verdict"].startswith("inconclusive") else v["verdict"]
    if "L2_means" not in c:
        return {"effect": v["verdict"], "value": None, "spread": "–", "seeds":
                summary["args"]["seeds"], "published": None, "verdict": word, "rule": v["rule"]}
    arms = ["small"] + [f"{100 * p:g}%" for p in s["keep"]]
    sparsity = " → ".join(f"{100 * m:.0f}" for m in c["L2_means"])
    errors = "; ".join(f"{a}: {100 * h['mean']:+.1f}" for a, h in
                       zip(arms[1:], c["test_error_decayed_minus_small"]))
    d = c["L2_longest_minus_small"]
    return {"effect": f"layer-2 feature sparsity % ({' → '.join(arms)}): {sparsity}; test "
                      f"error vs the small step (points): {errors}",
            "value": 100 * d["mean"],
            "spread": f"longest-kept minus small, layer 2: ± {100 * d['se']:.1f} points "
                      "(standard error, paired)",
            "seeds": summary["args"]["seeds"], "verdict": word, "rule": v["rule"],
            "published": "CIFAR-10 ResNet-18: test error 14.3 % (small) vs 10.1 / 6.6 / 5.6 % "
                         "(decay at 10 / 30 / 50 %); fewer active, non-duplicate ReLUs"}


# teacher-student rule (TEACHER_RULE): the arms compared per setup, in keep-time order
TEACHER_ARMS = {"three-layer": (0, 1, 2, 3), "two-layer": (0, 4, 5, 6)}   # two-layer: edge
TEACHER_RULE = (
    "per setup, runs paired by (teacher draw, seed), diverged runs left out of their pairs; "
    "arms: the small constant step, then the large step decayed at 10 / 30 / 50 % (two-layer: "
    "each run's edge step, the published 0.455 diverging on most draws). (a) sparser in layer "
    "l: the median active fraction does not rise along small -> 10 -> 30 -> 50 %, and the 50 "
    "% arm is below the small arm in enough pairs for a one-sided sign test at 5 %; (b) "
    "better: every decayed arm's median paired test-loss difference to the small arm is < 0. "
    "A setup reproduces with (a) in every layer and (b), partly with some of them, is "
    "opposite when the 50 % arm is denser (same test) in every layer and every decayed arm "
    "worse. The claim: reproduced if both setups reproduce, partly if either reproduces or "
    "is partly, opposite if both are opposite, else not reproduced. Written after the "
    "README's numbers were known (issue 23); no threshold was tuned to them.")


def teacher_setup(runs, setup):
    """The rule's checks for one setup: {'layers': {l: (medians, wins, pairs, sparser,
    denser)}, 'test': [median paired differences], 'call': ...}."""
    arms = TEACHER_ARMS[setup]
    final = {(r["arm"], r["data_seed"], r["seed"]): r["final"] for r in runs
             if r["setup"] == setup and r["final"]["diverged"] is False}
    keys = sorted({(d, s) for (_, d, s) in final})
    pair = lambda a, key: [(final[(arms[0], *k)][key], final[(a, *k)][key]) for k in keys
                           if (arms[0], *k) in final and (a, *k) in final]
    out, layers = {"layers": {}}, len(SETUPS[setup]["student"])
    for l in range(1, layers + 1):
        key = f"active_fraction_L{l}"
        medians = [float(np.median([f[key] for (a, *_), f in final.items() if a == k]))
                   if any(a == k for (a, *_) in final) else float("nan") for k in arms]
        pairs = pair(arms[-1], key)
        wins = sum(late < small for small, late in pairs)
        losses = sum(late > small for small, late in pairs)
        falls = all(b <= a for a, b in zip(medians, medians[1:]))
        out["layers"][l] = (medians, wins, len(pairs), falls and sign_test(wins, len(pairs))
                            < 0.05, sign_test(losses, len(pairs)) < 0.05)
    out["test"] = [float(np.median([late - small for small, late in pair(a, "test_loss")]))
                   if pair(a, "test_loss") else float("nan") for a in arms[1:]]
    sparser = [v[3] for v in out["layers"].values()]
    better = all(d < 0 for d in out["test"])
    if all(sparser) and better:
        out["call"] = "reproduced"
    elif any(sparser) or better:
        out["call"] = "partly"
    elif all(v[4] for v in out["layers"].values()) and all(d > 0 for d in out["test"]):
        out["call"] = "opposite"
    else:
        out["call"] = "not reproduced"
    return out


def teacher_verdict(summary):
    """The teacher-student verdict (TEACHER_RULE) from summary.json's runs."""
    runs = summary["runs"]
    setups = {s: teacher_setup(runs, s) for s in TEACHER_ARMS}
    calls = [v["call"] for v in setups.values()]
    if "reproduced" in calls and calls.count("reproduced") == len(calls):
        word = "reproduced"
    elif "reproduced" in calls or "partly" in calls:
        word = "partly"
    elif all(c == "opposite" for c in calls):
        word = "opposite"
    else:
        word = "not reproduced"
    parts = []
    for setup, v in setups.items():
        layers = "; ".join(f"L{l} active % {' → '.join(f'{100 * m:.0f}' for m in med)} "
                           f"(50 % arm below small in {w}/{n} pairs)"
                           for l, (med, w, n, _, _) in v["layers"].items())
        tests = ", ".join(f"{d:+.2g}" for d in v["test"])
        parts.append(f"{setup}: {v['call']} — {layers}; median paired test-loss change "
                     f"(10 / 30 / 50 %): {tests}")
    pairs = max(n for v in setups.values() for (_, _, n, _, _) in v["layers"].values())
    three = setups["three-layer"]["layers"][1]
    return {"effect": " | ".join(parts),
            "value": float(three[0][-1] - three[0][0]),
            "spread": f"sign test over {pairs} paired runs (teacher draws x seeds); medians",
            "seeds": pairs,
            "published": "three-layer (one seed): active L1 57.0 → 47.6 / 37.8 / 34.0 %, L2 "
                         "46.6 → 31.2 / 25.2 / 18.2 %, test loss 0.0614 → 0.0322 / 0.0248 / "
                         "0.0206",
            "verdict": word, "rule": TEACHER_RULE}


def verdict_text(verdict):
    """The verdict, its rule and the checks, as lines for stdout."""
    c, lines = verdict["checks"], [f"verdict: {verdict['verdict']}", f"rule: {verdict['rule']}"]
    for key, value in c.items():
        if isinstance(value, dict):
            value = (f"{value['mean']:+.4f} ± {value['se']:.4f} (paired mean ± s.e.; per seed "
                     + " ".join(f"{x:+.3f}" for x in value["per_seed"]) + ")")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            value = "; ".join(f"{v['mean']:+.4f} ± {v['se']:.4f}" for v in value)
        elif isinstance(value, list):
            value = " ".join("–" if v is None else f"{v:.3g}" for v in value)
        lines.append(f"  {key}: {value}")
    return "\n".join(lines)


def plot_real(results, rows, path, title):
    """Per arm, mean ± std over seeds (bars) and each seed (dots): feature sparsity of each
    hidden layer and the test error."""
    panels = [("feature_sparsity_L1", "layer 1: active, non-duplicate ReLUs on the training "
               "set (%)"),
              ("feature_sparsity_L2", "layer 2: active, non-duplicate ReLUs on the training "
               "set (%)"),
              ("test_error", "test error at the end of the run (%)")]
    fig, axes = new_figure(1, 3, (17, 5))
    rng = np.random.default_rng(0)                             # jitter of the dots only
    for ax, (key, label) in zip(axes, panels):
        for k, r in enumerate(rows):
            if r[key] is None:
                continue
            ax.bar(k, 100 * r[key][0], yerr=100 * r[key][1], color=f"C{k}", alpha=0.45,
                   capsize=4, label="mean ± std over seeds" if k == 0 else None)
            vals = 100 * np.array(r[key + "_per_seed"], dtype=float)
            ax.plot(k + rng.uniform(-0.15, 0.15, vals.size), vals, "ko", ms=3.5,
                    label="one seed" if k == 0 else None)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r["arm"] for r in rows], rotation=25, ha="right", fontsize=8)
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, path, title, dpi=110)


def plot_real_training(results, s, path, title):
    """Along the seed-0 run of each arm: training loss (log), test error, feature sparsity of
    layer 2, against the step; dotted verticals at the decays."""
    fig, axes = new_figure(1, 3, (18, 4.8))
    first = sorted((r for r in results if r["seed"] == min(x["seed"] for x in results)),
                   key=lambda r: r["arm"])
    for r in first:
        h, color = r["history"], f"C{r['arm']}"
        step = np.array(h["step"], dtype=float)
        axes[0].plot(step, np.array(h["train_loss"], dtype=float), color=color, lw=1.3,
                     label=r["name"])
        axes[1].plot(step, 100 * (1 - np.array(h["test_accuracy"], dtype=float)), color=color,
                     lw=1.3, label=r["name"])
        axes[2].plot(step, 100 * np.array(h["feature_sparsity_L2"], dtype=float), color=color,
                     lw=1.3, label=r["name"])
    for p in s["keep"]:
        for a in axes:
            a.axvline(p * s["steps"], color="0.5", ls=":", lw=1)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss (cross-entropy, whole training set, log)")
    axes[1].set_ylabel("test error (%)")
    axes[2].set_ylabel("layer 2: active, non-duplicate ReLUs on the training set (%)")
    for a in axes:
        a.set_xlabel("step (dotted lines: the decays at " +
                     ", ".join(f"{100 * p:g}" for p in s["keep"]) + " % of the run)")
        a.grid(True, alpha=0.3)
        a.legend(fontsize=7)
    save_figure(fig, path, title, dpi=110)


def run_scan(job):
    """One constant-step run of the scan: (settings, lr, seed) -> its numbers."""
    s, lr, seed = job
    T = s["steps"]
    data = real_data(s["dataset"], s["n"])
    r = train(real_config(s, seed, lr, T), data=data, schedule=PublishedSchedule(lr, T),
              record_at=record_steps(T), threads=1)
    h = r.history
    t, c = np.array(h["step"]), np.array(h["train_loss"], dtype=float)
    early, late = c[(t >= T // 4) & (t < T // 2)], c[t >= 3 * T // 4]
    return {"lr": lr, "seed": seed, "diverged": r.final["diverged"],
            "late_loss_median": float(np.median(late)),
            "falls": bool(np.median(late) < FALLING * np.median(early)),
            "collapsed": bool(np.max(c[t >= T // 10]) >= np.log(data.classes)),
            "test_error": 1 - r.final["test_accuracy"],
            "train_error": 1 - r.final["train_accuracy"],
            **{m: r.final[m] for m in ("feature_sparsity_L1", "feature_sparsity_L2")}}


def main_scan(args):
    s = real_settings(args)
    start = start_report(args.out)
    jobs = [(s, lr, seed) for lr in sorted(args.scan) for seed in range(args.seeds)]
    runs = run_jobs(run_scan, jobs, args.workers, cost=lambda j: 1)
    rows = []
    for lr in sorted(args.scan):
        rs = [r for r in runs if r["lr"] == lr]
        rows.append({"lr": lr, "runs": len(rs),
                     "diverged": sum(r["diverged"] is not False for r in rs),
                     "collapsed": sum(r["collapsed"] for r in rs),
                     "loss_falls": sum(r["falls"] for r in rs),
                     **{key: mean_std([r[key] for r in rs]) for key in
                        ("late_loss_median", "train_error", "test_error",
                         "feature_sparsity_L1", "feature_sparsity_L2")}})
    stable = [r["lr"] for r in rows if r["diverged"] == 0 and r["loss_falls"] == 0]
    onset = min(stable) if stable else None
    fine = [r["lr"] for r in rows if r["diverged"] == 0]
    head = ["constant step", "runs", "diverged", "runs with a record at chance-level loss "
            "(>= ln C, after 10 %)", "runs whose loss still falls (last-quarter median < 0.7 x "
            "second-quarter median)", "train loss, last quarter (median)", "train error %",
            "test error %", "feature sparsity % L1", "feature sparsity % L2"]
    table = markdown_table(head, [[f"{r['lr']:g}", r["runs"], r["diverged"], r["collapsed"],
                                   r["loss_falls"],
                                   "{:.3g} ± {:.2g}".format(*r["late_loss_median"]),
                                   pm(r["train_error"], 100), pm(r["test_error"], 100),
                                   pm(r["feature_sparsity_L1"], 100),
                                   pm(r["feature_sparsity_L2"], 100)] for r in rows])
    note = (f"\nstabilization sets in (smallest step whose loss stops falling in every run, "
            f"none diverged): {onset}; largest step without divergence: "
            f"{max(fine) if fine else None}")
    write_report(args.out, {"args": vars(args), "scan": rows, "runs": runs,
                            "stabilization_onset": onset,
                            "largest_without_divergence": max(fine) if fine else None},
                 table + note, start)
    return rows, runs


def main_real(args):
    if args.scan:
        return main_scan(args)
    s = real_settings(args)
    start = start_report(args.out)
    arms = real_arms(s)
    jobs = [(s, k, seed) for k in range(len(arms)) for seed in range(args.seeds)]
    results = run_jobs(run_real, jobs, args.workers, cost=lambda j: 1)
    print(f"  {len(results)} runs", file=sys.stderr)
    rows = summarize_real(results, s)
    verdict = real_verdict(rows, s)
    title = (f"{args.dataset}: MLP {s['width']}x{REAL_LAYERS} ReLU, cross-entropy, SGD b="
             f"{s['batch_size']}, {s['steps']} steps, {args.seeds} seeds per arm")
    plot_real(results, rows, os.path.join(args.out, "feature_sparsity.png"), title)
    plot_real_training(results, s, os.path.join(args.out, "training.png"),
                       f"{args.dataset}: one run per arm (seed 0); the large step "
                       f"{s['lr_large']:g} decays to the small step {s['lr_small']:g}")
    light = [{k: v for k, v in r.items() if k != "history"} for r in results]
    example = [r for r in results if r["seed"] == 0]
    text = markdown_real(rows) + "\n\n" + verdict_text(verdict)
    write_report(args.out, {"args": vars(args), "settings": s, "table": rows,
                            "verdict": verdict, "runs": light, "example_histories": example},
                 text, start)
    return rows, results, verdict


def main(argv=None):
    args = parse_args(argv)
    if args.dataset is not None:
        return main_real(args)
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
    synthetic_args = {k: v for k, v in vars(args).items() if k not in REAL_OPTIONS}
    write_report(args.out, {"args": synthetic_args, "table": rows, "runs": light,
                            "example_histories": example}, markdown(rows), start)
    return rows, results


if __name__ == "__main__":
    main()
