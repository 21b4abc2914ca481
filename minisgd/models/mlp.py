"""The multilayer perceptron: parameters, forward pass and hand-written backward pass.

Layout (as scikit-learn's MLP): weights[l] has shape (n_in, n_out), so a layer computes

    z_l = a_{l-1} @ W_l + b_l        a_{l-1}: (B, n_in)   W_l: (n_in, n_out)   z_l: (B, n_out)
    a_l = sigma(z_l)                 hidden layers only; the output layer is linear

and backpropagation is the four equations, one line each (delta_l = dC/dz_l):

    delta_L     = dC/df                                   from the loss
    dC/dW_l     = a_{l-1}^T @ delta_l                     (n_in, n_out)
    dC/db_l     = sum over the batch of delta_l           (n_out,)
    delta_{l-1} = (delta_l @ W_l^T) * sigma'(z_{l-1})     (B, n_in)

Per-sample gradients (the gradient of each sample's own loss C_i, with C = mean_i C_i) come
from the same pass: dC_i/dW_l = B * outer(a_{l-1}[i], delta_l[i]), no loop over samples.
The same code runs an ensemble of K nets (MLP.stack): every array then has a leading
member axis, weights (K, n_in, n_out), and the products are batched matmuls.

Weight normalization (weight_norm="layer" or "unit", hidden layers only): the forward pass
multiplies by the effective weights W_l = g_l V_l / ||V_l||, backward computes dC/dW_l as
above (deltas propagated through the effective W_l) and then (dC/dV_l, dC/dg_l) by the
chain rule of weight_norm.py. These cases, the buffers of a Workspace and per-sample
gradients are named functions in backprop.py, so that MLP.backward reads as the equations;
step.py writes the whole training step out for one plain net, and is the reference the
engines built on this class are tested against.

Not for: optimizers, batching or penalties (optimizers.py, batches.py, train.py).
"""
import numpy as np

from ..checks import (check_choice, check_float, check_float_array, check_int, describe,
                      make_rng)
from ..losses import LOSSES, check_targets
from .backprop import (activate, activation_derivative, backward_buffers,  # noqa: F401
                       per_sample_backward, previous_delta, weight_gradient, weight_norm_chain)
from .buffers import Grads, Workspace, split_flat  # noqa: F401  (re-exported)
from .initializers import INITS, init_layer
from .mlp_checks import (check_arrays, check_directions, check_dtype, check_gains,
                         check_sizes, check_stackable, check_weight_norm)
from .validated_calls import ValidatedCalls
from .weight_norm import effective_weight, init_gains, weight_norms

ACTIVATIONS = ("linear", "relu", "tanh")


