"""The diagonal net's Hessian-vector product, the Hessian's top eigenvalues
(analysis/lanczos.py) and the metric sets of the large-step experiments (sparsity,
feature_sparsity, stabilization, sharpness).

Expected values are derived independently: central finite differences in float64 of the
hand-written gradients, the diagonal net's Hessian written out in closed form, numpy's
eigvalsh of an explicit (finite-difference) Hessian, a direct transcription of the
published feature-sparsity loop (np.delete on the correlation matrix), and hand-built
inputs whose answer is known.
"""
import numpy as np
import pytest

import minisgd.metrics.feature_sparsity  # noqa: F401  (registers the sets)
import minisgd.metrics.sharpness  # noqa: F401
import minisgd.metrics.sparsity  # noqa: F401
import minisgd.metrics.stabilization  # noqa: F401
from minisgd.analysis.hvp import hvp
from minisgd.analysis.lanczos import lanczos, power_iteration, top_hessian_eigenvalues
from minisgd.metrics.feature_sparsity import layer_feature_sparsity
from minisgd.metrics.sparsity import sparsity_levels
from minisgd.metrics.stabilization import window_length, window_summary
from minisgd.models import MLP, Grads
from minisgd.models.diagonal import DiagonalNet
from minisgd.train import Config, train

EPS = 1e-5


def diag_problem(parametrization, seed=0, d=6, B=7):
    rng = np.random.default_rng(seed)
    net = DiagonalNet.from_arrays(rng.normal(size=d), rng.normal(size=d), parametrization)
    return net, rng.normal(size=(B, d)), rng.normal(size=B), rng


def gradient(net, X, y, theta):
    saved = net.theta.copy()
    net.theta[...] = theta
    g = np.concatenate([a.ravel() for a in net.loss_and_grad(X, y)[1].weights +
                        (net.loss_and_grad(X, y)[1].biases or [])])
    net.theta[...] = saved
    return g


def fd_hessian(net, X, y):
    """Explicit Hessian by central differences of the hand-written gradient (P, P)."""
    theta, P = net.theta.copy(), net.theta.size
    cols = [(gradient(net, X, y, theta + EPS * e) - gradient(net, X, y, theta - EPS * e))
            / (2 * EPS) for e in np.eye(P)]
    H = np.stack(cols, axis=1)
    return (H + H.T) / 2


@pytest.mark.parametrize("parametrization", ["uv", "u2v2"])
def test_diagonal_hvp_matches_finite_differences(parametrization):
    net, X, y, rng = diag_problem(parametrization)
    V = rng.normal(size=(net.d, 2))
    got = hvp(net, X, y, Grads([V], None)).weights[0].ravel()
    theta = net.theta.copy()
    expected = (gradient(net, X, y, theta + EPS * V.ravel()) -
                gradient(net, X, y, theta - EPS * V.ravel())) / (2 * EPS)
    assert np.max(np.abs(got - expected)) < 1e-6 * np.max(np.abs(expected))


