"""minisgd.models.diagonal: the diagonal linear network beta = u * v (or u^2 - v^2).

Expected values are derived independently: central finite differences, a forward pass
written here with plain sums, the published init written out, a hand-written SGD loop and
PyTorch autograd + torch.optim.SGD. Bit-identity tests compare with np.array_equal.
"""
import numpy as np
import pytest

from minisgd.engines import RowsGradient
from minisgd.losses import mse
from minisgd.models.diagonal import DiagonalNet
from minisgd.models.buffers import Grads
from minisgd.optimizers import SGD, GroupL1Prox, L1Prox
from net_checks import rel_err

PARAMS = ["uv", "u2v2"]


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def beta_of(u, v, parametrization):
    """beta written out independently of the module."""
    return u * v if parametrization == "uv" else u ** 2 - v ** 2


def reference_loss(theta, X, y, parametrization):
    """mean_i (<beta, x_i> - y_i)^2 from an interleaved theta (u_0, v_0, u_1, ...),
    the sum written as a Python-level sum of products."""
    u, v = theta[0::2], theta[1::2]
    beta = beta_of(u, v, parametrization)
    f = np.array([sum(x_j * b_j for x_j, b_j in zip(x, beta)) for x in X])
    return float(np.mean((f - y) ** 2))


def finite_difference_grad(theta, X, y, parametrization, eps=1e-6):
    g = np.empty_like(theta)
    for i in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (reference_loss(up, X, y, parametrization)
                - reference_loss(down, X, y, parametrization)) / (2 * eps)
    return g


def problem(d=7, B=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, d)), rng.standard_normal(B)


