"""minisgd against PyTorch autograd, float64: forward, loss, gradients and per-sample
gradients with the same weights, plus the to_torch / from_torch conversions.
Skipped without torch. dtypes are passed explicitly (the global default is not changed)."""
import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from minisgd.models import MLP  # noqa: E402
from minisgd.io.torch_bridge import from_state_dict, from_torch, to_torch  # noqa: E402
from net_checks import random_targets, rel_err, torch_targets  # noqa: E402

F64 = torch.float64
ACTIVATIONS = ["linear", "relu", "tanh"]
LOSS_CONFIGS = [("mse", 1), ("mse", 2), ("cross_entropy", 3)]
TOL = 1e-10


def make_problem(sizes, activation, bias, loss, seed=0, batch=7):
    rng = np.random.default_rng(500 + seed)
    net = MLP(sizes, activation=activation, bias=bias, init="torch_default", scale=2.0,
              seed=seed)
    X = rng.normal(size=(batch, sizes[0]))
    K = sizes[-1]
    y = random_targets(rng, loss, K, batch)
    return net, X, y


def torch_loss_fn(loss):
    return nn.MSELoss() if loss == "mse" else nn.CrossEntropyLoss()


def linear_layers(model):
    return [m for m in model if isinstance(m, nn.Linear)]


def torch_batch_discrepancies(activation, bias, loss, K, seed=0):
    """{quantity: relative difference} between minisgd and torch autograd."""
    net, X, y = make_problem([3, 5, 4, K], activation, bias, loss, seed)
    model = to_torch(net)
    out = model(torch.from_numpy(X))
    t_loss = torch_loss_fn(loss)(out, torch_targets(loss, y))
    t_loss.backward()
    value, grads = net.loss_and_grad(X, y, loss)
    assert (grads.biases is None) == (not bias)
    errors = {"forward": rel_err(net.forward(X), out.detach().numpy()),
              "loss": rel_err(value, t_loss.item())}
    for l, lin in enumerate(linear_layers(model)):
        assert lin.weight.grad is not None
        errors[f"weights[{l}]"] = rel_err(grads.weights[l], lin.weight.grad.numpy().T)
        if bias:
            errors[f"biases[{l}]"] = rel_err(grads.biases[l], lin.bias.grad.numpy())
    return errors


def torch_per_sample_discrepancies(activation, bias, loss, K, seed=0):
    from torch.func import functional_call, grad, vmap
    net, X, y = make_problem([3, 5, 4, K], activation, bias, loss, seed, batch=6)
    model = to_torch(net)
    params = {k: v.detach() for k, v in model.named_parameters()}
    loss_fn = torch_loss_fn(loss)

    def sample_loss(p, x, t):
        return loss_fn(functional_call(model, p, (x.unsqueeze(0),)), t.unsqueeze(0))

    ps_torch = vmap(grad(sample_loss), in_dims=(None, 0, 0))(
        params, torch.from_numpy(X), torch_targets(loss, y))
    psg = net.per_sample_grads(X, y, loss)
    names = [k for k, m in model.named_children() if isinstance(m, nn.Linear)]
    errors = {}
    for l, name in enumerate(names):
        gw = ps_torch[f"{name}.weight"].numpy().transpose(0, 2, 1)    # (B, in, out)
        errors[f"weights[{l}]"] = rel_err(psg.weights[l], gw)
        if bias:
            errors[f"biases[{l}]"] = rel_err(psg.biases[l], ps_torch[f"{name}.bias"].numpy())
    return errors


