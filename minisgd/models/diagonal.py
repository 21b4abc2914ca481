"""The diagonal linear network: a linear predictor beta written as a product of two
vectors, the simplest model in which SGD's step size changes which solution is found.

    f(x) = <beta, x>           x: (d,)   beta: (d,)
    beta = u * v               parametrization "uv"   (the default)
    beta = u^2 - v^2           parametrization "u2v2"

(products and powers elementwise). The loss sees only beta, so the gradient is the
linear-regression gradient passed through the chain rule, one line each
(delta = dC/df, from the loss):

    dC/dbeta = X^T delta                                    (d, 1)   X: (B, d), delta: (B, 1)
    uv:      dC/du = dC/dbeta * v          dC/dv = dC/dbeta * u
    u2v2:    dC/du = 2 u * dC/dbeta        dC/dv = -2 v * dC/dbeta

Per-sample gradients (each sample's own loss C_i, C = mean_i C_i) use dC_i/df_i = B delta_i:
dC_i/dbeta = B delta_i x_i, then the same chain rule.

Layout. u and v live interleaved in one flat vector theta (2d,): the single weight matrix
W = theta.reshape(d, 2) has column 0 = u and column 1 = v, so row j of W, (u_j, v_j), is
everything input j feeds. The optimizers' L1 prox (soft-threshold of weights[0]) and
group-L1 prox (rows of weights[0]) and the support metrics (row norms of weights[0]) then
act on the diagonal net as they do on an MLP's first layer. A stack of K nets (stack) has
theta (K, 2d) and W (K, d, 2); member k computes exactly (bit for bit) what it computes
alone. The class speaks the MLP's protocol (theta, weights, params, forward_cache,
backward, workspace, stack, member), so the training loop drives it unchanged.

The published code this follows (tml-epfl/sgd-sparse-features), its init and where
minisgd departs from it: diagonal_parametrization.py, which holds beta(u, v), the
chain rule back and the inits. Argument checks: diagonal_checks.py.
Not for: losses other than MSE, optimizers, batching (see losses.py, optimizers.py).
"""
import numpy as np

from ..checks import check_choice, check_float, check_int, make_rng
from ..losses import check_targets
from .buffers import Grads
from .diagonal_checks import (check_diagonal_inputs, check_dtype, check_factors,
                              check_stack_targets, check_stackable)
from .diagonal_parametrization import (INITS, PARAMETRIZATIONS, factor_gradients, predictor,
                                       published_init, random_init)
from .validated_calls import ValidatedCalls


