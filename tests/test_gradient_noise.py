"""Gradient-noise diagnostics (Gamma, ||grad C||^2), Hessian-vector products by hand, the
modified loss C_SGD and GD on it.

Every expected value is derived independently: central finite differences in float64 of
the core's gradients (for H v) or of the C_SGD value (for grad C_SGD), brute-force loops
over samples (for Gamma and sum_i H_i v_i), a hand-worked two-sample example, and
PyTorch double-backward (importorskip). Nothing is copied from running the code under test.
"""
import numpy as np
import pytest

from minisgd.analysis.gradient_noise import gradient_noise, gradient_noise_metrics
from minisgd.analysis.hvp import hvp
from minisgd.models import MLP, Grads
from minisgd.analysis.modified_loss import (ModifiedLossGD, modified_loss_and_grad,
                                   train_modified)
from minisgd.train import (Config, build_net, log_spaced_steps, make_data,
                           spawn_rngs, train)

ACTIVATIONS = ["linear", "relu", "tanh"]
CASES = [(a, bias) for a in ACTIVATIONS for bias in (False, True)]
EPS = 1e-5                   # finite-difference step
TOL = 1e-6                   # relative error allowed against finite differences
KINK_MARGIN = 1e-3           # relu pre-activations stay this far from 0 (>> EPS * |x|)
MAX_ERR = {}                 # largest finite-difference error seen, per check


def flat(g):
    return np.concatenate([a.ravel() for a in g.weights + (g.biases or [])])


def rel_err(approx, exact, name):
    err = float(np.max(np.abs(approx - exact)) / max(np.max(np.abs(exact)), 1e-12))
    MAX_ERR[name] = max(MAX_ERR.get(name, 0.0), err)
    return err


def relu_margin(net, X):
    """Smallest |hidden pre-activation| (written independently of minisgd)."""
    a, low = X, np.inf
    for l, W in enumerate(net.weights[:-1]):
        z = a @ W + (0.0 if net.biases is None else net.biases[l])
        low = min(low, float(np.abs(z).min()))
        a = np.maximum(z, 0.0)
    return low


def problem(activation, bias, K=1, B=6, sizes=(4, 5, 3)):
    """A small net (non-zero biases), inputs and targets; relu problems avoid the kinks."""
    for seed in range(100):
        rng = np.random.default_rng(50 + seed)
        net = MLP(list(sizes) + [K], activation=activation, bias=bias, init="normal",
                  scale=0.6, seed=seed)
        if bias:
            for b in net.biases:
                b[:] = rng.normal(0.0, 0.5, size=b.shape)
        X = rng.normal(size=(B, sizes[0]))
        y = rng.normal(size=(B, K)) if K > 1 else rng.normal(size=B)
        if activation != "relu" or relu_margin(net, X) > KINK_MARGIN:
            return net, X, y, rng
    raise AssertionError("no relu problem without kinks")


def random_direction(net, rng, batch=None):
    lead = () if batch is None else (batch,)
    return Grads([rng.normal(size=lead + W.shape) for W in net.weights],
                 None if net.biases is None else
                 [rng.normal(size=lead + b.shape) for b in net.biases])


def shifted(net, v, r):
    """A copy of net with parameters theta + r v."""
    moved = net.copy()
    for p, d in zip(moved.params, v.weights + (v.biases or [])):
        p += r * d
    return moved


def fd_grad_along(net, X, y, v):
    """(grad C(theta + eps v) - grad C(theta - eps v)) / (2 eps): H v by finite differences."""
    gp = flat(shifted(net, v, EPS).loss_and_grad(X, y)[1])
    gm = flat(shifted(net, v, -EPS).loss_and_grad(X, y)[1])
    return (gp - gm) / (2 * EPS)


# ---- Hessian-vector products --------------------------------------------------------
@pytest.mark.parametrize("activation,bias", CASES)
@pytest.mark.parametrize("K", [1, 2])
def test_hvp_matches_finite_differences(activation, bias, K):
    net, X, y, rng = problem(activation, bias, K)
    v = random_direction(net, rng)
    assert rel_err(flat(hvp(net, X, y, v)), fd_grad_along(net, X, y, v), "hvp") < TOL


@pytest.mark.parametrize("activation,bias", CASES)
def test_per_sample_hvp_matches_finite_differences(activation, bias):
    """(1/B) sum_i H_i v_i: each sample's own loss differentiated along its own v_i."""
    net, X, y, rng = problem(activation, bias, B=5)
    vs = random_direction(net, rng, batch=5)
    expected = 0.0
    for i in range(5):
        v_i = Grads([a[i] for a in vs.weights], None if not bias else [a[i] for a in vs.biases])
        expected = expected + fd_grad_along(net, X[i:i + 1], y[i:i + 1], v_i) / 5
    got = flat(hvp(net, X, y, vs, per_sample=True))
    assert rel_err(got, expected, "per-sample hvp") < TOL


