"""The moments path (moments.py): the same loss and gradient as the rows path for linear
nets under mse, trajectories equal to rounding, ensembles bit-identical, exact losses near
the minimum, and the auto rule."""
import numpy as np
import pytest

from minisgd import MLP
from minisgd.data import Data
from minisgd.ensemble import train_ensemble
from minisgd.moments import (exact_loss, loss_and_grad, moments, moments_with_optimum,
                             product)
from minisgd.optimizers import SGD, GroupL1Prox, L1Prox
from minisgd.train import Config, gradient_path, train

SMALL = dict(n=400, n_test=300)


def flat_grads(g):
    return np.concatenate([a.ravel() for a in g.weights + (g.biases or [])])


def random_problem(seed, d=7, K=1, N=60):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d))
    Y = X @ rng.standard_normal((d, K)) + 0.3 * rng.standard_normal((N, K))
    return X, Y


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("sizes", [[7, 5, 1], [7, 6, 4, 5, 1], [7, 1]])
def test_loss_and_gradient_equal_the_rows_path(bias, K, sizes):
    sizes = sizes[:-1] + [K]
    X, Y = random_problem(1, K=K)
    net = MLP(sizes, bias=bias, init="torch_default", seed=2)
    value, g = net.loss_and_grad(X, Y if K > 1 else Y[:, 0])
    m_value, m_g = loss_and_grad(net, moments(X, Y, bias), net.workspace(1).grads)
    assert m_value == pytest.approx(value, rel=1e-13)
    a, b = flat_grads(g), flat_grads(m_g)
    assert np.max(np.abs(a - b)) <= 1e-12 * np.max(np.abs(a))
    assert np.array_equal(m_g.flat, b)                       # the Grads are flat-backed


def test_gradient_matches_central_finite_differences():
    X, Y = random_problem(3, K=2)
    net = MLP([7, 4, 3, 2], bias=True, init="torch_default", seed=4)
    M = moments(X, Y, bias=True)
    _, g = loss_and_grad(net, M, net.workspace(1).grads)
    g = g.flat.copy()
    for i in range(net.theta.size):
        h = 1e-6
        net.theta[i] += h
        up = loss_and_grad(net, M, net.workspace(1).grads)[0]
        net.theta[i] -= 2 * h
        down = loss_and_grad(net, M, net.workspace(1).grads)[0]
        net.theta[i] += h
        assert (up - down) / (2 * h) == pytest.approx(g[i], rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("opt", [
    dict(clip=1.0), dict(clip=0.05, momentum=0.9, weight_decay=1e-2),
    dict(prox=[L1Prox(1e-3)]), dict(prox=[GroupL1Prox(1e-2)], weight_decay=1e-3),
    dict(decoupled=True, weight_decay=0.05, momentum=0.5),
])
def test_one_optimizer_step_equal_to_rounding(opt):
    """The same step from both gradients: clipping, weight decay, momentum and prox act on
    the gradient, so they do not care where it came from."""
    X, Y = random_problem(5)
    nets = [MLP([7, 6, 6, 1], seed=6) for _ in range(2)]
    for path, net in zip(("rows", "moments"), nets):
        optimizer = SGD(0.1, **opt)
        for _ in range(3):
            if path == "rows":
                _, g = net.loss_and_grad(X, Y[:, 0])
            else:
                _, g = loss_and_grad(net, moments(X, Y), net.workspace(1).grads)
            optimizer.step(net, g, 0.1)
    assert np.max(np.abs(nets[0].theta - nets[1].theta)) <= 1e-12 * np.max(np.abs(nets[0].theta))


@pytest.mark.parametrize("kw", [
    dict(optimizer="gd", steps=300),
    dict(optimizer="gd", steps=200, bias=True, momentum=0.9, clip=None, lr=0.005),
    dict(batch_size=128, steps=300),
    dict(batch_size=200, steps=200, replacement=True, weight_decay=1e-3),
    dict(optimizer="gd", steps=100, label_noise=0.05),
    dict(task="sparse_regression", d=30, support=(0, 1, 2), n=100, optimizer="gd", steps=300),
    dict(task="classification", classes=3, d=8, n=200, optimizer="gd", steps=200, lr=0.05),
])
def test_trajectories_equal_to_rounding_over_short_runs(kw):
    """Short, non-chaotic runs: the two paths round differently, so they agree to a
    tolerance that grows slowly with the steps (measured: <= 1e-12 here)."""
    rows = train(Config(**dict(SMALL, gradient="rows", **kw)))
    mom = train(Config(**dict(SMALL, gradient="moments", **kw)))
    assert rows.final["diverged"] is False
    assert rows.final["gradient"] == "rows" and mom.final["gradient"] == "moments"
    assert list(rows.history) == list(mom.history)
    for key in rows.history:
        a, b = np.array(rows.history[key], float), np.array(mom.history[key], float)
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-13, err_msg=key)
    rel = np.max(np.abs(rows.net.theta - mom.net.theta)) / np.max(np.abs(rows.net.theta))
    assert rel <= 1e-11


