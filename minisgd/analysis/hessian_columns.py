"""The exact Hessian's columns H e_j of an MLP, with the work the unit direction makes zero
left out: hvp.py's R-operator, the same floating-point operations on every number that is
not known to be zero.

For e_j, the unit direction of one parameter of layer s (a weight W_s[i, o] or a bias
b_s[o]), most terms of hvp.r_forward / r_backward are products with zero arrays:

    forward   R{z_l} = 0 for l < s (no direction below layer s, R{a_0} = 0);
              R{z_s} = a_s E_io (column o holds a_s[:, i], the rest 0), or the column o of
              ones for a bias;  R{z_l} = R{a_l} W_l for l > s
    backward  delta_l, sigma'(z_l), sigma''(z_l) and e_l = delta_l W_l^T do not depend on
              the direction: computed once for all D columns;
              R{a_l}^T delta_l and e_l sigma'' R{z_{l-1}} vanish while R{z_{l-1}} = 0;
              delta_s E_io^T is delta_s[:, o] placed in column i

so each column costs two to four matrix products per layer instead of the seven of a
general direction. Every remaining number is formed by the same operations in the same
order as hvp.hvp_cached along e_j (adding an exact zero to x returns x), so the columns are
equal to it bit for bit, except possibly the sign of an entry that is exactly zero
(tests/test_hessian.py checks this, column by column, for every activation). Used by
hessian.full_hessian for MLPs. Not for: general directions (hvp.py), the diagonal net.
"""
import numpy as np

from ..losses import mse
from ..models.backprop import activation_derivative
from .hvp import activation_second_derivative


class UnitColumns:
    """H e_j of the mse data loss of a plain single MLP on (X, Y), for j = 0 .. D - 1 in
    net.params' flat order (weights, then biases). One forward pass and the
    direction-independent backward quantities are computed here, once."""

    def __init__(self, net, X, Y):
        self.net, self.L = net, len(net.weights)
        self.acts = net.forward_cache(X)
        _, delta = mse(self.acts[-1], Y)
        self.count = delta.size
        # the forward R pass's sigma'(z_l) after layer l, from a_{l+1} (as r_forward)
        self.fwd_deriv = [activation_derivative(net.activation, a) for a in self.acts[1:]]
        # the backward pass's delta_l, sigma'(z_{l-1}) and e_l sigma''(z_{l-1}), where
        # e_l = delta_l W_l^T
        self.delta, self.d1, self.ed2 = [None] * self.L, {}, {}
        for l in reversed(range(self.L)):
            self.delta[l] = delta
            if l > 0:
                d1 = self.fwd_deriv[l - 1]                           # sigma'(z_{l-1})
                d2 = activation_second_derivative(net.activation, self.acts[l])
                e = delta @ net.weights[l].T
                self.d1[l] = d1
                self.ed2[l] = None if d2 is None else e * d2
                delta = e if d1 is None else e * d1
        self.cells = self.unit_cells()

    def unit_cells(self):
        """(layer s, input i or None for a bias, output o) of each flat index j."""
        cells = [(s, i, o) for s, W in enumerate(self.net.weights)
                 for i in range(W.shape[0]) for o in range(W.shape[1])]
        if self.net.biases is not None:
            cells += [(s, None, o) for s, b in enumerate(self.net.biases)
                      for o in range(b.shape[0])]
        return cells

    def forward(self, s, i, o):
        """R{z_l} for l >= s (None below s, where it is zero)."""
        a_s = self.acts[s]
        rz = np.zeros((a_s.shape[0], self.net.weights[s].shape[1]))
        rz[:, o] = 1.0 if i is None else a_s[:, i]                  # a_s E_io, or c_s = e_o
        Rz = [None] * s + [rz]
        for l in range(s + 1, self.L):
            deriv = self.fwd_deriv[l - 1]
            Ra = rz if deriv is None else deriv * rz                 # R{a_l}
            rz = Ra @ self.net.weights[l]
            Rz.append(rz)
        return Rz

    def column(self, j):
        """H e_j as a flat (D,) vector."""
        s, i, o = self.cells[j]
        Rz = self.forward(s, i, o)
        net = self.net
        r_delta = Rz[-1] * (2.0 / self.count)
        hW, hb = [None] * self.L, [None] * self.L
        for l in reversed(range(self.L)):
            a_in, delta = self.acts[l], self.delta[l]
            hW[l] = a_in.T @ r_delta
            if net.biases is not None:
                hb[l] = r_delta.sum(axis=0)
            if l == 0:
                break
            d1, below = self.d1[l], Rz[l - 1]
            if below is not None:                                    # R{a_l} != 0
                Ra_in = below if d1 is None else d1 * below
                hW[l] += Ra_in.T @ delta
            r_e = r_delta @ net.weights[l].T
            if l == s and i is not None:
                r_e[:, i] += delta[:, o]                             # delta_s E_io^T
            r_delta = r_e if d1 is None else r_e * d1
            if self.ed2[l] is not None and below is not None:
                r_delta = r_delta + self.ed2[l] * below
        parts = hW + (hb if net.biases is not None else [])
        return np.concatenate([p.ravel() for p in parts])
