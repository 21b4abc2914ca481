"""Weight normalization of the MLP's hidden layers (models/weight_norm.py and its use in
models/mlp.py): gradients against central finite differences, the effective weights, the
torch-style initialization, per-sample gradients, the Workspace path, ensembles bit for
bit, scale invariance, the theta layout and argument validation.

Expected values are derived independently: finite differences of the loss, the effective
weight written out here from its definition (numpy.linalg.norm), or exact identities.
"""
import re

import numpy as np
import pytest

from minisgd.losses import mse
from minisgd.models import MLP, Grads
from minisgd.models.weight_norm import weight_norms
from net_checks import random_targets, rel_err

KINDS = ["layer", "unit"]
ACTIVATIONS = ["linear", "relu", "tanh"]
LOSS_CONFIGS = [("mse", 1), ("mse", 2), ("cross_entropy", 3)]
FD_STEP = 1e-4
FD_TOL = 1e-7
KINK_MARGIN = 1e-4


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def reference_weight(V, g, kind):
    """W = g V / ||V||_F, or column o: g_o V[:, o] / ||V[:, o]||, written from the definition."""
    if kind == "layer":
        return g * V / np.linalg.norm(V)
    return V * (g / np.linalg.norm(V, axis=0))[None, :]


def reference_weights(net):
    return [reference_weight(V, g, net.weight_norm) for V, g in zip(net.weights, net.gains)] \
        + [net.weights[-1]]


def hidden_preactivations(net, X):
    sigma = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh}
    a, pre = X, []
    for l, W in enumerate(reference_weights(net)[:-1]):
        z = a @ W + (0.0 if net.biases is None else net.biases[l])
        pre.append(z)
        a = sigma[net.activation](z)
    return pre


def make_problem(sizes, activation, bias, loss, kind, seed=0, batch=6):
    """A small weight-normalized net whose gains differ from ||V|| (so that W != V), with
    non-zero biases, a batch X and targets; for relu the first seed whose hidden
    pre-activations stay KINK_MARGIN away from 0 (finite differences need it)."""
    for s in range(seed, seed + 100):
        rng = np.random.default_rng(2000 + s)
        net = MLP(sizes, activation=activation, bias=bias, init="normal", scale=0.7, seed=s,
                  weight_norm=kind)
        for g in net.gains:
            g[...] = rng.uniform(0.5, 2.0, size=g.shape) * rng.choice([-1.0, 1.0], size=g.shape)
        if bias:
            for b in net.biases:
                b[:] = rng.normal(0.0, 0.5, size=b.shape)
        X = rng.normal(size=(batch, sizes[0]))
        K = sizes[-1]
        y = random_targets(rng, loss, K, batch)
        margin = min(float(np.min(np.abs(z))) for z in hidden_preactivations(net, X))
        if activation != "relu" or margin > KINK_MARGIN:
            return net, X, y
    raise AssertionError("no seed without relu kinks found")


def names(net):
    L = len(net.weights)
    return ([f"V[{l}]" if l < L - 1 else f"W[{l}]" for l in range(L)]
            + ([f"biases[{l}]" for l in range(L)] if net.biases is not None else [])
            + [f"gains[{l}]" for l in range(L - 1)])


def grad_arrays(grads):
    return list(grads.weights) + list(grads.biases or []) + list(grads.gains or [])


def fd_grads(loss_fn, arrays, h=FD_STEP):
    """Central differences of loss_fn() in every entry of every array (perturbed in place,
    restored exactly; 0-d arrays, a layer's gain, included), fourth-order stencil

        dC/dp ~ (-C(p + 2h) + 8 C(p + h) - 8 C(p - h) + C(p - 2h)) / (12 h)

    error O(h^4) + O(rounding / h): ~1e-9 relative at h = 1e-4 on these nets, where the
    two-point (C(p + h) - C(p - h)) / 2h reaches ~1e-7 at its best h."""
    out = []
    for P in arrays:
        G = np.zeros(P.shape)
        for idx in np.ndindex(P.shape):
            old = P[idx]

            def at(d):
                P[idx] = old + d
                value = loss_fn()
                P[idx] = old
                return value
            G[idx] = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h)
        out.append(G)
    return out


