"""SGD's modified loss C_SGD, its exact gradient, and full-batch GD on it.

The objective (Smith, Dherin, Barrett, De 2021; docs/science.md section 1, "Mechanism"), for the
data loss C = (1/N) sum_i C_i (mse), step size eta and batch size b out of N samples:

    C_SGD = C + (eta / 4) ||g||^2 + k Gamma,        k = ((N - b) / (N - 1)) * eta / (4 b)
    g = grad C,   g_i = grad C_i,   Gamma = (1/N) sum_i ||g_i - g||^2

Its gradient. Write H = hess C = (1/N) sum_i H_i, H_i = hess C_i (symmetric).
  * grad ||g||^2 = 2 H g                       (chain rule: d||g||^2 = 2 <g, H dtheta>)
  * Gamma = (1/N) sum_i ||g_i||^2 - ||g||^2   (expand the square; (1/N) sum_i g_i = g), so
    grad Gamma = (2/N) sum_i H_i g_i - 2 H g = (2/N) sum_i H_i (g_i - g)
  * grad C_SGD = g + (eta/2 - 2k) H g + 2k (1/N) sum_i H_i g_i

GD with only the gradient-norm term (k = 0) is the modified loss of full-batch GD.

Both Hessian terms come from one Hessian-vector-product pass written by hand
(hvp.hvp_cached, Pearlmutter's R-operator) along the per-sample direction
v_i = (eta/2 - 2k) g + 2k g_i, whose result is (1/N) sum_i H_i v_i. A per-sample gradient is
rank one in each weight matrix, g_i[W_l] = outer(a_l[i], e_l[i]) with e_l[i] = dC_i/dz_l, so
no (N, n_in, n_out) array is formed; Gamma's value likewise uses
||g_i[W_l]||^2 = ||a_l[i]||^2 ||e_l[i]||^2.

Cost of modified_loss_and_grad: one forward + backward and one R pass over all N samples.
Measured on the paper's 15-15-15-15-1 net, N = 2000: 1.9 ms against 0.35 ms for a plain
full-batch gradient (2.8-3.7 ms when glibc returns the freed temporaries to the OS after
every step; experiments/modified_loss.py asks it not to). Memory O(N * total width): the
first pass's activations and deltas are kept for the second. Not for: SGD itself
(optimizers.py) or the Gamma split by parameter group (gradient_noise.py).
"""
import itertools
import time

import numpy as np

from ..checks import check_float, check_float_array, check_int
from .hvp import hvp_cached
from .inputs import check_finite_result, check_net, check_switch
from ..losses import check_targets, mse
from ..models.backprop import activation_derivative
from ..models.buffers import Grads
from ..optimizers import clip_global_norm
from .. import train as training
from ..history import History, finish, log_spaced_steps


def layer_deltas(net, acts, delta):
    """delta_l = dC/dz_l for every layer (list of (B, n_out)), the backward loop of
    models/mlp.py without the parameter gradients."""
    deltas = [None] * len(net.weights)
    for l in reversed(range(len(net.weights))):
        deltas[l] = delta
        if l > 0:
            delta = delta @ net.weights[l].T                          # dC/da_l: (B, n_in)
            deriv = activation_derivative(net.activation, acts[l])
            if deriv is not None:
                delta = delta * deriv                                 # dC/dz_{l-1}
    return deltas


# ---- public, validated ----------------------------------------------------------------
def objective_name(grad_norm=True, variance=True):
    """The objective GD descends for these switches, e.g. 'C_SGD'."""
    if grad_norm and variance:
        return "C_SGD"
    return "C" + (" + (eta/4)|grad C|^2" if grad_norm else "") + (" + k Gamma" if variance else "")


