"""3-class classifier trajectories against PyTorch: same data, init and batches, float64.

The minisgd side goes through minisgd.train.train (task="classification"); the PyTorch side
is written the way a PyTorch user writes it: to_torch(net), nn.CrossEntropyLoss on the int
labels or nn.MSELoss on label_scale * one-hot targets, clip_grad_norm_, torch.optim.SGD
(coupled weight decay, momentum). Every run records its history at *every* step (see
EVERY_STEP), and extra_metrics snapshots the parameters there, so the two trajectories are
compared step by step over all 500 steps: parameters, train/test loss, penalty (to 1e-12
relative) and train/test accuracy (exactly). A last set of tests checks that members of a
classification ensemble (minisgd.ensemble.train_ensemble) reproduce train(config) bit for
bit. Skipped without torch.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from minisgd.data import Data  # noqa: E402
from minisgd.ensemble import train_ensemble  # noqa: E402
from minisgd.models import MLP  # noqa: E402
from minisgd.io.torch_bridge import from_torch, to_torch  # noqa: E402
from minisgd.train import Config, log_spaced_steps, train  # noqa: E402

D, C, N, N_TEST, STEPS = 8, 3, 240, 200, 500
SIZES = [D, 16, 16, C]
TOL = 1e-12                    # relative, everywhere; no absolute floor is needed (below)
# records_per_decade at which log_spaced_steps(500) holds every step 0..500: consecutive
# log-spaced points are then < 1 apart up to t = 500 (500 * (10**(1/1200) - 1) = 0.96)
EVERY_STEP = 1200               # (each test asserts it: history["step"] == 0..500)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """torch on one intra-op thread while this module runs (restored after): these tensors
    are far below torch's parallel grain size, so the numbers are the same, but on a loaded
    machine two spinning OpenMP threads made a 500-step run take ~20 s instead of 0.5 s."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- the problem -----------------------------------------------------------------------
def make_problem(seed=0):
    """X ~ N(0, I_8), labels argmax of a fixed random linear map (plus a small offset so
    that the three classes are roughly balanced); a training and a test set."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((D, C))
    X, X_test = rng.standard_normal((N, D)), rng.standard_normal((N_TEST, D))
    y, y_test = (np.argmax(Z @ A, axis=1).astype(np.int64) for Z in (X, X_test))
    return Data(X, y, X_test, y_test, classes=C)


def initial_net(seed):
    return MLP(SIZES, activation="relu", bias=True, init="torch_default", seed=seed)


def make_config(loss, optimizer="sgd", batch_size=16, lr=0.01, clip=None, label_scale=None,
                records_per_decade=EVERY_STEP, steps=STEPS):
    return Config(task="classification", classes=C, d=D, n=N, n_test=N_TEST, depth=2,
                  width=16, activation="relu", bias=True, loss=loss, label_scale=label_scale,
                  optimizer=optimizer, batch_size=batch_size, lr=lr, momentum=0.9,
                  weight_decay=1e-3, clip=clip, steps=steps,
                  records_per_decade=records_per_decade)


def run_minisgd(config, data, net, batches):
    """train(...) and the parameters theta at every recorded step (extra_metrics sees the
    training net at each record step; it adds no column)."""
    thetas = []

    def snapshot(net, data):
        thetas.append(net.theta.copy())
        return {}
    result = train(config, data=data, net=net, batches=batches, extra_metrics=snapshot)
    return result, np.array(thetas)


# ---- the PyTorch side ------------------------------------------------------------------
def torch_theta(model):
    """The parameters of model in the order of minisgd's theta: every weight (as (in, out),
    flattened row-major), then every bias."""
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    parts = [m.weight.detach().numpy().T.ravel() for m in linears] + \
            [m.bias.detach().numpy().copy() for m in linears]
    return np.concatenate(parts)


def torch_run(net, data, loss, batches, lr, clip=None, label_scale=1.0, momentum=0.9,
              weight_decay=1e-3, steps=STEPS):
    """SGD in PyTorch float64; batches (steps, b) int rows, or None for the full batch.
    Returns (model, rows): one row per step t = 0..steps with theta, the losses on the
    whole train/test sets, the penalty, the accuracies and the step's pre-clip grad norm."""
    model = to_torch(net)
    X, X_test = torch.from_numpy(data.X), torch.from_numpy(data.X_test)
    y, y_test = torch.from_numpy(data.y), torch.from_numpy(data.y_test)
    if loss == "cross_entropy":
        loss_fn = torch.nn.CrossEntropyLoss()
        T, T_test = y, y_test
    else:
        loss_fn = torch.nn.MSELoss()
        T = label_scale * torch.nn.functional.one_hot(y, C).to(torch.float64)
        T_test = label_scale * torch.nn.functional.one_hot(y_test, C).to(torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                          weight_decay=weight_decay)

    def row(grad_norm=None):
        with torch.no_grad():
            f, f_test = model(X), model(X_test)
            theta = torch_theta(model)
            return dict(theta=theta,
                        train_loss=float(loss_fn(f, T)), test_loss=float(loss_fn(f_test, T_test)),
                        penalty=0.5 * weight_decay * float(theta @ theta),
                        train_accuracy=int((f.argmax(dim=1) == y).sum()) / N,
                        test_accuracy=int((f_test.argmax(dim=1) == y_test).sum()) / N_TEST,
                        grad_norm=grad_norm)

    rows = [row()]
    for t in range(steps):
        idx = None if batches is None else torch.from_numpy(batches[t])
        opt.zero_grad()
        out = model(X if idx is None else X[idx])
        value = loss_fn(out, T if idx is None else T[idx])
        value.backward()
        norm = None
        if clip is not None:
            norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
        opt.step()
        rows.append(row(norm))
    return model, rows