def sparse_problem(n=40, d=30, r=3, seed=0):
    """y = X beta*, beta* r-sparse, non-negative and of unit norm (as the paper's data)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    beta_star = np.zeros(d)
    beta_star[:r] = np.abs(rng.standard_normal(r))
    beta_star /= np.linalg.norm(beta_star)
    return X, X @ beta_star, beta_star


# ---------------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("parametrization", PARAMS)
@pytest.mark.parametrize("B", [1, 32])
def test_gradient_matches_finite_differences(parametrization, B):
    net = DiagonalNet(7, parametrization, init="random", scale=0.8, seed=B)
    X, y = problem(d=7, B=B, seed=1)
    value, grads = net.loss_and_grad(X, y)
    assert value == pytest.approx(reference_loss(net.theta, X, y, parametrization), rel=1e-12)
    fd = finite_difference_grad(net.theta.copy(), X, y, parametrization)
    assert rel_err(grads.flat, fd) <= 1e-7
    # columns of weights[0] are dC/du, dC/dv: the interleaved flat vector is the same data
    assert np.shares_memory(grads.weights[0], grads.flat)
    assert rel_err(grads.weights[0][:, 0], fd[0::2]) <= 1e-7
    assert rel_err(grads.weights[0][:, 1], fd[1::2]) <= 1e-7


@pytest.mark.parametrize("parametrization", PARAMS)
def test_gradient_formulas_by_hand_d1(parametrization):
    # d = 1, one sample x = 2, y = 1, u = 3, v = 0.5.  C = (x beta - y)^2, dC/dbeta = 2 x r
    # uv:   beta = 1.5, r = 2, dC/dbeta = 8, dC/du = 8 * 0.5 = 4, dC/dv = 8 * 3 = 24
    # u2v2: beta = 8.75, r = 16.5, dC/dbeta = 66, dC/du = 2*3*66 = 396, dC/dv = -2*0.5*66 = -66
    net = DiagonalNet.from_arrays(np.array([3.0]), np.array([0.5]), parametrization)
    value, grads = net.loss_and_grad(np.array([[2.0]]), np.array([1.0]))
    expected = {"uv": (4.0, [4.0, 24.0]), "u2v2": (16.5 ** 2, [396.0, -66.0])}
    assert value == expected[parametrization][0]
    np.testing.assert_array_equal(grads.flat, expected[parametrization][1])


@pytest.mark.parametrize("parametrization", PARAMS)
@pytest.mark.parametrize("stacked", [False, True])
def test_per_sample_grads_average_to_the_batch_gradient(parametrization, stacked):
    nets = [DiagonalNet(6, parametrization, init="random", scale=0.7, seed=s) for s in range(3)]
    X, y = problem(d=6, B=9, seed=2)
    net = DiagonalNet.stack(nets) if stacked else nets[0]
    per = net.per_sample_grads(X, y)
    _, batch = net.loss_and_grad(X, y)
    lead = (3, 9) if stacked else (9,)
    assert per.weights[0].shape == lead + (6, 2) and per.biases is None
    np.testing.assert_allclose(per.weights[0].mean(axis=-3), batch.weights[0],
                               rtol=1e-12, atol=1e-15)
    # sample i's gradient is the gradient of the batch made of sample i alone
    for i in range(9):
        _, alone = nets[0].loss_and_grad(X[i:i + 1], y[i:i + 1])
        got = per.weights[0][0, i] if stacked else per.weights[0][i]
        np.testing.assert_allclose(got, alone.weights[0], rtol=1e-13, atol=1e-15)


def test_per_sample_refuses_a_workspace():
    net = DiagonalNet(3)
    X, y = problem(d=3, B=4)
    ws = net.workspace(4)
    acts = net.forward_cache(X, ws)
    _, delta = mse(acts[-1], y[:, None], out=ws.deltas[-1])
    with pytest.raises(ValueError, match="per_sample"):
        net.backward(acts, delta, per_sample=True, ws=ws)


# ---------------------------------------------------------------------------------------
# init
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("parametrization", PARAMS)
@pytest.mark.parametrize("scale", [0.1, 0.01, 2.0])
def test_published_init(parametrization, scale):
    net = DiagonalNet(11, parametrization, scale=scale)
    np.testing.assert_array_equal(net.effective_predictor(), np.zeros(11))
    np.testing.assert_array_equal(net.u, np.full(11, scale))
    # uv: u = alpha 1, v = 0 (diag_nets_2d_loss_surface.ipynb); u2v2: u = v = alpha 1
    np.testing.assert_array_equal(net.v, np.zeros(11) if parametrization == "uv"
                                  else np.full(11, scale))
    X, y = problem(d=11, B=5)
    np.testing.assert_array_equal(net.forward(X), np.zeros((5, 1)))


def test_default_is_the_published_setting():
    net = DiagonalNet(4)
    assert net.parametrization == "uv"
    np.testing.assert_array_equal(net.theta, [0.1, 0.0] * 4)   # interleaved (u_j, v_j)


@pytest.mark.parametrize("parametrization", PARAMS)
def test_random_init_is_reproducible_and_depends_on_the_seed(parametrization):
    a = DiagonalNet(50, parametrization, init="random", scale=0.3, seed=7)
    b = DiagonalNet(50, parametrization, init="random", scale=0.3, seed=7)
    c = DiagonalNet(50, parametrization, init="random", scale=0.3, seed=8)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.any(a.theta == c.theta)
    g = DiagonalNet(50, parametrization, init="random", scale=0.3,
                    seed=np.random.default_rng(7))
    np.testing.assert_array_equal(g.theta, a.theta)          # a Generator is accepted
    rng = np.random.default_rng(7)                           # u first, then v
    np.testing.assert_array_equal(a.u, 0.3 * rng.standard_normal(50))
    np.testing.assert_array_equal(a.v, 0.3 * rng.standard_normal(50))


def test_random_init_statistics():
    net = DiagonalNet(20000, init="random", scale=0.25, seed=3)
    for w in (net.u, net.v):
        assert abs(w.mean()) < 4 * 0.25 / np.sqrt(20000)
        assert w.std() == pytest.approx(0.25, rel=0.03)
    assert abs(np.corrcoef(net.u, net.v)[0, 1]) < 0.03


# ---------------------------------------------------------------------------------------
# forward, workspace
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("parametrization", PARAMS)
def test_forward_equals_X_beta(parametrization):
    net = DiagonalNet(9, parametrization, init="random", scale=0.6, seed=4)
    X, _ = problem(d=9, B=13, seed=5)
    beta = beta_of(net.u.copy(), net.v.copy(), parametrization)
    np.testing.assert_array_equal(net.effective_predictor(), beta)
    expected = np.array([[sum(x_j * b_j for x_j, b_j in zip(x, beta))] for x in X])
    np.testing.assert_allclose(net.forward(X), expected, rtol=1e-13, atol=1e-15)
    assert net.forward(X).shape == (13, 1)


def workspace_pass(net, X, Y, ws):
    acts = net.forward_cache(X, ws)
    value, delta = mse(acts[-1], Y, out=ws.deltas[-1])
    return acts[-1].copy(), value, net.backward(acts, delta, ws=ws)


def allocating_pass(net, X, Y):
    acts = net.forward_cache(X)
    value, delta = mse(acts[-1], Y)
    return acts[-1], value, net.backward(acts, delta)


@pytest.mark.parametrize("parametrization", PARAMS)
@pytest.mark.parametrize("B", [1, 7, 64])
@pytest.mark.parametrize("stacked", [False, True])
def test_workspace_path_equals_allocating_path(parametrization, B, stacked):
    nets = [DiagonalNet(5, parametrization, init="random", seed=s) for s in range(3)]
    net = DiagonalNet.stack(nets) if stacked else nets[0]
    rng = np.random.default_rng(B)
    lead = (3,) if stacked else ()
    X, Y = rng.standard_normal(lead + (B, 5)), rng.standard_normal(lead + (B, 1))
    ws = net.workspace(B)
    for _ in range(2):                                     # a reused workspace too
        f_ws, v_ws, g_ws = workspace_pass(net, X, Y, ws)
        f, v, g = allocating_pass(net, X, Y)
        np.testing.assert_array_equal(f_ws, f)
        np.testing.assert_array_equal(v_ws, v)
        np.testing.assert_array_equal(g_ws.flat, g.flat)
        np.testing.assert_array_equal(g_ws.weights[0], g.weights[0])
    assert g_ws is ws.grads and np.shares_memory(ws.grads.weights[0], ws.grads.flat)
    assert ws.acts[0].shape == ws.deltas[0].shape == lead + (B, 1)
    assert ws.grads.flat.shape == net.theta.shape and ws.grads.biases is None


@pytest.mark.parametrize("parametrization", PARAMS)
@pytest.mark.parametrize("stacked", [False, True])
def test_workspace_steps_allocate_nothing_that_scales_with_d(parametrization, stacked):
    import tracemalloc
    d = 10000                                              # one (d,) vector: 80 kB
    nets = [DiagonalNet(d, parametrization, init="random", seed=s) for s in range(2)]
    net = DiagonalNet.stack(nets) if stacked else nets[0]
    X = np.random.default_rng(0).standard_normal((16, d))
    Y = np.zeros(((2,) if stacked else ()) + (16, 1))
    ws = net.workspace(16)

    def step():
        acts = net.forward_cache(X, ws)
        _, delta = mse(acts[-1], Y, out=ws.deltas[-1])
        g = net.backward(acts, delta, ws=ws)
        np.multiply(g.flat, 1e-6, out=g.flat)
        net.theta -= g.flat

    step()
    tracemalloc.start()
    try:
        for _ in range(20):
            step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000, peak


def test_allocating_grads_are_flat_backed_and_shaped_like_theta():
    net = DiagonalNet(4, init="random")
    _, g = net.loss_and_grad(*problem(d=4, B=3))
    assert isinstance(g, Grads) and g.biases is None
    assert g.flat.shape == (8,) and g.weights[0].shape == (4, 2)
    assert np.shares_memory(g.flat, g.weights[0])
    np.testing.assert_array_equal(g.flat.reshape(4, 2), g.weights[0])


# ---------------------------------------------------------------------------------------
# layout, stack, member
# ---------------------------------------------------------------------------------------
def test_layout_interleaves_u_and_v():
    u, v = np.array([1.0, 2.0, 3.0]), np.array([-1.0, -2.0, -3.0])
    net = DiagonalNet.from_arrays(u, v)
    np.testing.assert_array_equal(net.theta, [1, -1, 2, -2, 3, -3])
    W = net.weights[0]
    assert W.shape == (3, 2) and np.shares_memory(W, net.theta)
    assert np.shares_memory(net.u, net.theta) and np.shares_memory(net.v, net.theta)
    assert net.params == [W] and net.effective_weights() == [W] and net.biases is None
    assert net.sizes == [3, 1] and net.activation == "linear" and net.members is None
    assert net.dtype == np.float64
    net.theta -= 1.0                                       # views follow theta
    np.testing.assert_array_equal(net.u, [0, 1, 2])
    u[0] = 100.0                                           # from_arrays copied
    assert net.u[0] == 0.0


@pytest.mark.parametrize("parametrization", PARAMS)
@pytest.mark.parametrize("B", [1, 7, 64, 3000])
@pytest.mark.parametrize("shared", [False, True])
def test_stack_members_are_bit_identical_to_single_nets(parametrization, B, shared):
    d, K = 37, 3                                          # odd sizes: unaligned members
    nets = [DiagonalNet(d, parametrization, init="random", scale=0.5, seed=s) for s in range(K)]
    ens = DiagonalNet.stack(nets)
    assert ens.theta.shape == (K, 2 * d) and ens.weights[0].shape == (K, d, 2)
    rng = np.random.default_rng(B)
    X = rng.standard_normal((B, d) if shared else (K, B, d))
    Y = rng.standard_normal((K, B, 1))
    ws = ens.workspace(B)
    for f_e, loss_e, g_e in (allocating_pass(ens, X, Y), workspace_pass(ens, X, Y, ws)):
        assert f_e.shape == (K, B, 1)
        for k, net in enumerate(nets):
            Xk = X if shared else np.ascontiguousarray(X[k])
            f, loss, g = allocating_pass(net, Xk, Y[k])
            np.testing.assert_array_equal(f_e[k], f)
            assert loss_e[k] == loss
            np.testing.assert_array_equal(g_e.flat[k], g.flat)
            np.testing.assert_array_equal(g_e.weights[0][k], g.weights[0])
            f_w, loss_w, g_w = workspace_pass(net, Xk, Y[k], net.workspace(B))
            np.testing.assert_array_equal(f_e[k], f_w)
            np.testing.assert_array_equal(g_e.flat[k], g_w.flat)


def test_member_copy_and_view():
    nets = [DiagonalNet(4, "u2v2", init="random", seed=s) for s in range(3)]
    ens = DiagonalNet.stack(nets)
    for k in range(3):
        np.testing.assert_array_equal(ens.member(k).theta, nets[k].theta)
    copy, view = ens.member(1), ens.member(1, copy=False)
    assert copy.parametrization == view.parametrization == "u2v2"
    assert not np.shares_memory(copy.theta, ens.theta)
    assert np.shares_memory(view.theta, ens.theta)
    assert np.shares_memory(view.weights[0], ens.theta)
    assert view.members is None and view.weights[0].shape == (4, 2)
    view.weights[0][2, 1] = 42.0                           # writes reach the ensemble
    assert ens.theta[1, 5] == 42.0 and ens.weights[0][1, 2, 1] == 42.0
    view.theta *= 0.5
    np.testing.assert_array_equal(ens.theta[1], view.theta)
    assert copy.theta[5] == nets[1].theta[5]               # the copy did not move
    nets[0].theta += 1.0                                   # stack copied its inputs
    assert not np.array_equal(ens.theta[0], nets[0].theta)


def test_copy_and_dtype():
    net = DiagonalNet(3, init="random", seed=1)
    c = net.copy()
    np.testing.assert_array_equal(c.theta, net.theta)
    assert not np.shares_memory(c.theta, net.theta)
    c32 = net.copy(dtype=np.float32)
    assert c32.dtype == np.float32 and c32.weights[0].dtype == np.float32
    ens = DiagonalNet.stack([net, c])
    ens_copy = ens.copy()
    assert ens_copy.members == 2 and not np.shares_memory(ens_copy.theta, ens.theta)
    f32 = DiagonalNet.from_arrays(np.ones(2), np.ones(2), dtype=np.float32)
    assert f32.dtype == np.float32 and f32.theta.dtype == np.float32


def test_repr():
    assert repr(DiagonalNet(3)) == "DiagonalNet(d=3, parametrization='uv')"
    ens = DiagonalNet.stack([DiagonalNet(3, "u2v2")] * 2)
    assert repr(ens) == "DiagonalNet(d=3, parametrization='u2v2', members=2)"


def test_stack_public_methods_take_shared_or_per_member_targets():
    nets = [DiagonalNet(4, init="random", seed=s) for s in range(2)]
    ens = DiagonalNet.stack(nets)
    X, y = problem(d=4, B=5)
    Y2 = np.stack([y, 2 * y])
    for yy in (y, y[:, None]):
        losses = ens.loss(X, yy)
        assert losses.shape == (2,)
        assert losses[1] == nets[1].loss(X, y)
    for yy in (Y2, Y2[..., None]):
        assert ens.loss(X, yy)[1] == nets[1].loss(X, 2 * y)
    Xs = np.stack([X, X + 1])
    assert ens.loss(Xs, Y2)[1] == nets[1].loss(X + 1, 2 * y)
    np.testing.assert_array_equal(ens.forward(Xs)[0], nets[0].forward(X))


# ---------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("parametrization", PARAMS)
def test_sgd_steps_by_hand_decrease_the_loss(parametrization):
    X, y, beta_star = sparse_problem(n=40, d=30, r=3, seed=1)
    net = DiagonalNet(30, parametrization, scale=0.1)
    start = net.loss(X, y)
    rng = np.random.default_rng(0)
    for _ in range(300):
        idx = rng.choice(40, size=5, replace=False)
        _, g = net.loss_and_grad(X[idx], y[idx])
        net.theta -= 0.05 * g.flat
    assert net.loss(X, y) < 0.05 * start
    beta = net.effective_predictor()
    assert np.abs(beta[:3] - beta_star[:3]).max() < 0.2  # the support is being learned


def test_full_batch_steps_decrease_the_loss_monotonically():
    X, y, _ = sparse_problem(n=40, d=30, r=3, seed=2)
    net = DiagonalNet(30, init="random", scale=0.3, seed=0)
    losses = []
    for _ in range(20):
        value, g = net.loss_and_grad(X, y)
        losses.append(value)
        net.theta -= 0.01 * g.flat
    assert all(b < a for a, b in zip(losses, losses[1:]))


@pytest.mark.parametrize("parametrization", PARAMS)
def test_matches_torch_sgd_with_momentum_and_weight_decay(parametrization):
    torch = pytest.importorskip("torch")
    lr, mu, wd, steps, b = 0.02, 0.9, 1e-3, 200, 8
    X, y, _ = sparse_problem(n=64, d=20, r=3, seed=3)
    rng = np.random.default_rng(4)
    u0, v0 = 0.5 * rng.standard_normal(20), 0.5 * rng.standard_normal(20)
    net = DiagonalNet.from_arrays(u0, v0, parametrization)
    tu = torch.tensor(u0, dtype=torch.float64, requires_grad=True)
    tv = torch.tensor(v0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([tu, tv], lr=lr, momentum=mu, weight_decay=wd)
    loss_fn = torch.nn.MSELoss()
    m = None
    for step in range(steps):
        idx = rng.choice(64, size=b, replace=False)
        Xb, yb = X[idx], y[idx]
        # numpy: theta <- theta - lr m,  m = mu m + g + wd theta  (m = g + wd theta first)
        _, g = net.loss_and_grad(Xb, yb)
        g = g.flat + wd * net.theta
        m = g if m is None else mu * m + g
        net.theta -= lr * m
        # torch
        opt.zero_grad()
        beta = tu * tv if parametrization == "uv" else tu ** 2 - tv ** 2
        loss_fn(torch.from_numpy(Xb) @ beta, torch.from_numpy(yb)).backward()
        opt.step()
        theta_t = np.stack([tu.detach().numpy(), tv.detach().numpy()], axis=-1).ravel()
        rel = np.linalg.norm(net.theta - theta_t) / np.linalg.norm(theta_t)
        assert rel <= 1e-12, (step, rel)
    moved = np.linalg.norm(net.theta - np.stack([u0, v0], -1).ravel()) / np.linalg.norm(theta_t)
    assert moved > 0.1                                      # a non-trivial trajectory


# ---------------------------------------------------------------------------------------
# the training loop's protocol: RowsGradient, SGD, the L1 / group-L1 proxes
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("parametrization", PARAMS)
def test_batch_gradient_in_pieces_matches_loss_and_grad(parametrization):
    X, y = problem(d=6, B=5000, seed=6)                   # > CHUNK_ROWS: several pieces
    net = DiagonalNet(6, parametrization, init="random", seed=2)
    value, g = net.loss_and_grad(X, y)
    with RowsGradient(net) as bg:
        v_pieces, g_pieces = bg(net, X, y[:, None])
    assert v_pieces == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(g_pieces.flat, g.flat, rtol=1e-11, atol=1e-14)


def test_sgd_optimizer_step_matches_hand_update_and_stack():
    X, y, _ = sparse_problem(n=20, d=8, seed=5)
    nets = [DiagonalNet(8, "u2v2", init="random", scale=0.4, seed=s) for s in range(2)]
    ens = DiagonalNet.stack(nets)
    hand = [n.copy() for n in nets]
    opts = [SGD(0.05, momentum=0.5, weight_decay=0.01) for _ in nets]
    ens_opt = SGD(0.05, momentum=0.5, weight_decay=0.01)
    bg, ens_bg = RowsGradient(nets[0]), RowsGradient(ens)
    m = [None, None]
    for _ in range(10):
        for k, (net, opt) in enumerate(zip(nets, opts)):
            _, g = bg(net, X, y[:, None])
            opt.step(net, g, 0.05)
            _, gh = hand[k].loss_and_grad(X, y)
            gh = gh.flat + 0.01 * hand[k].theta
            m[k] = gh if m[k] is None else 0.5 * m[k] + gh
            hand[k].theta -= 0.05 * m[k]
        _, g = ens_bg(ens, X, np.stack([y[:, None]] * 2))
        ens_opt.step(ens, g, 0.05)
    for k in range(2):
        np.testing.assert_allclose(nets[k].theta, hand[k].theta, rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(ens.theta[k], nets[k].theta)


def test_l1_prox_soft_thresholds_u_and_v():
    net = DiagonalNet.from_arrays(np.array([1.0, -0.2, 0.05]), np.array([-0.5, 0.3, 2.0]))
    L1Prox(0.25).apply(net, 0.4)                          # threshold 0.1
    np.testing.assert_allclose(net.u, [0.9, -0.1, 0.0], atol=1e-15)
    np.testing.assert_allclose(net.v, [-0.4, 0.2, 1.9], atol=1e-15)


def test_group_l1_prox_removes_whole_inputs():
    # rows (u_j, v_j): (3, 4) has norm 5, (0.3, 0.4) norm 0.5; threshold eta * lam = 1
    net = DiagonalNet.from_arrays(np.array([3.0, 0.3]), np.array([4.0, 0.4]))
    GroupL1Prox(2.0).apply(net, 0.5)
    np.testing.assert_allclose(net.weights[0], [[2.4, 3.2], [0.0, 0.0]], atol=1e-15)
    np.testing.assert_array_equal(net.effective_predictor()[1], 0.0)


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(d=0), ValueError, r"d must be an int in \[1"),
    (dict(d=2.5), TypeError, "d must be an int"),
    (dict(d=True), TypeError, "d must be an int"),
    (dict(d=3, parametrization="u3"), ValueError, "parametrization must be one of"),
    (dict(d=3, parametrization=None), ValueError, "parametrization must be one of"),
    (dict(d=3, init="zeros"), ValueError, "init must be one of"),
    (dict(d=3, scale=0.0), ValueError, "scale must be a finite number in \\(0"),
    (dict(d=3, scale=-1.0), ValueError, "scale must be"),
    (dict(d=3, scale=float("nan")), ValueError, "scale must be"),
    (dict(d=3, scale="0.1"), TypeError, "scale must be a real number"),
    (dict(d=3, seed=None), TypeError, "seed must be an int or a numpy.random.Generator"),
    (dict(d=3, init="random", seed=-1), ValueError, "seed must be an int"),
])
def test_bad_constructor_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        DiagonalNet(**kwargs)


@pytest.mark.parametrize("u, v, kw, exc, pattern", [
    ([1.0, 2.0], np.ones(2), {}, TypeError, "u must be a numpy ndarray"),
    (np.ones(2), [1.0, 2.0], {}, TypeError, "v must be a numpy ndarray"),
    (np.array([1, 2]), np.ones(2), {}, TypeError, "u must have a floating dtype"),
    (np.ones((2, 1)), np.ones(2), {}, ValueError, "u must be 1-dimensional"),
    (np.ones(2), np.ones(3), {}, ValueError, r"v must have shape \(2\)"),
    (np.ones(2), np.array([1.0, np.nan]), {}, ValueError, "v contains non-finite"),
    (np.ones(0), np.ones(0), {}, ValueError, "u must hold at least one entry"),
    (np.ones(2), np.ones(2), dict(parametrization="vu"), ValueError, "parametrization"),
    (np.ones(2), np.ones(2), dict(dtype=np.int64), TypeError, "dtype must be numpy.float64"),
    (np.ones(2), np.ones(2), dict(dtype="banana"), TypeError, "dtype must be numpy.float64"),
])
def test_from_arrays_rejects_bad_arrays(u, v, kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        DiagonalNet.from_arrays(u, v, **kw)


@pytest.mark.parametrize("nets, exc, pattern", [
    ([], ValueError, "nets must be a non-empty list"),
    ("nets", ValueError, "nets must be a non-empty list"),
    ([DiagonalNet(3), DiagonalNet(4)], ValueError, "nets must share d, parametrization"),
    ([DiagonalNet(3), DiagonalNet(3, "u2v2")], ValueError, "nets must share d, parametrization"),
    ([DiagonalNet(3), DiagonalNet(3).copy(dtype=np.float32)], ValueError, "dtype"),
    ([DiagonalNet(3), "net"], TypeError, r"nets\[1\] must be a single"),
    ([DiagonalNet.stack([DiagonalNet(3)] * 2)], TypeError, r"nets\[0\] must be a single"),
])
def test_stack_rejects_bad_nets(nets, exc, pattern):
    with pytest.raises(exc, match=pattern):
        DiagonalNet.stack(nets)


def test_member_and_workspace_and_copy_arguments():
    ens = DiagonalNet.stack([DiagonalNet(3)] * 2)
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 1\]"):
        ens.member(2)
    with pytest.raises(TypeError, match="k must be an int"):
        ens.member(0.0)
    with pytest.raises(ValueError, match="member\\(\\) needs a stacked net"):
        DiagonalNet(3).member(0)
    with pytest.raises(ValueError, match="batch must be an int"):
        DiagonalNet(3).workspace(0)
    with pytest.raises(TypeError, match="dtype must be"):
        DiagonalNet(3).copy(dtype=int)


X_OK = np.ones((4, 3))
Y_OK = np.ones(4)


@pytest.mark.parametrize("method", ["forward", "loss", "loss_and_grad", "per_sample_grads"])
@pytest.mark.parametrize("X, exc, pattern", [
    ([[1.0, 2.0, 3.0]], TypeError, "X must be a numpy ndarray"),
    (np.ones((4, 3), dtype=int), TypeError, "X must have a floating dtype"),
    (np.ones((4, 2)), ValueError, r"X must have shape \(any, 3\)"),
    (np.ones(3), ValueError, r"X must have shape \(any, 3\)"),
    (np.ones((2, 4, 3)), ValueError, r"X must have shape \(any, 3\)"),   # single net
    (np.full((4, 3), np.inf), ValueError, "X contains non-finite"),
    (np.ones((0, 3)), ValueError, "X must hold at least one row"),
])
def test_bad_X(method, X, exc, pattern):
    net = DiagonalNet(3)
    args = (X,) if method == "forward" else (X, Y_OK)
    with pytest.raises(exc, match=pattern):
        getattr(net, method)(*args)


@pytest.mark.parametrize("method", ["loss", "loss_and_grad", "per_sample_grads"])
@pytest.mark.parametrize("y, exc, pattern", [
    ([1.0] * 4, TypeError, "y must be a numpy ndarray"),
    (np.ones(4, dtype=int), TypeError, "y must have a floating dtype"),
    (np.ones(5), ValueError, r"y must have shape \(4"),
    (np.ones((4, 2)), ValueError, r"y must have shape \(4, 1\)"),
    (np.array([1.0, np.nan, 1.0, 1.0]), ValueError, "y contains non-finite"),
])
def test_bad_y(method, y, exc, pattern):
    with pytest.raises(exc, match=pattern):
        getattr(DiagonalNet(3), method)(X_OK, y)


@pytest.mark.parametrize("loss", ["cross_entropy", "MSE", ["mse"], None])
def test_only_mse(loss):
    with pytest.raises(ValueError, match="loss must be one of"):
        DiagonalNet(3).loss_and_grad(X_OK, Y_OK, loss=loss)


@pytest.mark.parametrize("X, y, exc, pattern", [
    (np.ones((3, 4, 3)), Y_OK, ValueError, r"X must have shape \(any, 3\)"),  # K = 3 != 2
    (np.ones((2, 4, 2)), Y_OK, ValueError, r"or \(2, any, 3\)"),
    (np.ones(3), Y_OK, ValueError, r"X must have shape \(any, 3\) \(shared"),
    (X_OK, np.ones((3, 4)), ValueError, r"y must have shape \(4,\) or \(4, 1\)"),
    (X_OK, np.ones((2, 4, 2)), ValueError, r"y must have shape"),
    (X_OK, np.ones((2, 4), dtype=int), TypeError, "y must have a floating dtype"),
])
def test_stack_bad_inputs(X, y, exc, pattern):
    ens = DiagonalNet.stack([DiagonalNet(3)] * 2)
    with pytest.raises(exc, match=pattern):
        ens.loss(X, y)
