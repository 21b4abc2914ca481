"""Optimizers, learning-rate schedules and proximal (soft-threshold) steps.

Each optimizer is a small class whose docstring is its update equation; conventions follow
PyTorch so that a torch run and a minisgd run can be compared number for number:
global-norm clipping as ``clip_grad_norm_``, weight decay added to the (clipped) gradient as
``torch.optim.SGD(weight_decay=...)``, momentum as ``m <- mu m + g`` (first step m = g).
Proximal steps run after the gradient step as explicit soft-thresholds. Which samples a
step sees (batch size, replacement, label noise) is batches.py's job; the objective's data
term is losses.py's. Not for: the loop (train.py).
"""
import copy

import numpy as np

from .checks import check_float, check_int


class SGD:
    """The update rule of (mini-batch) SGD, with optional clipping, weight decay, momentum
    and proximal steps; which samples a step sees (batch size, replacement, label noise) is
    the batch stream's business (batches.py), so GD is this same rule on full batches.

        g   <- grad C_batch(theta)                       mean over the batch
        g   <- g * min(1, clip / (||g||_2 + 1e-6))        global norm over all parameters
                                                         (without weight decay or momentum
                                                         the factor joins eta_t: one pass)
        g   <- g + lambda * theta                        coupled weight decay (default)
        m   <- mu * m + g      (m = g at the first step) momentum, if mu > 0
        theta <- theta - eta_t * m                       (m = g without momentum)
        decoupled weight decay instead: theta <- (1 - eta_t * lambda) theta, before the step
        then, for each prox:  theta <- prox_{eta_t * lam}(theta)

    step.ReferenceStep writes the same update for one net; this class is the engines'
    version (in place on the flat theta, an ensemble's members at once with one eta_t each).
    For an ensemble, momentum, weight_decay and clip may be one value per member (a (K,)
    array): member k's update is then its own run's, operation for operation, so the
    members that share an update (which terms are on) can share a stacked step.
    """

    def __init__(self, lr, momentum=0.0, weight_decay=0.0, decoupled=False, clip=None,
                 prox=()):
        self.lr = check_float("lr", lr, low=0.0, low_open=True)
        self.momentum = member_floats("momentum", momentum, low=0.0, high=1.0)
        self.weight_decay = member_floats("weight_decay", weight_decay, low=0.0)
        self.decoupled = bool(decoupled)
        self.clip = None if clip is None else member_floats("clip", clip, low=0.0,
                                                            low_open=True)
        self.prox = list(prox)
        self.buffer = None                         # momentum buffer m (n_params,)
        self.terms = None                          # (weight decay on, momentum on): 1st step
        self.scratch = None                        # reused temporary (n_params,)

    def step(self, net, grads, lr):
        """Update net's parameters in place from Grads of the batch loss, with step size lr.

        Works on the flat vectors theta = net.theta and g = grads.flat (one vector op per
        line of the update equation); g is used as scratch and overwritten. For an ensemble
        (theta (K, n_params)) lr may be a (K,) array and clipping is per member.
        """
        theta = net.theta                                     # (n_params,) or (K, n_params)
        g = grads.flat if grads.flat is not None else flatten(grads)
        if self.scratch is None or self.scratch.shape != theta.shape:
            self.scratch = np.empty_like(theta)
            self.rows = MemberRows(theta.shape)
        if self.terms is None:                                # which terms the update has
            self.terms = (on(self.weight_decay), on(self.momentum))
        wd_on, mu_on = self.terms
        coupled = wd_on and not self.decoupled
        step = self.rows.full("lr", lr)                       # what multiplies g (or m)
        if self.clip is not None:
            coef = clip_coefficient(global_norm(g), self.clip)  # scalar or (K,)
            if coupled or mu_on:                              # they need the clipped g
                scale_rows(g, coef)
            else:                                             # plain step: one pass over g
                step = per_member(lr, theta.ndim) * per_member(coef, theta.ndim)  # eta_t c
        if coupled:
            wd_rows = self.rows.full("weight_decay", self.weight_decay)   # or (K, n)
            g += np.multiply(theta, wd_rows, out=self.scratch)  # g + lambda theta
        if mu_on:
            if self.buffer is None:
                self.buffer = g.copy()                        # m = g at the first step
            else:
                self.buffer *= self.rows.full("momentum", self.momentum)   # m = mu m + g
                self.buffer += g
            g = self.buffer
        if wd_on and self.decoupled:
            theta *= self.rows.full("decay", 1.0 - lr * self.weight_decay)  # 1 - eta lambda
        theta -= np.multiply(g, step, out=self.scratch)       # theta - eta_t m
        for prox in self.prox:
            prox.apply(net, lr)

    def member(self, k):
        """Member k's own rule (its scalars taken from the per-member arrays): what its
        history's penalty column is computed with."""
        pick = lambda v: float(v[k]) if isinstance(v, np.ndarray) else v
        prox = [copy.copy(p) for p in self.prox]
        for p in prox:
            p.lam = pick(p.lam)
        return SGD(self.lr, momentum=pick(self.momentum), weight_decay=pick(self.weight_decay),
                   decoupled=self.decoupled, clip=pick(self.clip), prox=prox)

    def penalty(self, net):
        """Explicit penalty value logged beside the data loss: (lambda/2)||theta||^2 for
        coupled weight decay, plus each prox's penalty."""
        value = sum(prox.penalty(net) for prox in self.prox)
        if on(self.weight_decay) and not self.decoupled:
            value += 0.5 * self.weight_decay * np.vecdot(net.theta, net.theta)
        return value


