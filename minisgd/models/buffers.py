"""Where an MLP's numbers live: one flat vector with views, gradients shaped like it, and
preallocated buffers for a training step.

theta (n_params,) holds every parameter; net.weights[l], net.biases[l], net.gains[l] are
views of it, so an update is one vector operation. Grads are shaped the same way (flat:
one vector of which the arrays are views). A Workspace holds, for one batch size, the
layer outputs, the deltas and a flat-backed Grads, so a training step allocates nothing
that grows with the number of steps. Not for: the math (mlp.py, step.py).
"""
from typing import NamedTuple, Optional

import numpy as np


class Grads(NamedTuple):
    """Gradients shaped like the parameters: lists matching net.weights / net.biases /
    net.gains (gains: None without weight normalization).

    For per-sample gradients every array has an extra leading batch axis (B, *shape).
    `flat`, when set, is one vector (n_params,) of which the arrays are views, in the
    order of net.theta (weights, then biases, then gains).
    """
    weights: list
    biases: Optional[list]
    flat: Optional[np.ndarray] = None
    gains: Optional[list] = None


def split_flat(flat, shapes):
    """Views of consecutive pieces of the last axis of `flat`, one per shape: for flat
    (n,) views of `shapes`; for flat (K, n) views (K, *shape)."""
    views, start = [], 0
    lead = flat.shape[:-1]
    for shape in shapes:
        size = int(np.prod(shape))
        view = flat[..., start:start + size].reshape(lead + tuple(shape))
        assert np.shares_memory(view, flat), "parameter views must not be copies"
        views.append(view)
        start += size
    return views


def flat_grads(net, dtype=None):
    """Grads whose arrays are views of one new flat vector shaped like net.theta (of
    theta's dtype unless given)."""
    lead = net.theta.shape[:-1]                           # () or (K,) for an ensemble
    flat = np.empty_like(net.theta, dtype=dtype)
    views = split_flat(flat, [p.shape[len(lead):] for p in net.params])
    L, nb = len(net.weights), len(net.biases or [])
    return Grads(views[:L], views[L:L + nb] if net.biases is not None else None, flat,
                 views[L + nb:] if net.gains is not None else None)


class Workspace:
    """Preallocated buffers for forward/backward of `net` at one batch size: the layer
    outputs acts[l] (B, sizes[l+1]), the deltas deltas[l] = dC/dz_l (same shapes; the last
    one receives dC/df from the loss) and a flat-backed Grads. Used by the training loop so
    a step allocates nothing that grows with the number of steps.

    With weight normalization also: weights, the effective weights of the hidden layers
    (filled by forward_cache) followed by the net's output-layer W, their norms ||V_l||
    (forward_cache's, which backward reuses), and directions, a buffer per hidden layer for
    u = V / ||V|| in backward (all None otherwise)."""

    def __init__(self, net, batch):
        self.batch = batch
        lead = net.theta.shape[:-1]                           # () or (K,) for an ensemble
        self.acts = [np.empty(lead + (batch, n), dtype=net.dtype) for n in net.sizes[1:]]
        self.deltas = [np.empty(lead + (batch, n), dtype=net.dtype) for n in net.sizes[1:]]
        self.grads = flat_grads(net)
        self.weights = self.directions = self.norms = None
        if net.gains is not None:
            self.directions = [np.empty_like(V) for V in net.weights[:-1]]
            self.norms = [None] * (len(net.weights) - 1)      # ||V_l||, set by forward_cache
            self.weights = [np.empty_like(V) for V in net.weights[:-1]] + [net.weights[-1]]