def sizes_for(K):
    return [3, 4, 3, K]


def expect_named_error(fn, exc, pattern):
    with pytest.raises(exc) as info:
        fn()
    assert re.search(pattern, str(info.value)), str(info.value)


# ---------------------------------------------------------------------------------------
# 1. finite differences of dC/dV, dC/dg (and the other parameters)
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss,K", LOSS_CONFIGS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_finite_differences(kind, activation, bias, loss, K):
    net, X, y = make_problem(sizes_for(K), activation, bias, loss, kind)
    _, grads = net.loss_and_grad(X, y, loss)
    assert isinstance(grads, Grads) and len(grads.gains) == 2
    analytic = grad_arrays(grads)
    params = net.params
    assert len(analytic) == len(params) == len(names(net))
    for g, p in zip(analytic, params):
        assert g.shape == p.shape
        assert np.max(np.abs(g)) > 1e-8            # a zero gradient would make this vacuous
    numeric = fd_grads(lambda: net.loss(X, y, loss), params)
    errors = {n: rel_err(gn, ga) for n, gn, ga in zip(names(net), numeric, analytic)}
    worst = max(errors, key=errors.get)
    assert errors[worst] <= FD_TOL, f"{worst}: relative error {errors[worst]:.3e}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sizes", [[3, 4, 2], [2, 3, 3, 3, 3, 2]])
def test_gradient_finite_differences_other_depths(kind, sizes):
    net, X, y = make_problem(sizes, "tanh", True, "cross_entropy", kind, seed=3)
    _, grads = net.loss_and_grad(X, y, "cross_entropy")
    numeric = fd_grads(lambda: net.loss(X, y, "cross_entropy"), net.params)
    for name, gn, ga in zip(names(net), numeric, grad_arrays(grads)):
        assert rel_err(gn, ga) <= FD_TOL, name


@pytest.mark.parametrize("loss,K", LOSS_CONFIGS)
@pytest.mark.parametrize("kind", KINDS)
def test_per_sample_grads_match_finite_differences(kind, loss, K):
    net, X, y = make_problem(sizes_for(K), "tanh", True, loss, kind, batch=3)
    psg = net.per_sample_grads(X, y, loss)
    for i in range(3):
        numeric = fd_grads(lambda: net.loss(X[i:i + 1], y[i:i + 1], loss), net.params)
        for name, gn, g in zip(names(net), numeric, grad_arrays(psg)):
            assert g.shape == (3,) + gn.shape, name
            assert rel_err(gn, g[i]) <= FD_TOL, f"{name} sample {i}"


# ---------------------------------------------------------------------------------------
# 2. effective weights and initialization
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_effective_weights_have_the_gains_as_norms(kind):
    net, _, _ = make_problem([5, 6, 4, 2], "tanh", True, "mse", kind)
    net.gains[1][...] = -np.abs(net.gains[1])                   # negative gains too
    Ws = net.effective_weights()
    assert len(Ws) == 3 and Ws[-1] is net.weights[-1]          # the output layer: W itself
    for W, V, g in zip(Ws, net.weights, net.gains):
        assert W.shape == V.shape and not np.shares_memory(W, net.theta)
        assert rel_err(W, reference_weight(V, g, kind)) < 1e-15
        if kind == "layer":
            assert g.shape == ()
            assert np.linalg.norm(W) == pytest.approx(abs(float(g)), rel=1e-14)
        else:
            assert g.shape == (V.shape[1],)
            np.testing.assert_allclose(np.linalg.norm(W, axis=0), np.abs(g), rtol=1e-14)
    assert net.effective_weights()[0] is not Ws[0]              # fresh arrays each call