GD = SGD    # full-batch gradient descent: the same update rule, every step on all N samples


def flatten(grads):
    """One vector from Grads, in the order of net.theta (weights, then biases)."""
    return np.concatenate([g.ravel() for g in grads.weights + (grads.biases or [])])


def member_floats(name, value, **bounds):
    """check_float of a scalar, or of each entry of a 1-D sequence of per-member values
    (returned as a float array)."""
    if np.ndim(value) == 0:
        return check_float(name, value, **bounds)
    values = np.array([check_float(f"{name}[{k}]", v, **bounds) for k, v in enumerate(value)])
    if (values == 0).any() and (values != 0).any():        # a term on for some members only
        raise ValueError(f"{name} per member must be all 0 or all non-zero (members of one "
                         f"stacked step share which terms the update has), got {value!r}")
    return values


def on(value):
    """Is this term of the update on: a non-zero scalar, or an array of per-member values
    that are all non-zero (an ensemble's members agree on which terms are on)."""
    return bool(np.all(value != 0)) if isinstance(value, np.ndarray) else bool(value)


def per_member(lr, ndim):
    """A scalar lr as is; a (K,) array of per-member lrs shaped (K, 1, ...) to broadcast
    against arrays of `ndim` dimensions whose first axis is the member."""
    if not isinstance(lr, np.ndarray):
        return lr
    return np.reshape(lr, (-1,) + (1,) * (ndim - 1))


class MemberRows:
    """Per-member scalars (K,) spread over whole rows (K, n_params), kept while the values
    stay: over rows of at most MAX_PARAMS entries NumPy multiplies by a full array ~1.5-2x
    faster than by a (K, 1) column, to the same numbers (64 x 690: 13-14 vs 19-28 us);
    over longer rows the column is faster (64 x 5000: 66 vs 83 us): full() returns it."""
    MAX_PARAMS = 4096

    def __init__(self, shape):
        self.shape, self.kept = shape, {}

    def full(self, name, values):
        if not isinstance(values, np.ndarray) or len(self.shape) == 1 \
                or self.shape[1] > self.MAX_PARAMS:
            return per_member(values, len(self.shape))
        seen = self.kept.get(name)
        if seen is None or not (seen[0] == values).all():
            seen = self.kept[name] = (values.copy(), np.repeat(values[:, None],
                                                               self.shape[1], axis=1))
        return seen[1]


def global_norm(g):
    """||g||_2 over all entries: of a flat vector g (n,), of each row of g (K, n) for an
    ensemble, or of a list of arrays (their concatenation)."""
    if isinstance(g, (list, tuple)):
        return float(np.sqrt(sum(np.vecdot(a.ravel(), a.ravel()) for a in g)))
    norm = np.sqrt(np.vecdot(g, g))           # the same reduction for a net and a member
    if (norm < np.inf).all():
        return norm
    with np.errstate(over="ignore", invalid="ignore"):  # |g|^2 overflowed: scale it first
        m = np.max(np.abs(g), axis=-1, keepdims=True)
        m[~(m > 0)] = 1.0
        return m[..., 0] * np.sqrt(np.vecdot(g / m, g / m))


def clip_coefficient(norm, max_norm):
    """min(1, max_norm / (norm + 1e-6)), torch's clip_grad_norm_ factor for a gradient of
    norm ||g||: a float, or one per member (K,) for an ensemble's norms (K,)."""
    if np.ndim(norm) == 0:
        return min(1.0, max_norm / (float(norm) + 1e-6))
    return np.minimum(max_norm / (norm + 1e-6), 1.0)