def test_per_sample_hvp_with_equal_directions_is_hvp():
    net, X, y, rng = problem("tanh", True)
    v = random_direction(net, rng)
    same = Grads([np.broadcast_to(W, (6,) + W.shape).copy() for W in v.weights],
                 [np.broadcast_to(b, (6,) + b.shape).copy() for b in v.biases])
    np.testing.assert_allclose(flat(hvp(net, X, y, same, per_sample=True)),
                               flat(hvp(net, X, y, v)), rtol=1e-12, atol=1e-12)


# ---- the modified loss ----------------------------------------------------------------
def fd_gradient(fn, net):
    """Central finite differences of a scalar fn(net) in every parameter."""
    out = []
    for p in net.params:
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + EPS
            up = fn(net)
            p[idx] = old - EPS
            down = fn(net)
            p[idx] = old
            out.append((up - down) / (2 * EPS))
    return np.array(out)


@pytest.mark.parametrize("activation,bias", CASES)
@pytest.mark.parametrize("variance,grad_norm", [(True, True), (False, True), (True, False)])
def test_modified_loss_gradient_matches_finite_differences(activation, bias, variance,
                                                           grad_norm):
    net, X, y, _ = problem(activation, bias, B=7)
    lr, b = 0.3, 2
    kw = dict(variance=variance, grad_norm=grad_norm)
    value_of = lambda n: modified_loss_and_grad(n, X, y, lr, b, **kw)[0]
    _, _, grad = modified_loss_and_grad(net, X, y, lr, b, **kw)
    assert rel_err(flat(grad), fd_gradient(value_of, net), "grad C_SGD") < TOL


@pytest.mark.parametrize("activation,bias", CASES)
def test_modified_loss_in_pieces_equals_one_piece(activation, bias, monkeypatch):
    """Rows split into pieces of 3 (7 rows: 3 + 3 + 1) give the one-piece numbers."""
    import minisgd.analysis.modified_loss as ml
    net, X, y, _ = problem(activation, bias, B=7)
    whole = modified_loss_and_grad(net, X, y, 0.3, 2)
    monkeypatch.setattr(ml, "PIECE_ROWS", 3)
    pieces = modified_loss_and_grad(net, X, y, 0.3, 2)
    assert pieces[0] == pytest.approx(whole[0], rel=1e-13)
    for key in ("loss", "grad_norm_sq", "gamma"):
        assert pieces[1][key] == pytest.approx(whole[1][key], rel=1e-12)
    assert rel_err(flat(pieces[2]), flat(whole[2]), "pieces") < 1e-12


def test_modified_loss_without_terms_is_the_data_loss():
    net, X, y, _ = problem("tanh", True)
    value, terms, grad = modified_loss_and_grad(net, X, y, 0.3, 2, variance=False,
                                                grad_norm=False)
    loss, expected = net.loss_and_grad(X, y)
    assert value == pytest.approx(loss, rel=1e-14) and terms["penalty"] == 0.0
    np.testing.assert_allclose(flat(grad), flat(expected), rtol=1e-12, atol=1e-14)


def brute_force_noise(net, X, y, support):
    """Gamma, ||g||^2 and the irrelevant-rows part of Gamma from one backward per sample."""
    per = [flat(net.loss_and_grad(X[i:i + 1], y[i:i + 1])[1]) for i in range(len(X))]
    per = np.array(per)                                          # (N, n_params)
    g = per.mean(axis=0)
    n_in, n_out = net.weights[0].shape
    irrelevant = np.zeros(per.shape[1], dtype=bool)
    rows = [j for j in range(n_in) if j not in support]
    for j in rows:
        irrelevant[j * n_out:(j + 1) * n_out] = True             # W1 is first, row-major
    dev2 = (per - g) ** 2
    return dev2.sum(axis=1).mean(), float(g @ g), dev2[:, irrelevant].sum(axis=1).mean()


@pytest.mark.parametrize("activation,bias", CASES)
def test_gamma_and_split_match_brute_force(activation, bias):
    net, X, y, _ = problem(activation, bias, B=9)
    gamma, g_sq, gamma_irr = brute_force_noise(net, X, y, support=[1, 3])
    for chunk in (1, 4, 9, 100):
        out = gradient_noise(net, X, y, support=[1, 3], chunk=chunk)
        assert out["gamma"] == pytest.approx(gamma, rel=1e-12)
        assert out["grad_norm_sq"] == pytest.approx(g_sq, rel=1e-12)
        assert out["gamma_irrelevant"] == pytest.approx(gamma_irr, rel=1e-12)
        parts = out["gamma_irrelevant"] + out["gamma_relevant"] + out["gamma_rest"]
        assert parts == pytest.approx(out["gamma"], rel=1e-12)
        g_parts = sum(out[f"grad_norm_sq_{g}"] for g in ("irrelevant", "relevant", "rest"))
        assert g_parts == pytest.approx(out["grad_norm_sq"], rel=1e-12)
    terms = modified_loss_and_grad(net, X, y, 0.1, 3)[1]         # rank-one route, same numbers
    assert terms["gamma"] == pytest.approx(gamma, rel=1e-9)
    assert terms["grad_norm_sq"] == pytest.approx(g_sq, rel=1e-12)


