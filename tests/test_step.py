"""The reference step (minisgd/step.py) against the math, and every faster engine against it.

The reference is checked against central finite differences (float64); each engine -- the
workspace and pieces paths (engines.RowsGradient), ensembles (stacked nets), the moments
path, weight normalization, per-sample gradients, the update rule optimizers.SGD -- must
give the reference's numbers: bit for bit where it does the same operations in the same
order, to rounding where it adds in another order (pieces, moments, stacked matmuls).
"""
import numpy as np
import pytest

from minisgd.engines import CHUNK_ROWS, REFERENCE_ROWS, EngineStep, RowsGradient, engine_name, make_engine
from minisgd.losses import one_hot
from minisgd.models import MLP
from minisgd.models.weight_norm import weight_norm_backward
from minisgd.moments import MomentGradient
from minisgd.optimizers import SGD, GroupL1Prox, L1Prox
from minisgd.step import ReferenceStep
from minisgd.train import Config, train

NETS = [dict(activation="linear", bias=False), dict(activation="relu", bias=True),
        dict(activation="tanh", bias=True)]


def batch(B, d=6, K=1, loss="mse", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, d))
    if loss == "mse":
        return X, rng.standard_normal((B, K))
    return X, one_hot(rng.integers(0, K, size=B), K)


def loss_at(net, X, Y, loss):
    return ReferenceStep(SGD(0.1), loss).gradient(net, X, Y)[0]


@pytest.mark.parametrize("kw", NETS)
@pytest.mark.parametrize("loss, K", [("mse", 1), ("mse", 3), ("cross_entropy", 4)])
def test_reference_gradient_matches_central_differences(kw, loss, K):
    net = MLP([6, 5, 4, K], seed=1, init="normal", scale=0.7, **kw)
    X, Y = batch(9, K=K, loss=loss)
    _, g = ReferenceStep(SGD(0.1), loss).gradient(net, X, Y)
    h = 1e-6
    for i in range(net.theta.size):
        net.theta[i] += h
        up = loss_at(net, X, Y, loss)
        net.theta[i] -= 2 * h
        down = loss_at(net, X, Y, loss)
        net.theta[i] += h
        assert (up - down) / (2 * h) == pytest.approx(g[i], rel=1e-6, abs=1e-9), i


@pytest.mark.parametrize("kw", NETS)
@pytest.mark.parametrize("loss, K", [("mse", 2), ("cross_entropy", 3)])
def test_workspace_engine_equals_reference_bit_for_bit(kw, loss, K):
    """Same operations in the same order (one piece, <= 64 rows): identical numbers."""
    net = MLP([6, 5, 5, K], seed=2, **kw)
    X, Y = batch(32, K=K, loss=loss)
    C_ref, g_ref = ReferenceStep(SGD(0.1), loss).gradient(net, X, Y)
    with RowsGradient(net, 1, loss) as rows:
        C, grads = rows(net, X, Y)
    assert C == C_ref
    assert np.array_equal(grads.flat, g_ref)


def test_pieces_engine_equals_reference_to_rounding():
    """More than CHUNK_ROWS rows: the pieces add their shares in another order."""
    net = MLP([6, 8, 8, 1], seed=3, activation="relu", bias=True)
    X, Y = batch(2 * CHUNK_ROWS + 300)
    C_ref, g_ref = ReferenceStep(SGD(0.1)).gradient(net, X, Y)
    for threads in (1, 2):
        with RowsGradient(net, threads) as rows:
            C, grads = rows(net, X, Y)
        assert C == pytest.approx(C_ref, rel=1e-13)
        np.testing.assert_allclose(grads.flat, g_ref, rtol=1e-11, atol=1e-15)