def test_effective_weights_of_a_plain_net_are_its_weights():
    net = MLP([3, 4, 2], seed=0)
    assert net.effective_weights() is net.weights
    assert net.gains is None and net.weight_norm == "none"


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("init", ["kaiming_normal", "torch_default"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_init_computes_exactly_the_plain_net(kind, activation, init, bias):
    # torch's init: V = the drawn W, g = ||W||, so the first effective W is W itself
    plain = MLP([5, 7, 6, 3], activation=activation, bias=bias, init=init, seed=4)
    normed = MLP([5, 7, 6, 3], activation=activation, bias=bias, init=init, seed=4,
                 weight_norm=kind)
    n_plain = plain.theta.size
    assert np.array_equal(normed.theta[:n_plain], plain.theta)   # same draws, same layout
    for V, W, g, W_eff in zip(normed.weights, plain.weights, normed.gains,
                              normed.effective_weights()):
        assert np.array_equal(V, W) and np.array_equal(W_eff, W)
        expected = np.linalg.norm(W) if kind == "layer" else np.linalg.norm(W, axis=0)
        np.testing.assert_allclose(g, expected, rtol=1e-14)
    X = np.random.default_rng(0).normal(size=(9, 5))
    assert np.array_equal(normed.forward(X), plain.forward(X))
    # the gradients of the effective weights are the plain net's, projected by the chain rule
    y = np.random.default_rng(1).normal(size=(9, 3))
    value, g_norm = normed.loss_and_grad(X, y, "mse")
    value_plain, g_plain = plain.loss_and_grad(X, y, "mse")
    assert value == value_plain
    assert np.array_equal(g_norm.weights[-1], g_plain.weights[-1])
    for l, gain in enumerate(normed.gains):
        G, V = g_plain.weights[l], normed.weights[l]
        if kind == "layer":
            expected = np.sum(G * V) / np.linalg.norm(V)            # <u, G>
        else:
            expected = np.sum(G * V, axis=0) / np.linalg.norm(V, axis=0)
        np.testing.assert_allclose(g_norm.gains[l], expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", KINDS)
def test_theta_layout_puts_the_gains_last(kind):
    net = MLP([3, 4, 5, 2], bias=True, seed=0, weight_norm=kind)
    plain = MLP([3, 4, 5, 2], bias=True, seed=0)
    gain_sizes = [1, 1] if kind == "layer" else [4, 5]
    assert net.theta.shape == (plain.theta.size + sum(gain_sizes),)
    assert len(net.params) == len(plain.params) + 2
    start = 0
    for p in net.params:                                        # consecutive views of theta
        assert np.shares_memory(p, net.theta)
        assert np.array_equal(net.theta[start:start + p.size], p.ravel())
        start += p.size
    assert start == net.theta.size
    assert net.params[-2] is net.gains[0] and net.params[-1] is net.gains[1]
    net.gains[1][...] = 7.0                                     # the views write theta
    assert np.all(net.theta[-gain_sizes[1]:] == 7.0)


def test_grads_gains_field():
    assert Grads._fields == ("weights", "biases", "flat", "gains")
    net = MLP([3, 4, 2], seed=0)
    _, grads = net.loss_and_grad(np.ones((2, 3)), np.ones((2, 2)))
    assert grads.gains is None                                   # plain nets: no gains
    assert np.shares_memory(grads.flat, grads.weights[0])        # flat-backed, as every Grads
                                                                 # backward returns


# ---------------------------------------------------------------------------------------
# 3. per-sample gradients, Workspace, optimizers
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_per_sample_mean_is_batch_gradient(kind, activation, bias):
    net, X, y = make_problem(sizes_for(3), activation, bias, "cross_entropy", kind, batch=5)
    _, grads = net.loss_and_grad(X, y, "cross_entropy")
    psg = net.per_sample_grads(X, y, "cross_entropy")
    assert psg.flat is None and len(psg.gains) == 2
    for name, g_batch, g_ps in zip(names(net), grad_arrays(grads), grad_arrays(psg)):
        assert g_ps.shape == (5,) + g_batch.shape, name
        scale = max(np.max(np.abs(g_batch)), 1.0)
        np.testing.assert_allclose(g_ps.mean(axis=0), g_batch, rtol=0, atol=1e-14 * scale,
                                   err_msg=name)


@pytest.mark.parametrize("kind", KINDS)
def test_per_sample_grad_equals_single_sample_batch_gradient(kind):
    net, X, y = make_problem(sizes_for(2), "relu", True, "mse", kind, batch=4)
    psg = net.per_sample_grads(X, y, "mse")
    for i in range(4):
        _, gi = net.loss_and_grad(X[i:i + 1], y[i:i + 1], "mse")
        for name, g_single, g_ps in zip(names(net), grad_arrays(gi), grad_arrays(psg)):
            assert rel_err(g_ps[i], g_single) < 1e-13, f"{name} sample {i}"


def workspace_grads(net, X, Y, ws):
    acts = net.forward_cache(X, ws)
    value, delta = mse(acts[-1], Y, out=ws.deltas[-1])
    return value, net.backward(acts, delta, ws=ws)


@pytest.mark.parametrize("batch", [1, 8, 100])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_workspace_path_equals_allocating_path_exactly(kind, activation, bias, batch):
    net, X, Y = make_problem([4, 6, 5, 2], activation, bias, "mse", kind, batch=batch)
    value, grads = net.loss_and_grad(X, Y, "mse")
    ws = net.workspace(batch)
    for _ in range(2):                                  # a reused Workspace: same numbers
        ws_value, ws_grads = workspace_grads(net, X, Y, ws)
        assert ws_grads is ws.grads and ws_value == value
        assert np.array_equal(ws_grads.flat, grads.flat)
    assert np.array_equal(net.forward_cache(X, ws)[-1], net.forward(X))
    for arrays in (grads, ws_grads):                    # both flat-backed, gains included
        assert len(arrays.gains) == 2
        assert all(np.shares_memory(a, arrays.flat) for a in grad_arrays(arrays))
    for W_ws, W in zip(ws.weights, net.effective_weights()):
        assert np.array_equal(W_ws, W)


@pytest.mark.parametrize("kind", KINDS)
def test_sgd_steps_with_and_without_workspace_agree(kind):
    from minisgd.optimizers import SGD
    net, X, Y = make_problem([4, 6, 5, 2], "tanh", True, "mse", kind, batch=8)
    twin, start = net.copy(), net.copy()
    opt, opt_twin = (SGD(0.05, momentum=0.9, weight_decay=1e-3, clip=1.0) for _ in "ab")
    ws = twin.workspace(8)
    for _ in range(20):
        opt.step(net, net.loss_and_grad(X, Y, "mse")[1], 0.05)
        opt_twin.step(twin, workspace_grads(twin, X, Y, ws)[1], 0.05)
    assert np.array_equal(net.theta, twin.theta)
    assert all(not np.array_equal(g, g0) for g, g0 in zip(net.gains, start.gains))  # trained


@pytest.mark.parametrize("kind", KINDS)
def test_batch_gradient_pieces_and_threads(kind, monkeypatch):
    import minisgd.engines as engines
    net, X, Y = make_problem([4, 6, 5, 1], "relu", True, "mse", kind, batch=100)
    Y = Y.reshape(-1, 1)
    whole = engines.RowsGradient(net)(net, X, Y)[1].flat.copy()
    monkeypatch.setattr(engines, "CHUNK_ROWS", 16)        # 100 rows: 8 pieces
    pieces = engines.RowsGradient(net)(net, X, Y)[1].flat.copy()
    with engines.RowsGradient(net, threads=2) as threaded:
        assert np.array_equal(threaded(net, X, Y)[1].flat, pieces)
    np.testing.assert_allclose(pieces, whole, rtol=0, atol=1e-14 * np.max(np.abs(whole)))


# ---------------------------------------------------------------------------------------
# 4. ensembles: member k computes exactly what its net computes alone
# ---------------------------------------------------------------------------------------
def ensemble(kind, K=3):
    nets = []
    for s in range(K):
        net, _, _ = make_problem([5, 8, 7, 3], "relu", True, "mse", kind, seed=10 * s)
        nets.append(net)
    return nets, MLP.stack(nets)


@pytest.mark.parametrize("use_ws", [False, True])
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("batch", [1, 7, 64])
@pytest.mark.parametrize("kind", KINDS)
def test_stacked_members_are_bit_identical_to_single_nets(kind, batch, shared, use_ws):
    nets, ens = ensemble(kind)
    rng = np.random.default_rng(batch)
    X = rng.normal(size=(batch, 5)) if shared else rng.normal(size=(3, batch, 5))
    Y = rng.normal(size=(3, batch, 3))
    ws = ens.workspace(batch) if use_ws else None
    acts = ens.forward_cache(X, ws)
    values, delta = mse(acts[-1], Y, out=None if ws is None else ws.deltas[-1])
    grads = ens.backward(acts, delta, ws=ws)
    assert grads.flat.shape == ens.theta.shape
    for k, net in enumerate(nets):
        Xk = X if shared else X[k]
        ws_k = net.workspace(batch) if use_ws else None
        acts_k = net.forward_cache(Xk, ws_k)
        value_k, delta_k = mse(acts_k[-1], Y[k], out=None if ws_k is None else ws_k.deltas[-1])
        grads_k = net.backward(acts_k, delta_k, ws=ws_k)
        assert values[k] == value_k
        assert all(np.array_equal(a[k], b) for a, b in zip(acts[1:], acts_k[1:]))
        assert np.array_equal(grads.flat[k], grads_k.flat)
        for a, b in zip(grad_arrays(grads), grad_arrays(grads_k)):
            assert np.array_equal(a[k], b)
        for W, W_k in zip(ens.effective_weights(), net.effective_weights()):
            assert np.array_equal(W[k], W_k)


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_stacked_per_sample_grads_are_bit_identical(kind, shared):
    nets, ens = ensemble(kind)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 5)) if shared else rng.normal(size=(3, 6, 5))
    Y = rng.normal(size=(3, 6, 3))
    acts = ens.forward_cache(X)
    psg = ens.backward(acts, mse(acts[-1], Y)[1], per_sample=True)
    for k, net in enumerate(nets):
        acts_k = net.forward_cache(X if shared else X[k])
        psg_k = net.backward(acts_k, mse(acts_k[-1], Y[k])[1], per_sample=True)
        for a, b in zip(grad_arrays(psg), grad_arrays(psg_k)):
            assert a.shape == (3,) + b.shape and np.array_equal(a[k], b)


@pytest.mark.parametrize("kind", KINDS)
def test_stack_member_copy_carry_the_weight_norm(kind):
    nets, ens = ensemble(kind)
    assert ens.weight_norm == kind and ens.members == 3
    assert [g.shape for g in ens.gains] == ([(3,), (3,)] if kind == "layer" else [(3, 8), (3, 7)])
    for k, net in enumerate(nets):
        for view in (False, True):
            m = ens.member(k, copy=not view)
            assert m.weight_norm == kind and repr(m) == repr(net)
            assert np.array_equal(m.theta, net.theta)
            assert all(np.array_equal(a, b) for a, b in zip(m.params, net.params))
            assert all(np.shares_memory(g, ens.theta) == view for g in m.gains)
    ens.member(1, copy=False).gains[0][...] = 5.0              # a view writes the ensemble
    assert np.all(ens.gains[0][1] == 5.0)
    twin = nets[0].copy()
    assert twin.weight_norm == kind and np.array_equal(twin.theta, nets[0].theta)
    assert not np.shares_memory(twin.theta, nets[0].theta)
    assert repr(twin) == ("MLP(sizes=[5, 8, 7, 3], activation='relu', bias=True, "
                          f"weight_norm={kind!r})")
    assert twin.copy(dtype=np.float32).gains[0].dtype == np.float32


def test_stack_rejects_different_weight_norms():
    with pytest.raises(ValueError, match="weight_norm"):
        MLP.stack([MLP([3, 4, 1], weight_norm="layer"), MLP([3, 4, 1], weight_norm="unit")])
    with pytest.raises(ValueError, match="weight_norm"):
        MLP.stack([MLP([3, 4, 1], weight_norm="layer"), MLP([3, 4, 1])])


# ---------------------------------------------------------------------------------------
# 5. the geometry: scale invariance, dC/dV orthogonal to V
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_scaling_V_changes_nothing_but_divides_dC_dV(kind):
    net, X, y = make_problem(sizes_for(3), "tanh", True, "cross_entropy", kind)
    f = net.forward(X)
    _, grads = net.loss_and_grad(X, y, "cross_entropy")
    for c, exact in [(2.0, True), (3.0, False), (0.01, False)]:
        scaled = net.copy()
        for V in scaled.weights[:-1]:
            V *= c
        f_c = scaled.forward(X)
        _, grads_c = scaled.loss_and_grad(X, y, "cross_entropy")
        if exact:                                # a power of two scales every float exactly
            assert np.array_equal(f_c, f)
        assert rel_err(f_c, f) < 1e-14
        for l in range(2):
            assert rel_err(grads_c.weights[l], grads.weights[l] / c) < 1e-13
            assert rel_err(grads_c.gains[l], grads.gains[l]) < 1e-13
        assert rel_err(grads_c.weights[2], grads.weights[2]) < 1e-13    # the output layer


@pytest.mark.parametrize("kind", KINDS)
def test_dC_dV_is_orthogonal_to_V(kind):
    net, X, y = make_problem(sizes_for(2), "relu", True, "mse", kind)
    _, grads = net.loss_and_grad(X, y, "mse")
    for V, dV in zip(net.weights[:-1], grads.weights[:-1]):
        inner = np.sum(V * dV) if kind == "layer" else np.sum(V * dV, axis=0)
        assert np.max(np.abs(inner)) < 1e-14 * np.linalg.norm(V) * np.linalg.norm(dV)


def test_weight_norms_are_the_frobenius_and_column_norms():
    V = np.random.default_rng(0).normal(size=(2, 5, 4))       # a stack of two
    np.testing.assert_allclose(weight_norms(V, "layer"), np.linalg.norm(V, axis=(1, 2)),
                               rtol=1e-15)
    np.testing.assert_allclose(weight_norms(V, "unit"), np.linalg.norm(V, axis=1), rtol=1e-15)


# ---------------------------------------------------------------------------------------
# 6. from_weights and bad input
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_from_weights_with_and_without_gains(kind):
    net, X, _ = make_problem([3, 4, 3, 2], "relu", True, "mse", kind)
    again = MLP.from_weights(net.weights, net.biases, "relu", weight_norm=kind, gains=net.gains)
    assert np.array_equal(again.theta, net.theta) and again.weight_norm == kind
    # gains=None: the weights are the effective weights, normalized as torch does
    W = net.effective_weights()
    from_W = MLP.from_weights(W, net.biases, "relu", weight_norm=kind)
    assert all(np.array_equal(a, b) for a, b in zip(from_W.effective_weights(), W))
    np.testing.assert_allclose(from_W.forward(X), net.forward(X), rtol=1e-13)
    if kind == "layer":                                        # a float is a scalar gain
        floats = MLP.from_weights(net.weights, net.biases, "relu", weight_norm=kind,
                                  gains=[float(g) for g in net.gains])
        assert np.array_equal(floats.theta, net.theta)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_weight_norm_net(kind):
    net = MLP([3, 4, 2], weight_norm=kind, seed=0).copy(dtype=np.float32)
    X, Y = np.ones((2, 3), dtype=np.float32), np.ones((2, 2), dtype=np.float32)
    _, grads = net.loss_and_grad(X, Y)
    assert net.theta.dtype == np.float32 and grads.flat.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.gains)
    ws = net.workspace(2)
    assert np.array_equal(workspace_grads(net, X, Y, ws)[1].flat, grads.flat)
    # float64 inputs: computed in float64, as for a net without weight normalization
    _, grads64 = net.loss_and_grad(X.astype(np.float64), Y.astype(np.float64))
    assert grads64.flat.dtype == np.float64
    np.testing.assert_allclose(grads64.flat, grads.flat, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(weight_norm="batch"), dict(weight_norm=None),
                                    dict(weight_norm="Layer"), dict(weight_norm=["layer"])])
