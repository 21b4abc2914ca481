"""Optimizer update equations, proximal steps, penalties and learning-rate schedules,
checked against hand-computed values on tiny networks (and against torch.optim.SGD when
torch is installed)."""
import numpy as np
import pytest

from minisgd.models import MLP, Grads
from minisgd.optimizers import (GD, SGD, GroupL1Prox, L1Prox, LRSchedule, clip_global_norm,
                                global_norm)

W0 = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]])        # (3, 2)
W1 = np.array([[1.0], [-2.0]])                                 # (2, 1)
B0 = np.array([0.1, -0.2])
B1 = np.array([0.3])
G0 = np.array([[0.2, -0.1], [0.05, 0.4], [-0.3, 0.1]])
G1 = np.array([[-0.5], [0.25]])
GB0 = np.array([0.01, -0.02])
GB1 = np.array([0.5])


def tiny(bias=False):
    return MLP.from_weights([W0, W1], [B0, B1] if bias else None)


def grads(scale=1.0, bias=False):
    """Fresh copies (the optimizer may clip them in place)."""
    return Grads([G0 * scale, G1 * scale], [GB0 * scale, GB1 * scale] if bias else None)


# ---- plain step, weight decay, momentum -------------------------------------------------

def test_plain_step_is_theta_minus_lr_g():
    net = tiny(bias=True)
    SGD(0.1).step(net, grads(bias=True), 0.1)
    np.testing.assert_allclose(net.weights[0], W0 - 0.1 * G0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.weights[1], W1 - 0.1 * G1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.biases[0], B0 - 0.1 * GB0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.biases[1], B1 - 0.1 * GB1, rtol=0, atol=1e-15)


def test_step_uses_the_lr_argument_not_the_constructor_lr():
    net = tiny()
    SGD(0.1).step(net, grads(), 0.025)
    np.testing.assert_allclose(net.weights[0], W0 - 0.025 * G0, rtol=0, atol=1e-15)


def test_gd_is_the_sgd_update_rule_sampling_is_the_batches_business():
    opt = GD(0.1)
    assert not hasattr(opt, "batch_size") and not hasattr(opt, "label_noise")
    net = tiny()
    opt.step(net, grads(), 0.1)
    np.testing.assert_allclose(net.weights[1], W1 - 0.1 * G1, rtol=0, atol=1e-15)