def scale_rows(g, coef):
    """In place g <- coef * g: a flat g or a list of arrays times a float (skipped when it
    is 1: clipping inactive), or each member's row of g (K, n) times coef[k]."""
    if np.ndim(coef):
        g *= coef[:, None]                                  # x 1.0 changes nothing
    elif coef < 1.0:
        for a in (g if isinstance(g, (list, tuple)) else [g]):
            a *= coef


def clip_global_norm(g, max_norm):
    """In place: g <- g * min(1, max_norm / (||g|| + 1e-6)), as torch's clip_grad_norm_.
    g is the flat gradient (n,), (K, n) for an ensemble (one norm per member), or a list
    of arrays. Returns the norm(s) before clipping."""
    norm = global_norm(g)
    scale_rows(g, clip_coefficient(norm, max_norm))
    return norm


class L1Prox:
    """Soft-threshold of whole layers (default the first), the proximal map of lam * ||W||_1:

        W <- sign(W) * max(|W| - eta * lam, 0)          exact zeros below the threshold
    """

    def __init__(self, lam, layers=(0,)):
        self.lam = member_floats("l1", lam, low=0.0)     # or one per ensemble member
        self.layers = tuple(layers)

    def apply(self, net, lr):
        for l in self.layers:
            W = net.weights[l]
            step = per_member(lr, W.ndim) * per_member(self.lam, W.ndim)
            np.copyto(W, np.sign(W) * np.maximum(np.abs(W) - step, 0.0))

    def penalty(self, net):
        return self.lam * sum(np.abs(net.weights[l]).sum(axis=(-2, -1)) for l in self.layers)


class GroupL1Prox:
    """Group soft-threshold over the input coordinates of the first layer, the proximal map
    of lam * sum_j ||W1[j, :]||_2 (row j of W1 (n_in, n_out) = everything input j feeds):

        W1[j, :] <- W1[j, :] * max(1 - eta * lam / ||W1[j, :]||, 0)   removes whole inputs
    """

    def __init__(self, lam, layer=0):
        self.lam = member_floats("group_l1", lam, low=0.0)   # or one per ensemble member
        self.layer = layer

    def apply(self, net, lr):
        W = net.weights[self.layer]                             # (n_in, n_out)
        norms = np.linalg.norm(W, axis=-1, keepdims=True)       # (n_in, 1)
        step = per_member(lr, W.ndim) * per_member(self.lam, W.ndim)
        W *= np.maximum(1.0 - step / np.maximum(norms, 1e-300), 0.0)

    def penalty(self, net):
        return self.lam * np.linalg.norm(net.weights[self.layer], axis=-1).sum(axis=-1)


class LRSchedule:
    """eta_t = eta * min(1, (t + 1) / warmup) * factor ** #{milestones <= t}

    constant: no warmup, no milestones; step decay: milestones at the given fractions of
    the total steps (e.g. decay_at=(0.5, 0.75), factor=0.1); linear warm-up over `warmup`
    steps. t counts from 0 (the first update).
    """

    def __init__(self, lr, steps, decay_at=(), factor=0.1, warmup=0):
        if np.ndim(lr):                               # one lr per ensemble member
            self.lr = np.array([check_float("lr", v, low=0.0, low_open=True) for v in lr])
        else:
            self.lr = check_float("lr", lr, low=0.0, low_open=True)
        steps = check_int("steps", steps, low=1)
        for f in decay_at:                            # a milestone at the end decays nothing
            if not check_float("decay_at", f, low=0.0, high=1.0, low_open=True) < 1.0:
                raise ValueError(f"decay_at must be fractions in (0, 1), each < 1 (a "
                                 f"milestone at the last step decays nothing), got {f}")
        if len(set(decay_at)) < len(decay_at):         # twice the same: factor**2 by a typo?
            raise ValueError(f"decay_at must be distinct fractions, got {list(decay_at)}")
        self.milestones = sorted(int(round(f * steps)) for f in decay_at)
        self.factor = check_float("decay_factor", factor, low=0.0, high=1.0, low_open=True)
        self.warmup = check_int("warmup", warmup, low=0)
        if self.warmup > steps:                       # the step size would never reach lr
            raise ValueError(f"warmup must be an int in [0, steps={steps}] (a longer warm-up "
                             f"never reaches lr), got {self.warmup}")

    def __call__(self, t):
        lr = self.lr                                  # a float, or an array never written to
        if self.warmup:
            lr = lr * min(1.0, (t + 1) / self.warmup)
        for m in self.milestones:
            if t >= m:
                lr = lr * self.factor
        return lr