class MLP(ValidatedCalls):
    """Fully connected network, float64, weights (n_in, n_out), optional biases.

    MLP([15, 15, 15, 15, 1]) is the paper's net: three hidden layers of width 15, no bias,
    linear activation (a deep linear network), Kaiming-normal init.

    weight_norm="layer" or "unit" normalizes the hidden layers 0 .. L-2 (weight_norm.py):
    net.weights then holds their directions V (and the output layer's W), net.gains their
    gains g, initialized as torch does (V = the drawn W, g = ||W||).
    """

    def __init__(self, sizes, activation="linear", bias=False, init="kaiming_normal",
                 scale=None, seed=0, weight_norm="none"):
        sizes = check_sizes(sizes)
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("init", init, INITS)
        check_weight_norm(weight_norm, len(sizes) - 1)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be True or False, got {describe(bias)}")
        if init == "normal" and scale is None:
            raise ValueError("init='normal' needs scale (the std of the weights), got None")
        if scale is not None:
            scale = check_float("scale", scale, low=0.0, low_open=True)
        rng = make_rng(seed)
        layers = [init_layer(rng, n_in, n_out, init, scale, bias)
                  for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.activation = activation
        weights = [W for W, _ in layers]
        gains = None if weight_norm == "none" else \
            [init_gains(W, weight_norm) for W in weights[:-1]]
        self.set_params(weights, [b for _, b in layers] if bias else None,
                        weight_norm=weight_norm, gains=gains)

    @classmethod
    def from_weights(cls, weights, biases=None, activation="linear", dtype=np.float64,
                     weight_norm="none", gains=None):
        """Build a net from given arrays (copied, float64 unless dtype=np.float32),
        layout (n_in, n_out) / (n_out,).

        weight_norm="layer" / "unit": the hidden layers are normalized. With gains (one per
        hidden layer: shape () for "layer", (n_out,) for "unit") weights[l] are the
        directions V_l; with gains=None they are the effective weights, normalized as
        torch does (V = W, g = ||W||)."""
        check_choice("activation", activation, ACTIVATIONS)
        dtype = check_dtype(dtype)
        check_arrays(weights, biases)
        check_weight_norm(weight_norm, len(weights))
        gains = check_gains(gains, weights, weight_norm)
        if weight_norm != "none":
            check_directions(weights, weight_norm)
            if gains is None:
                gains = [init_gains(np.asarray(W, dtype=dtype), weight_norm)
                         for W in weights[:-1]]
        net = cls.__new__(cls)
        net.activation = activation
        net.set_params(weights, biases, dtype=dtype, weight_norm=weight_norm, gains=gains)
        return net

    def set_params(self, weights, biases, dtype=np.float64, weight_norm="none", gains=None):
        """Copy the arrays into one flat vector `theta` (n_params,); net.weights[l],
        net.biases[l] and net.gains[l] are views of it, so an optimizer can update every
        parameter with one vector operation. Update the views in place (W -= ...), don't
        rebind them. Order: weights, biases, then gains (last, so that a net without weight
        normalization has the same theta as before it existed). An ensemble (see `stack`)
        has theta (K, n_params) and views (K, *shape).

        gains: None for weight_norm="none", else the gains of the hidden layers: shape ()
        each for "layer", (n_out,) for "unit" (with a leading K for an ensemble)."""
        lead = weights[0].shape[:-2]                          # () or (K,)
        shapes = [W.shape[len(lead):] for W in weights] + \
                 [b.shape[len(lead):] for b in (biases or [])] + \
                 [np.shape(g)[len(lead):] for g in (gains or [])]
        self.theta = np.empty(lead + (sum(int(np.prod(sh)) for sh in shapes),), dtype=dtype)
        views = split_flat(self.theta, shapes)
        for view, array in zip(views, list(weights) + list(biases or []) + list(gains or [])):
            view[...] = array
        L, nb = len(weights), len(biases or [])
        self.weights = views[:L]
        self.biases = views[L:L + nb] if biases is not None else None
        self.gains = views[L + nb:] if gains is not None else None
        self.weight_norm = weight_norm

    @classmethod
    def stack(cls, nets):
        """An ensemble of K nets of the same shape, trained in lockstep: weights[l] is
        (K, n_in, n_out), biases[l] (K, n_out), theta (K, n_params). forward_cache and
        backward then take stacked inputs (K, B, n_in) and run the K nets with batched
        matmuls; member k computes exactly what nets[k] computes alone."""
        first = check_stackable(nets, cls)
        if any(n.sizes != first.sizes or n.activation != first.activation
               or (n.biases is None) != (first.biases is None)
               or n.weight_norm != first.weight_norm for n in nets):
            raise ValueError("nets must share sizes, activation, bias and weight_norm to be "
                             "stacked")
        ens = cls.__new__(cls)
        ens.activation = first.activation
        L = len(first.weights)
        ens.set_params([np.stack([n.weights[l] for n in nets]) for l in range(L)],
                       None if first.biases is None else
                       [np.stack([n.biases[l] for n in nets]) for l in range(L)],
                       dtype=first.dtype, weight_norm=first.weight_norm,
                       gains=None if first.gains is None else
                       [np.stack([n.gains[l] for n in nets]) for l in range(L - 1)])
        return ens

    @property
    def members(self):
        """K for an ensemble made by `stack`, None for a single net."""
        return self.theta.shape[0] if self.theta.ndim == 2 else None

    def member(self, k, copy=True):
        """Member k of an ensemble as a single MLP: a copy, or (copy=False) a net whose
        parameters are views into the ensemble's."""
        if self.members is None:
            raise ValueError("member(k) takes a member of a stack (MLP.stack); this net is a "
                             "single net")
        k = check_int("k", k, low=0, high=self.members - 1)
        weights = [W[k] for W in self.weights]
        biases = None if self.biases is None else [b[k] for b in self.biases]
        gains = None if self.gains is None else [g[k, ...] for g in self.gains]  # views
        if copy:
            return MLP.from_weights(weights, biases, self.activation, dtype=self.dtype,
                                    weight_norm=self.weight_norm, gains=gains)
        net = MLP.__new__(MLP)
        net.activation, net.theta = self.activation, self.theta[k]
        net.weights, net.biases, net.gains = weights, biases, gains
        net.weight_norm = self.weight_norm
        return net

    # ---- structure -----------------------------------------------------------------
    @property
    def sizes(self):
        return [self.weights[0].shape[-2]] + [W.shape[-1] for W in self.weights]

    @property
    def params(self):
        """All parameter arrays in one list (weights, then biases, then gains), in the
        order of theta; optimizers update these in place."""
        return self.weights + (self.biases or []) + (self.gains or [])

    def copy(self, dtype=None):
        dtype = None if dtype is None else check_dtype(dtype)
        return MLP.from_weights(self.weights, self.biases, self.activation,
                                dtype=self.dtype if dtype is None else dtype,
                                weight_norm=self.weight_norm, gains=self.gains)

    def workspace(self, batch):
        """Preallocated forward/backward buffers for batches of `batch` rows (Workspace)."""
        return Workspace(self, batch)

    def effective_weights(self, out=None, norms=None):
        """The weight matrices the forward pass multiplies by, (n_in, n_out) each (metrics
        read these, whatever the parametrization): the parameters themselves (views) without
        weight normalization; else new arrays W_l = g_l V_l / ||V_l|| for the hidden layers
        (out: buffers for them, a Workspace's; norms: a list that receives the ||V_l||) and
        the output layer's own W."""
        if self.gains is None:
            return self.weights
        hidden = []
        for l, (V, g) in enumerate(zip(self.weights, self.gains)):
            norm = weight_norms(V, self.weight_norm)
            if norms is not None:
                norms[l] = norm
            hidden.append(effective_weight(V, g, self.weight_norm, norm=norm,
                                           out=None if out is None else out[l]))
        return hidden + [self.weights[-1]]

    def __repr__(self):
        norm = "" if self.gains is None else f", weight_norm={self.weight_norm!r}"
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, "
                f"bias={self.biases is not None}{norm})")

    # ---- forward / backward, no validation (the training loop's hot path) ------------
    def forward_cache(self, X, ws=None):
        """Forward pass keeping every layer's output a_l (what backward needs).

        Returns [a_0 = X, a_1, ..., a_L = f]; a_l: (B, sizes[l]). With a Workspace `ws`
        the outputs are written into its preallocated buffers (same numbers), and so are
        the effective weights of weight-normalized layers (ws.weights, which backward
        with the same ws then reuses).
        """
        acts = [X]
        last = len(self.weights) - 1
        mm = np.dot if self.members is None else np.matmul  # dot: less overhead on 2-d
        Ws = self.effective_weights(out=None if ws is None else ws.weights,
                                    norms=None if ws is None else ws.norms)
        for l, W in enumerate(Ws):
            z = mm(acts[-1], W, out=None if ws is None else ws.acts[l])   # (B, n_out)
            if self.biases is not None:
                z += self.biases[l][..., None, :]              # broadcast over the batch
            if l < last and self.activation != "linear":      # linear: identity
                z = activate(self.activation, z, out=z)
            acts.append(z)
        return acts

    def backward(self, acts, delta, per_sample=False, ws=None):
        """Backpropagate delta = dC/df (B, n_out) through the cached forward pass: the four
        equations (module docstring). Returns flat-backed Grads of the batch loss C; with a
        Workspace `ws` the gradients and deltas are written into its buffers (same numbers,
        no allocation). per_sample=True: Grads of each sample's own loss (per_sample_backward).
        An ensemble's arrays have a leading member axis K. Weight-normalized layers: dC/dW
        of the effective W_l, then (dC/dV_l, dC/dg_l) by weight_norm_chain."""
        if per_sample:
            return per_sample_backward(self, acts, delta, ws)
        grads, Ws, deltas = backward_buffers(self, acts, delta, ws)
        for l in reversed(range(len(self.weights))):
            weight_gradient(acts[l], delta, out=grads.weights[l])     # dC/dW_l = a^T delta
            if grads.biases is not None:
                np.add.reduce(delta, axis=-2, out=grads.biases[l])    # dC/db_l = sum delta
            if self.gains is not None and l < len(self.weights) - 1:
                weight_norm_chain(self, l, grads, ws)                 # -> dC/dV_l, dC/dg_l
            if l > 0:                                                 # delta_{l-1}
                delta = previous_delta(self.activation, delta, Ws[l], acts[l], deltas[l - 1])
        return grads

    # ---- public, validated -------------------------------------------------------------
    def check_inputs(self, X):
        """X (B, n_in); a stack of K nets also takes its own inputs per member (K, B, n_in)."""
        stacked = self.members is not None and getattr(X, "ndim", 0) == 3
        check_float_array("X", X, shape=(self.members, None, self.sizes[0]) if stacked else
                          (None, self.sizes[0]))
        if X.shape[-2] == 0:
            raise ValueError(f"X must hold at least one row, got shape {X.shape}")
        return X

    def _checked(self, X, y, loss):
        check_choice("loss", loss, LOSSES)
        X = self.check_inputs(X)
        return X, check_targets(loss, y, X.shape[0], self.sizes[-1])
