"""The validated public calls a network offers -- forward, loss, loss_and_grad,
per_sample_grads -- written once on top of the network's own unvalidated hot path.

A class that inherits ValidatedCalls provides

    check_inputs(X)           -> X, checked (raises naming what is wrong)
    _checked(X, y, loss)      -> (X, Y), checked, Y shaped like the output f
    forward_cache(X)          -> acts, acts[-1] the output f
    backward(acts, delta, per_sample=False) -> Grads

and the calls below then check their arguments, run the forward pass, take the loss by
name (losses.loss_value_and_grad) and, where asked, the backward pass. Not for: the
training loop, which calls forward_cache and backward directly with checked batches.
"""
from ..losses import loss_value_and_grad


class ValidatedCalls:
    """forward, loss, loss_and_grad, per_sample_grads for a net (see the module docstring),
    and its dtype (theta's)."""

    @property
    def dtype(self):
        return self.theta.dtype

    def forward(self, X):
        """Network output f(X): (B, n_out) for X (B, n_in); (K, B, n_out) for a stack of K
        nets, from X (B, n_in) shared or (K, B, n_in) one per member."""
        return self.forward_cache(self.check_inputs(X))[-1]

    def loss(self, X, y, loss="mse"):
        """Loss value on (X, y) without gradients (for a stack, one value per member)."""
        X, y = self._checked(X, y, loss)
        return loss_value_and_grad(loss, self.forward_cache(X)[-1], y)[0]

    def loss_and_grad(self, X, y, loss="mse"):
        """(C, Grads) for the batch loss C on (X, y); see losses.py for each C."""
        X, y = self._checked(X, y, loss)
        acts = self.forward_cache(X)
        value, delta = loss_value_and_grad(loss, acts[-1], y)
        return value, self.backward(acts, delta)

    def per_sample_grads(self, X, y, loss="mse"):
        """Grads of each sample's loss C_i, arrays (B, *param.shape); their mean over the
        batch axis is the batch gradient. Memory: B * n_params floats (times K for a stack)."""
        X, y = self._checked(X, y, loss)
        acts = self.forward_cache(X)
        _, delta = loss_value_and_grad(loss, acts[-1], y)
        return self.backward(acts, delta, per_sample=True)