# ---- forward, loss, gradients --------------------------------------------------------
@pytest.mark.parametrize("loss,K", LOSS_CONFIGS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_matches_torch_autograd(activation, bias, loss, K):
    errors = torch_batch_discrepancies(activation, bias, loss, K)
    assert len(errors) == 2 + 3 * (2 if bias else 1)
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOL, f"{worst}: relative difference {errors[worst]:.3e}"


@pytest.mark.parametrize("loss,K", LOSS_CONFIGS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_per_sample_grads_match_torch_func(activation, bias, loss, K):
    errors = torch_per_sample_discrepancies(activation, bias, loss, K)
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOL, f"{worst}: relative difference {errors[worst]:.3e}"


def test_per_sample_grads_match_torch_loop():
    # the same without torch.func: one backward per sample
    net, X, y = make_problem([3, 5, 4, 2], "tanh", True, "mse", seed=4, batch=3)
    psg = net.per_sample_grads(X, y, "mse")
    for i in range(3):
        model = to_torch(net)
        out = model(torch.from_numpy(X[i:i + 1]))
        nn.MSELoss()(out, torch.from_numpy(y[i:i + 1])).backward()
        for l, lin in enumerate(linear_layers(model)):
            assert rel_err(psg.weights[l][i], lin.weight.grad.numpy().T) < TOL
            assert rel_err(psg.biases[l][i], lin.bias.grad.numpy()) < TOL


# ---- conversions ---------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_to_torch_structure_and_layout(activation, bias):
    net = MLP([3, 5, 4, 2], activation=activation, bias=bias, init="torch_default", seed=1)
    model = to_torch(net)
    assert isinstance(model, nn.Sequential)
    act = {"linear": None, "relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    kinds = [type(m) for m in model]
    expected = [nn.Linear, act, nn.Linear, act, nn.Linear] if act else [nn.Linear] * 3
    assert kinds == expected
    for l, lin in enumerate(linear_layers(model)):
        assert lin.weight.dtype == F64
        assert tuple(lin.weight.shape) == net.weights[l].T.shape        # (out, in)
        assert np.array_equal(lin.weight.detach().numpy(), net.weights[l].T)
        if bias:
            assert np.array_equal(lin.bias.detach().numpy(), net.biases[l])
        else:
            assert lin.bias is None
    # the copy is independent of the net
    model[0].weight.data[0, 0] += 1.0
    assert net.weights[0][0, 0] != model[0].weight.data[0, 0].item()


def test_to_torch_dtype():
    net = MLP([3, 4, 2], activation="relu", bias=True, init="torch_default", seed=1)
    model = to_torch(net, dtype=torch.float32)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    np.testing.assert_allclose(model[0].weight.detach().numpy(), net.weights[0].T, rtol=1e-7)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_round_trip_is_exact(activation, bias):
    net = MLP([3, 5, 4, 2], activation=activation, bias=bias, init="torch_default", seed=2)
    back = from_torch(to_torch(net))
    assert back.activation == activation
    assert back.sizes == net.sizes
    assert (back.biases is None) == (not bias)
    for P, Q in zip(net.weights + (net.biases or []), back.weights + (back.biases or [])):
        assert Q.dtype == np.float64
        assert np.array_equal(P, Q)
    # the other direction: torch parameters survive from_torch -> to_torch unchanged
    model = to_torch(net)
    again = to_torch(from_torch(model))
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)


def test_state_dict_round_trip_is_exact():
    net = MLP([3, 5, 4, 2], activation="tanh", bias=True, init="torch_default", seed=3)
    back = from_state_dict(to_torch(net).state_dict(), activation="tanh")
    for P, Q in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(P, Q)


def torch_initialized_sequential(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))     # float32 default


def test_from_torch_of_torch_initialized_sequential():
    seq = torch_initialized_sequential()
    net = from_torch(seq)
    assert net.activation == "relu" and net.sizes == [4, 6, 3]
    # the float32 parameters are carried over exactly
    for l, i in enumerate([0, 2]):
        assert np.array_equal(net.weights[l], seq[i].weight.detach().double().numpy().T)
        assert np.array_equal(net.biases[l], seq[i].bias.detach().double().numpy())
    X = np.random.default_rng(0).normal(size=(8, 4))
    seq64 = copy.deepcopy(seq).to(F64)
    expected = seq64(torch.from_numpy(X)).detach().numpy()
    assert rel_err(net.forward(X), expected) < 1e-13
    # and agrees with the float32 torch model to float32 precision
    out32 = seq(torch.from_numpy(X).float()).detach().double().numpy()
    assert rel_err(net.forward(X), out32) < 1e-5


def test_from_torch_identity_means_linear():
    torch.manual_seed(1)
    seq = nn.Sequential(nn.Linear(3, 4, dtype=F64), nn.Identity(), nn.Linear(4, 2, dtype=F64))
    net = from_torch(seq)
    assert net.activation == "linear"
    X = np.random.default_rng(1).normal(size=(5, 3))
    assert rel_err(net.forward(X), seq(torch.from_numpy(X)).detach().numpy()) < 1e-13


@pytest.mark.parametrize("make,exc,pattern", [
    (lambda: nn.Linear(3, 2), TypeError, r"Sequential"),
    (lambda: [nn.Linear(3, 2)], TypeError, r"Sequential"),
    (lambda: nn.ModuleList([nn.Linear(3, 2)]), TypeError, r"Sequential"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2)), ValueError,
     r"Sigmoid"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2)), ValueError,
     r"Dropout"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU()), nn.Linear(4, 2)),
     ValueError, r"Sequential"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(),
                           nn.Linear(4, 2)), ValueError, r"(?i)activation"),
    (lambda: nn.Sequential(), ValueError, r"Linear"),
    (lambda: nn.Sequential(nn.ReLU()), ValueError, r"Linear"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, bias=False)),
     ValueError, r"bias"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2)), ValueError,
     r"weights\[1\]"),
])
def test_from_torch_rejects_unsupported(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        from_torch(make())


# -- contract violations found while writing these tests (see the report) ---------------
UNREPRESENTABLE = {
    # the output layer of an MLP is linear; an activation after the last Linear is dropped
    "trailing ReLU": lambda: nn.Sequential(nn.Linear(3, 4, dtype=F64), nn.ReLU(),
                                           nn.Linear(4, 2, dtype=F64), nn.ReLU()),
    # an activation before the first Linear acts on the input
    "leading Tanh": lambda: nn.Sequential(nn.Tanh(), nn.Linear(3, 4, dtype=F64), nn.Tanh(),
                                          nn.Linear(4, 2, dtype=F64)),
    # no activation between the first two Linears, but from_torch puts one everywhere
    "missing ReLU": lambda: nn.Sequential(nn.Linear(3, 4, dtype=F64),
                                          nn.Linear(4, 4, dtype=F64), nn.ReLU(),
                                          nn.Linear(4, 2, dtype=F64)),
    # tanh(tanh(z)) != tanh(z)
    "doubled Tanh": lambda: nn.Sequential(nn.Linear(3, 4, dtype=F64), nn.Tanh(), nn.Tanh(),
                                          nn.Linear(4, 2, dtype=F64)),
}


@pytest.mark.parametrize("case", list(UNREPRESENTABLE))
def test_from_torch_never_silently_changes_the_function(case):
    # BUG (torch_io.from_torch): only the *set* of activation types is inspected, not where
    # they sit, so Sequentials that no MLP can represent are converted to a net computing a
    # different function. from_torch must either raise ValueError or preserve the outputs.
    torch.manual_seed(0)
    seq = UNREPRESENTABLE[case]()
    try:
        net = from_torch(seq)
    except ValueError:
        return
    X = np.random.default_rng(0).normal(size=(16, 3))
    expected = seq(torch.from_numpy(X)).detach().numpy()
    err = rel_err(net.forward(X), expected)
    assert err < 1e-12, (f"from_torch accepted a '{case}' Sequential but the MLP's outputs "
                         f"differ from the module's by {err:.3g} (relative)")


def test_from_state_dict_partial_biases_not_silently_dropped():
    # BUG (torch_io.from_state_dict): has_bias = all(...), so a state_dict in which only some
    # layers have a bias is converted with *no* biases at all, silently discarding the ones
    # present (from_torch raises ValueError for the same situation).
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(3, 4, dtype=F64), nn.ReLU(),
                        nn.Linear(4, 2, bias=False, dtype=F64))
    state = seq.state_dict()
    assert "0.bias" in state and "2.bias" not in state
    try:
        net = from_state_dict(state, activation="relu")
    except ValueError:
        return
    X = np.random.default_rng(0).normal(size=(16, 3))
    expected = seq(torch.from_numpy(X)).detach().numpy()
    err = rel_err(net.forward(X), expected)
    assert err < 1e-12, (f"from_state_dict dropped the biases present in the state_dict: "
                         f"outputs differ by {err:.3g} (relative)")