def test_diagonal_hessian_closed_form():
    """uv, mse C = (1/B) ||X (u*v) - y||^2, r = X beta - y, A = X^T X:
    H_uu = (2/B) D_v A D_v, H_vv = (2/B) D_u A D_u, H_uv = (2/B) (D_v A D_u + diag(X^T r))."""
    net, X, y, _ = diag_problem("uv", seed=3)
    u, v, B, d = net.u.copy(), net.v.copy(), X.shape[0], net.d
    A, r = X.T @ X, X @ (u * v) - y
    H = np.zeros((2 * d, 2 * d))
    H[:d, :d] = np.diag(v) @ A @ np.diag(v)
    H[d:, d:] = np.diag(u) @ A @ np.diag(u)
    H[:d, d:] = np.diag(v) @ A @ np.diag(u) + np.diag(X.T @ r)
    H[d:, :d] = H[:d, d:].T
    H *= 2.0 / B
    order = np.ravel(np.stack([np.arange(d), d + np.arange(d)], axis=1))   # (u0, v0, u1, ...)
    H = H[np.ix_(order, order)]
    cols = [hvp(net, X, y, Grads([e.reshape(d, 2)], None)).weights[0].ravel()
            for e in np.eye(2 * d)]
    np.testing.assert_allclose(np.stack(cols, axis=1), H, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", ["mlp", "diagonal"])
def test_top_eigenvalues_match_the_exact_hessian(make):
    rng = np.random.default_rng(5)
    if make == "mlp":
        net = MLP([3, 4, 2, 1], activation="tanh", bias=True, init="normal", scale=0.8, seed=2)
        X, y = rng.normal(size=(9, 3)), rng.normal(size=9)
    else:
        net, X, y, _ = diag_problem("u2v2", seed=4)
    exact = np.linalg.eigvalsh(fd_hessian(net, X, y))[::-1]
    P = net.theta.size
    np.testing.assert_allclose(top_hessian_eigenvalues(net, X, y, k=3, iters=P), exact[:3],
                               rtol=1e-6)
    lam = top_hessian_eigenvalues(net, X, y, k=1, iters=12)[0]         # few steps: close
    assert abs(lam - exact[0]) < 1e-4 * abs(exact[0])
    if exact[0] > abs(exact[-1]):
        power = top_hessian_eigenvalues(net, X, y, method="power", iters=5000)[0]
        assert abs(power - exact[0]) < 1e-5 * abs(exact[0])


def test_lanczos_and_power_on_a_known_matrix():
    Q = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))[0]
    M = Q @ np.diag([5.0, 3.0, 2.0, 1.0, 0.5, 0.0, -1.0, -2.0]) @ Q.T
    np.testing.assert_allclose(lanczos(lambda v: M @ v, 8, k=2, iters=8), [5.0, 3.0], atol=1e-10)
    lam, vec, _ = power_iteration(lambda v: M @ v, 8, iters=2000, tol=1e-14)
    assert abs(lam - 5.0) < 1e-8 and abs(abs(vec @ Q[:, 0]) - 1.0) < 1e-6


def test_eigenvalue_requests_are_checked():
    net, X, y, _ = diag_problem("uv")
    with pytest.raises(ValueError, match=r"k must be an int in \[1, n_params=12\]"):
        top_hessian_eigenvalues(net, X, y, k=13)
    with pytest.raises(ValueError, match="method='power' finds one eigenvalue"):
        top_hessian_eigenvalues(net, X, y, k=2, method="power")
    with pytest.raises(ValueError, match="method must be one of"):
        top_hessian_eigenvalues(net, X, y, method="arnoldi")
    with pytest.raises(ValueError, match="single net"):
        top_hessian_eigenvalues(DiagonalNet.stack([net, net]), X, y)
    with pytest.raises(ValueError, match="X must"):
        top_hessian_eigenvalues(net, X[:, :3], y)


# ---- feature sparsity -------------------------------------------------------------------
def published_feature_sparsity(H, thr=0.99):
    """The published fc_nets.feature_sparsity, transcribed (np.delete walk)."""
    phi = H / np.sqrt((H ** 2).sum(1, keepdims=True))
    phi[np.isnan(phi)] = 0.0
    keep = np.where((phi > 0.0).sum(0) > 0)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        C = np.corrcoef(phi[:, keep].T) - np.eye(keep.size)
    dele, i, j = [], 0, 0
    while i != C.shape[0]:
        if (np.abs(C[i]) > thr).sum() > 0:
            C = np.delete(np.delete(C, i, axis=0), i, axis=1)
            dele.append(j)
        else:
            i += 1
        j += 1
    keep = np.delete(keep, dele)
    return (phi[:, keep] != 0).sum() / phi.size, keep.size


def test_feature_sparsity_by_hand():
    H = np.array([[1.0, 2.0, 0.0, 0.0],       # column 1 = 2 x column 0 (a duplicate),
                  [2.0, 4.0, 0.0, 3.0],       # column 2 dead, column 3 distinct
                  [0.0, 0.0, 0.0, 1.0]])
    out = layer_feature_sparsity(H)
    assert out["live_neurons"] == 3 and out["distinct_neurons"] == 2
    assert out["active_fraction"] == pytest.approx(6 / 12)
    assert out["feature_sparsity"] == pytest.approx(4 / 12)   # kept: columns 1 and 3


