"""The exact second-moment path for deep linear nets: loss and gradient from the data's
moments, never touching the rows again.

A linear net (no activation) computes f(x) = x^T W_0 W_1 ... W_{L-1} + q. With a bias, fold
it in by augmenting: x~ = [x, 1] and, per layer, W~_l = [[W_l, 0], [b_l, 1]] (the output
layer W~_{L-1} = [[W_{L-1}], [b_{L-1}]]), so that f(x) = x~^T P with

    P = W~_0 W~_1 ... W~_{L-1}                                   (d + a, K), a = 1 with bias

Under the mean squared error over B rows and K outputs (losses.mse, no 1/2),

    C(P)   = (1/(B K)) sum_i ||x~_i^T P - y_i||^2
           = (1/K) [ tr(P^T S P) - 2 tr(P^T c) + yy ]
    S = X~^T X~ / B  (d+a, d+a),   c = X~^T Y / B  (d+a, K),   yy = sum_i ||y_i||^2 / B
    dC/dP  = (2/K) (S P - c) =: G                                 (d+a, K)

and, writing Q_l = W~_0 ... W~_{l-1} and R_l = W~_{l+1} ... W~_{L-1} (so P = Q_l W~_l R_l),

    dC/dW~_l = Q_l^T G R_l^T        computed as H_0 = G, H_{l+1} = W~_l^T H_l:  H_l R_l^T

whose top-left block is dC/dW_l and whose constant row is dC/db_l (the fixed 0 and 1
entries of W~_l are not parameters). A step costs O(L width^3 + d^2 K) instead of
O(B d width): the data enter only through (S, c, yy).

What this says about the mechanism: **full-batch GD on a linear net sees the data only
through S and c** (for the paper's data, S ~ I and c = the target's coefficients), while
SGD's per-batch moments (S_b, c_b) fluctuate around them; that fluctuation is all the noise
SGD has here. A batch of b rows costs one (d x b)(b x d) product to form S_b.

Numerics: near the minimum the three terms of C cancel (label noise 1e-3 gives C ~ 1e-6 from
terms of order 5, losing ~7 digits). The history's losses are therefore computed as

    C(P) = C_min + (1/K) [ 2 tr(D^T g*) + tr(D^T S D) ],    D = P - P*

with P* the least-squares solution, C_min its residual loss and g* = X~^T (X~ P* - Y) / B its
(rounding-sized) gradient, all from the rows once per data set. g* keeps the split exact for
the P* that lstsq returns, which solves S P = c only to rounding. Measured at C ~ 1e-6
against a 64-bit-mantissa reference: rows path 7e-15, this form 1e-14 (2e-13 without g*),
plain form 7e-9 (tests/test_moments.py). The per-step batch loss, used only to detect
divergence, is the plain form (plain_loss).
Not for: non-linear nets, cross-entropy, weight normalization (engines.py serves all).
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Moments:
    """(S, c, yy) of a set of rows: S (d+a, d+a), c (d+a, K), yy a float (per member for a
    stack: S (M, d+a, d+a) or shared, c (M, d+a, K), yy (M,)). For the history, P_star,
    c_min and g_star make the loss exact near the minimum (see the module docstring)."""
    S: np.ndarray
    c: np.ndarray
    yy: object
    P_star: np.ndarray = None
    c_min: object = None
    g_star: np.ndarray = None


def augmented(X, bias):
    """[X, 1] (B, d + 1) with a bias, else X itself."""
    if not bias:
        return X
    ones = np.ones(X.shape[:-1] + (1,), dtype=X.dtype)
    return np.concatenate([X, ones], axis=-1)


def moments(X, Y, bias=False):
    """Moments of the rows (X (B, d), Y (B, K)), or of each member's rows (X (M, B, d),
    Y (M, B, K); a shared X (B, d) with per-member Y (M, B, K) gives one S, M c's)."""
    A = augmented(X, bias)
    B = X.shape[-2]
    S = (np.dot if A.ndim == 2 else np.matmul)(A.mT, A) / B    # (d+a, d+a)
    c = (np.dot if A.ndim == Y.ndim == 2 else np.matmul)(A.mT, Y) / B   # (d+a, K)
    flat = Y.reshape(Y.shape[:-2] + (-1,))
    yy = (float(np.dot(flat, flat)) if flat.ndim == 1 else np.vecdot(flat, flat)) / B
    return Moments(S, c, yy)


def moments_with_optimum(X, Y, bias=False):
    """moments(X, Y) plus the least-squares P* and its residual loss C_min, from the rows
    (once per data set): what the history's exact losses need."""
    M = moments(X, Y, bias)
    A = augmented(X, bias)
    P_star = np.linalg.lstsq(A, Y, rcond=None)[0]              # (d+a, K)
    r = A @ P_star - Y                                         # (B, K) residuals at P*
    M.P_star, M.c_min, M.g_star = P_star, float(np.vdot(r, r)) / r.size, A.T @ r / A.shape[0]
    return M


