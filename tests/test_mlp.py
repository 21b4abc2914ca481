"""Numerical core of minisgd.models.MLP: gradients, per-sample gradients, hand-worked
examples, initialization statistics and argument validation.

Every expected value here is either derived independently (finite differences, a
reference forward written in this file, arithmetic worked by hand in the comments) or a
statistical property of the documented distribution; nothing is copied from running the
code under test.
"""
import re

import numpy as np
import pytest

from minisgd.models import MLP, Grads
from net_checks import random_targets, rel_err

ACTIVATIONS = ["linear", "relu", "tanh"]
# (loss, number of outputs): mse with y of shape (B,) for one output and (B, K) for K
# outputs; cross_entropy with integer labels in [0, K).
LOSS_CONFIGS = [("mse", 1), ("mse", 2), ("cross_entropy", 3)]
FD_EPS = 1e-6
FD_TOL = 1e-6
KINK_MARGIN = 1e-4


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def reference_forward(weights, biases, activation, X):
    """Forward pass written independently of minisgd. Returns (output, hidden
    pre-activations z_1 .. z_{L-1})."""
    sigma = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh}
    a, pre = X, []
    for l, W in enumerate(weights):
        z = a @ W + (0.0 if biases is None else biases[l])
        if l == len(weights) - 1:
            return z, pre
        pre.append(z)
        a = sigma[activation](z)


def min_relu_margin(net, X):
    """Smallest |pre-activation| over the hidden layers (inf without hidden layers)."""
    _, pre = reference_forward(net.weights, net.biases, net.activation, X)
    return min((float(np.min(np.abs(z))) for z in pre), default=np.inf)


def make_problem(sizes, activation, bias, loss, seed=0, batch=6):
    """A tiny net with non-zero biases, a float64 batch X and targets for `loss`.

    For relu, the first seed seed, seed + 1, ... whose hidden pre-activations all stay
    KINK_MARGIN away from 0 is used (without biases, a sample whose hidden units are all
    dead gives an exactly-zero pre-activation in the next layer); the tests assert the
    margin again through assert_no_relu_kink.
    """
    for s in range(seed, seed + 100):
        problem = _make_problem(sizes, activation, bias, loss, s, batch)
        if activation != "relu" or min_relu_margin(*problem[:2]) > KINK_MARGIN:
            return problem
    raise AssertionError("no seed without relu kinks found")


def _make_problem(sizes, activation, bias, loss, seed, batch):
    rng = np.random.default_rng(1000 + seed)
    net = MLP(sizes, activation=activation, bias=bias, init="normal", scale=0.7, seed=seed)
    if bias:
        for b in net.biases:
            b[:] = rng.normal(0.0, 0.5, size=b.shape)
    X = rng.normal(size=(batch, sizes[0]))
    K = sizes[-1]
    y = random_targets(rng, loss, K, batch)
    return net, X, y


def assert_no_relu_kink(net, X):
    """Finite differences are only valid away from relu's kink: every hidden
    pre-activation must be at least KINK_MARGIN away from 0."""
    if net.activation == "relu":
        closest = min_relu_margin(net, X)
        assert closest > KINK_MARGIN, f"pre-activation {closest} too close to relu's kink"


def param_arrays(net):
    return list(net.weights) + (list(net.biases) if net.biases is not None else [])


def grad_arrays(grads):
    return list(grads.weights) + (list(grads.biases) if grads.biases is not None else [])


def fd_grads(loss_fn, arrays, eps=FD_EPS):
    """Central differences of loss_fn() with respect to every entry of every array
    (perturbed in place, restored exactly)."""
    out = []
    for P in arrays:
        G = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + eps
            c_plus = loss_fn()
            P[idx] = old - eps
            c_minus = loss_fn()
            P[idx] = old
            G[idx] = (c_plus - c_minus) / (2 * eps)
        out.append(G)
    return out


def names(net):
    L = len(net.weights)
    return [f"weights[{l}]" for l in range(L)] + (
        [f"biases[{l}]" for l in range(L)] if net.biases is not None else [])