def modified_loss_and_grad(net, X, y, lr, batch_size, variance=True,
                           grad_norm=True):
    """(C_SGD, terms, grad C_SGD) on the training set (X, y), N = len(X) (see the module
    docstring for the objective and its gradient). variance=False drops the Gamma term,
    leaving C + (eta/4) ||grad C||^2, the modified loss of full-batch GD; grad_norm=False
    drops the (eta/4) ||grad C||^2 term (both False: plain C).

    terms: {"loss": C, "grad_norm_sq": ||g||^2, "gamma": Gamma, "k": the Gamma coefficient
    ((N - b)/(N - 1)) eta / (4b) (0 when variance=False), "penalty": C_SGD - C}.
    """
    check_net(net, diagonal=False)
    X = check_float_array("X", X, shape=(None, net.sizes[0]))
    if X.shape[0] < 2:
        raise ValueError("X must hold at least 2 samples: Gamma, the per-sample gradient "
                         f"variance in C_SGD, is undefined for {X.shape[0]} sample")
    Y = check_targets("mse", y, X.shape[0], net.sizes[-1])
    lr = check_float("lr", lr, low=0.0, low_open=True)
    batch_size = check_int("batch_size", batch_size, low=1, high=X.shape[0])
    variance, grad_norm = check_switch("variance", variance), check_switch("grad_norm", grad_norm)
    value, terms, grad = modified_loss_cached(net, X, Y, lr, batch_size, variance, grad_norm)
    check_finite_result("modified loss", value)
    check_finite_result("modified loss's gradient",
                        np.concatenate([a.ravel() for a in grad.weights + (grad.biases or [])]))
    return value, terms, grad


PIECE_ROWS = 1024   # rows per piece: the (rows, width) temporaries stay in the CPU cache and
                    # under glibc's mmap threshold (128 KiB), so allocating them is cheap


def piece_pass(net, X, Y, count):
    """Forward and backward of one piece of rows: (loss share, acts, delta = dC/df, deltas
    dC/dz_l, gradient shares dC/dW_l, dC/db_l, sum over its rows of ||g_i||^2)."""
    acts = net.forward_cache(X)
    loss, delta = mse(acts[-1], Y, count=count)                       # delta: (B, K)
    deltas = layer_deltas(net, acts, delta)                           # (B, n_out) each
    gW = [acts[l].T @ d for l, d in enumerate(deltas)]
    gb = None if net.biases is None else [d.sum(axis=0) for d in deltas]
    # per-sample gradients are rank one: g_i[W_l] = outer(a_l[i], E_l[i]), g_i[b_l] = E_l[i],
    # E_l = N dC/dz_l (dC_i/dz_l), so ||g_i[W_l]||^2 = ||a_l[i]||^2 ||E_l[i]||^2
    N = count // Y.shape[1]
    e_sq = [np.einsum("bo,bo->b", d, d) * N * N for d in deltas]     # ||E_l[i]||^2: (B,)
    per_sq = sum(np.einsum("bi,bi->b", acts[l], acts[l]) * e for l, e in enumerate(e_sq))
    if gb is not None:
        per_sq = per_sq + sum(e_sq)
    return loss, acts, delta, deltas, gW, gb, float(per_sq.sum())