def augmented_weights(net):
    """The W~_l of net: the weights themselves without biases (views, no copies); with
    biases, [[W_l, 0], [b_l, 1]] (output layer [[W_{L-1}], [b_{L-1}]])."""
    if net.biases is None:
        return net.weights
    out, last = [], len(net.weights) - 1
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        n_in, n_out = W.shape[-2:]
        cols = n_out if l == last else n_out + 1
        Wa = np.zeros(W.shape[:-2] + (n_in + 1, cols), dtype=W.dtype)
        Wa[..., :n_in, :n_out] = W
        Wa[..., n_in, :n_out] = b
        if l < last:
            Wa[..., n_in, n_out] = 1.0
        out.append(Wa)
    return out


def suffix_products(Ws, mm):
    """[R_0, ..., R_{L-1}] with R_l = W_{l+1} ... W_{L-1} (R_{L-1} = None: the identity)."""
    R = [None] * len(Ws)
    for l in range(len(Ws) - 2, -1, -1):
        R[l] = Ws[l + 1] if R[l + 1] is None else mm(Ws[l + 1], R[l + 1])
    return R


def product(net):
    """P = W~_0 ... W~_{L-1} (d+a, K): the linear map the net computes (x~ -> f)."""
    Ws = augmented_weights(net)
    mm = np.dot if net.members is None else np.matmul
    R = suffix_products(Ws, mm)
    return Ws[0] if R[0] is None else mm(Ws[0], R[0])


def exact_loss(P, M, K):
    """C(P) = C_min + (1/K) [2 tr(D^T g*) + tr(D^T S D)], D = P - P*: accurate near the
    minimum (module docstring)."""
    D = P - M.P_star                                           # (d+a, K)
    return M.c_min + (2.0 * float(np.vdot(D, M.g_star)) + float(np.vdot(D, np.dot(M.S, D)))) / K


def loss_and_grad(net, M, grads):
    """(C, Grads) of the linear net on moments M, written into `grads` (a flat-backed
    Grads shaped like net's parameters, e.g. net.workspace(1).grads)."""
    Ws = augmented_weights(net)
    mm = np.dot if net.members is None else np.matmul
    R = suffix_products(Ws, mm)
    P = Ws[0] if R[0] is None else mm(Ws[0], R[0])              # (d+a, K)
    K = P.shape[-1]
    SP = mm(M.S, P)
    value = plain_loss(P, SP, M, K)
    H = (SP - M.c) * (2.0 / K)                                 # G = dC/dP  (d+a, K)
    bias = net.biases is not None
    for l, W in enumerate(Ws):
        n_in, n_out = net.weights[l].shape[-2:]
        dWa = H if R[l] is None else mm(H, R[l].mT)            # (n_in+a, n_out+a)
        grads.weights[l][...] = dWa[..., :n_in, :n_out]
        if bias:
            grads.biases[l][...] = dWa[..., n_in, :n_out]
        if l + 1 < len(Ws):
            H = mm(W.mT, H)                                    # W~_l^T H_l  (n_out+a, K)
    return value, grads


def plain_loss(P, SP, M, K):
    """C(P) in the plain form (1/K)[tr(P^T S P) - 2 tr(P^T c) + yy], given SP = S P: one
    value, or one per member for a stack P (M, d+a, K)."""
    if P.ndim == 2:
        return (float(np.vdot(P, SP)) - 2.0 * float(np.vdot(P, M.c)) + M.yy) / K
    flat = lambda A: A.reshape(A.shape[0], -1)
    c = np.broadcast_to(M.c, P.shape)
    return (np.vecdot(flat(P), flat(SP)) - 2.0 * np.vecdot(flat(P), flat(c)) + M.yy) / K


class MomentGradient:
    """The training loop's loss_and_grad for a linear net under mse, through moments: the
    full training set's moments are computed once (`full`, for the rows X_full: a batch
    that IS those rows uses them); any other batch (SGD's, or the full batch with fresh
    label noise) has its moments formed from its rows. Same interface as engines.RowsGradient."""

    def __init__(self, net, X_full=None, Y_full=None):
        self.grads = net.workspace(1).grads
        self.bias = net.biases is not None
        self.X_full, self.Y_full = X_full, Y_full
        self.full = None if X_full is None else moments(X_full, Y_full, self.bias)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def __call__(self, net, X, Y):
        """X (B, d), Y (B, K); for a stack X (M, B, d) or shared (B, d), Y likewise."""
        if X is self.X_full and Y is self.Y_full:
            M = self.full
        else:
            M = moments(X, Y, self.bias)
        return loss_and_grad(net, M, self.grads)