def test_unknown_weight_norm(kwargs):
    expect_named_error(lambda: MLP([3, 4, 2], **kwargs), ValueError, r"\bweight_norm\b")
    expect_named_error(lambda: MLP.from_weights([np.ones((3, 4)), np.ones((4, 2))], **kwargs),
                       ValueError, r"\bweight_norm\b")


@pytest.mark.parametrize("kind", KINDS)
def test_weight_norm_needs_a_hidden_layer(kind):
    expect_named_error(lambda: MLP([3, 2], weight_norm=kind), ValueError, r"\bweight_norm\b")
    expect_named_error(lambda: MLP.from_weights([np.ones((3, 2))], weight_norm=kind),
                       ValueError, r"\bweight_norm\b")


W_OK = [np.ones((3, 4)), np.ones((4, 5)), np.ones((5, 2))]


@pytest.mark.parametrize("kind,gains,exc,pattern", [
    ("layer", [np.array(1.0)], ValueError, r"\bgains\b"),                       # too few
    ("layer", [np.array(1.0)] * 3, ValueError, r"\bgains\b"),                   # too many
    ("layer", np.array([1.0, 2.0]), ValueError, r"\bgains\b"),                  # not a list
    ("layer", [np.ones(1), np.array(1.0)], ValueError, r"gains\[0\]"),          # (1,) not ()
    ("layer", [np.array(1.0), np.ones(5)], ValueError, r"gains\[1\]"),
    ("layer", [np.array(1.0), 2], TypeError, r"gains\[1\]"),                    # an int
    ("unit", [np.ones(4), np.ones(4)], ValueError, r"gains\[1\]"),              # wrong width
    ("unit", [np.array(1.0), np.ones(5)], ValueError, r"gains\[0\]"),
    ("unit", [np.ones((4, 1)), np.ones(5)], ValueError, r"gains\[0\]"),         # torch's shape
    ("unit", [np.ones(4, dtype=int), np.ones(5)], TypeError, r"gains\[0\]"),
    ("unit", [np.ones(4), np.full(5, np.nan)], ValueError, r"gains\[1\]"),
    ("none", [np.array(1.0), np.array(1.0)], ValueError, r"\bgains\b"),
])
def test_from_weights_rejects_bad_gains(kind, gains, exc, pattern):
    expect_named_error(lambda: MLP.from_weights(W_OK, weight_norm=kind, gains=gains), exc,
                       pattern)


@pytest.mark.parametrize("kind", KINDS)
def test_from_weights_rejects_a_zero_direction(kind):
    V = np.ones((4, 5))
    V[:, 2] = 0.0 if kind == "unit" else V[:, 2]
    if kind == "layer":
        V[:] = 0.0
    expect_named_error(lambda: MLP.from_weights([W_OK[0], V, W_OK[2]], weight_norm=kind),
                       ValueError, r"weights\[1\]")