def test_coupled_weight_decay_adds_lambda_theta_to_gradient():
    lr, lam = 0.1, 0.3
    net = tiny(bias=True)
    SGD(lr, weight_decay=lam).step(net, grads(bias=True), lr)
    np.testing.assert_allclose(net.weights[0], W0 - lr * (G0 + lam * W0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.weights[1], W1 - lr * (G1 + lam * W1), rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.biases[0], B0 - lr * (GB0 + lam * B0), rtol=0, atol=1e-15)


def test_decoupled_weight_decay_scales_theta_then_steps():
    lr, lam = 0.1, 0.3
    net = tiny()
    SGD(lr, weight_decay=lam, decoupled=True).step(net, grads(), lr)
    np.testing.assert_allclose(net.weights[0], (1 - lr * lam) * W0 - lr * G0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.weights[1], (1 - lr * lam) * W1 - lr * G1, rtol=0, atol=1e-15)


def test_coupled_and_decoupled_differ_with_momentum():
    # with momentum the two forms are different algorithms; a mix-up would show here
    a, b = tiny(), tiny()
    oa = SGD(0.1, momentum=0.9, weight_decay=0.3)
    ob = SGD(0.1, momentum=0.9, weight_decay=0.3, decoupled=True)
    for _ in range(3):
        oa.step(a, grads(), 0.1)
        ob.step(b, grads(), 0.1)
    assert not np.allclose(a.weights[0], b.weights[0])


def test_momentum_three_steps_by_hand():
    lr, mu = 0.1, 0.9
    gs = [1.0, -0.5, 2.0]                      # gradient scales at the three steps
    net = tiny()
    opt = SGD(lr, momentum=mu)
    for s in gs:
        opt.step(net, grads(s), lr)
    # m1 = g1, m2 = mu g1 + g2, m3 = mu m2 + g3 ; theta3 = theta0 - lr (m1 + m2 + m3)
    for W, G, got in ((W0, G0, net.weights[0]), (W1, G1, net.weights[1])):
        m1 = gs[0] * G
        m2 = mu * m1 + gs[1] * G
        m3 = mu * m2 + gs[2] * G
        np.testing.assert_allclose(got, W - lr * (m1 + m2 + m3), rtol=0, atol=1e-14)
        # the buffer is one flat vector in the order of net.theta (W0 then W1)
        m_flat = opt.buffer[:W0.size] if W is W0 else opt.buffer[W0.size:]
        np.testing.assert_allclose(m_flat.reshape(W.shape), m3, rtol=0, atol=1e-14)


def test_momentum_with_coupled_weight_decay_by_hand():
    lr, mu, lam = 0.05, 0.5, 0.2
    net = tiny()
    opt = SGD(lr, momentum=mu, weight_decay=lam)
    theta, m = W0.copy(), None
    for s in (1.0, 2.0, -1.0):
        opt.step(net, grads(s), lr)
        g = s * G0 + lam * theta
        m = g if m is None else mu * m + g
        theta = theta - lr * m
    np.testing.assert_allclose(net.weights[0], theta, rtol=0, atol=1e-14)


def test_momentum_does_not_alias_the_gradient():
    # the first buffer is a copy of g: changing the caller's gradient later must not move it
    net = tiny()
    opt = SGD(0.1, momentum=0.9)
    g = grads()
    opt.step(net, g, 0.1)
    g.weights[0][...] = 100.0
    np.testing.assert_allclose(opt.buffer[:G0.size].reshape(G0.shape), G0, rtol=0, atol=0)


# ---- clipping ------------------------------------------------------------------------

def test_global_norm_over_all_arrays():
    assert global_norm([np.array([3.0]), np.array([[4.0, 0.0]])]) == pytest.approx(5.0, abs=1e-15)


def test_clip_above_max_norm_scales_by_max_over_norm():
    g = grads(bias=True)
    arrays = g.weights + g.biases
    norm = np.sqrt(sum(np.sum(a ** 2) for a in arrays))
    max_norm = 0.1
    assert norm > max_norm
    net = tiny(bias=True)
    SGD(1.0, clip=max_norm).step(net, g, 1.0)
    coef = max_norm / (norm + 1e-6)
    np.testing.assert_allclose(net.weights[0], W0 - coef * G0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.weights[1], W1 - coef * G1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.biases[1], B1 - coef * GB1, rtol=0, atol=1e-15)
    # the clipped update has (almost exactly) norm max_norm
    step = [W0 - net.weights[0], W1 - net.weights[1], B0 - net.biases[0], B1 - net.biases[1]]
    assert global_norm(step) == pytest.approx(max_norm, rel=1e-5)


def test_clip_below_max_norm_leaves_gradient_unchanged():
    net = tiny()
    SGD(1.0, clip=100.0).step(net, grads(), 1.0)
    np.testing.assert_allclose(net.weights[0], W0 - G0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.weights[1], W1 - G1, rtol=0, atol=1e-15)


def test_clip_global_norm_returns_norm_and_clips_in_place():
    a, b = np.array([3.0, 0.0]), np.array([[0.0], [4.0]])
    norm = clip_global_norm([a, b], 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(a, [3.0 / (5.0 + 1e-6), 0.0], rtol=1e-15)
    np.testing.assert_allclose(b, [[0.0], [4.0 / (5.0 + 1e-6)]], rtol=1e-15)
    c = np.array([0.3, 0.4])
    assert clip_global_norm([c], 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(c, [0.3, 0.4])


def test_clip_happens_before_weight_decay():
    # torch order: clip_grad_norm_ on the data gradient, then SGD adds lambda * theta
    lr, lam, max_norm = 0.1, 0.5, 0.1
    norm = np.sqrt(np.sum(G0 ** 2) + np.sum(G1 ** 2))
    net = tiny()
    SGD(lr, clip=max_norm, weight_decay=lam).step(net, grads(), lr)
    coef = max_norm / (norm + 1e-6)
    np.testing.assert_allclose(net.weights[0], W0 - lr * (coef * G0 + lam * W0), rtol=0,
                               atol=1e-15)


# ---- proximal steps ------------------------------------------------------------------

def test_l1_prox_soft_threshold_values_and_exact_zeros():
    W = np.array([[0.5, -0.125, 0.0625], [-1.0, 0.125, -0.0625]])
    net = MLP.from_weights([W, np.ones((3, 1))])
    L1Prox(0.25).apply(net, 0.5)                       # threshold eta * lam = 0.125
    expected = np.array([[0.375, 0.0, 0.0], [-0.875, 0.0, 0.0]])
    np.testing.assert_array_equal(net.weights[0], expected)
    assert np.count_nonzero(net.weights[0]) == 2
    np.testing.assert_array_equal(net.weights[1], np.ones((3, 1)))   # only layer 0 by default


def test_l1_prox_runs_after_the_gradient_step_with_the_step_lr():
    net = tiny()
    zero = Grads([np.zeros_like(G0), np.zeros_like(G1)], None)
    SGD(1.0, prox=[L1Prox(1.0)]).step(net, zero, 0.6)   # threshold 0.6
    expected = np.sign(W0) * np.maximum(np.abs(W0) - 0.6, 0.0)
    np.testing.assert_allclose(net.weights[0], expected, rtol=0, atol=1e-15)
    assert net.weights[0][0, 0] == 0.0                       # |0.5| < 0.6
    np.testing.assert_array_equal(net.weights[1], W1)


def test_l1_prox_other_layers():
    net = tiny()
    L1Prox(1.0, layers=(0, 1)).apply(net, 1.5)
    np.testing.assert_allclose(net.weights[1], [[0.0], [-0.5]], rtol=0, atol=1e-15)


def test_group_l1_prox_zeroes_small_rows_and_shrinks_others():
    W = np.array([[3.0, 4.0],          # norm 5   -> factor 1 - 1/5
                  [0.3, 0.4],          # norm 0.5 -> 0
                  [0.6, 0.8],          # norm 1.0 == eta*lam -> 0
                  [0.0, 2.0]])         # norm 2   -> factor 1/2
    W2 = np.array([[1.0], [1.0]])
    net = MLP.from_weights([W, W2])
    GroupL1Prox(2.0).apply(net, 0.5)   # eta * lam = 1
    expected = np.array([[2.4, 3.2], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(net.weights[0], expected, rtol=0, atol=1e-15)
    assert np.all(net.weights[0][1:3] == 0.0)
    np.testing.assert_array_equal(net.weights[1], W2)


def test_group_l1_prox_keeps_an_all_zero_row_zero():
    W = np.array([[0.0, 0.0], [3.0, 4.0]])
    net = MLP.from_weights([W, np.ones((2, 1))])
    GroupL1Prox(0.1).apply(net, 1.0)
    assert np.all(np.isfinite(net.weights[0]))
    np.testing.assert_allclose(net.weights[0], [[0.0, 0.0], [3.0 * 0.98, 4.0 * 0.98]], atol=1e-15)


def test_penalty_values():
    net = tiny(bias=True)
    lam1, lamg, wd = 0.2, 0.3, 0.1
    opt = SGD(0.1, weight_decay=wd, prox=[L1Prox(lam1), GroupL1Prox(lamg)])
    l1 = lam1 * np.abs(W0).sum()
    gl = lamg * sum(np.sqrt(np.sum(row ** 2)) for row in W0)
    sq = sum(np.sum(p ** 2) for p in (W0, W1, B0, B1))
    assert opt.penalty(net) == pytest.approx(l1 + gl + 0.5 * wd * sq, rel=1e-14)
    assert L1Prox(lam1).penalty(net) == pytest.approx(l1, rel=1e-14)
    assert GroupL1Prox(lamg).penalty(net) == pytest.approx(gl, rel=1e-14)
    # decoupled weight decay is not an explicit penalty
    opt_dec = SGD(0.1, weight_decay=wd, decoupled=True, prox=[L1Prox(lam1)])
    assert opt_dec.penalty(net) == pytest.approx(l1, rel=1e-14)
    assert SGD(0.1).penalty(net) == 0.0


# ---- schedules -----------------------------------------------------------------------

def test_constant_schedule():
    s = LRSchedule(0.3, 100)
    assert [s(t) for t in (0, 1, 50, 99, 1000)] == [0.3] * 5


def test_step_decay_at_fractions():
    s = LRSchedule(1.0, 100, decay_at=(0.75, 0.5), factor=0.1)     # unsorted on purpose
    assert s(0) == 1.0 and s(49) == 1.0
    assert s(50) == pytest.approx(0.1) and s(74) == pytest.approx(0.1)
    assert s(75) == pytest.approx(0.01) and s(99) == pytest.approx(0.01)


def test_warmup_values():
    s = LRSchedule(0.8, 100, warmup=4)
    assert [s(t) for t in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 0.8, 0.8])


def test_warmup_and_decay_combine():
    s = LRSchedule(1.0, 10, decay_at=(0.2,), factor=0.5, warmup=4)
    # milestone at step 2
    assert [s(t) for t in range(5)] == pytest.approx([0.25, 0.5, 0.375, 0.5, 0.5])


# ---- bad values ----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, name", [
    (dict(lr=-0.1), "lr"),
    (dict(lr=0.0), "lr"),
    (dict(lr=float("nan")), "lr"),
    (dict(momentum=1.5), "momentum"),
    (dict(momentum=-0.1), "momentum"),
    (dict(weight_decay=-0.01), "weight_decay"),
    (dict(clip=0.0), "clip"),
    (dict(clip=-1.0), "clip"),
])
def test_sgd_rejects_bad_values_naming_the_argument(kwargs, name):
    args = dict(lr=0.1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        SGD(**args)


def test_sgd_rejects_non_numbers():
    with pytest.raises(TypeError, match="lr"):
        SGD("0.1")


@pytest.mark.parametrize("decay_at", [(0.0,), (1.5,), (-0.2,), (0.5, 2.0), (0.5, 0.5)])
def test_schedule_rejects_decay_at_outside_unit_interval(decay_at):
    with pytest.raises(ValueError, match="decay_at"):
        LRSchedule(0.1, 100, decay_at=decay_at)


def test_schedule_refuses_decay_at_one():             # a milestone at the end decays nothing
    with pytest.raises(ValueError, match="decay_at"):
        LRSchedule(0.1, 100, decay_at=(1.0,))


@pytest.mark.parametrize("kwargs, name", [
    (dict(lr=-1.0), "lr"), (dict(steps=0), "steps"), (dict(warmup=-1), "warmup"),
    (dict(factor=0.0), "decay_factor"), (dict(factor=1.5), "decay_factor"),
])
def test_schedule_rejects_bad_values(kwargs, name):
    args = dict(lr=0.1, steps=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        LRSchedule(**args)


@pytest.mark.parametrize("cls, name", [(L1Prox, "l1"), (GroupL1Prox, "group_l1")])
def test_prox_rejects_negative_strength(cls, name):
    with pytest.raises(ValueError, match=name):
        cls(-0.1)


# ---- against PyTorch -----------------------------------------------------------------

def test_matches_torch_sgd_momentum_weight_decay_clipping():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 4))
    y = rng.standard_normal(20)
    Ws = [rng.standard_normal((4, 3)), rng.standard_normal((3, 1))]
    bs = [rng.standard_normal(3), rng.standard_normal(1)]
    net = MLP.from_weights(Ws, bs, activation="tanh")
    lr, mu, wd, max_norm = 0.05, 0.9, 0.01, 0.5

    lin1 = torch.nn.Linear(4, 3, dtype=torch.float64)
    lin2 = torch.nn.Linear(3, 1, dtype=torch.float64)
    with torch.no_grad():
        lin1.weight.copy_(torch.from_numpy(Ws[0].T.copy()))
        lin1.bias.copy_(torch.from_numpy(bs[0]))
        lin2.weight.copy_(torch.from_numpy(Ws[1].T.copy()))
        lin2.bias.copy_(torch.from_numpy(bs[1]))
    model = torch.nn.Sequential(lin1, torch.nn.Tanh(), lin2)
    topt = torch.optim.SGD(model.parameters(), lr=lr, momentum=mu, weight_decay=wd)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y[:, None])

    opt = SGD(lr, momentum=mu, weight_decay=wd, clip=max_norm)
    clipped = 0
    for _ in range(5):
        _, g = net.loss_and_grad(X, y)
        opt.step(net, g, lr)
        topt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(Xt), yt)
        loss.backward()
        total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        clipped += float(total) > max_norm
        topt.step()
        for mine, theirs in ((net.weights[0], lin1.weight.detach().numpy().T),
                             (net.weights[1], lin2.weight.detach().numpy().T),
                             (net.biases[0], lin1.bias.detach().numpy()),
                             (net.biases[1], lin2.bias.detach().numpy())):
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-12)
    assert clipped >= 1                        # the clipping branch was exercised