def test_hand_worked_two_samples():
    """f(x) = x . w, w = (1, 1), X = [[1, 0], [0, 2]], y = 0:  f = (1, 2), C_i = f_i^2,
    g_i = 2 f_i x_i: g_1 = (2, 0), g_2 = (0, 8), g = (1, 4), ||g||^2 = 17,
    Gamma = ((1^2 + 4^2) + (1^2 + 4^2)) / 2 = 17, of which row 1 (irrelevant for S = {0})
    carries 16. C = 2.5; eta = 0.4, b = 1, N = 2: k = (1/1) * 0.4 / 4 = 0.1,
    C_SGD = 2.5 + 0.1 * 17 + 0.1 * 17 = 5.9."""
    net = MLP.from_weights([np.array([[1.0], [1.0]])])
    X, y = np.array([[1.0, 0.0], [0.0, 2.0]]), np.zeros(2)
    out = gradient_noise(net, X, y, support=[0])
    assert out["grad_norm_sq"] == pytest.approx(17.0)
    assert out["gamma"] == pytest.approx(17.0)
    assert out["gamma_irrelevant"] == pytest.approx(16.0)
    assert out["gamma_relevant"] == pytest.approx(1.0)
    assert out["gamma_rest"] == 0.0
    value, terms, _ = modified_loss_and_grad(net, X, y, 0.4, 1)
    assert terms["k"] == pytest.approx(0.1)
    assert value == pytest.approx(5.9)
    # H = (2/N) X^T X = diag(1, 4); grad C_SGD = g + (eta/2 - 2k) H g + 2k (1/N) sum H_i g_i,
    # H_i = 2 x_i x_i^T: (1/2)(H_1 g_1 + H_2 g_2) = (2, 32); H g = (1, 16)
    # -> (1, 4) + 0 * (1, 16) + 0.2 * (2, 32) = (1.4, 10.4)
    np.testing.assert_allclose(modified_loss_and_grad(net, X, y, 0.4, 1)[2].weights[0][:, 0],
                               [1.4, 10.4])


# ---- bad input ------------------------------------------------------------------------
def test_errors_name_the_argument():
    net, X, y, rng = problem("linear", False)
    with pytest.raises(ValueError, match=r"X must hold at least 2 samples.*size 1"):
        gradient_noise(net, X[:1], y[:1], support=[0])
    with pytest.raises(ValueError, match=r"X must hold at least 2 samples"):
        modified_loss_and_grad(net, X[:1], y[:1], 0.1, 1)
    with pytest.raises(TypeError, match=r"net must be a minisgd.MLP .*per-sample"):
        gradient_noise("not a net", X, y, support=[0])
    with pytest.raises(ValueError, match=r"chunk must be an int in \[1"):
        gradient_noise(net, X, y, support=[0], chunk=0)
    with pytest.raises(ValueError, match=r"support entries must be in \[0, d=4\)"):
        gradient_noise(net, X, y, support=[7])
    with pytest.raises(ValueError, match=r"batch_size must be an int in \[1, 6\]"):
        modified_loss_and_grad(net, X, y, 0.1, 7)
    with pytest.raises(ValueError, match=r"lr must be a finite number in \(0"):
        modified_loss_and_grad(net, X, y, 0.0, 2)
    with pytest.raises(ValueError, match=r"v.weights\[0\] must have shape \(6, 4, 5\)"):
        hvp(net, X, y, random_direction(net, rng), per_sample=True)
    with pytest.raises(ValueError, match=r"config.momentum must be 0.0"):
        train_modified(Config(momentum=0.9, steps=2, n=20))


# ---- recording along training; GD on C_SGD ----------------------------------------------
SMALL = dict(n=60, n_test=50, steps=30, records_per_decade=5, batch_size=8)


def test_gradient_noise_is_recorded_at_history_steps():
    res = train(Config(**SMALL), extra_metrics=gradient_noise_metrics(chunk=16))
    h = res.history
    for column in ("gamma", "gamma_irrelevant", "gamma_relevant", "gamma_rest", "grad_norm_sq"):
        assert len(h[column]) == len(h["step"]) == len(log_spaced_steps(30, 5))
    assert all(g > 0 for g in h["gamma"])