def test_feature_sparsity_matches_the_published_loop():
    rng = np.random.default_rng(1)
    for trial in range(20):
        Z = rng.normal(size=(30, 12))
        Z[:, 3] = 1.5 * Z[:, 7]                               # planted duplicates
        Z[:, 5] = Z[:, 9] + 1e-4 * rng.normal(size=30)
        Z[:, 0] = -1.0                                        # a dead neuron
        H = np.maximum(Z, 0.0)
        ours = layer_feature_sparsity(H)
        theirs, kept = published_feature_sparsity(H)
        assert ours["feature_sparsity"] == pytest.approx(theirs, abs=1e-15)
        assert ours["distinct_neurons"] == kept


def test_feature_sparsity_set_needs_relu():
    c = Config(d=4, support=(0, 1), n=20, n_test=10, depth=1, width=3, activation="tanh",
               steps=2, metrics=("feature_sparsity",))
    with pytest.raises(ValueError, match="activation must be 'relu'"):
        train(c)


# ---- sparsity levels, stabilization window -------------------------------------------------
def test_sparsity_levels_by_hand():
    beta = np.array([1.0, 1e-20, 1e-7, 0.0, 2e-3, 0.5])
    star = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.5])
    out = sparsity_levels(beta, star, (0, 5))
    assert (out["l0_1e-50"], out["l0_1e-10"], out["l0_1e-05"], out["l0_0.001"]) == (5, 4, 3, 3)
    assert out["top_S_hits"] == 1.0
    assert out["beta_dist"] == pytest.approx(np.sqrt(1e-40 + 1e-14 + 4e-6))


def test_window_summary_by_hand():
    flat = window_summary([2.0] * 5)
    assert flat == {"window_loss_median": 2.0, "window_loss_spread": 0.0,
                    "window_loss_rise_frac": 0.0}
    bounce = window_summary([1.0, 10.0, 1.0, 10.0, 1.0])
    assert bounce["window_loss_rise_frac"] == 0.5 and bounce["window_loss_median"] == 1.0
    assert bounce["window_loss_spread"] == pytest.approx(1.0)        # q90/q10 = 10
    assert np.isnan(window_summary([])["window_loss_median"])
    assert window_length(100) == 10 and window_length(10**6) == 1000


def test_stabilization_stream_holds_the_last_losses():
    """GD on a diagonal net: the window is the whole-set loss after each of the last W updates,
    which the history records too when every step is a record step."""
    c = Config(task="sparse_regression", model="diagonal", d=10, support=(0, 1), n=6, n_test=5,
               optimizer="gd", lr=0.05, clip=None, steps=40, records_per_decade=1000,
               metrics=("stabilization",))
    h = train(c).history
    W = window_length(40)
    last = np.array(h["train_loss"][-W:])
    assert h["step"][-W:] == list(range(41 - W, 41))
    assert h["window_loss_median"][-1] == pytest.approx(np.median(last), rel=1e-12)
    assert h["window_loss_rise_frac"][-1] == pytest.approx(np.mean(np.diff(last) > 0))


def test_sharpness_set_on_a_diagonal_run():
    c = Config(task="sparse_regression", model="diagonal", d=8, support=(0, 1), n=5, n_test=5,
               batch_size=1, replacement=True, lr=0.05, clip=None, steps=30,
               metrics=("sharpness", "sparsity"))
    r = train(c)
    from minisgd.train import prepare
    problem, _, _ = prepare(c)
    exact = np.linalg.eigvalsh(fd_hessian(r.net, problem.data.X, problem.data.y))[-1]
    assert r.final["sharpness"] == pytest.approx(exact, rel=1e-6)
    assert r.final["l0_0.001"] == r.final["l0"]