# ---- comparisons -----------------------------------------------------------------------
def layer_blocks(theta):
    """theta (n_params,) cut into the parameter arrays of SIZES (weights, then biases)."""
    sizes = [a * b for a, b in zip(SIZES[:-1], SIZES[1:])] + SIZES[1:]
    return np.split(theta, np.cumsum(sizes)[:-1])


def param_rel_diff(ours, theirs):
    """max over the parameter arrays of max|ours - theirs| / max|theirs| (normwise per
    array: no entry-wise division by a near-zero weight, hence no absolute floor)."""
    return max(float(np.abs(a - b).max() / np.abs(b).max())
               for a, b in zip(layer_blocks(ours), layer_blocks(theirs)))


def compare(result, thetas, rows):
    """Assert agreement at every recorded step; return the largest relative differences."""
    h = result.history
    steps = h["step"]
    assert len(thetas) == len(steps)
    worst = dict(theta=0.0, train_loss=0.0, test_loss=0.0, penalty=0.0)
    for k, t in enumerate(steps):
        ref = rows[t]
        worst["theta"] = max(worst["theta"], param_rel_diff(thetas[k], ref["theta"]))
        for key in ("train_loss", "test_loss", "penalty"):
            # the losses are O(0.1)-O(1) and the penalty O(1e-2) throughout (asserted
            # below), so a plain relative difference is well defined: no absolute floor
            assert ref[key] > 1e-3, (key, t, ref[key])
            worst[key] = max(worst[key], abs(h[key][k] - ref[key]) / abs(ref[key]))
        for key in ("train_accuracy", "test_accuracy"):
            assert h[key][k] == ref[key], (key, t, h[key][k], ref[key])
    assert max(worst.values()) <= TOL, worst
    # the final net, through from_torch as a user would compare it
    final = from_torch(to_torch(result.net))
    assert np.array_equal(final.theta, result.net.theta)
    assert param_rel_diff(result.net.theta, rows[steps[-1]]["theta"]) <= TOL
    return worst


def assert_not_vacuous(result, rows):
    """The weights moved a lot and the accuracy changed: the comparison tests learning."""
    assert result.final["diverged"] is False
    assert param_rel_diff(rows[-1]["theta"], rows[0]["theta"]) > 0.1
    assert rows[-1]["train_accuracy"] > rows[0]["train_accuracy"] + 0.2
    assert rows[-1]["train_loss"] < 0.7 * rows[0]["train_loss"]


def batch_array(b, seed):
    return np.random.default_rng(seed).integers(0, N, size=(STEPS, b)).astype(np.int64)


