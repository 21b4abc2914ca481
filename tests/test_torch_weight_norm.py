"""Weight-normalized MLPs against PyTorch, float64: torch.nn.utils.parametrizations.
weight_norm (dim=None for weight_norm="layer", dim=0 for "unit") on the hidden Linears.
Gradients against autograd, 300 SGD steps (momentum, weight decay) against torch.optim.SGD,
and the to_torch / from_torch / from_state_dict conversions. Skipped without torch."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
weight_norm = torch.nn.utils.parametrizations.weight_norm

from minisgd.models import MLP  # noqa: E402
from minisgd.optimizers import SGD  # noqa: E402
from minisgd.io.torch_bridge import from_state_dict, from_torch, to_torch  # noqa: E402
from net_checks import random_targets, rel_err, torch_targets  # noqa: E402

F64 = torch.float64
KINDS = ["layer", "unit"]
DIMS = {"layer": None, "unit": 0}
ACTIVATIONS = ["linear", "relu", "tanh"]
LOSS_CONFIGS = [("mse", 1), ("mse", 2), ("cross_entropy", 3)]
TOL = 1e-10


def make_problem(sizes, activation, bias, loss, kind, seed=0, batch=7):
    """A weight-normalized net whose gains are moved away from ||V|| (so W != V)."""
    rng = np.random.default_rng(700 + seed)
    net = MLP(sizes, activation=activation, bias=bias, init="torch_default", scale=2.0,
              seed=seed, weight_norm=kind)
    for g in net.gains:
        g *= rng.uniform(0.5, 2.0, size=g.shape)
    X = rng.normal(size=(batch, sizes[0]))
    K = sizes[-1]
    y = random_targets(rng, loss, K, batch)
    return net, X, y


def torch_loss_fn(loss):
    return nn.MSELoss() if loss == "mse" else nn.CrossEntropyLoss()


def linears(model):
    return [m for m in model if isinstance(m, nn.Linear)]


def torch_params_in_minisgd_order(model, kind):
    """[V_0.., W_L, biases.., g_0..] of a to_torch(...) model as (n_in, n_out) arrays."""
    lins = linears(model)
    weights, gains = [], []
    for lin in lins[:-1]:
        p = lin.parametrizations.weight
        weights.append(p.original1.detach().numpy().T)
        gains.append(p.original0.detach().numpy().reshape(() if kind == "layer" else (-1,)))
    weights.append(lins[-1].weight.detach().numpy().T)
    biases = [lin.bias.detach().numpy() for lin in lins if lin.bias is not None]
    return weights + biases + gains


def torch_grads_in_minisgd_order(model, kind):
    lins = linears(model)
    weights, gains = [], []
    for lin in lins[:-1]:
        p = lin.parametrizations.weight
        weights.append(p.original1.grad.numpy().T)
        gains.append(p.original0.grad.numpy().reshape(() if kind == "layer" else (-1,)))
    weights.append(lins[-1].weight.grad.numpy().T)
    biases = [lin.bias.grad.numpy() for lin in lins if lin.bias is not None]
    return weights + biases + gains


def flat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays])


# ---- one step: gradients against autograd --------------------------------------------
@pytest.mark.parametrize("loss,K", LOSS_CONFIGS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_gradients_match_torch_autograd(kind, activation, bias, loss, K):
    net, X, y = make_problem([3, 5, 4, K], activation, bias, loss, kind)
    model = to_torch(net)
    out = model(torch.from_numpy(X))
    t_loss = torch_loss_fn(loss)(out, torch_targets(loss, y))
    t_loss.backward()
    value, grads = net.loss_and_grad(X, y, loss)
    errors = {"forward": rel_err(net.forward(X), out.detach().numpy()),
              "loss": rel_err(value, t_loss.item())}
    mine = grads.weights + (grads.biases or []) + grads.gains
    theirs = torch_grads_in_minisgd_order(model, kind)
    assert len(mine) == len(theirs) == len(net.params)
    for i, (a, b) in enumerate(zip(mine, theirs)):
        errors[f"param {i}"] = rel_err(a, b)
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOL, f"{worst}: relative difference {errors[worst]:.3e}"


@pytest.mark.parametrize("loss,K", LOSS_CONFIGS)
@pytest.mark.parametrize("kind", KINDS)
def test_per_sample_grads_match_torch_func(kind, loss, K):
    from torch.func import functional_call, grad, vmap
    net, X, y = make_problem([3, 5, 4, K], "tanh", True, loss, kind, batch=5)
    model = to_torch(net)
    params = {k: v.detach() for k, v in model.named_parameters()}
    loss_fn = torch_loss_fn(loss)

    def sample_loss(p, x, t):
        return loss_fn(functional_call(model, p, (x.unsqueeze(0),)), t.unsqueeze(0))

    ps = vmap(grad(sample_loss), in_dims=(None, 0, 0))(
        params, torch.from_numpy(X), torch_targets(loss, y))
    psg = net.per_sample_grads(X, y, loss)
    for l, i in enumerate([0, 2]):                      # the two normalized Linears
        dV = ps[f"{i}.parametrizations.weight.original1"].numpy().transpose(0, 2, 1)
        dg = ps[f"{i}.parametrizations.weight.original0"].numpy().reshape(psg.gains[l].shape)
        assert rel_err(psg.weights[l], dV) < TOL
        assert rel_err(psg.gains[l], dg) < TOL
    assert rel_err(psg.weights[2], ps["4.weight"].numpy().transpose(0, 2, 1)) < TOL


# ---- 300 steps of SGD with momentum and weight decay -----------------------------------
STEPS, LR, MOMENTUM, WD, BATCH = 300, 0.05, 0.9, 1e-3, 8


def training_data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    labels = rng.integers(0, 3, size=n)
    batches = [rng.choice(n, size=BATCH, replace=False) for _ in range(STEPS)]
    return X, labels, batches


def torch_trajectory(net, X, targets, batches, loss):
    """torch.optim.SGD on to_torch(net), as a PyTorch user writes it: the parameters after
    every step, flattened in minisgd's order. (Run apart from the NumPy steps: alternating
    torch's and NumPy's thread pools step by step is slow on few cores.)"""
    model = to_torch(net)                                        # the same init
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    loss_fn = torch_loss_fn(loss)
    after = []
    for rows in batches:
        opt.zero_grad()
        loss_fn(model(torch.from_numpy(X[rows])), torch_targets(loss, targets[rows])).backward()
        opt.step()
        after.append(flat(torch_params_in_minisgd_order(model, net.weight_norm)))
    return after


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("kind", KINDS)
def test_sgd_trajectory_matches_torch_optim_sgd(kind, loss):
    X, labels, batches = training_data()
    targets = labels if loss == "cross_entropy" else np.eye(3)[labels]   # MSE: one-hot
    net = MLP([10, 16, 16, 3], activation="relu", bias=True, init="torch_default", seed=1,
              weight_norm=kind)
    start = net.copy()
    torch_after = torch_trajectory(net, X, targets, batches, loss)
    twin, twin_opt = net.copy(), SGD(LR, momentum=MOMENTUM, weight_decay=WD, clip=None)
    theta, m = net.theta, None
    for t, rows in enumerate(batches):
        # NumPy from minisgd's gradients, torch.optim.SGD's update on every parameter:
        # m = mu m + g + lambda theta  (m = g + lambda theta at the first step),  theta -= lr m
        value, grads = net.loss_and_grad(X[rows], targets[rows], loss)
        d = grads.flat + WD * theta
        m = d if m is None else MOMENTUM * m + d
        theta -= LR * m
        # and minisgd's own SGD, the same update
        twin_opt.step(twin, twin.loss_and_grad(X[rows], targets[rows], loss)[1], LR)
        assert np.isfinite(value)
        theirs = torch_after[t]
        diff = np.max(np.abs(theta - theirs)) / np.max(np.abs(theirs))
        assert diff <= 1e-12, f"step {t}: relative difference {diff:.3e}"
        assert np.array_equal(twin.theta, theta), f"step {t}: optimizers.SGD differs"
    moved = np.max(np.abs(theta - start.theta)) / np.max(np.abs(start.theta))
    assert moved > 0.05, "the parameters must have moved for the comparison to mean much"
    assert all(not np.allclose(g, g0) for g, g0 in zip(net.gains, start.gains))


# ---- initialization and conversions -------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_initialization_is_torchs(kind):
    plain = MLP([4, 6, 5, 2], activation="tanh", bias=True, init="torch_default", seed=3)
    normed = MLP([4, 6, 5, 2], activation="tanh", bias=True, init="torch_default", seed=3,
                 weight_norm=kind)
    model = to_torch(plain)
    for i in (0, 2):                                     # torch's weight_norm on the same W
        weight_norm(model[i], dim=DIMS[kind])
    for l, i in enumerate((0, 2)):
        p = model[i].parametrizations.weight
        assert np.array_equal(p.original1.detach().numpy().T, normed.weights[l])
        np.testing.assert_allclose(p.original0.detach().numpy().reshape(normed.gains[l].shape),
                                   normed.gains[l], rtol=1e-15)
    X = np.random.default_rng(0).normal(size=(5, 4))
    assert rel_err(normed.forward(X), model(torch.from_numpy(X)).detach().numpy()) < 1e-15


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_to_torch_structure(kind, bias):
    net, X, _ = make_problem([3, 5, 4, 2], "relu", bias, "mse", kind)
    model = to_torch(net)
    assert [type(m) for m in model][1::2] == [nn.ReLU, nn.ReLU]
    lins = linears(model)
    for l, lin in enumerate(lins[:-1]):
        assert torch.nn.utils.parametrize.is_parametrized(lin, "weight")
        p = lin.parametrizations.weight
        assert p[0].dim == (-1 if kind == "layer" else 0)       # torch stores dim=None as -1
        assert tuple(p.original0.shape) == (() if kind == "layer" else (net.sizes[l + 1], 1))
        assert np.array_equal(p.original1.detach().numpy(), net.weights[l].T)
        assert np.array_equal(p.original0.detach().numpy().reshape(net.gains[l].shape),
                              net.gains[l])
        assert rel_err(lin.weight.detach().numpy().T, net.effective_weights()[l]) < 1e-15
        assert p.original1.dtype == F64 and (lin.bias is not None) == bias
    assert type(lins[-1]) is nn.Linear                           # the output layer: plain
    assert np.array_equal(lins[-1].weight.detach().numpy().T, net.weights[-1])
    assert rel_err(model(torch.from_numpy(X)).detach().numpy(), net.forward(X)) < 1e-14
    with torch.no_grad():                                        # a copy, not a view
        lins[0].parametrizations.weight.original0.mul_(2.0)
    assert not np.array_equal(
        lins[0].parametrizations.weight.original0.detach().numpy().reshape(net.gains[0].shape),
        net.gains[0])


def test_to_torch_dtype_float32():
    net = MLP([3, 4, 2], weight_norm="unit", bias=True, seed=0)
    model = to_torch(net, dtype=torch.float32)
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_round_trips_are_exact(kind, activation):
    net, _, _ = make_problem([3, 5, 4, 2], activation, True, "mse", kind, seed=2)
    back = from_torch(to_torch(net))
    assert back.weight_norm == kind and back.activation == activation
    assert np.array_equal(back.theta, net.theta)
    state = from_state_dict(to_torch(net).state_dict(), activation=activation)
    assert state.weight_norm == kind and np.array_equal(state.theta, net.theta)
    model = to_torch(net)
    for p, q in zip(model.parameters(), to_torch(from_torch(model)).parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("old_api", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_from_torch_of_torch_built_weight_norm(kind, old_api):
    # built in torch, as the low-rank paper's code does it (old_api: the deprecated hook
    # torch.nn.utils.weight_norm, with weight_g / weight_v)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrap = torch.nn.utils.weight_norm if old_api else weight_norm
        seq = nn.Sequential(wrap(nn.Linear(4, 6, dtype=F64), dim=DIMS[kind]), nn.ReLU(),
                            wrap(nn.Linear(6, 5, dtype=F64), dim=DIMS[kind]), nn.ReLU(),
                            nn.Linear(5, 3, dtype=F64))
    with torch.no_grad():                                        # gains away from ||V||
        for i in (0, 2):
            g = seq[i].weight_g if old_api else seq[i].parametrizations.weight.original0
            g.mul_(1.5)
    X = np.random.default_rng(0).normal(size=(8, 4))
    expected = seq(torch.from_numpy(X)).detach().numpy()
    for net in (from_torch(seq), from_state_dict(seq.state_dict(), activation="relu")):
        assert net.weight_norm == kind and net.sizes == [4, 6, 5, 3]
        assert rel_err(net.forward(X), expected) < 1e-14


def parametrized(lin, dim):
    return weight_norm(lin, dim=dim)


class Doubled(nn.Module):
    def forward(self, W):
        return 2.0 * W


def orthogonal_like(lin):
    torch.nn.utils.parametrize.register_parametrization(lin, "weight", Doubled())
    return lin


@pytest.mark.parametrize("make,pattern", [
    # the output layer normalized: minisgd normalizes the hidden layers only
    (lambda: nn.Sequential(parametrized(nn.Linear(3, 4), None), nn.ReLU(),
                           parametrized(nn.Linear(4, 2), None)), r"(?i)last"),
    # one hidden layer normalized, the other not
    (lambda: nn.Sequential(parametrized(nn.Linear(3, 4), None), nn.ReLU(), nn.Linear(4, 4),
                           nn.ReLU(), nn.Linear(4, 2)), r"weight_norm"),
    # two kinds
    (lambda: nn.Sequential(parametrized(nn.Linear(3, 4), None), nn.ReLU(),
                           parametrized(nn.Linear(4, 4), 0), nn.ReLU(), nn.Linear(4, 2)),
     r"weight_norm"),
    # dim=1: one gain per input, not representable
    (lambda: nn.Sequential(parametrized(nn.Linear(3, 4), 1), nn.ReLU(), nn.Linear(4, 2)),
     r"\bdim\b"),
    # another parametrization
    (lambda: nn.Sequential(orthogonal_like(nn.Linear(3, 4)), nn.ReLU(), nn.Linear(4, 2)),
     r"parametrization"),
])
def test_from_torch_rejects_unrepresentable_weight_norms(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        from_torch(make())


def test_from_state_dict_rejects_a_normalized_output_layer():
    seq = nn.Sequential(parametrized(nn.Linear(3, 4), 0), nn.ReLU(),
                        parametrized(nn.Linear(4, 2), 0))
    with pytest.raises(ValueError, match=r"(?i)last"):
        from_state_dict(seq.state_dict(), activation="relu")
