"""A classifier on real digits (with known noise inputs) against PyTorch: the data and the
initial net of a `dataset="digits"` run, the same batches, float64, SGD with momentum and
weight decay; the final parameters and the final losses agree to 1e-12 relative and the
accuracies exactly. The PyTorch side is what a PyTorch user writes: to_torch(net), the
loss module, torch.optim.SGD. Skipped without torch or scikit-learn."""
import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                reason="scikit-learn not installed (pip install -e '.[data]')")

from minisgd.io.torch_bridge import to_torch  # noqa: E402
from minisgd.train import Config, prepare, train  # noqa: E402

STEPS, B, TOL = 300, 16, 1e-12


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def torch_final(net, problem, loss, batches, lr, momentum, weight_decay):
    """PyTorch SGD over the given batches; (theta, train loss, test loss, train accuracy,
    test accuracy) at the end."""
    model = to_torch(net)
    X, X_test = (torch.from_numpy(A) for A in (problem.data.X, problem.data.X_test))
    y, y_test = (torch.from_numpy(a) for a in (problem.labels, problem.test_labels))
    if loss == "cross_entropy":
        loss_fn, T, T_test = torch.nn.CrossEntropyLoss(), y, y_test
    else:
        loss_fn = torch.nn.MSELoss()
        T, T_test = (torch.from_numpy(A) for A in (problem.Y, problem.Y_test))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                          weight_decay=weight_decay)
    for rows in batches:
        idx = torch.from_numpy(rows)
        opt.zero_grad()
        loss_fn(model(X[idx]), T[idx]).backward()
        opt.step()
    with torch.no_grad():
        f, f_test = model(X), model(X_test)
        theta = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
        return (theta, float(loss_fn(f, T)), float(loss_fn(f_test, T_test)),
                float((f.argmax(1) == y).double().mean()),
                float((f_test.argmax(1) == y_test).double().mean()))


@pytest.mark.parametrize("loss,lr", [("cross_entropy", 0.05), ("mse", 0.1)])
def test_a_digits_run_with_noise_inputs_matches_torch(loss, lr):
    config = Config(task="classification", dataset="digits", noise_inputs=8, n=400, depth=1,
                    width=32, activation="relu", bias=True, init_scheme="torch_default",
                    loss=loss, label_scale=1.0 if loss == "mse" else None, batch_size=B,
                    lr=lr, momentum=0.9, weight_decay=1e-3, steps=STEPS)
    problem, net, _ = prepare(config)
    assert problem.data.X.shape == (400, 72)
    batches = np.random.default_rng(5).integers(0, 400, size=(STEPS, B)).astype(np.int64)
    ours = train(config, batches=batches)           # draws the same data and net as prepare
    assert ours.history["train_accuracy"][-1] > ours.history["train_accuracy"][0] + 0.3
    theta, train_loss, test_loss, train_acc, test_acc = torch_final(
        net, problem, loss, batches, lr, 0.9, 1e-3)
    mine = np.concatenate([p.ravel() for p in torch_order(ours.net)])
    assert np.abs(mine - theta).max() <= TOL * np.abs(theta).max()
    for a, b in ((ours.final["train_loss"], train_loss), (ours.final["test_loss"], test_loss)):
        assert abs(a - b) <= TOL * abs(b)
    assert (ours.final["train_accuracy"], ours.final["test_accuracy"]) == (train_acc, test_acc)


def torch_order(net):
    """The parameters as model.parameters() lists them (through the same bridge)."""
    return [p.detach().numpy() for p in to_torch(net).parameters()]