@pytest.mark.parametrize("kw", [
    dict(optimizer="gd", steps=100),
    dict(batch_size=128, steps=200, momentum=0.9),
    dict(optimizer="gd", steps=60, bias=True, label_noise=0.1, group_l1=1e-3),
    dict(batch_size=256, steps=100, replacement=True, weight_decay=1e-3),
])
@pytest.mark.parametrize("shared_data", [True, False])
def test_ensemble_members_equal_single_runs_bit_for_bit(kw, shared_data):
    """float64, as the rows path (in float32 stacked and single matmuls round apart)."""
    configs = [Config(**SMALL, **kw, seed=s, lr=lr, data_seed=7 if shared_data else None)
               for s, lr in [(0, 0.1), (1, 0.05), (2, 0.1)]]
    for res, config in zip(train_ensemble(configs), configs):
        single = train(config)
        assert res.final["gradient"] == single.final["gradient"] == "moments"
        assert np.array_equal(res.net.theta, single.net.theta)
        for key in single.history:
            assert np.array_equal(np.array(res.history[key], float),
                                  np.array(single.history[key], float), equal_nan=True), key


def test_exact_loss_near_the_minimum():
    """With label noise 1e-3 the loss at the least-squares optimum is ~1e-6: the plain
    form loses digits to cancellation, the (P - P*)' S (P - P*) + C_min form does not."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 15))
    Y = X[:, :5].sum(axis=1, keepdims=True) + 1e-3 * rng.standard_normal((2000, 1))
    beta = np.linalg.lstsq(X, Y, rcond=None)[0]
    net = MLP.from_weights([beta * (1 + 1e-4)])                    # near the optimum
    rows = net.loss(X, Y[:, 0])
    M = moments_with_optimum(X, Y)
    exact = exact_loss(product(net), M, 1)
    plain = loss_and_grad(net, moments(X, Y), net.workspace(1).grads)[0]
    truth = np.mean((X.astype(np.longdouble) @ product(net).astype(np.longdouble)
                     - Y.astype(np.longdouble)) ** 2)             # 64-bit mantissa reference
    error = lambda v: float(abs(v - truth) / truth)
    assert error(exact) <= 3e-14 and error(rows) <= 3e-14        # measured 1.1e-14, 7.5e-15
    assert error(plain) > 1e-10                                  # measured 7e-9: cancellation
    assert rows < 2e-6


def test_history_losses_of_the_moments_path_equal_the_rows_values():
    mom = train(Config(**SMALL, optimizer="gd", steps=200, gradient="moments"))
    problem_rows = train(Config(**SMALL, optimizer="gd", steps=200, gradient="rows"))
    np.testing.assert_allclose(mom.history["test_loss"], problem_rows.history["test_loss"],
                               rtol=1e-11)


def test_auto_rule():
    assert gradient_path(Config(optimizer="gd").validate()) == "moments"
    assert gradient_path(Config(batch_size=512).validate()) == "moments"
    assert gradient_path(Config(batch_size=32).validate()) == "rows"
    assert gradient_path(Config(optimizer="gd", activation="relu").validate()) == "rows"
    assert gradient_path(Config(optimizer="gd").validate(), replay=True) == "rows"
    assert gradient_path(Config(batch_size=32, gradient="moments").validate()) == "moments"
    assert gradient_path(Config(optimizer="gd", gradient="rows").validate()) == "rows"


def test_a_replay_keeps_the_rows_path():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 15))
    data = Data(X, X[:, :5].sum(axis=1), X, X[:, :5].sum(axis=1), (0, 1, 2, 3, 4))
    assert train(Config(optimizer="gd", steps=3), data=data).final["gradient"] == "rows"
    assert train(Config(optimizer="gd", steps=3)).final["gradient"] == "moments"


@pytest.mark.parametrize("kw, message", [
    (dict(activation="relu"), r"activation='relu'"),
    (dict(task="classification", loss="cross_entropy"), r"loss='cross_entropy'"),
    (dict(weight_norm="layer"), r"weight_norm='layer'"),
    (dict(model="diagonal", depth=None, width=None, activation=None, bias=None),
     r"model='diagonal'"),
])
def test_moments_refused_where_not_exact(kw, message):
    with pytest.raises(ValueError, match=r"gradient='moments' is exact only .*" + message):
        Config(gradient="moments", **kw).validate()