def fd_batch_errors(sizes, activation, bias, loss, seed=0):
    """{array name: relative error} of loss_and_grad against central differences."""
    net, X, y = make_problem(sizes, activation, bias, loss, seed)
    assert_no_relu_kink(net, X)
    value, grads = net.loss_and_grad(X, y, loss)
    assert isinstance(grads, Grads)
    assert len(grads.weights) == len(net.weights)
    assert (grads.biases is None) == (not bias)
    analytic = grad_arrays(grads)
    params = param_arrays(net)
    for g, p in zip(analytic, params):
        assert g.shape == p.shape
        # a gradient that is identically zero would make the comparison vacuous
        assert np.max(np.abs(g)) > 1e-8
    numeric = fd_grads(lambda: net.loss(X, y, loss), params)
    return {name: rel_err(gn, ga) for name, gn, ga in zip(names(net), numeric, analytic)}


def fd_per_sample_errors(sizes, activation, bias, loss, seed=0, batch=4):
    """{name[i]: relative error} of per_sample_grads[i] against central differences of
    sample i's own loss (loss on X[i:i+1], y[i:i+1])."""
    net, X, y = make_problem(sizes, activation, bias, loss, seed, batch=batch)
    assert_no_relu_kink(net, X)
    psg = net.per_sample_grads(X, y, loss)
    per_sample = grad_arrays(psg)
    params = param_arrays(net)
    for g, p in zip(per_sample, params):
        assert g.shape == (batch,) + p.shape
    errors = {}
    for i in range(batch):
        Xi, yi = X[i:i + 1], y[i:i + 1]
        numeric = fd_grads(lambda: net.loss(Xi, yi, loss), params)
        for name, gn, g in zip(names(net), numeric, per_sample):
            assert np.max(np.abs(g[i])) > 1e-8 or np.max(np.abs(gn)) < 1e-8
            errors[f"{name}[sample {i}]"] = rel_err(gn, g[i])
    return errors


def sizes_for(K):
    return [3, 4, 3, K]


# ---------------------------------------------------------------------------------------
# forward pass
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_matches_reference(activation, bias):
    net, X, _ = make_problem([3, 4, 3, 2], activation, bias, "mse")
    X_before = X.copy()
    W_before = [W.copy() for W in net.weights]
    f = net.forward(X)
    expected, _ = reference_forward(net.weights, net.biases, activation, X)
    assert f.shape == (X.shape[0], 2)
    assert f.dtype == np.float64
    assert rel_err(f, expected) < 1e-14
    # forward must not modify its input or the parameters
    assert np.array_equal(X, X_before)
    assert all(np.array_equal(W, W0) for W, W0 in zip(net.weights, W_before))


def test_loss_and_grad_value_equals_loss():
    net, X, y = make_problem([3, 4, 3, 2], "tanh", True, "mse")
    value, _ = net.loss_and_grad(X, y, "mse")
    assert value == net.loss(X, y, "mse")
    f = net.forward(X)
    assert np.isclose(value, np.mean((f - y) ** 2), rtol=1e-14, atol=0)


# ---------------------------------------------------------------------------------------
# 1. finite differences for every parameter entry
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss,K", LOSS_CONFIGS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_matches_finite_differences(activation, bias, loss, K):
    errors = fd_batch_errors(sizes_for(K), activation, bias, loss)
    assert len(errors) == 3 * (2 if bias else 1)
    worst = max(errors, key=errors.get)
    assert errors[worst] < FD_TOL, f"{worst}: relative error {errors[worst]:.3e}"


@pytest.mark.parametrize("sizes", [[3, 2], [2, 3, 3, 3, 3, 2]])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_finite_differences_other_depths(sizes, activation):
    # one layer (no hidden activation at all) and a deeper net
    errors = fd_batch_errors(sizes, activation, True, "cross_entropy", seed=3)
    worst = max(errors, key=errors.get)
    assert errors[worst] < FD_TOL, f"{worst}: relative error {errors[worst]:.3e}"