def test_moments_engine_equals_reference_to_rounding():
    net = MLP([6, 5, 5, 2], seed=4, bias=True)
    X, Y = batch(200, K=2)
    C_ref, g_ref = ReferenceStep(SGD(0.1)).gradient(net, X, Y)
    C, grads = MomentGradient(net)(net, X, Y)
    assert C == pytest.approx(C_ref, rel=1e-10)
    np.testing.assert_allclose(grads.flat, g_ref, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("kw", NETS)
def test_ensemble_members_equal_reference(kw):
    """K stacked nets: member k's gradient is the reference's on net k (the stacked
    matmuls may round differently from 2-d ones, so to rounding)."""
    nets = [MLP([6, 5, 5, 1], seed=s, **kw) for s in range(3)]
    ens = MLP.stack(nets)
    X = np.stack([batch(16, seed=s)[0] for s in range(3)])
    Y = np.stack([batch(16, seed=s)[1] for s in range(3)])
    with RowsGradient(ens) as rows:
        C, grads = rows(ens, X, Y)
    for k, net in enumerate(nets):
        C_ref, g_ref = ReferenceStep(SGD(0.1)).gradient(net, X[k], Y[k])
        assert C[k] == pytest.approx(C_ref, rel=1e-14)
        np.testing.assert_allclose(grads.flat[k], g_ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("weight_norm", ["layer", "unit"])
def test_weight_norm_gradient_is_the_chain_rule_of_the_reference(weight_norm):
    """dC/dW of the effective weights is the reference's gradient of the plain net with
    those weights; (dC/dV, dC/dg) follow from it by weight_norm_backward."""
    net = MLP([6, 5, 5, 1], seed=5, activation="tanh", bias=True, weight_norm=weight_norm)
    X, Y = batch(20)
    plain = MLP.from_weights(net.effective_weights(), net.biases, "tanh")
    _, g_plain = ReferenceStep(SGD(0.1)).gradient(plain, X, Y)
    dW = [g_plain[a:a + W.size].reshape(W.shape) for a, W in
          zip(np.cumsum([0] + [W.size for W in plain.weights[:-1]]), plain.weights)]
    _, grads = net.loss_and_grad(X, Y)
    for l in range(len(net.weights) - 1):
        dV, dg = weight_norm_backward(net.weights[l], net.gains[l], dW[l], weight_norm)
        np.testing.assert_allclose(grads.weights[l], dV, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grads.gains[l], dg, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads.weights[-1], dW[-1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss, K", [("mse", 2), ("cross_entropy", 3)])
def test_per_sample_gradients_average_to_the_reference(loss, K):
    net = MLP([6, 5, K], seed=6, activation="relu", bias=True)
    X, Y = batch(12, K=K, loss=loss)
    _, g_ref = ReferenceStep(SGD(0.1), loss).gradient(net, X, Y)
    y = Y if loss == "mse" else Y.argmax(axis=1)
    per = net.per_sample_grads(X, y, loss)
    mean = np.concatenate([a.mean(axis=0).ravel() for a in per.weights + per.biases])
    np.testing.assert_allclose(mean, g_ref, rtol=1e-12, atol=1e-15)


RULES = [dict(clip=1.0), dict(clip=0.05, momentum=0.9, weight_decay=1e-2),
         dict(weight_decay=0.05, decoupled=True, momentum=0.5), dict(clip=None),
         dict(prox=[L1Prox(1e-2)], clip=0.3), dict(prox=[GroupL1Prox(1e-2)], weight_decay=1e-3),
         dict(weight_decay=0.1, decoupled=True, prox=[L1Prox(1e-3)], clip=0.2)]


@pytest.mark.parametrize("rule", RULES)
def test_update_rule_equals_reference_update_bit_for_bit(rule):
    """Five steps of optimizers.SGD (in place, the engines' rule) and of the reference's
    update from the same gradients: identical parameters."""
    nets = [MLP([6, 5, 5, 1], seed=7) for _ in range(2)]
    ref, fast = ReferenceStep(SGD(0.1, **rule)), SGD(0.1, **rule)
    for t in range(5):
        X, Y = batch(8, seed=t)
        C, g = ref.gradient(nets[0], X, Y)
        ref.update(nets[0], g, 0.1 / (t + 1))
        C, grads = nets[1].loss_and_grad(X, Y)
        fast.step(nets[1], grads, 0.1 / (t + 1))
        assert np.array_equal(nets[0].theta, nets[1].theta), t


def test_workspace_trajectory_equals_reference_trajectory():
    """Fifty whole steps (gradient and update) through the two engines: the same run."""
    nets = [MLP([6, 5, 5, 1], seed=8, activation="relu", bias=True) for _ in range(2)]
    rule = dict(clip=0.5, momentum=0.9, weight_decay=1e-3)
    engines = [make_engine("reference", nets[0], SGD(0.1, **rule), "mse"),
               make_engine("workspace", nets[1], SGD(0.1, **rule), "mse")]
    assert isinstance(engines[1], EngineStep)
    for t in range(50):
        X, Y = batch(16, seed=t)
        for net, engine in zip(nets, engines):
            C, g = engine.gradient(net, X, Y)
            engine.update(net, g, 0.05)
    assert np.array_equal(nets[0].theta, nets[1].theta)


def test_engine_names_and_the_record():
    """The default run takes the reference; ensembles, weight norm, more than REFERENCE_ROWS
    (workspace) or CHUNK_ROWS (pieces) rows and the moments path take theirs;
    final["engine"] says which ran."""
    net = MLP([15, 15, 1])
    assert engine_name("rows", net, 32) == engine_name("rows", net, REFERENCE_ROWS) == "reference"
    assert engine_name("rows", net, REFERENCE_ROWS + 1) == "workspace"
    assert engine_name("rows", net, CHUNK_ROWS + 1) == "pieces"
    assert engine_name("moments", net, 32) == "moments"
    assert engine_name("rows", MLP.stack([net, net]), 32) == "workspace"
    assert engine_name("rows", MLP([15, 15, 1], weight_norm="layer"), 32) == "workspace"
    small = dict(n=200, n_test=100, steps=20)
    assert train(Config(**small)).final["engine"] == "reference"
    assert train(Config(optimizer="gd", **small)).final["engine"] == "moments"
    assert train(Config(optimizer="gd", gradient="rows", **small)).final["engine"] == "workspace"
    assert train(Config(batch_size=64, **small)).final["engine"] == "reference"
    assert train(Config(weight_norm="layer", activation="relu", **small)).final["engine"] == \
        "workspace"


def test_reference_clips_a_gradient_whose_squared_norm_overflows():
    """||g||^2 past the float64 range must still clip (a factor 0 would freeze the run)."""
    net = MLP([6, 5, 1], seed=9)
    g = np.full_like(net.theta, 1e200)
    before = net.theta.copy()
    with np.errstate(over="ignore"):                      # ||g||^2 overflows, on purpose
        ReferenceStep(SGD(0.1, clip=1.0)).update(net, g, 0.1)
    step = before - net.theta
    assert np.all(step > 0) and np.linalg.norm(step) == pytest.approx(0.1, rel=1e-6)