def modified_loss_cached(net, X, Y, lr, b, variance, grad_norm=True,
                         need_grad=True):
    """modified_loss_and_grad without validation (the GD loop's hot path). Two passes over
    pieces of PIECE_ROWS rows: the first sums the loss, g and Gamma's per-sample norms (the
    Hessian direction needs the whole g), the second sums the R pass (linear in the rows)."""
    N, count = X.shape[0], Y.size
    rows = [slice(start, start + PIECE_ROWS) for start in range(0, N, PIECE_ROWS)]
    pieces = [piece_pass(net, X[r], Y[r], count) for r in rows]
    loss = sum(p[0] for p in pieces)
    g = Grads([sum(p[4][l] for p in pieces) for l in range(len(net.weights))],
              None if net.biases is None else
              [sum(p[5][l] for p in pieces) for l in range(len(net.weights))])
    g_sq = sum(float(np.vdot(p, p)) for p in g.weights + (g.biases or []))
    gamma = sum(p[6] for p in pieces) / N - g_sq                     # mean ||g_i||^2 - ||g||^2
    k = (N - b) / (N - 1) * lr / (4.0 * b) if variance else 0.0
    c = lr / 4.0 if grad_norm else 0.0                                # weight of ||g||^2
    penalty = c * g_sq + k * gamma
    terms = {"loss": float(loss), "grad_norm_sq": g_sq, "gamma": gamma, "k": k,
             "penalty": penalty}
    if not need_grad:
        return loss + penalty, terms, None
    # one R pass along the per-sample direction v_i = alpha g + beta g_i gives
    # alpha H g + beta (1/N) sum_i H_i g_i, the two Hessian terms of grad C_SGD
    alpha, beta = 2.0 * c - 2.0 * k, 2.0 * k
    L = len(net.weights)
    if alpha == 0.0 and beta == 0.0:                                  # plain C
        return loss, terms, g
    total = g.weights + (g.biases or [])
    for _, acts, delta, deltas, *_ in pieces:
        E = [N * d for d in deltas]                                   # dC_i/dz_l: (B, n_out)
        VW = [[alpha * g.weights[l]] + ([(acts[l], beta * E[l])] if k else []) for l in range(L)]
        Vb = None if net.biases is None else [alpha * g.biases[l] + beta * E[l] for l in range(L)]
        Hv = hvp_cached(net, acts, delta, Grads(VW, Vb), count)
        total = [t + h for t, h in zip(total, Hv.weights + (Hv.biases or []))]
    return loss + penalty, terms, Grads(total[:L], total[L:] if net.biases is not None else None)


# ---- GD on the modified loss -------------------------------------------------------------
class ModifiedLossGD:
    """Full-batch gradient descent on C_SGD (variance=False: on C + (eta/4)||grad C||^2;
    grad_norm=False: without that term; both False: plain GD on C, in the same loop):

        G     <- grad C_SGD(theta)                   on all N training samples, exactly
        G     <- G * min(1, clip / (||G||_2 + 1e-6))  global norm, as optimizers.SGD
        theta <- theta - h * G                       h = eta / substeps

    eta is the SGD step size being modelled (it sets the coefficients of C_SGD); batch_size
    is the b of that SGD run (no batches are drawn). substeps = 1 is GD with step eta;
    substeps = k takes k steps of eta / k per SGD step, a closer approximation of the
    gradient flow on C_SGD that the theory compares SGD with (GD with step eta adds its own
    (eta/4)||grad C_SGD||^2). penalty(net) = C_SGD - C, logged apart from the data loss.
    """

    def __init__(self, lr, batch_size, X, Y, clip=1.0, variance=True, substeps=1,
                 grad_norm=True):
        self.lr = check_float("lr", lr, low=0.0, low_open=True)
        X = check_float_array("X", X, ndim=2)
        self.batch_size = check_int("batch_size", batch_size, low=1, high=X.shape[0])
        self.clip = None if clip is None else check_float("clip", clip, low=0.0, low_open=True)
        self.substeps = check_int("substeps", substeps, low=1)
        self.X = check_float_array("X", X, ndim=2)
        self.Y = check_float_array("Y", Y, shape=(X.shape[0], None))
        self.variance = check_switch("variance", variance)
        self.grad_norm = check_switch("grad_norm", grad_norm)

    name = "modified_loss"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def gradient(self, net, X, Y):
        """(C, grad C_SGD) on all N rows (X, Y): the loop checks C, the data loss, for
        divergence (NaN when C_SGD itself is not finite)."""
        with np.errstate(over="ignore", invalid="ignore"):
            value, terms, G = modified_loss_cached(net, X, Y, self.lr, self.batch_size,
                                                   self.variance, self.grad_norm)
        return (terms["loss"] if np.isfinite(value) else np.nan), G

    def update(self, net, G, lr):
        """theta <- theta - (eta / substeps) * clip(G), in place (G is consumed)."""
        g_list = G.weights + (G.biases or [])
        if self.clip is not None:
            clip_global_norm(g_list, self.clip)
        h = lr / self.substeps
        for p, g in zip(net.params, g_list):
            p -= h * g

    def penalty(self, net):
        return modified_loss_cached(net, self.X, self.Y, self.lr, self.batch_size,
                                    self.variance, self.grad_norm, need_grad=False)[1]["penalty"]