# ---------------------------------------------------------------------------------------
# 2. per-sample gradients
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss,K", LOSS_CONFIGS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_per_sample_grads_match_finite_differences(activation, loss, K):
    errors = fd_per_sample_errors(sizes_for(K), activation, True, loss)
    worst = max(errors, key=errors.get)
    assert errors[worst] < FD_TOL, f"{worst}: relative error {errors[worst]:.3e}"


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("loss,K", LOSS_CONFIGS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_per_sample_mean_is_batch_gradient(activation, loss, K, bias):
    net, X, y = make_problem(sizes_for(K), activation, bias, loss, batch=5)
    _, grads = net.loss_and_grad(X, y, loss)
    psg = net.per_sample_grads(X, y, loss)
    assert (psg.biases is None) == (not bias)
    for name, g_batch, g_ps in zip(names(net), grad_arrays(grads), grad_arrays(psg)):
        assert g_ps.shape == (5,) + g_batch.shape, name
        scale = max(np.max(np.abs(g_batch)), 1.0)
        np.testing.assert_allclose(g_ps.mean(axis=0), g_batch, rtol=0, atol=1e-12 * scale,
                                   err_msg=name)


@pytest.mark.parametrize("loss,K", LOSS_CONFIGS)
def test_per_sample_grad_equals_single_sample_batch_gradient(loss, K):
    # the gradient of sample i's own loss is loss_and_grad on the batch {i}
    net, X, y = make_problem(sizes_for(K), "tanh", True, loss, batch=4)
    psg = net.per_sample_grads(X, y, loss)
    for i in range(4):
        _, gi = net.loss_and_grad(X[i:i + 1], y[i:i + 1], loss)
        for name, g_single, g_ps in zip(names(net), grad_arrays(gi), grad_arrays(psg)):
            assert rel_err(g_ps[i], g_single) < 1e-12, f"{name} sample {i}"


# ---------------------------------------------------------------------------------------
# 3. hand-worked examples (2-2-1 nets, mse, every number derived in the comments)
# ---------------------------------------------------------------------------------------
# Shared 2-2-1 net with biases:
#   W1 = [[ 1, 2],      b1 = [0, 1]       W2 = [[ 2],     b2 = [1]
#         [-1, 1]]                              [-1]]
#   x = [1, 2], y = 3, batch B = 1, one output K = 1, so C = (f - y)^2, dC/df = 2 (f - y).
#   z1 = x @ W1 + b1 = [1*1 + 2*(-1), 1*2 + 2*1] + [0, 1] = [-1, 4] + [0, 1] = [-1, 5]
W1 = np.array([[1.0, 2.0], [-1.0, 1.0]])
B1 = np.array([0.0, 1.0])
W2 = np.array([[2.0], [-1.0]])
B2 = np.array([1.0])
X_HAND = np.array([[1.0, 2.0]])
Y_HAND = np.array([3.0])


def test_hand_worked_linear_2_2_1():
    net = MLP.from_weights([W1, W2], [B1, B2], activation="linear")
    # a1 = z1 = [-1, 5]
    # f  = a1 @ W2 + b2 = (-1)*2 + 5*(-1) + 1 = -2 - 5 + 1 = -6
    # C  = (f - y)^2 = (-6 - 3)^2 = 81
    # delta2 = dC/df = 2 * (-9) = -18
    # dC/dW2 = a1^T delta2 = [[-1 * -18], [5 * -18]] = [[18], [-90]]
    # dC/db2 = [-18]
    # delta1 = delta2 W2^T (linear: sigma' = 1) = -18 * [2, -1] = [-36, 18]
    # dC/dW1 = x^T delta1 = [[1*-36, 1*18], [2*-36, 2*18]] = [[-36, 18], [-72, 36]]
    # dC/db1 = [-36, 18]
    np.testing.assert_allclose(net.forward(X_HAND), [[-6.0]], rtol=1e-14)
    value, g = net.loss_and_grad(X_HAND, Y_HAND, "mse")
    assert value == pytest.approx(81.0, rel=1e-14)
    np.testing.assert_allclose(g.weights[1], [[18.0], [-90.0]], rtol=1e-14)
    np.testing.assert_allclose(g.biases[1], [-18.0], rtol=1e-14)
    np.testing.assert_allclose(g.weights[0], [[-36.0, 18.0], [-72.0, 36.0]], rtol=1e-14)
    np.testing.assert_allclose(g.biases[0], [-36.0, 18.0], rtol=1e-14)


def test_hand_worked_relu_2_2_1():
    net = MLP.from_weights([W1, W2], [B1, B2], activation="relu")
    # z1 = [-1, 5]  ->  a1 = relu(z1) = [0, 5],  relu'(z1) = [0, 1]
    # f  = 0*2 + 5*(-1) + 1 = -4
    # C  = (-4 - 3)^2 = 49
    # delta2 = 2 * (-7) = -14
    # dC/dW2 = a1^T delta2 = [[0 * -14], [5 * -14]] = [[0], [-70]]
    # dC/db2 = [-14]
    # dC/da1 = delta2 W2^T = -14 * [2, -1] = [-28, 14]
    # delta1 = [-28, 14] * relu'(z1) = [-28*0, 14*1] = [0, 14]
    # dC/dW1 = x^T delta1 = [[1*0, 1*14], [2*0, 2*14]] = [[0, 14], [0, 28]]
    # dC/db1 = [0, 14]
    np.testing.assert_allclose(net.forward(X_HAND), [[-4.0]], rtol=1e-14)
    value, g = net.loss_and_grad(X_HAND, Y_HAND, "mse")
    assert value == pytest.approx(49.0, rel=1e-14)
    np.testing.assert_allclose(g.weights[1], [[0.0], [-70.0]], rtol=1e-14, atol=0)
    np.testing.assert_allclose(g.biases[1], [-14.0], rtol=1e-14)
    np.testing.assert_allclose(g.weights[0], [[0.0, 14.0], [0.0, 28.0]], rtol=1e-14, atol=0)
    np.testing.assert_allclose(g.biases[0], [0.0, 14.0], rtol=1e-14, atol=0)


def test_hand_worked_linear_batch_of_two_no_bias():
    # Checks the 1/B normalization and per-sample gradients by hand.
    #   W1 = [[1, 0],   W2 = [[1],    X = [[1, 1],    y = [2, -1]
    #         [2, -1]]        [3]]         [0, 2]]
    #   Z1 = X @ W1: row 1 = [1*1 + 1*2, 1*0 + 1*(-1)] = [3, -1]
    #                row 2 = [0*1 + 2*2, 0*0 + 2*(-1)] = [4, -2]
    #   f = Z1 @ W2: row 1 = 3*1 + (-1)*3 = 0,  row 2 = 4*1 + (-2)*3 = -2
    #   r = f - y = [0 - 2, -2 - (-1)] = [-2, -1]
    #   C = (1/(B*K)) sum r^2 = ((-2)^2 + (-1)^2) / 2 = 5/2 = 2.5
    #   delta2 = 2 r / (B*K) = 2 * [-2, -1] / 2 = [-2, -1]
    #   dC/dW2 = Z1^T delta2 = [[3*(-2) + 4*(-1)], [(-1)*(-2) + (-2)*(-1)]] = [[-10], [4]]
    #   delta1 = delta2 W2^T: row 1 = -2 * [1, 3] = [-2, -6], row 2 = -1 * [1, 3] = [-1, -3]
    #   dC/dW1 = X^T delta1 = [[1*(-2) + 0*(-1), 1*(-6) + 0*(-3)],
    #                          [1*(-2) + 2*(-1), 1*(-6) + 2*(-3)]] = [[-2, -6], [-4, -12]]
    # Per sample, C_i = r_i^2, dC_i/df_i = 2 r_i: sample 1: -4, sample 2: -2
    #   dC_1/dW2 = [[3*(-4)], [(-1)*(-4)]] = [[-12], [4]];  dC_2/dW2 = [[4*(-2)], [(-2)*(-2)]] = [[-8], [4]]
    #   dC_1/da1 = -4 * [1, 3] = [-4, -12];  dC_1/dW1 = outer([1, 1], [-4, -12]) = [[-4, -12], [-4, -12]]
    #   dC_2/da1 = -2 * [1, 3] = [-2, -6];   dC_2/dW1 = outer([0, 2], [-2, -6]) = [[0, 0], [-4, -12]]
    #   (means: [[-10], [4]] and [[-2, -6], [-4, -12]], the batch gradient)
    net = MLP.from_weights([np.array([[1.0, 0.0], [2.0, -1.0]]), np.array([[1.0], [3.0]])])
    X = np.array([[1.0, 1.0], [0.0, 2.0]])
    y = np.array([2.0, -1.0])
    np.testing.assert_allclose(net.forward(X), [[0.0], [-2.0]], rtol=1e-14, atol=0)
    value, g = net.loss_and_grad(X, y, "mse")
    assert value == pytest.approx(2.5, rel=1e-14)
    assert g.biases is None
    np.testing.assert_allclose(g.weights[1], [[-10.0], [4.0]], rtol=1e-14)
    np.testing.assert_allclose(g.weights[0], [[-2.0, -6.0], [-4.0, -12.0]], rtol=1e-14)
    psg = net.per_sample_grads(X, y, "mse")
    assert psg.biases is None
    np.testing.assert_allclose(psg.weights[1], [[[-12.0], [4.0]], [[-8.0], [4.0]]], rtol=1e-14)
    np.testing.assert_allclose(psg.weights[0],
                               [[[-4.0, -12.0], [-4.0, -12.0]], [[0.0, 0.0], [-4.0, -12.0]]],
                               rtol=1e-14, atol=0)


def test_hand_worked_cross_entropy_2_2_2():
    # Linear 2-2-2 net, no bias, cross-entropy:
    #   W1 = [[1, 0], [0, 1]] (identity),  W2 = [[1, 0], [0, 1]] (identity)
    #   x = [0, ln 3], label 0  ->  logits f = x = [0, ln 3]
    #   softmax: exp = [1, 3], sum 4, p = [1/4, 3/4]
    #   C = -ln p_0 = ln 4
    #   delta2 = p - onehot(0) = [1/4 - 1, 3/4] = [-3/4, 3/4]  (B = 1)
    #   dC/dW2 = a1^T delta2 = outer([0, ln 3], [-3/4, 3/4]) = [[0, 0], [-3/4 ln 3, 3/4 ln 3]]
    #   delta1 = delta2 W2^T = [-3/4, 3/4];  dC/dW1 = outer(x, delta1) = same as dC/dW2
    ln3 = np.log(3.0)
    eye = np.eye(2)
    net = MLP.from_weights([eye, eye])
    x = np.array([[0.0, ln3]])
    value, g = net.loss_and_grad(x, np.array([0]), "cross_entropy")
    assert value == pytest.approx(np.log(4.0), rel=1e-14)
    expected = np.array([[0.0, 0.0], [-0.75 * ln3, 0.75 * ln3]])
    np.testing.assert_allclose(g.weights[1], expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(g.weights[0], expected, rtol=1e-14, atol=1e-15)


# ---------------------------------------------------------------------------------------
# 4. initialization
# ---------------------------------------------------------------------------------------
def test_kaiming_normal_statistics():
    # fan_in differs from fan_out in both layers, so sqrt(2/fan_in) is distinguishable from
    # sqrt(2/fan_out) (15% apart) at these sample sizes (std estimated to ~0.2%).
    net = MLP([400, 300, 500], init="kaiming_normal", bias=True, seed=1)
    for W, (n_in, n_out) in zip(net.weights, [(400, 300), (300, 500)]):
        assert W.shape == (n_in, n_out)
        assert W.dtype == np.float64
        std = np.sqrt(2.0 / n_in)
        assert abs(W.std() / std - 1.0) < 0.02
        assert abs(W.mean()) < 5 * std / np.sqrt(W.size)
        # Gaussian, not uniform: P(|w| < std) = 0.6827 (uniform with this std: 0.577)
        assert abs(np.mean(np.abs(W) < std) - 0.6827) < 0.01
    assert all(np.array_equal(b, np.zeros(n)) for b, n in zip(net.biases, [300, 500]))
    assert MLP([400, 300], init="kaiming_normal").biases is None


def test_torch_default_uniform_bounds_and_biases():
    net = MLP([400, 300, 500], init="torch_default", bias=True, seed=2)
    for W, b, n_in in zip(net.weights, net.biases, [400, 300]):
        bound = 1.0 / np.sqrt(n_in)
        for P in (W, b):
            assert np.all(np.abs(P) <= bound)
            assert np.max(np.abs(P)) > 0.95 * bound            # fills the interval
        # uniform on [-bound, bound]: std bound/sqrt(3), each quarter holds 1/4
        assert abs(W.std() / (bound / np.sqrt(3)) - 1.0) < 0.02
        counts = np.histogram(W, bins=4, range=(-bound, bound))[0] / W.size
        np.testing.assert_allclose(counts, 0.25, atol=0.01)
        # biases are drawn too (PyTorch nn.Linear), from the same interval
        assert abs(b.std() / (bound / np.sqrt(3)) - 1.0) < 0.2
    assert not np.array_equal(net.weights[0][0, :300], net.biases[0])


def test_normal_init_uses_scale():
    net = MLP([400, 300], init="normal", scale=0.3, bias=True, seed=3)
    W = net.weights[0]
    assert abs(W.std() / 0.3 - 1.0) < 0.02
    assert abs(W.mean()) < 5 * 0.3 / np.sqrt(W.size)
    assert np.array_equal(net.biases[0], np.zeros(300))


@pytest.mark.parametrize("init", ["kaiming_normal", "torch_default"])
def test_scale_multiplies_the_draw(init):
    base = MLP([5, 4, 3], init=init, bias=True, seed=7)
    scaled = MLP([5, 4, 3], init=init, bias=True, scale=3.0, seed=7)
    for P, Q in zip(param_arrays(base), param_arrays(scaled)):
        np.testing.assert_allclose(Q, 3.0 * P, rtol=1e-15, atol=0)
    assert np.max(np.abs(scaled.weights[0])) > 0


def test_seeds():
    a = MLP([6, 5, 4], bias=True, init="torch_default", seed=11)
    b = MLP([6, 5, 4], bias=True, init="torch_default", seed=11)
    c = MLP([6, 5, 4], bias=True, init="torch_default", seed=12)
    for P, Q, R in zip(param_arrays(a), param_arrays(b), param_arrays(c)):
        assert np.array_equal(P, Q)
        assert not np.array_equal(P, R)
    # layers are separate draws
    assert not np.array_equal(a.weights[0][:5, :4], a.weights[1][:5, :4])


def test_generator_seed_accepted():
    from_gen = MLP([6, 5, 4], seed=np.random.default_rng(11))
    from_int = MLP([6, 5, 4], seed=11)
    for P, Q in zip(from_gen.weights, from_int.weights):
        assert np.array_equal(P, Q)
    # a shared generator advances: two nets drawn from it differ
    rng = np.random.default_rng(0)
    n1, n2 = MLP([6, 5], seed=rng), MLP([6, 5], seed=rng)
    assert not np.array_equal(n1.weights[0], n2.weights[0])


def test_seed_none_rejected():
    with pytest.raises(TypeError, match="seed"):
        MLP([3, 2], seed=None)


# ---------------------------------------------------------------------------------------
# 5. bad input
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("sizes,exc,pattern", [
    ([3], ValueError, r"sizes"),
    ([], ValueError, r"sizes"),
    (3, ValueError, r"sizes"),
    ([3, 0], ValueError, r"sizes\[1\]"),
    ([3, -2, 1], ValueError, r"sizes\[1\]"),
    ([3, 2.5], TypeError, r"sizes\[1\]"),
    ([3, 2.0], TypeError, r"sizes\[1\]"),
    ([True, 2], TypeError, r"sizes\[0\]"),
    ([3, "4"], TypeError, r"sizes\[1\]"),
])
def test_bad_sizes(sizes, exc, pattern):
    with pytest.raises(exc, match=pattern):
        MLP(sizes)


@pytest.mark.parametrize("kwargs,exc,pattern", [
    (dict(activation="sigmoid"), ValueError, r"activation"),
    (dict(activation=None), ValueError, r"activation"),
    (dict(init="xavier"), ValueError, r"\binit\b"),
    (dict(init="normal"), ValueError, r"scale"),
    (dict(init="normal", scale=None), ValueError, r"scale"),
    (dict(scale=0.0), ValueError, r"scale"),
    (dict(scale=-1.0), ValueError, r"scale"),
    (dict(scale=float("nan")), ValueError, r"scale"),
    (dict(scale=float("inf")), ValueError, r"scale"),
    (dict(scale="1"), TypeError, r"scale"),
    (dict(bias="yes"), TypeError, r"bias"),
    (dict(bias=1), TypeError, r"bias"),
    (dict(seed=None), TypeError, r"seed"),
    (dict(seed=-1), ValueError, r"seed"),
    (dict(seed=1.5), TypeError, r"seed"),
])
def test_bad_constructor_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        MLP([3, 4, 2], **kwargs)


METHODS = ["forward", "loss", "loss_and_grad", "per_sample_grads"]


def call(net, method, X, y, loss="mse"):
    if method == "forward":
        return net.forward(X)
    return getattr(net, method)(X, y, loss)


def bad_X_cases():
    good = np.random.default_rng(0).normal(size=(4, 3))
    nan, inf = good.copy(), good.copy()
    nan[1, 2] = np.nan
    inf[0, 0] = -np.inf
    return [
        ("wrong width", np.zeros((4, 5)), ValueError),
        ("1-d", np.zeros(3), ValueError),
        ("3-d", np.zeros((4, 3, 1)), ValueError),
        ("integer", np.ones((4, 3), dtype=np.int64), TypeError),
        ("bool", np.ones((4, 3), dtype=bool), TypeError),
        ("list", [[0.0, 1.0, 2.0]] * 4, TypeError),
        ("NaN", nan, ValueError),
        ("inf", inf, ValueError),
    ]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case,X,exc", bad_X_cases(), ids=[c[0] for c in bad_X_cases()])
def test_bad_X(method, case, X, exc):
    net = MLP([3, 4, 1], activation="tanh", bias=True)
    y = np.zeros(4)
    with pytest.raises(exc, match=r"\bX\b"):
        call(net, method, X, y)


@pytest.mark.parametrize("method", METHODS[1:])
def test_unknown_loss(method):
    net = MLP([3, 4, 2])
    with pytest.raises(ValueError, match=r"\bloss\b"):
        getattr(net, method)(np.zeros((4, 3)), np.zeros((4, 2)), "hinge")


def bad_y_cases():
    nan = np.zeros(4)
    nan[2] = np.nan
    inf = np.zeros((4, 2))
    inf[0, 1] = np.inf
    return [
        # (id, n_out, loss, y, exception)
        ("mse K=1 too long", 1, "mse", np.zeros(5), ValueError),
        ("mse K=1 two columns", 1, "mse", np.zeros((4, 2)), ValueError),
        ("mse K=1 int", 1, "mse", np.zeros(4, dtype=np.int64), TypeError),
        ("mse K=1 list", 1, "mse", [0.0, 1.0, 2.0, 3.0], TypeError),
        ("mse K=1 NaN", 1, "mse", nan, ValueError),
        ("mse K=2 1-d", 2, "mse", np.zeros(4), ValueError),
        ("mse K=2 three columns", 2, "mse", np.zeros((4, 3)), ValueError),
        ("mse K=2 transposed", 2, "mse", np.zeros((2, 4)), ValueError),
        ("mse K=2 int", 2, "mse", np.zeros((4, 2), dtype=np.int32), TypeError),
        ("mse K=2 inf", 2, "mse", inf, ValueError),
        ("ce float labels", 3, "cross_entropy", np.array([0.0, 1.0, 2.0, 0.0]), TypeError),
        ("ce bool labels", 3, "cross_entropy", np.array([True, False, True, True]), TypeError),
        ("ce label too large", 3, "cross_entropy", np.array([0, 1, 3, 2]), ValueError),
        ("ce negative label", 3, "cross_entropy", np.array([0, -1, 2, 2]), ValueError),
        ("ce 2-d labels", 3, "cross_entropy", np.zeros((4, 1), dtype=int), ValueError),
        ("ce wrong length", 3, "cross_entropy", np.zeros(5, dtype=int), ValueError),
        ("ce list", 3, "cross_entropy", [0, 1, 2, 0], TypeError),
    ]


@pytest.mark.parametrize("method", METHODS[1:])
@pytest.mark.parametrize("case,K,loss,y,exc", bad_y_cases(), ids=[c[0] for c in bad_y_cases()])
def test_bad_y(method, case, K, loss, y, exc):
    net = MLP([3, 4, K], activation="relu", bias=True)
    X = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(exc, match=r"\by\b"):
        getattr(net, method)(X, y, loss)


def test_cross_entropy_needs_two_outputs():
    net = MLP([3, 1])
    with pytest.raises(ValueError, match=r"cross_entropy"):
        net.loss_and_grad(np.zeros((2, 3)), np.zeros(2, dtype=int), "cross_entropy")


def test_float32_input_is_accepted_and_computed_in_float64():
    net, X, y = make_problem([3, 4, 2], "tanh", True, "mse")
    f32 = net.forward(X.astype(np.float32))
    assert f32.dtype == np.float64
    expected, _ = reference_forward(net.weights, net.biases, "tanh",
                                    X.astype(np.float32).astype(np.float64))
    assert rel_err(f32, expected) < 1e-14


W_OK = [np.ones((3, 4)), np.ones((4, 2))]


@pytest.mark.parametrize("weights,biases,exc,pattern", [
    ([np.ones((3, 4)), np.ones((5, 2))], None, ValueError, r"weights\[1\]"),
    ([np.ones((3, 4)), np.ones((4, 2)), np.ones((3, 1))], None, ValueError, r"weights\[2\]"),
    ([], None, ValueError, r"weights"),
    (np.ones((3, 4)), None, ValueError, r"weights"),
    ([np.ones((3, 4), dtype=int), np.ones((4, 2))], None, TypeError, r"weights\[0\]"),
    ([np.ones(3), np.ones((3, 2))], None, ValueError, r"weights\[0\]"),
    ([np.ones((3, 4)), np.full((4, 2), np.nan)], None, ValueError, r"weights\[1\]"),
    (W_OK, [np.zeros(4)], ValueError, r"biases"),
    (W_OK, [np.zeros(4), np.zeros(2), np.zeros(2)], ValueError, r"biases"),
    (W_OK, np.zeros(4), ValueError, r"biases"),
    (W_OK, [np.zeros(4), np.zeros(3)], ValueError, r"biases\[1\]"),
    (W_OK, [np.zeros((1, 4)), np.zeros(2)], ValueError, r"biases\[0\]"),
    (W_OK, [np.zeros(4, dtype=int), np.zeros(2)], TypeError, r"biases\[0\]"),
])
def test_from_weights_rejects_bad_arrays(weights, biases, exc, pattern):
    with pytest.raises(exc, match=pattern):
        MLP.from_weights(weights, biases)


def test_from_weights_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        MLP.from_weights(W_OK, activation="gelu")


def test_from_weights_copies_to_float64():
    W = [np.ones((3, 4), dtype=np.float32), np.ones((4, 2))]
    b = [np.zeros(4), np.zeros(2, dtype=np.float32)]
    net = MLP.from_weights(W, b, activation="tanh")
    assert all(P.dtype == np.float64 for P in param_arrays(net))
    assert net.sizes == [3, 4, 2] and net.activation == "tanh"
    W[1][0, 0] = 5.0
    b[0][0] = 5.0
    assert net.weights[1][0, 0] == 1.0 and net.biases[0][0] == 0.0


# -- contract violations found while writing these tests (see the report) ---------------
def expect_named_error(fn, pattern):
    """fn() must raise ValueError/TypeError whose message matches pattern."""
    try:
        result = fn()
    except (ValueError, TypeError) as err:
        assert re.search(pattern, str(err)), (
            f"error message does not name the argument ({pattern}): "
            f"{type(err).__name__}: {err}")
    except Exception as err:                              # noqa: BLE001
        pytest.fail(f"expected ValueError/TypeError naming {pattern}, "
                    f"got {type(err).__name__}: {err}")
    else:
        pytest.fail(f"expected ValueError/TypeError naming {pattern}, got result {result!r}")


@pytest.mark.parametrize("method", METHODS[1:])
def test_unhashable_loss_name_gives_named_error(method):
    # BUG (checks.check_choice with choices=losses.LOSSES, a dict): `value not in dict`
    # raises "TypeError: unhashable type: 'list'", which does not name `loss`.
    net = MLP([3, 2])
    expect_named_error(lambda: getattr(net, method)(np.zeros((2, 3)), np.zeros((2, 2)),
                                                     ["mse"]), r"\bloss\b")


@pytest.mark.parametrize("loss,K,y", [("mse", 1, np.zeros(0)),
                                      ("cross_entropy", 2, np.zeros(0, dtype=int))])
def test_empty_batch_rejected(loss, K, y):
    # BUG: a batch of 0 samples passes validation; losses.mse then raises
    # ZeroDivisionError (2.0 / r.size) and cross_entropy returns a NaN loss.
    net = MLP([3, K])
    expect_named_error(lambda: net.loss_and_grad(np.zeros((0, 3)), y, loss), r"\b(X|y)\b")
