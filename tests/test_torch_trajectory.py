"""Whole training trajectories against PyTorch: same init, same batch indices, float64.

PyTorch side is written the way a PyTorch user writes it (nn.MSELoss, clip_grad_norm_,
torch.optim.SGD); minisgd side goes through minisgd.train.train. Skipped without torch.
"""
import numpy as np
import pytest

from minisgd.data import make_data
from minisgd.models import MLP
from minisgd.io.torch_bridge import to_torch
from minisgd.train import Config, train

torch = pytest.importorskip("torch")


def torch_sgd_run(net, data, batches, lr, clip, momentum, weight_decay, label_noise=None):
    model = to_torch(net)
    X = torch.from_numpy(data.X)
    y = torch.from_numpy(data.y[:, None])
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                          weight_decay=weight_decay)
    loss_fn = torch.nn.MSELoss()
    for idx in batches:
        idx = torch.from_numpy(idx)
        opt.zero_grad()
        loss = loss_fn(model(X[idx]), y[idx])
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return [m.weight.detach().numpy().T for m in model if isinstance(m, torch.nn.Linear)]


def max_relative_error(ours, theirs):
    return max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(ours, theirs))


def initial_grad_norm(net, data):
    _, grads = net.loss_and_grad(data.X, data.y)
    return np.sqrt(sum(np.sum(g * g) for g in grads.weights))


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_paper_net_sgd_clip_wd_momentum_1000_steps(activation):
    """SGD + clipping + weight decay + momentum, 1000 steps: weights agree to 1e-9.

    The step size is chosen in the stable regime: with eta = 0.1 and mu = 0.9 (effective
    step 1.0) the clipped dynamics are chaotic and *any* 1e-16 rounding difference grows
    to O(1) within a few hundred steps (see the next test), whatever the implementation.
    """
    steps, b, lr = 1000, 16, 0.005
    config = Config(n=500, activation=activation, optimizer="sgd", batch_size=b, lr=lr,
                    clip=1.0, momentum=0.9, weight_decay=1e-3, steps=steps)
    data = make_data(1, n=config.n)
    net = MLP([15, 15, 15, 15, 1], activation=activation, seed=2)
    assert initial_grad_norm(net, data) > 1.0          # clipping is active at the start
    batches = np.random.default_rng(3).integers(0, data.X.shape[0], size=(steps, b))
    result = train(config, data=data, net=net, batches=batches)
    assert result.final["diverged"] is False
    theirs = torch_sgd_run(net, data, batches, lr=lr, clip=1.0, momentum=0.9,
                           weight_decay=1e-3)
    moved = max_relative_error(net.weights, theirs)
    assert moved > 1e-2                    # the weights did move: the check is not vacuous
    assert max_relative_error(result.net.weights, theirs) < 1e-9


def test_chaotic_regime_differs_from_torch_only_as_much_as_rounding_does():
    """eta = 0.1, mu = 0.9, clipping: trajectories are chaotic. Then minisgd vs PyTorch
    differs by no more than minisgd vs itself started 1e-15 away (rounding-level noise)."""
    steps, b = 300, 16
    config = Config(n=500, batch_size=b, lr=0.1, clip=1.0, momentum=0.9, weight_decay=1e-3,
                    steps=steps)
    data = make_data(1, n=config.n)
    net = MLP([15, 15, 15, 15, 1], seed=2)
    nudged = net.copy()
    nudged.weights[0][0, 0] *= 1.0 + 1e-15
    batches = np.random.default_rng(3).integers(0, data.X.shape[0], size=(steps, b))
    ours = train(config, data=data, net=net, batches=batches).net.weights
    ours_nudged = train(config, data=data, net=nudged, batches=batches).net.weights
    theirs = torch_sgd_run(net, data, batches, lr=0.1, clip=1.0, momentum=0.9,
                           weight_decay=1e-3)
    sensitivity = max_relative_error(ours, ours_nudged)
    assert sensitivity > 1e-6                          # the regime really is chaotic
    assert max_relative_error(ours, theirs) < 10 * sensitivity


def test_clipping_is_active_and_matches_torch():
    """Large lr so that clipping triggers on most steps; still the same trajectory."""
    steps, b = 300, 8
    config = Config(n=300, batch_size=b, lr=0.5, clip=0.5, steps=steps)
    data = make_data(4, n=config.n, target="staircase")
    net = MLP([15, 15, 15, 15, 1], seed=5)
    batches = np.random.default_rng(6).integers(0, data.X.shape[0], size=(steps, b))
    result = train(config, data=data, net=net, batches=batches)
    theirs = torch_sgd_run(net, data, batches, lr=0.5, clip=0.5, momentum=0.0,
                           weight_decay=0.0)
    assert max_relative_error(result.net.weights, theirs) < 1e-9
    # the unclipped gradient norm at the start is far above 0.5 for this target
    _, grads = net.loss_and_grad(data.X, data.y)
    assert np.sqrt(sum(np.sum(g * g) for g in grads.weights)) > 0.5
