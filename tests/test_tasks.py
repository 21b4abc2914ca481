"""The tasks: what each config resolves to, what each task records, the loop's gradient for
every loss, random labels, metric sets, ensembles of the new models."""
import numpy as np
import pytest

from minisgd import engines
from minisgd.engines import RowsGradient
from minisgd.config import Config
from minisgd.ensemble import train_ensemble
from minisgd.metrics import METRIC_SETS, metric_set
from minisgd.models import MLP
from minisgd.tasks import evaluate
from minisgd.data import Data
from minisgd.train import prepare, train

CLS = dict(task="classification", classes=3, d=10, n=300, n_test=300, depth=2, width=16,
           activation="relu", bias=True, steps=300, lr=0.05)
SPARSE = dict(task="sparse_regression", model="diagonal", d=40, support=tuple(range(4)), n=30,
              n_test=200, steps=400, lr=0.05, clip=None, batch_size=1)


# ---- what a config resolves to ---------------------------------------------------------
def test_classification_config_records_what_applies():
    c = Config(**CLS).validate()
    assert c.dataset == "gaussian_mixture" and c.random_labels == 0.0 and c.label_scale == 1.0
    for name in ("support", "target", "input", "center", "double", "label_eps", "threshold",
                 "support_rule", "noise", "l0_threshold", "parametrization"):
        assert getattr(c, name) is None, name
    assert c.n_train == c.n and c.n_out == 3
    ce = Config(**CLS, loss="cross_entropy").validate()
    assert ce.label_scale is None


def test_validate_is_idempotent_and_keeps_support_defaults():
    c = Config(**CLS).validate()
    again = Config(**{k: getattr(c, k) for k in c.__dataclass_fields__}).validate()
    assert again == c
    s = Config().validate()
    assert s.support == (0, 1, 2, 3, 4) and s.double is True and s.classes is None


def test_diagonal_config():
    c = Config(**SPARSE).validate()
    assert c.init_scheme == "constant" and c.init_scale == 0.1 and c.parametrization == "uv"
    assert c.depth is None and c.width is None and c.weight_norm is None
    assert c.l0_threshold == 1e-3 and c.noise == 0.0