def test_gd_on_modified_loss_same_start_and_columns():
    config = Config(**SMALL)
    ref, mod = train(config), train_modified(Config(**SMALL))
    assert set(ref.history) <= set(mod.history)
    assert mod.history["step"] == log_spaced_steps(30, 5)
    for column in ("train_loss", "test_loss", "irrelevant_norm", "relevant_norm"):
        assert mod.history[column][0] == ref.history[column][0]        # same data and init
    assert mod.history["penalty"][0] > 0 and mod.final["diverged"] is False
    assert mod.config["objective"] == "C_SGD"


@pytest.mark.parametrize("substeps", [1, 2])
def test_gd_on_modified_loss_first_step_by_hand(substeps):
    """One step is `substeps` updates theta - (eta / substeps) * clip(grad C_SGD), clip as
    optimizers.clip_global_norm, from the data and initial weights train(config) draws."""
    c = Config(**dict(SMALL, steps=1)).validate()
    data_rng, init_rng = spawn_rngs(c.seed)[:2]
    data = make_data(data_rng, c.d, c.support, c.n, c.target, c.input, c.center, c.double,
                     c.label_eps, c.n_test)
    net = build_net(c, init_rng)
    for _ in range(substeps):
        _, _, G = modified_loss_and_grad(net, data.X, data.y, c.lr, c.batch_size)
        g = flat(G)
        g = g * min(1.0, c.clip / (np.linalg.norm(g) + 1e-6))
        W = flat(Grads(net.weights, None)) - c.lr / substeps * g
        net = _with_flat(net, W)
    res = train_modified(c, substeps=substeps)
    np.testing.assert_allclose(flat(Grads(res.net.weights, None)),
                               flat(Grads(net.weights, None)), rtol=0, atol=1e-12)


def _with_flat(net, flat_weights):
    """A copy of the (bias-free) net with its weights replaced by a flat vector."""
    out, start = net.copy(), 0
    for W in out.weights:
        W[...] = flat_weights[start:start + W.size].reshape(W.shape)
        start += W.size
    return out


def test_gd_on_modified_loss_divergence_keeps_history():
    res = train_modified(Config(**dict(SMALL, lr=50.0, clip=None, steps=200)))
    assert res.final["diverged"] is not False and res.final["diverged"] < 200
    assert len(res.history["step"]) >= 1 and res.history["step"][0] == 0


def test_modified_loss_gd_optimizer_validates():
    X, Y = np.zeros((4, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"batch_size must be an int in \[1, 4\]"):
        ModifiedLossGD(0.1, 5, X, Y)


# ---- PyTorch cross-check ----------------------------------------------------------------
def torch_loss_fn(torch, activation, weights, biases, X, Y):
    a = X
    for l, W in enumerate(weights):
        a = a @ W + (0.0 if biases is None else biases[l])
        if l < len(weights) - 1:
            a = {"linear": lambda z: z, "relu": torch.relu, "tanh": torch.tanh}[activation](a)
    return ((a - Y) ** 2).mean()


@pytest.mark.parametrize("activation,bias", CASES)
def test_hvp_and_modified_gradient_match_torch(activation, bias):
    torch = pytest.importorskip("torch")
    net, X, y, rng = problem(activation, bias, B=5)
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in net.params]
    L = len(net.weights)
    Xt, Yt = torch.tensor(X), torch.tensor(y.reshape(5, 1))
    split = lambda ps: (ps[:L], ps[L:] if bias else None)
    loss = torch_loss_fn(torch, activation, *split(params), Xt, Yt)
    g = torch.autograd.grad(loss, params, create_graph=True)
    v = random_direction(net, rng)
    vt = [torch.tensor(a) for a in v.weights + (v.biases or [])]
    Hv = torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, vt)), params,
                             retain_graph=True)
    expected = np.concatenate([h.numpy().ravel() for h in Hv])
    assert rel_err(flat(hvp(net, X, y, v)), expected, "hvp vs torch") < 1e-10
    # C_SGD in torch: per-sample gradients by a loop, autograd through them
    lr, b, N = 0.3, 2, 5
    per = [torch.autograd.grad(torch_loss_fn(torch, activation, *split(params), Xt[i:i + 1],
                                             Yt[i:i + 1]), params, create_graph=True)
           for i in range(N)]
    g_sq = sum((gi ** 2).sum() for gi in g)
    gamma = sum(sum(((pi - gi) ** 2).sum() for pi, gi in zip(p, g)) for p in per) / N
    c_sgd = loss + lr / 4 * g_sq + (N - b) / (N - 1) * lr / (4 * b) * gamma
    expected = np.concatenate([t.numpy().ravel() for t in torch.autograd.grad(c_sgd, params)])
    value, _, grad = modified_loss_and_grad(net, X, y, lr, b)
    assert value == pytest.approx(c_sgd.item(), rel=1e-12)
    assert rel_err(flat(grad), expected, "grad C_SGD vs torch") < 1e-10