UNSUPPORTED = {"momentum": 0.0, "weight_decay": 0.0, "l1": 0.0, "group_l1": 0.0,
               "label_noise": 0.0, "decay_at": (), "warmup": 0}


def train_modified(config, variance=True, data=None, net=None, on_record=None,
                   extra_metrics=None, substeps=1, grad_norm=True, allow_long=False):
    """GD on C_SGD for config.steps steps (variance=False: on C + (eta/4)||grad C||^2;
    grad_norm=False: without the (eta/4)||grad C||^2 term; both False: on C itself),
    eta = config.lr, b = config.batch_size (whatever config.optimizer says), clipping
    config.clip, in train.run_loop (the one loop) with this engine. Returns a train.Result
    whose history has a train() run's columns (penalty = C_SGD - C) at log-spaced steps.
    Without data / net it draws the SAME data and initial weights as train(config) (same
    seed streams). Divergence (C non-finite or above config.diverge_factor x the initial
    loss) stops the run and keeps the history.
    substeps: updates of size eta / substeps per step (see ModifiedLossGD); the history's
    step column counts steps of size eta, so it lines up with the SGD run's.
    allow_long: as train()'s."""
    check_int("substeps", substeps, low=1)
    check_switch("variance", variance)
    check_switch("grad_norm", grad_norm)
    problem, net, _ = training.prepare(config, data, net, allow_long=allow_long)
    config = problem.config                                           # resolved
    check_modified_config(config)
    check_int("batch_size", config.batch_size, low=1, high=problem.data.X.shape[0])
    X, Y = problem.data.X, problem.Y                                  # (N, d), (N, 1)
    opt = ModifiedLossGD(config.lr, config.batch_size, X, Y, config.clip, variance, substeps,
                         grad_norm)
    problem.engine = opt.name
    history = History(net, opt, [problem], on_record, extra_metrics, per_step=substeps)
    guard = training.Divergence(net, [config.diverge_factor])
    record_at = [t * substeps for t in log_spaced_steps(config.steps, config.records_per_decade)]
    start = time.perf_counter()
    training.run_loop(net, opt, itertools.repeat((X, Y)), lambda t: opt.lr,
                      config.steps * substeps, record_at, history, guard)
    diverged = guard.diverged[0]                        # in substeps: as steps of size eta
    result = finish(net, problem, history.columns[0],
                    diverged if diverged is False else diverged // substeps,
                    time.perf_counter() - start)
    result.config.update(optimizer="gd", objective=objective_name(grad_norm, variance),
                         substeps=substeps)
    return result


def check_modified_config(config):
    """train_modified runs plain GD on C_SGD for the support task's plain MLP."""
    for name, default in UNSUPPORTED.items():
        if tuple(np.atleast_1d(getattr(config, name))) != tuple(np.atleast_1d(default)):
            raise ValueError(f"train_modified runs plain GD on C_SGD: config.{name} must be "
                             f"{default!r}, got {getattr(config, name)!r}")
    if config.task != "support" or config.model != "mlp" or config.weight_norm != "none":
        raise ValueError(f"train_modified runs the support task's plain MLP: task must be "
                         f"'support', model 'mlp', weight_norm 'none', got {config.task!r}, "
                         f"{config.model!r}, {config.weight_norm!r}")