@pytest.mark.parametrize("kw, message", [
    (dict(CLS, target="sine"), r"target does not apply to task='classification'"),
    (dict(CLS, support=(0, 1)), r"support does not apply"),
    (dict(SPARSE, depth=2), r"depth does not apply to .*model='diagonal'"),
    (dict(SPARSE, width=4), r"width does not apply"),
    (dict(SPARSE, weight_norm="layer"), r"weight_norm does not apply"),
    (dict(SPARSE, l0_threshold=0.0), r"l0_threshold must be a finite number in \(0"),
    (dict(SPARSE, l0_threshold=-1.0), r"l0_threshold"),
    (dict(CLS, random_labels=1.5), r"random_labels must be a finite number in \[0.0, 1.0\]"),
    (dict(CLS, random_labels=-0.1), r"random_labels"),
    (dict(CLS, classes=1), r"classes must be an int in \[2"),
    (dict(CLS, n=2, batch_size=1), r"n must be at least classes=3"),
    (dict(loss="cross_entropy"), r"loss='cross_entropy' needs task='classification'"),
    (dict(CLS, loss="cross_entropy", label_noise=0.1), r"label_noise .* loss='cross_entropy'"),
    (dict(CLS, model="diagonal", depth=None, width=None, activation=None, bias=None),
     r"model='diagonal' has one output"),
    (dict(task="sparse_regression", activation="relu"), r"activation='linear'"),
    (dict(weight_norm="layer", l1=0.01), r"l1 / group_l1 .* weight_norm"),
    (dict(weight_norm="layer", depth=0), r"depth must be >= 1"),
    (dict(CLS, dataset="cifar10"), r"dataset must be one of"),
    (dict(task="regression"), r"task must be one of"),
    (dict(model="cnn"), r"model must be one of"),
    (dict(CLS, label_scale=0.0), r"label_scale"),
    (dict(CLS, loss="cross_entropy", label_scale=2.0), r"label_scale does not apply"),
    (dict(metrics=("nope",)), r"metrics: unknown metric set 'nope'"),
    (dict(metrics="layer_norms"), r"metrics must be a list"),
])
def test_bad_task_options_name_the_option(kw, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Config(**kw).validate()


# ---- what each task records ------------------------------------------------------------
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_classification_records_accuracy_and_learns(loss):
    r = train(Config(**CLS, loss=loss))
    assert list(r.history) == ["step", "train_loss", "penalty", "test_loss", "train_accuracy",
                               "test_accuracy", "lr"]
    acc = np.array(r.history["test_accuracy"])
    assert ((acc >= 0) & (acc <= 1)).all()
    assert r.final["train_accuracy"] > 0.6 and r.final["test_accuracy"] > 0.5   # chance 1/3
    assert r.final["test_accuracy"] > acc[0] + 0.15
    assert r.final["train_loss"] < r.history["train_loss"][0]
    assert r.net.sizes[-1] == 3


def test_accuracy_and_loss_match_a_direct_computation():
    r = train(Config(**CLS, loss="cross_entropy"))
    problem, _, _ = prepare(Config(**CLS, loss="cross_entropy"))
    f = r.net.forward(problem.data.X_test)
    z = f - f.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = problem.data.y_test
    assert r.final["test_loss"] == pytest.approx(-log_p[np.arange(len(y)), y].mean(), rel=1e-12)
    assert r.final["test_accuracy"] == np.mean(np.argmax(f, axis=1) == y)


def test_one_hot_mse_targets_are_scaled():
    problem, _, _ = prepare(Config(**CLS, label_scale=5.0))
    Y, y = problem.Y, problem.data.y
    assert Y.shape == (300, 3) and np.array_equal(np.argmax(Y, axis=1), y)
    assert set(np.unique(Y)) == {0.0, 5.0}


def test_random_labels_replace_a_fraction_fixed_by_the_seed():
    clean, _, _ = prepare(Config(**CLS))
    noisy, _, _ = prepare(Config(**CLS, random_labels=0.5))
    again, _, _ = prepare(Config(**CLS, random_labels=0.5))
    other, _, _ = prepare(Config(**CLS, random_labels=0.5, seed=1))
    assert np.array_equal(noisy.data.X, clean.data.X)
    assert np.array_equal(noisy.clean_labels, clean.data.y)
    assert np.array_equal(noisy.data.y_test, clean.data.y_test)       # test labels untouched
    assert np.array_equal(noisy.data.y, again.data.y)
    assert not np.array_equal(noisy.data.X, other.data.X)
    changed = np.mean(noisy.data.y != clean.data.y)
    assert 0.5 * (2 / 3) - 0.08 < changed < 0.5 * (2 / 3) + 0.08    # p (1 - 1/C) expected
    r = train(Config(**CLS, random_labels=0.5))
    assert "clean_accuracy" in r.history and "clean_accuracy" in r.final


def test_sparse_regression_with_a_diagonal_net_records_its_predictor():
    r = train(Config(**SPARSE))
    assert list(r.history) == ["step", "train_loss", "penalty", "test_loss", "l0",
                               "beta_error", "lr"]
    beta = r.net.effective_predictor()
    assert r.final["l0"] == int(np.sum(np.abs(beta) > 1e-3)) == r.history["l0"][-1]
    problem, _, _ = prepare(Config(**SPARSE))
    assert r.final["beta_error"] == pytest.approx(np.linalg.norm(beta - problem.data.beta))
    assert r.history["l0"][0] == 0                      # beta = u * v = 0 at the published init
    assert r.final["train_loss"] < 1e-2 * r.history["train_loss"][0]
    for key in ("precision", "recall", "top_hits", "detected_support"):
        assert key in r.final


def test_sparse_regression_with_a_linear_mlp_reads_the_product_of_its_weights():
    r = train(Config(task="sparse_regression", d=20, support=(0, 1), n=50, n_test=50,
                     depth=2, width=8, steps=50))
    P = r.net.weights[0] @ r.net.weights[1] @ r.net.weights[2]
    assert r.final["l0"] == int(np.sum(np.abs(P[:, 0]) > 1e-3))


def test_diagonal_support_task_reads_the_u_v_rows():
    r = train(Config(model="diagonal", n=200, n_test=100, steps=300, batch_size=4))
    W = r.net.weights[0]                                  # (d, 2): rows (u_j, v_j)
    assert r.final["irrelevant_norm"] == pytest.approx(np.linalg.norm(W[5:]))


# ---- the loop's gradient for every loss, in pieces ---------------------------------------
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_loop_gradient_matches_finite_differences_in_pieces(loss, monkeypatch):
    monkeypatch.setattr(engines, "CHUNK_ROWS", 16)       # 50 rows -> 4 pieces
    problem, net, _ = prepare(Config(**dict(CLS, n=50, loss=loss, label_scale=None)))
    X, Y = problem.data.X, problem.Y
    with RowsGradient(net, 1, loss) as loss_and_grad:
        value, grads = loss_and_grad(net, X, Y)
        g = grads.flat.copy()
    assert value == pytest.approx(evaluate(net, X, Y, loss)[0], rel=1e-12)
    rng = np.random.default_rng(3)
    for i in rng.choice(net.theta.size, size=25, replace=False):
        h = 1e-6
        net.theta[i] += h
        up = evaluate(net, X, Y, loss)[0]
        net.theta[i] -= 2 * h
        down = evaluate(net, X, Y, loss)[0]
        net.theta[i] += h
        assert (up - down) / (2 * h) == pytest.approx(g[i], rel=1e-6, abs=1e-9)


# ---- ensembles -------------------------------------------------------------------------
def assert_bit_identical(a, b):
    assert list(a.history) == list(b.history)
    for key in a.history:
        assert np.array_equal(np.array(a.history[key], dtype=float),
                              np.array(b.history[key], dtype=float), equal_nan=True), key
    assert np.array_equal(a.net.theta, b.net.theta)
    assert {k: v for k, v in a.final.items() if k not in ("wall_time", "engine")} == \
        {k: v for k, v in b.final.items() if k not in ("wall_time", "engine")}


@pytest.mark.parametrize("kw", [
    dict(CLS, loss="cross_entropy", batch_size=8),
    dict(CLS, loss="mse", batch_size=1, momentum=0.9, weight_decay=1e-3, label_noise=0.1),
    dict(CLS, loss="cross_entropy", optimizer="gd", steps=50, random_labels=0.3),
    dict(CLS, loss="cross_entropy", batch_size=4, weight_norm="layer", weight_decay=1e-3),
    dict(CLS, loss="mse", batch_size=1, weight_norm="unit", momentum=0.9),
    dict(SPARSE),
    dict(SPARSE, parametrization="u2v2", batch_size=7, momentum=0.5, l1=1e-3),
    dict(SPARSE, optimizer="gd", batch_size=None, init_scheme="normal", init_scale=0.05,
         steps=100),
])
@pytest.mark.parametrize("shared_data", [True, False])
def test_ensemble_members_equal_single_runs(kw, shared_data):
    configs = [Config(**dict(kw, seed=s, lr=lr, data_seed=7 if shared_data else None))
               for s, lr in [(0, kw["lr"]), (1, kw["lr"] / 2), (2, kw["lr"])]]
    for res, config in zip(train_ensemble(configs), configs):
        assert_bit_identical(res, train(config))


# ---- metric sets -------------------------------------------------------------------------
def test_layer_norms_metric_set():
    r = train(Config(**CLS, metrics=("layer_norms",)))
    for l, W in enumerate(r.net.weights):
        assert r.final[f"norm_W{l}"] == pytest.approx(np.linalg.norm(W), rel=1e-15)
        assert r.history[f"norm_W{l}"][-1] == r.final[f"norm_W{l}"]
        assert len(r.history[f"norm_W{l}"]) == len(r.history["step"])
    d = train(Config(**SPARSE, metrics=("layer_norms",)))
    assert d.history["norm_u"][0] == pytest.approx(0.1 * np.sqrt(40))
    assert d.history["norm_v"][0] == 0.0


def test_metric_sets_in_ensembles_equal_single_runs():
    configs = [Config(**CLS, metrics=("layer_norms",), seed=s) for s in (0, 1)]
    for res, config in zip(train_ensemble(configs), configs):
        assert_bit_identical(res, train(config))
        assert "norm_W0" in res.history and "norm_W0" in res.final


def test_metric_set_registry_refuses_a_second_set_of_one_name():
    assert "layer_norms" in METRIC_SETS
    with pytest.raises(ValueError, match="registered twice"):
        metric_set("layer_norms")(lambda net, problem: {})


def test_a_given_initial_net_must_fit_the_task():
    with pytest.raises(ValueError, match=r"classes = 3 disagrees with the initial net's outputs"):
        train(Config(**CLS), net=MLP([10, 16, 16, 1], activation="relu", bias=True))
    with pytest.raises(ValueError, match=r"depth does not apply .*model='diagonal'"):
        from minisgd.models import DiagonalNet
        train(Config(**CLS), net=DiagonalNet(10))


def test_diagnostics_refuse_weight_normalized_nets():
    from minisgd.analysis.gradient_noise import gradient_noise
    from minisgd.analysis.modified_loss import train_modified
    net = MLP([4, 6, 1], weight_norm="layer")
    X = np.random.default_rng(0).standard_normal((8, 4))
    with pytest.raises(ValueError, match="weight_norm='layer'"):
        gradient_noise(net, X, X[:, 0], (0,))
    with pytest.raises(ValueError, match="weight_norm 'none'"):
        train_modified(Config(weight_norm="layer", steps=2, n=50))


def test_streaming_metric_sets_see_every_step():
    from minisgd.metrics import METRIC_SETS, streaming_metric_set

    @streaming_metric_set("test_step_counter")
    class Counter:
        def __init__(self, net, problem):
            self.steps, self.last = 0, None

        def step(self, net, t):
            assert t == self.steps
            self.steps += 1

        def row(self, net):
            return {"steps_seen": self.steps}

    try:
        r = train(Config(**CLS, metrics=("test_step_counter",)))
        assert r.history["steps_seen"] == r.history["step"]
        assert r.final["steps_seen"] == CLS["steps"]
        with pytest.raises(ValueError, match="one by one"):
            train_ensemble([Config(**CLS, metrics=("test_step_counter",), seed=s)
                            for s in (0, 1)])
    finally:
        del METRIC_SETS["test_step_counter"]


def test_sparse_regression_on_given_data_keeps_its_final_numbers():
    """Given regression data carry no true predictor (beta) and maybe no support: the final
    numbers are still numbers (beta_error None: nothing to compare with), the support the
    metrics use is the config's, and nothing is nulled as if it had overflowed."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 15))
    y = X[:, :3].sum(axis=1)
    data = Data(X, y, X[:50], y[:50])
    res = train(Config(task="sparse_regression", model="diagonal", steps=200, batch_size=10,
                       clip=None, lr=0.01, support=(0, 1, 2)), data=data)
    f = res.final
    assert f["beta_error"] is None and "note" not in f
    assert all(isinstance(f[k], (int, float)) for k in ("train_loss", "test_loss", "l0",
                                                          "precision", "recall"))
    assert res.config["support"] == [0, 1, 2] and f["recall"] == 1.0
