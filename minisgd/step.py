"""One training step of an MLP as the math says: the reference every engine is tested against.

On a batch X (B, d) with targets Y (B, K), for weights W_l (n_in, n_out), biases b_l and the
activation sigma on the hidden layers (the output layer is linear):

    forward   a_0 = X,   z_l = a_{l-1} W_l + b_l,   a_l = sigma(z_l),   f = z_L
    loss      mse:            C = (1/(B K)) sum_ik (f_ik - y_ik)^2     delta_L = 2 (f - y) / (B K)
              cross-entropy:  C = -(1/B) sum_ik y_ik log p_ik          delta_L = (p - y) / B
                              (p = softmax(f) row by row, y one-hot)
    backward  dC/dW_l     = a_{l-1}^T delta_l
              dC/db_l     = sum over the batch of delta_l
              delta_{l-1} = (delta_l W_l^T) * sigma'(z_{l-1})
    update    g <- g * c,  c = min(1, clip / (||g|| + 1e-6))   global-norm clipping
              g <- g + lambda theta                              coupled weight decay
              m <- mu m + g              (m = g at the first step)   momentum
              theta <- (1 - eta lambda) theta                   decoupled weight decay instead
              theta <- theta - eta m
              theta <- prox_{eta lam}(theta)                    L1 / group-L1 soft threshold

(np.dot(A, B) is the matrix product A @ B; NumPy's @ costs more per call on the small
transposed matrices of a step.) theta is every parameter in one flat vector (net.theta;
net.weights and net.biases are views of it), so the update is a few vector lines. The loss
lines are losses.py's objectives written out; the update follows optimizers.SGD's equation
(PyTorch's conventions).

This is the code that runs for a single net without weight normalization on batches of up
to 64 rows (engines.REFERENCE_ROWS; the default run, b = 32): `python -m minisgd train`
prints `engine: reference`. The
faster engines -- workspaces and pieces (engines.py), ensembles, the moments path
(moments.py), weight normalization, per-sample gradients -- are tested against it
(tests/test_step.py). Not for: ensembles, weight-normalized or diagonal nets (engines.py).
"""
import numpy as np

from .optimizers import global_norm


class ReferenceStep:
    """The reference step of an MLP under `loss` ("mse" or "cross_entropy") with the update
    `rule` (an optimizers.SGD: clip, weight_decay, decoupled, momentum, prox). The loop calls
    gradient(net, X, Y) -> (C, g), then update(net, g, eta_t) unless C diverged."""

    name = "reference"

    def __init__(self, rule, loss="mse"):
        self.rule, self.loss = rule, loss
        self.m = None                                            # momentum buffer

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def gradient(self, net, X, Y):
        """(C, g): the batch loss and its gradient as one vector in the order of net.theta."""
        W, b, L = net.weights, net.biases, len(net.weights)
        a = [X]                                                  # forward
        for l in range(L):
            z = np.dot(a[l], W[l]) if b is None else np.dot(a[l], W[l]) + b[l]   # (B, n_out)
            a.append(z if l == L - 1 else activation(net.activation, z))
        f = a[L]                                                 # (B, K)
        if self.loss == "mse":                                   # loss, delta_L = dC/df
            r = f - Y
            C, delta = float(np.dot(r.ravel(), r.ravel())) / r.size, r * (2.0 / r.size)
        else:
            z = f - f.max(axis=1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            C, delta = float(-np.sum(Y * log_p)) / len(Y), (np.exp(log_p) - Y) / len(Y)
        gW, gb = [None] * L, []
        for l in reversed(range(L)):                             # backward
            gW[l] = np.dot(a[l].T, delta)                        # dC/dW_l   (n_in, n_out)
            if b is not None:
                gb.insert(0, delta.sum(axis=0))                  # dC/db_l   (n_out,)
            if l > 0:                                            # delta_{l-1}  (B, n_in)
                delta = np.dot(delta, W[l].T)
                if net.activation != "linear":                   # linear: sigma' = 1
                    delta *= derivative(net.activation, a[l])
        return C, np.concatenate([g.ravel() for g in gW + gb])

    def update(self, net, g, lr):
        """theta <- theta - eta_t m, with clipping, weight decay, momentum and prox (module
        docstring). Without weight decay or momentum the clip factor c joins eta_t, which
        multiplies g once, as optimizers.SGD does."""
        rule, theta = self.rule, net.theta
        c = 1.0                                                  # the clip factor
        if rule.clip is not None:
            norm = float(np.sqrt(np.vecdot(g, g)))               # ||g||_2
            if norm == np.inf:                                   # ||g||^2 past float64
                norm = float(global_norm(g))                     # (g rescaled first)
            c = min(1.0, rule.clip / (norm + 1e-6))
        coupled = bool(rule.weight_decay) and not rule.decoupled
        if not (coupled or rule.momentum):
            m, step = g, lr * c                                  # theta - (eta_t c) g
        else:
            g = g * c + rule.weight_decay * theta if coupled else g * c
            m = g if self.m is None or not rule.momentum else rule.momentum * self.m + g
            self.m, step = m, lr
        if rule.weight_decay and rule.decoupled:
            theta *= 1.0 - lr * rule.weight_decay
        theta -= m * step
        for prox in rule.prox:
            prox.apply(net, lr)

    def penalty(self, net):
        return self.rule.penalty(net)


def activation(name, z):
    """sigma(z) of a hidden layer: relu max(z, 0), tanh, or linear (z itself)."""
    return np.maximum(z, 0.0) if name == "relu" else np.tanh(z) if name == "tanh" else z


def derivative(name, a):
    """sigma'(z) from the layer's output a = sigma(z): relu 1[a > 0] (0 at 0, as PyTorch),
    tanh 1 - a^2."""
    return (a > 0.0) if name == "relu" else 1.0 - a * a
