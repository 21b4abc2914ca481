"""Optimizers, learning-rate schedules and proximal (soft-threshold) steps.

Each optimizer is a small class whose docstring is its update equation; conventions follow
PyTorch so that a torch run and a minisgd run can be compared number for number:
global-norm clipping as ``clip_grad_norm_``, weight decay added to the (clipped) gradient as
``torch.optim.SGD(weight_decay=...)``, momentum as ``m <- mu m + g`` (first step m = g).
Proximal steps run after the gradient step as explicit soft-thresholds. Which samples a
step sees is batches.py's job; the objective's data term is losses.py's. Not for: the loop.
"""
import numpy as np

from .checks import check_float, check_int


class SGD:
    """Mini-batch SGD (batch_size=b) with optional clipping, weight decay and momentum.

        g   <- grad C_batch(theta)                       mean over the b samples
        g   <- g * min(1, clip / (||g||_2 + 1e-6))        global norm over all parameters
        g   <- g + lambda * theta                        coupled weight decay (default)
        m   <- mu * m + g      (m = g at the first step) momentum, if mu > 0
        theta <- theta - eta_t * m                       (m = g without momentum)
        decoupled weight decay instead: theta <- (1 - eta_t * lambda) theta, before the step
        then, for each prox:  theta <- prox_{eta_t * lam}(theta)

    Batches of size b are drawn without replacement (reshuffled every epoch; the last
    batch of an epoch holds the remaining n mod b samples, as DataLoader(drop_last=False))
    or with replacement; label_noise > 0 adds fresh N(0, label_noise^2) noise to the
    batch's labels at every step (label-noise SGD).
    """

    def __init__(self, lr, batch_size, replacement=False, momentum=0.0, weight_decay=0.0,
                 decoupled=False, clip=None, prox=(), label_noise=0.0):
        self.lr = check_float("lr", lr, low=0.0, low_open=True)
        self.batch_size = None if batch_size is None else check_int("batch_size", batch_size, low=1)
        self.replacement = bool(replacement)
        self.momentum = check_float("momentum", momentum, low=0.0, high=1.0)
        self.weight_decay = check_float("weight_decay", weight_decay, low=0.0)
        self.decoupled = bool(decoupled)
        self.clip = None if clip is None else check_float("clip", clip, low=0.0, low_open=True)
        self.prox = list(prox)
        self.label_noise = check_float("label_noise", label_noise, low=0.0)
        self.buffers = None                        # momentum buffers, one per parameter

    def step(self, net, grads, lr):
        """Update net's parameters in place from Grads of the batch loss, with step size lr."""
        params = net.params
        g_list = grads.weights + (grads.biases or [])
        if self.clip is not None:
            clip_global_norm(g_list, self.clip)
        if self.momentum and self.buffers is None:
            self.buffers = [None] * len(params)
        wd = self.weight_decay
        for i, (p, g) in enumerate(zip(params, g_list)):
            if wd and not self.decoupled:
                g = g + wd * p
            if self.momentum:
                if self.buffers[i] is None:
                    self.buffers[i] = g.copy()
                else:
                    self.buffers[i] *= self.momentum
                    self.buffers[i] += g
                g = self.buffers[i]
            if wd and self.decoupled:
                p *= 1.0 - lr * wd
            p -= lr * g
        for prox in self.prox:
            prox.apply(net, lr)

    def penalty(self, net):
        """Explicit penalty value logged beside the data loss: (lambda/2)||theta||^2 for
        coupled weight decay, plus each prox's penalty."""
        value = sum(prox.penalty(net) for prox in self.prox)
        if self.weight_decay and not self.decoupled:
            value += 0.5 * self.weight_decay * sum(float(np.sum(p * p)) for p in net.params)
        return value


class GD(SGD):
    """Full-batch gradient descent: SGD whose every step uses all N training samples,
    theta <- theta - eta_t * grad C(theta) (with the same clipping, weight decay, momentum
    and prox options as SGD)."""

    def __init__(self, lr, **kwargs):
        super().__init__(lr, batch_size=None, **kwargs)


def global_norm(arrays):
    """sqrt(sum_i ||a_i||^2) over a list of arrays."""
    return float(np.sqrt(sum(float(np.vdot(a, a)) for a in arrays)))


def clip_global_norm(grads, max_norm):
    """In place: g <- g * min(1, max_norm / (||g|| + 1e-6)), as torch's clip_grad_norm_.
    Returns the norm before clipping."""
    norm = global_norm(grads)
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return norm


class L1Prox:
    """Soft-threshold of whole layers (default the first), the proximal map of lam * ||W||_1:

        W <- sign(W) * max(|W| - eta * lam, 0)          exact zeros below the threshold
    """

    def __init__(self, lam, layers=(0,)):
        self.lam = check_float("l1", lam, low=0.0)
        self.layers = tuple(layers)

    def apply(self, net, lr):
        for l in self.layers:
            W = net.weights[l]
            np.copyto(W, np.sign(W) * np.maximum(np.abs(W) - lr * self.lam, 0.0))

    def penalty(self, net):
        return self.lam * sum(float(np.abs(net.weights[l]).sum()) for l in self.layers)


class GroupL1Prox:
    """Group soft-threshold over the input coordinates of the first layer, the proximal map
    of lam * sum_j ||W1[j, :]||_2 (row j of W1 (n_in, n_out) = everything input j feeds):

        W1[j, :] <- W1[j, :] * max(1 - eta * lam / ||W1[j, :]||, 0)   removes whole inputs
    """

    def __init__(self, lam, layer=0):
        self.lam = check_float("group_l1", lam, low=0.0)
        self.layer = layer

    def apply(self, net, lr):
        W = net.weights[self.layer]                             # (n_in, n_out)
        norms = np.linalg.norm(W, axis=1, keepdims=True)        # (n_in, 1)
        shrink = np.maximum(1.0 - lr * self.lam / np.maximum(norms, 1e-300), 0.0)
        W *= shrink

    def penalty(self, net):
        return self.lam * float(np.linalg.norm(net.weights[self.layer], axis=1).sum())


class LRSchedule:
    """eta_t = eta * min(1, (t + 1) / warmup) * factor ** #{milestones <= t}

    constant: no warmup, no milestones; step decay: milestones at the given fractions of
    the total steps (e.g. decay_at=(0.5, 0.75), factor=0.1); linear warm-up over `warmup`
    steps. t counts from 0 (the first update).
    """

    def __init__(self, lr, steps, decay_at=(), factor=0.1, warmup=0):
        self.lr = check_float("lr", lr, low=0.0, low_open=True)
        steps = check_int("steps", steps, low=1)
        for f in decay_at:
            check_float("decay_at", f, low=0.0, high=1.0, low_open=True)
        self.milestones = sorted(int(round(f * steps)) for f in decay_at)
        self.factor = check_float("decay_factor", factor, low=0.0, high=1.0, low_open=True)
        self.warmup = check_int("warmup", warmup, low=0)

    def __call__(self, t):
        lr = self.lr
        if self.warmup:
            lr *= min(1.0, (t + 1) / self.warmup)
        for m in self.milestones:
            if t >= m:
                lr *= self.factor
        return lr