class DiagonalNet(ValidatedCalls):
    """Diagonal linear network f(x) = <beta, x>, beta = u * v (or u^2 - v^2), float64.

    DiagonalNet(d) is the published setting: beta = u * v, u = 0.1 * 1, v = 0.
    init="random" draws u, v ~ N(0, scale^2) from `seed` (an int or a numpy Generator).
    """

    activation = "linear"          # f is linear in x: what the MLP code paths expect
    biases = None                  # no biases; Grads.biases is None too

    def __init__(self, d, parametrization="uv", init="published", scale=0.1, seed=0):
        d = check_int("d", d, low=1)
        check_choice("parametrization", parametrization, PARAMETRIZATIONS)
        check_choice("init", init, INITS)
        scale = check_float("scale", scale, low=0.0, low_open=True)
        rng = make_rng(seed)
        if init == "published":
            u, v = published_init(d, parametrization, scale)
        else:
            u, v = random_init(rng, d, scale)
        self.set_params(np.stack([u, v], axis=-1), parametrization)

    @classmethod
    def from_arrays(cls, u, v, parametrization="uv", dtype=np.float64):
        """A net with the given u, v (d,) (copied; float64 unless dtype=np.float32)."""
        check_factors(u, v)
        check_choice("parametrization", parametrization, PARAMETRIZATIONS)
        net = cls.__new__(cls)
        net.set_params(np.stack([u, v], axis=-1), parametrization, dtype=check_dtype(dtype))
        return net

    def set_params(self, W, parametrization, dtype=np.float64):
        """Copy W (d, 2) (or (K, d, 2)), columns u and v, into one flat vector theta (2d,)
        (or (K, 2d)) interleaved as (u_0, v_0, u_1, v_1, ...); net.weights[0] is the view
        theta.reshape(d, 2). Update the views in place (W -= ...), don't rebind them."""
        self.parametrization = parametrization
        self.theta = np.empty(W.shape[:-2] + (2 * W.shape[-2],), dtype=dtype)
        view = self.theta.reshape(W.shape)
        assert np.shares_memory(view, self.theta), "parameter views must not be copies"
        view[...] = W
        self.weights = [view]

    @classmethod
    def stack(cls, nets):
        """An ensemble of K nets of the same d, parametrization and dtype, trained in
        lockstep: theta (K, 2d), weights[0] (K, d, 2). forward_cache and backward then take
        stacked inputs X (K, B, d) or one X (B, d) shared by all members; member k computes
        exactly what nets[k] computes alone."""
        first = check_stackable(nets, DiagonalNet)[0]
        ens = cls.__new__(cls)
        ens.set_params(np.stack([n.weights[0] for n in nets]), first.parametrization,
                       dtype=first.dtype)
        return ens

    @property
    def members(self):
        """K for an ensemble made by `stack`, None for a single net."""
        return self.theta.shape[0] if self.theta.ndim == 2 else None

    def member(self, k, copy=True):
        """Member k of an ensemble as a single net: a copy, or (copy=False) a net whose
        theta and weights are views into the ensemble's."""
        if self.members is None:
            raise ValueError("member() needs a stacked net (made by DiagonalNet.stack); "
                             "this net is a single net")
        k = check_int("k", k, low=0, high=self.members - 1)
        net = DiagonalNet.__new__(DiagonalNet)
        if copy:
            net.set_params(self.weights[0][k], self.parametrization, dtype=self.dtype)
        else:
            net.parametrization = self.parametrization
            net.theta, net.weights = self.theta[k], [self.weights[0][k]]
        return net

    def copy(self, dtype=None):
        """An independent copy (of a single net or of a stack), optionally in another dtype."""
        net = DiagonalNet.__new__(DiagonalNet)
        net.set_params(self.weights[0], self.parametrization,
                       dtype=self.dtype if dtype is None else check_dtype(dtype))
        return net

    # ---- structure -----------------------------------------------------------------
    @property
    def d(self):
        """Input dimension."""
        return self.weights[0].shape[-2]

    @property
    def sizes(self):
        """[d, 1]: d inputs, one output (as MLP.sizes)."""
        return [self.d, 1]

    @property
    def params(self):
        """All parameter arrays in one list, [W]; optimizers update these in place."""
        return self.weights

    @property
    def u(self):
        """u (d,) or (K, d): a view of theta (column 0 of W)."""
        return self.weights[0][..., 0]

    @property
    def v(self):
        """v (d,) or (K, d): a view of theta (column 1 of W)."""
        return self.weights[0][..., 1]

    def effective_predictor(self):
        """beta (d,) or (K, d), a new array: the linear map the net computes."""
        return predictor(self.u, self.v, self.parametrization)

    def effective_weights(self):
        """[W], W (d, 2) = [u v]: what metrics read (row j = input j's parameters)."""
        return self.weights

    def workspace(self, batch):
        """Preallocated forward/backward buffers for batches of `batch` rows."""
        return DiagonalWorkspace(self, check_int("batch", batch, low=1))

    def __repr__(self):
        stack = "" if self.members is None else f", members={self.members}"
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype}"
        return f"DiagonalNet(d={self.d}, parametrization={self.parametrization!r}{stack}{dtype})"

    # ---- forward / backward, no validation (the training loop's hot path) ------------
    def forward_cache(self, X, ws=None):
        """f = X beta, keeping the input (what backward needs). Returns [X, f].

        X (B, d) -> f (B, 1); a stack takes X (K, B, d) or a shared X (B, d) -> f (K, B, 1).
        With a workspace `ws`, beta and f are written into its buffers (same numbers).
        """
        beta = None if ws is None else ws.beta                # (d, 1) or (K, d, 1)
        if beta is None:
            beta = np.empty(self.theta.shape[:-1] + (self.d, 1), dtype=self.dtype)
        predictor(self.u, self.v, self.parametrization, out=beta[..., 0],
                  scratch=None if ws is None else ws.scratch)
        mm = np.dot if self.members is None else np.matmul    # as MLP: gemv per member
        f = mm(X, beta, out=None if ws is None else ws.acts[0])   # (B, 1) or (K, B, 1)
        return [X, f]

    def backward(self, acts, delta, per_sample=False, ws=None):
        """Gradients from delta = dC/df (B, 1) (or (K, B, 1)) and the cached [X, f].

        Returns Grads([gW], None, flat) with gW (d, 2) = [dC/du dC/dv] (a view of flat
        (2d,)); for a stack gW (K, d, 2), flat (K, 2d). With a workspace `ws` the result is
        written into ws.grads (no allocation). per_sample=True: Grads of each sample's own
        loss C_i, gW (B, d, 2) (or (K, B, d, 2)), flat None.
        """
        X = acts[0]
        if per_sample:
            if ws is not None:
                raise ValueError("per_sample=True allocates its (B, d, 2) gradients: pass ws=None")
            g_beta = X * (delta * delta.shape[-2])            # (..., B, d) B delta_i x_i
            gW = np.empty(g_beta.shape + (2,), dtype=np.result_type(g_beta, self.dtype))
            factor_gradients(g_beta, self.u[..., None, :], self.v[..., None, :],
                             self.parametrization, gW[..., 0], gW[..., 1])
            return Grads([gW], None)
        mm = np.dot if self.members is None else np.matmul
        if ws is None:
            g_beta = mm(X.mT, delta)                          # (d, 1) or (K, d, 1)
            flat = np.empty(self.theta.shape, dtype=np.result_type(g_beta, self.dtype))
            grads = Grads([flat.reshape(flat.shape[:-1] + (self.d, 2))], None, flat)
        else:
            g_beta, grads = mm(X.mT, delta, out=ws.grad_beta), ws.grads
        gW = grads.weights[0]
        factor_gradients(g_beta[..., 0], self.u, self.v, self.parametrization,
                         gW[..., 0], gW[..., 1])
        return grads

    # ---- public, validated -------------------------------------------------------------
    def check_inputs(self, X):
        """X (B, d); for a stack also (K, B, d). At least one row."""
        return check_diagonal_inputs(X, self.d, self.members)

    def _checked(self, X, y, loss):
        check_choice("loss", loss, ("mse",))
        X = self.check_inputs(X)
        if self.members is None:
            return X, check_targets("mse", y, X.shape[0], 1)     # (B, 1)
        return X, check_stack_targets(y, self.members, X.shape[-2])


class DiagonalWorkspace:
    """Preallocated buffers for forward/backward of a DiagonalNet at one batch size: the
    output acts[0] (B, 1), deltas[0] (same shape; the loss writes dC/df there), a
    flat-backed Grads (flat (2d,), weights[0] its (d, 2) view) and the intermediates beta,
    dC/dbeta (d, 1) and a (d,) scratch; every array gets a leading K for a stack."""

    def __init__(self, net, batch):
        self.batch = batch
        lead = net.theta.shape[:-1]                           # () or (K,)
        self.acts = [np.empty(lead + (batch, 1), dtype=net.dtype)]
        self.deltas = [np.empty(lead + (batch, 1), dtype=net.dtype)]
        flat = np.empty_like(net.theta)
        self.grads = Grads([flat.reshape(lead + (net.d, 2))], None, flat)
        self.beta = np.empty(lead + (net.d, 1), dtype=net.dtype)
        self.grad_beta = np.empty(lead + (net.d, 1), dtype=net.dtype)
        self.scratch = np.empty(lead + (net.d,), dtype=net.dtype)