# ---- minisgd vs PyTorch ----------------------------------------------------------------
CASES = {
    # name: (loss, optimizer, batch size, lr, clip, label_scale)
    "ce_b16": ("cross_entropy", "sgd", 16, 0.02, None, None),
    "mse_b16": ("mse", "sgd", 16, 0.02, None, 1.0),
    "mse_scale5_b16": ("mse", "sgd", 16, 0.004, None, 5.0),
    "ce_b16_clip": ("cross_entropy", "sgd", 16, 0.02, 0.3, None),
    "mse_scale5_b16_clip": ("mse", "sgd", 16, 0.004, 1.0, 5.0),
    "ce_full_batch_gd": ("cross_entropy", "gd", None, 0.05, None, None),
    "mse_full_batch_gd": ("mse", "gd", None, 0.05, None, 1.0),
    "ce_b1": ("cross_entropy", "sgd", 1, 0.005, None, None),
    "mse_b1": ("mse", "sgd", 1, 0.005, None, 1.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_trajectory_matches_torch_at_every_step(case):
    """500 steps, momentum 0.9, coupled weight decay 1e-3: parameters, losses and penalty
    within 1e-12 relative and accuracies equal, at every one of the 501 steps."""
    loss, optimizer, b, lr, clip, label_scale = CASES[case]
    data = make_problem(0)
    net = initial_net(seed=1)
    batches = None if optimizer == "gd" else batch_array(b, seed=2)
    config = make_config(loss, optimizer, batch_size=b, lr=lr, clip=clip,     # None: GD
                         label_scale=label_scale)
    result, thetas = run_minisgd(config, data, net, batches)
    assert result.history["step"] == list(range(STEPS + 1))
    _, rows = torch_run(net, data, loss, batches, lr, clip,
                            label_scale=1.0 if label_scale is None else label_scale)
    assert_not_vacuous(result, rows)
    if clip is not None:                  # clipping is active on many steps, not all
        clipped = sum(r["grad_norm"] > clip for r in rows[1:])
        assert 0.2 * STEPS < clipped < STEPS, clipped
    worst = compare(result, thetas, rows)
    print(case, {k: f"{v:.2e}" for k, v in worst.items()})      # shown with pytest -s


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_log_spaced_records_match_torch_and_the_dense_run(loss):
    """At the default records_per_decade=20 (31 record steps) the history is the dense
    run's at those steps, bit for bit (recording does not touch the training), and
    matches torch there; the final net is the same too."""
    data = make_problem(0)
    net = initial_net(seed=1)
    batches = batch_array(16, seed=2)
    sparse_cfg = make_config(loss, lr=0.02, records_per_decade=20)
    dense_cfg = make_config(loss, lr=0.02)
    sparse, thetas = run_minisgd(sparse_cfg, data, net, batches)
    dense, _ = run_minisgd(dense_cfg, data, net, batches)
    steps = sparse.history["step"]
    assert steps == log_spaced_steps(STEPS, 20) and len(steps) < 50
    for key, values in sparse.history.items():
        if key != "lr":
            assert np.array_equal(values, [dense.history[key][t] for t in steps]), key
    assert np.array_equal(sparse.net.theta, dense.net.theta)
    _, rows = torch_run(net, data, loss, batches, lr=0.02)
    compare(sparse, thetas, rows)


# ---- ensembles: each member is train(config), bit for bit -------------------------------
ENSEMBLE_KW = dict(task="classification", dataset="gaussian_mixture", classes=3, d=8,
                   n=240, n_test=200, depth=2, width=16, activation="relu", bias=True,
                   init_scheme="torch_default", optimizer="sgd", batch_size=16,
                   momentum=0.9, weight_decay=1e-3, steps=STEPS, records_per_decade=20)


@pytest.mark.parametrize("shared_data", [False, True])
@pytest.mark.parametrize("loss,label_scale,clip", [("cross_entropy", None, None),
                                                   ("cross_entropy", None, 0.3),
                                                   ("mse", 1.0, None),
                                                   ("mse", 5.0, 1.0)])
def test_classification_ensemble_members_equal_single_runs(loss, label_scale, clip,
                                                           shared_data):
    """3 members differing in seed and lr (each its own data set, or one shared data set
    via data_seed): history and final theta equal train(config)'s exactly."""
    data_seed = 11 if shared_data else None
    members = [(0, 0.02), (1, 0.01), (2, 0.005)]
    if loss == "mse" and label_scale == 5.0:
        members = [(0, 0.004), (1, 0.002), (2, 0.001)]

    def configs():
        return [Config(seed=s, lr=lr, loss=loss, label_scale=label_scale, clip=clip,
                       data_seed=data_seed, **ENSEMBLE_KW) for s, lr in members]
    ensemble = train_ensemble(configs())
    for res, config in zip(ensemble, configs()):
        single = train(config)
        assert res.final["diverged"] is False and single.final["diverged"] is False
        assert res.history.keys() == single.history.keys()
        for key in single.history:
            assert np.array_equal(res.history[key], single.history[key]), key
        assert np.array_equal(res.net.theta, single.net.theta)
        assert res.final["train_accuracy"] == single.final["train_accuracy"]
        assert res.final["test_accuracy"] == single.final["test_accuracy"]
        # and the run learned something
        assert single.history["train_accuracy"][-1] > single.history["train_accuracy"][0]