def test_flat_backed_grads_give_the_same_step():
    # the training loop hands the optimizer Grads whose arrays are views of one flat vector
    from minisgd.models import Workspace
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    a, b = tiny(bias=True), tiny(bias=True)
    _, g_list = a.loss_and_grad(X, y)
    ws = Workspace(b, 6)
    acts = b.forward_cache(X, ws)
    from minisgd.losses import mse
    _, delta = mse(acts[-1], y[:, None], out=ws.deltas[-1])
    g_flat = b.backward(acts, delta, ws=ws)
    assert g_flat.flat is not None
    for u, v in zip(g_list.weights + g_list.biases, g_flat.weights + g_flat.biases):
        np.testing.assert_allclose(u, v, rtol=1e-14, atol=1e-15)
    oa = SGD(0.1, momentum=0.9, weight_decay=0.1, clip=0.3)
    ob = SGD(0.1, momentum=0.9, weight_decay=0.1, clip=0.3)
    oa.step(a, g_list, 0.1)
    ob.step(b, g_flat, 0.1)
    for u, v in zip(a.params, b.params):
        np.testing.assert_allclose(u, v, rtol=1e-14, atol=1e-15)
    # the parameter views and theta stay one and the same memory
    assert all(np.shares_memory(p, b.theta) for p in b.params)


def test_a_gradient_norm_past_the_float64_range_still_clips():
    from minisgd.optimizers import global_norm
    g = np.full(4, 1e200)
    with np.errstate(over="ignore"):
        assert global_norm(g) == pytest.approx(2e200)
        assert global_norm(np.stack([g, np.ones(4)])) == pytest.approx([2e200, 2.0])
