"""The training loop: history layout, determinism, shared randomness, divergence handling,
GD vs SGD, regularizers, label noise, replayed batches, and Config validation."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from minisgd.data import make_data
from minisgd.metrics import irrelevant_norm
from minisgd.models import MLP
from minisgd.optimizers import LRSchedule
from minisgd.train import (Config, config_dict, config_from_dict,
                           log_spaced_steps, spawn_rngs, train)

COLUMNS = ("step", "train_loss", "penalty", "test_loss", "irrelevant_norm", "relevant_norm",
           "lr")


def small(**kwargs):
    base = dict(n=250, n_test=200, steps=300)
    base.update(kwargs)
    return Config(**base)


def finite_or_none(values):
    return all(v is None or math.isfinite(v) for v in values)


def manual_run(net, data, lr, steps, batches=None, clip=None):
    """Plain (clipped) SGD written out from the model's public API."""
    net = net.copy()
    for t in range(steps):
        idx = slice(None) if batches is None else batches[t]
        _, g = net.loss_and_grad(data.X[idx], data.y[idx])
        if clip is not None:
            norm = np.sqrt(sum(np.sum(G ** 2) for G in g.weights))
            if clip / (norm + 1e-6) < 1:
                g = type(g)([G * (clip / (norm + 1e-6)) for G in g.weights], None)
        for W, G in zip(net.weights, g.weights):
            W -= lr * G
    return net


# ---- history layout -------------------------------------------------------------------

def test_history_columns_and_endpoints():
    res = train(small(steps=500))
    assert set(COLUMNS) <= set(res.history)
    assert set(res.history) == set(COLUMNS)                  # the support task's, no more
    lengths = {len(res.history[c]) for c in COLUMNS}
    assert len(lengths) == 1 and lengths.pop() > 10
    steps = res.history["step"]
    assert steps[0] == 0 and steps[-1] == 500
    assert all(a < b for a, b in zip(steps, steps[1:]))
    assert res.final["diverged"] is False and res.final["steps_done"] == 500
    assert finite_or_none(res.history["train_loss"])
    # the last row describes the returned net, as does `final`
    W1 = res.net.weights[0]
    assert res.history["irrelevant_norm"][-1] == pytest.approx(irrelevant_norm(W1, range(5)),
                                                               rel=1e-12)
    assert res.final["irrelevant_norm"] == pytest.approx(irrelevant_norm(W1, range(5)), rel=1e-12)
    assert res.history["train_loss"][-1] == pytest.approx(res.final["train_loss"], rel=1e-12)
    # training makes progress on this easy linear target
    assert res.history["train_loss"][-1] < 0.5 * res.history["train_loss"][0]


def test_history_step_zero_is_the_initial_net():
    data = make_data(0, n=100, n_test=50)
    net = MLP([15, 15, 15, 15, 1], seed=3)
    res = train(small(steps=50), data=data, net=net)
    X = data.X
    f0 = net.forward(X)[:, 0]
    assert res.history["train_loss"][0] == pytest.approx(np.mean((f0 - data.y) ** 2), rel=1e-12)
    ft = net.forward(data.X_test)[:, 0]
    assert res.history["test_loss"][0] == pytest.approx(np.mean((ft - data.y_test) ** 2),
                                                        rel=1e-12)
    assert res.history["irrelevant_norm"][0] == pytest.approx(
        np.sqrt(np.sum(net.weights[0][5:] ** 2)), rel=1e-12)
    assert res.history["relevant_norm"][0] == pytest.approx(
        np.sqrt(np.sum(net.weights[0][:5] ** 2)), rel=1e-12)
    # the given net is copied, not trained in place
    np.testing.assert_array_equal(net.weights[0], MLP([15, 15, 15, 15, 1], seed=3).weights[0])


def test_history_lr_column_follows_schedule():
    res = train(small(steps=200, decay_at=(0.5,), decay_factor=0.1, lr=0.05))
    sched = LRSchedule(0.05, 200, decay_at=(0.5,), factor=0.1)
    for t, lr in zip(res.history["step"], res.history["lr"]):
        assert lr == pytest.approx(sched(min(t, 199)))
    assert res.history["lr"][0] == pytest.approx(0.05)
    assert res.history["lr"][-1] == pytest.approx(0.005)


def test_penalty_column_with_weight_decay():
    res = train(small(steps=100, weight_decay=0.01))
    sq = sum(np.sum(W ** 2) for W in res.net.weights)
    assert res.history["penalty"][-1] == pytest.approx(0.5 * 0.01 * sq, rel=1e-12)
    assert train(small(steps=100)).history["penalty"] == [0.0] * len(res.history["step"])


def test_on_record_called_at_each_record():
    seen = []
    res = train(small(steps=120), on_record=lambda t, row: seen.append((t, row["train_loss"])))
    assert [t for t, _ in seen] == res.history["step"]
    assert [v for _, v in seen] == res.history["train_loss"]


@pytest.mark.parametrize("steps", [1, 2, 7, 10, 99, 1000, 12345, 100000])
@pytest.mark.parametrize("per_decade", [1, 5, 20])
def test_log_spaced_steps_properties(steps, per_decade):
    ts = log_spaced_steps(steps, per_decade)
    assert ts[0] == 0 and ts[-1] == steps
    assert all(type(t) is int for t in ts)
    assert all(a < b for a, b in zip(ts, ts[1:]))            # sorted, unique
    assert 1 in ts


def test_log_spaced_steps_density():
    ts = log_spaced_steps(10000, 20)
    for lo in (100, 1000):
        count = sum(lo <= t < 10 * lo for t in ts)
        assert 18 <= count <= 22
    assert len(log_spaced_steps(10000, 5)) < len(ts)
    assert log_spaced_steps(1) == [0, 1]
    assert log_spaced_steps(2) == [0, 1, 2]
    # dense at the start: every step of the first decade at 20 per decade
    assert [t for t in ts if t < 10] == list(range(10))


# ---- determinism and shared randomness -----------------------------------------------

def test_same_config_bit_identical():
    a = train(small(steps=400))
    b = train(small(steps=400))
    assert a.history == b.history
    for Wa, Wb in zip(a.net.weights, b.net.weights):
        np.testing.assert_array_equal(Wa, Wb)
    assert {k: v for k, v in a.final.items() if k not in ("wall_time", "engine")} == \
        {k: v for k, v in b.final.items() if k not in ("wall_time", "engine")}


def test_different_seed_differs():
    a = train(small(steps=200, seed=0))
    b = train(small(steps=200, seed=1))
    assert a.history["train_loss"] != b.history["train_loss"]
    assert not np.array_equal(a.net.weights[0], b.net.weights[0])


def test_batch_sizes_share_data_and_init():
    runs = [train(small(steps=200, batch_size=b)) for b in (8, 32, 100)]
    for col in COLUMNS:
        assert len({r.history[col][0] for r in runs}) == 1, col
    # ... but then take different paths
    assert runs[0].history["train_loss"][-1] != runs[1].history["train_loss"][-1]


def test_random_streams_are_independent():
    # data, init, batch order and label noise come from different streams of one seed
    draws = [tuple(g.standard_normal(4)) for g in spawn_rngs(0)]
    assert len(set(draws)) == 4
    again = [tuple(g.standard_normal(4)) for g in spawn_rngs(0)]
    assert draws == again
    assert draws != [tuple(g.standard_normal(4)) for g in spawn_rngs(1)]


def test_step_sizes_share_data_and_init():
    a, b = train(small(steps=50, lr=0.01)), train(small(steps=50, lr=0.05))
    for col in ("train_loss", "test_loss", "irrelevant_norm", "relevant_norm"):
        assert a.history[col][0] == b.history[col][0]


# ---- divergence -----------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_without_clipping():
    res = train(small(lr=1.0, clip=None, steps=1000))
    t = res.final["diverged"]
    assert isinstance(t, int) and not isinstance(t, bool)
    assert 1 <= t < 1000
    assert res.final["steps_done"] == t
    assert len(res.history["step"]) >= 1 and res.history["step"][0] == 0
    assert max(res.history["step"]) <= t
    for col in COLUMNS:
        assert len(res.history[col]) == len(res.history["step"])
        assert finite_or_none(res.history[col]), col
    json.dumps(res.to_dict(), allow_nan=False)
    # the steps before t were fine: stopping the same run at t does not diverge
    before = train(small(lr=1.0, clip=None, steps=t))
    assert before.final["diverged"] is False


def test_clipping_prevents_that_divergence():
    res = train(small(lr=1.0, clip=1.0, steps=300))
    assert res.final["diverged"] is False or res.final["diverged"] > 100


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_run_stops_and_stays_json_ready():
    # a huge step and a limit that never triggers on finite losses: only NaN/inf stops it
    res = train(small(lr=1e30, clip=None, diverge_factor=1e300, steps=1000))
    t = res.final["diverged"]
    assert isinstance(t, int) and not isinstance(t, bool) and 1 <= t < 1000
    assert res.final["steps_done"] == t
    for col in COLUMNS:
        assert finite_or_none(res.history[col]), col
    text = json.dumps(res.to_dict(), allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text


def gd_linear(**kwargs):
    # depth-0 (linear regression) full-batch GD above the stability threshold: the loss grows
    # geometrically (about x3 per step here), every early step is recorded
    return small(depth=0, optimizer="gd", lr=1.2, clip=None, steps=1000,
                 records_per_decade=50, **kwargs)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverge_factor_rule():
    factor = 10.0
    res = train(gd_linear(diverge_factor=factor))
    t = res.final["diverged"]
    assert isinstance(t, int) and t >= 2
    losses = res.history["train_loss"]
    assert res.history["step"] == list(range(len(losses)))
    # GD: the batch loss at step s is the recorded training loss at s. Stops at the first
    # step whose loss exceeds factor * initial loss.
    first = next(s for s, v in enumerate(losses) if v > factor * losses[0])
    assert t == first


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_smaller_diverge_factor_stops_earlier():
    early = train(gd_linear(diverge_factor=10.0)).final["diverged"]
    late = train(gd_linear(diverge_factor=1e6)).final["diverged"]
    assert isinstance(early, int) and isinstance(late, int)
    assert early < late


# ---- GD vs SGD ------------------------------------------------------------------------

def test_gd_is_full_batch_gradient_descent():
    data = make_data(1, d=6, support=(0, 1), n=60, n_test=20)
    net = MLP([6, 5, 5, 1], seed=2)
    res = train(small(d=6, support=(0, 1), depth=2, width=5, optimizer="gd", lr=0.05,
                      clip=None, steps=40), data=data, net=net)
    want = manual_run(net, data, 0.05, 40)
    for W, V in zip(res.net.weights, want.weights):
        np.testing.assert_allclose(W, V, rtol=1e-12, atol=1e-14)


def test_gd_ignores_seed_and_refuses_a_batch_size_sgd_does_not():
    data = make_data(1, n=100, n_test=20)
    net = MLP([15, 15, 15, 15, 1], seed=4)
    gd = [train(small(optimizer="gd", steps=60, seed=s), data=data, net=net) for s in (0, 5)]
    np.testing.assert_array_equal(gd[0].net.weights[0], gd[1].net.weights[0])
    assert gd[0].config["batch_size"] is None and gd[0].config["replacement"] is None
    with pytest.raises(ValueError, match=r"batch_size does not apply to optimizer='gd'"):
        train(small(optimizer="gd", steps=60, batch_size=8), data=data, net=net)
    with pytest.raises(ValueError, match=r"replacement does not apply to optimizer='gd'"):
        small(optimizer="gd", replacement=True).validate()
    sgd = [train(small(steps=60, seed=s, batch_size=8), data=data, net=net) for s in (0, 5)]
    assert not np.array_equal(sgd[0].net.weights[0], sgd[1].net.weights[0])


def test_sgd_with_batch_size_n_train_is_gd():
    a = train(small(steps=50, n=100, batch_size=200))
    b = train(small(steps=50, n=100, optimizer="gd"))
    assert a.history == b.history


def test_sgd_with_clipping_matches_hand_loop_on_given_batches():
    data = make_data(2, d=5, support=(0, 1), n=40, n_test=10)
    net = MLP([5, 4, 1], seed=1)
    batches = np.random.default_rng(0).integers(0, 80, size=(30, 6))
    res = train(small(d=5, support=(0, 1), depth=1, width=4, lr=0.1, clip=0.5, steps=30),
                data=data, net=net, batches=batches)
    want = manual_run(net, data, 0.1, 30, batches=batches, clip=0.5)
    for W, V in zip(res.net.weights, want.weights):
        np.testing.assert_allclose(W, V, rtol=1e-12, atol=1e-14)


def test_given_batches_replay_regardless_of_seed():
    data = make_data(7, n=100, n_test=20)
    net = MLP([15, 15, 15, 15, 1], seed=7)
    batches = np.random.default_rng(1).integers(0, 200, size=(150, 16))
    a = train(small(steps=150, seed=0), data=data, net=net, batches=batches)
    b = train(small(steps=150, seed=99), data=data, net=net, batches=batches)
    for Wa, Wb in zip(a.net.weights, b.net.weights):
        np.testing.assert_array_equal(Wa, Wb)
    assert a.history == b.history
    assert a.config["batch_size"] == 16                     # the batches' width: what ran
    with pytest.raises(ValueError, match="batch_size = 50 disagrees with the batch array"):
        train(small(steps=150, batch_size=50), data=data, net=net, batches=batches)


def test_given_batches_bad_array_rejected():
    data = make_data(7, n=10, n_test=5)
    with pytest.raises(ValueError, match="batches"):
        train(small(steps=5, batch_size=4), data=data,
              batches=np.full((5, 4), 20))                      # index 20 >= 20 rows
    with pytest.raises(ValueError, match="batches"):
        train(small(steps=5, batch_size=4), data=data, batches=np.zeros((3, 4), dtype=int))


# ---- regularizers and label noise ----------------------------------------------------

def gd_reg(**kwargs):
    return small(optimizer="gd", lr=0.05, steps=300, **kwargs)


@pytest.fixture(scope="module")
def plain_gd():
    return train(gd_reg())


@pytest.mark.parametrize("kwargs", [dict(weight_decay=0.05), dict(weight_decay=0.05,
                                    decoupled_wd=True), dict(group_l1=0.05), dict(l1=0.05)])
def test_regularizers_reduce_irrelevant_norm(plain_gd, kwargs):
    res = train(gd_reg(**kwargs))
    assert res.final["diverged"] is False
    assert res.final["irrelevant_norm"] < 0.8 * plain_gd.final["irrelevant_norm"]
    assert res.history["penalty"][0] > 0 or kwargs.get("decoupled_wd")


def test_l1_prox_gives_exact_zeros_in_first_layer():
    res = train(gd_reg(l1=0.1))
    W1 = res.net.weights[0]
    assert np.count_nonzero(W1 == 0.0) > 0
    assert np.count_nonzero(W1[5:] == 0.0) > np.count_nonzero(W1[:5] == 0.0)


def test_group_l1_zeroes_whole_irrelevant_inputs():
    res = train(gd_reg(group_l1=0.3))
    norms = np.array(res.final["column_norms"])
    assert np.sum(norms[5:] == 0.0) >= 1
    assert np.all(norms[:5] > 0)


def test_label_noise_changes_the_trajectory():
    a = train(small(steps=200))
    b = train(small(steps=200, label_noise=0.5))
    c = train(small(steps=200, label_noise=0.5))
    assert a.history["step"] == b.history["step"]
    assert a.history["train_loss"][0] == b.history["train_loss"][0]
    assert a.history["train_loss"][1:] != b.history["train_loss"][1:]
    assert b.history == c.history                               # still seeded


# ---- Config validation ----------------------------------------------------------------

@pytest.mark.parametrize("kwargs, field", [
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=501), "batch_size"),           # n_train = 2 * 250 = 500
    (dict(batch_size=251, double=False), "batch_size"),
    (dict(lr=0.0), "lr"), (dict(lr=-0.1), "lr"), (dict(lr=float("nan")), "lr"),
    (dict(lr=float("inf")), "lr"),
    (dict(weight_decay=-1.0), "weight_decay"), (dict(l1=-0.1), "l1"),
    (dict(group_l1=-0.1), "group_l1"), (dict(label_noise=-0.1), "label_noise"),
    (dict(momentum=1.5), "momentum"), (dict(clip=0.0), "clip"),
    (dict(steps=0), "steps"), (dict(n=0), "n"), (dict(depth=-1), "depth"),
    (dict(optimizer="adam"), "optimizer"), (dict(target="nope"), "target"),
    (dict(input="uniform"), "input"), (dict(activation="gelu"), "activation"),
    (dict(support=(0, 15)), "support"), (dict(support=(1, 1)), "support"),
    (dict(support=()), "support"), (dict(support=(-1,)), "support"),
    (dict(decay_at=(1.5,)), "decay_at"), (dict(diverge_factor=1.0), "diverge_factor"),
    (dict(seed=-1), "seed"), (dict(steps=2.5), "steps"),
])
def test_validate_rejects_naming_the_field(kwargs, field):
    with pytest.raises((ValueError, TypeError), match=f"^{field} "):
        small(**kwargs).validate()
    with pytest.raises((ValueError, TypeError), match=f"^{field} "):
        train(small(**kwargs))


def test_validate_accepts_edge_values_and_returns_a_new_config():
    cfg = small(batch_size=500, momentum=1.0, clip=None, depth=0)
    assert cfg.validate() is not cfg and cfg.validate() == cfg.validate().validate()
    assert small(optimizer="gd").validate().batch_size is None      # not applying to GD


def test_validate_uses_given_n_train():
    with pytest.raises(ValueError, match="batch_size"):
        small(batch_size=64).validate(n_train=50)
    data = make_data(0, n=20, n_test=5)                              # 40 rows
    with pytest.raises(ValueError, match="batch_size"):
        train(small(batch_size=64, n=5000), data=data)


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="learning_rate"):
        config_from_dict({"lr": 0.1, "learning_rate": 0.1})


def test_config_dict_round_trip():
    cfg = small(support=(2, 4), decay_at=(0.5,), clip=None)
    d = config_dict(cfg)
    assert d["support"] == [2, 4] and d["clip"] is None
    json.dumps(d)
    assert config_from_dict(d) == cfg
    assert config_from_dict({"support": [1, 3]}).support == (1, 3)


def test_net_that_does_not_fit_the_data_raises():
    data = make_data(0, d=15, n=30, n_test=5)
    with pytest.raises(ValueError, match=r"d = 15 \(from the data's columns\) disagrees with "
                                         r"the initial net's inputs, which has 10"):
        train(small(steps=5), data=data, net=MLP([10, 15, 1], seed=0))
    with pytest.raises(ValueError, match="sizes"):
        train(small(steps=5), data=data, net=MLP([15, 15, 2], seed=0))
    # without data, d at its default yields to the net: the drawn data has the net's 10 inputs
    assert train(small(steps=5, support=(0, 1)), net=MLP([10, 15, 1], seed=0)).config["d"] == 10


def test_data_width_must_match_d():
    data = make_data(0, d=8, support=(0, 1), n=30, n_test=5)
    with pytest.raises(ValueError, match="^d = 20 disagrees with the data's columns, which has 8"):
        train(small(steps=5, d=20), data=data)
    res = train(replace(small(steps=5), d=8, support=(0, 1)), data=data)
    assert res.net.sizes[0] == 8


@pytest.mark.parametrize("field", ["center", "double", "replacement", "decoupled_wd", "bias"])
def test_validate_rejects_non_bool_flags(field):
    # "Check every field": a string such as "no" must not be taken as True
    with pytest.raises((TypeError, ValueError), match=f"^{field} "):
        small(**{field: "no"}).validate()


def test_validate_rejects_scalar_decay_at_naming_it():
    with pytest.raises((TypeError, ValueError), match="^decay_at "):
        small(decay_at=0.5).validate()


def test_validate_catches_normal_init_without_scale():
    # init_scheme="normal" needs init_scale; validate() should say so (naming the field)
    # rather than pass and let MLP() fail later with a message naming no Config field
    with pytest.raises(ValueError, match="^init_(scale|scheme) "):
        small(init_scheme="normal").validate()
    assert small(init_scheme="normal", init_scale=0.1).validate()


def test_given_data_support_and_config_support_agree():
    # the metrics use data.support; the recorded config must not claim another support
    data = make_data(0, support=(0, 1), n=50, n_test=20)
    try:
        res = train(small(steps=20), data=data)                  # config support (0,...,4)
    except ValueError as err:
        assert "support" in str(err)
    else:
        assert res.config["support"] == [0, 1]


# ---- chunked gradients and workspaces (the loop's fast path) -----------------------------

def test_gd_above_chunk_size_is_full_batch_gradient_descent():
    import minisgd.engines as train_module
    data = make_data(8, d=6, support=(0, 1), n=1100, n_test=2100)    # 2200 rows > CHUNK_ROWS
    assert data.X.shape[0] > train_module.CHUNK_ROWS
    net = MLP([6, 5, 5, 1], seed=2)
    res = train(small(d=6, support=(0, 1), depth=2, width=5, optimizer="gd", lr=0.05,
                      clip=None, steps=20, n=1100), data=data, net=net)
    want = manual_run(net, data, 0.05, 20)
    for W, V in zip(res.net.weights, want.weights):
        np.testing.assert_allclose(W, V, rtol=1e-10, atol=1e-13)
    f = want.forward(data.X)[:, 0]
    assert res.final["train_loss"] == pytest.approx(np.mean((f - data.y) ** 2), rel=1e-10)
    ft = want.forward(data.X_test)[:, 0]
    assert res.final["test_loss"] == pytest.approx(np.mean((ft - data.y_test) ** 2), rel=1e-10)


@pytest.mark.parametrize("chunk", [7, 40, 1024])
def test_chunk_size_does_not_change_results(monkeypatch, chunk):
    # pieces of at most `chunk` rows add up to the whole batch
    import minisgd.engines as train_module
    data = make_data(3, d=5, support=(0, 2), n=50, n_test=33)
    net = MLP([5, 4, 1], activation="tanh", bias=True, init="torch_default", seed=0)
    batches = np.random.default_rng(4).integers(0, 100, size=(25, 45))
    cfg = dict(d=5, support=(0, 2), depth=1, width=4, activation="tanh", bias=True,
               lr=0.1, clip=0.5, momentum=0.5, weight_decay=0.01, steps=25)
    monkeypatch.setattr(train_module, "CHUNK_ROWS", chunk)
    gd = train(small(optimizer="gd", **cfg), data=data, net=net)
    sgd = train(small(**cfg), data=data, net=net, batches=batches)
    gd_want = manual_run_full(net, data, cfg)
    sgd_want = manual_run_full(net, data, cfg, batches)
    for got, want in ((gd, gd_want), (sgd, sgd_want)):
        for a, b in zip(got.net.params, want.params):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def manual_run_full(net, data, cfg, batches=None):
    """Clipped SGD with coupled weight decay and momentum on all parameters (biases too)."""
    net = net.copy()
    lr, mu, wd, clip = cfg["lr"], cfg["momentum"], cfg["weight_decay"], cfg["clip"]
    bufs = None
    for t in range(cfg["steps"]):
        idx = slice(None) if batches is None else batches[t]
        _, g = net.loss_and_grad(data.X[idx], data.y[idx])
        gs = g.weights + g.biases
        norm = np.sqrt(sum(np.sum(a ** 2) for a in gs))
        coef = min(1.0, clip / (norm + 1e-6))
        gs = [coef * a + wd * p for a, p in zip(gs, net.params)]
        bufs = gs if bufs is None else [mu * m + a for m, a in zip(bufs, gs)]
        for p, m in zip(net.params, bufs):
            p -= lr * m
    return net


@pytest.mark.parametrize("kwargs", [dict(), dict(optimizer="gd"), dict(label_noise=0.3),
                                    dict(batch_size=500), dict(replacement=True),
                                    dict(activation="relu", bias=True)])
def test_training_leaves_the_data_untouched(kwargs):
    data = make_data(1, n=250, n_test=100)
    copies = [a.copy() for a in (data.X, data.y, data.X_test, data.y_test)]
    res = train(small(steps=60, **kwargs), data=data)
    assert res.final["diverged"] is False
    for a, b in zip((data.X, data.y, data.X_test, data.y_test), copies):
        np.testing.assert_array_equal(a, b)


def test_result_net_is_independent_of_later_runs():
    # the returned net must not share buffers with anything a later run writes
    first = train(small(steps=50))
    saved = [W.copy() for W in first.net.weights]
    train(small(steps=50, seed=1))
    for W, V in zip(first.net.weights, saved):
        np.testing.assert_array_equal(W, V)


def test_float32_runs_in_float32_and_stays_close_to_float64():
    res64 = train(small(steps=300, dtype="float64"))
    res32 = train(small(steps=300, dtype="float32"))
    assert res32.net.dtype == np.float32 and res64.net.dtype == np.float64
    for W32, W64 in zip(res32.net.weights, res64.net.weights):
        np.testing.assert_allclose(W32, W64, rtol=0, atol=1e-4 * np.abs(W64).max())
    assert res32.final["train_loss"] == pytest.approx(res64.final["train_loss"], rel=1e-3)
    with pytest.raises(ValueError, match="dtype"):
        small(dtype="float16").validate()


def test_the_loop_allocates_nothing_that_grows_with_the_steps():
    """Traced memory at each record step: between records only the history's new row is
    kept (~200 bytes); a leak of even one byte per step would show over ~18 000 steps."""
    import tracemalloc
    for kw in (dict(batch_size=8, steps=20000), dict(optimizer="gd", steps=3000)):
        memory = []
        tracemalloc.start()
        try:
            train(Config(n=300, n_test=100, records_per_decade=5, **kw),
                  on_record=lambda t, row: memory.append((t, tracemalloc.get_traced_memory()[0])))
        finally:
            tracemalloc.stop()
        (t0, m0), (t1, m1) = memory[-6], memory[-1]
        assert t1 - t0 > 2500
        assert (m1 - m0) / 5 < 1024, (kw, memory[-6:])



# ---- phases through the loop's interface -----------------------------------------------
def test_stop_ends_a_phase_at_a_record_step_and_the_record_says_so():
    """stop(t, columns) is asked at each record step (step 0 too); True ends the run there, with the
    history so far, final["stopped_at"] and steps_done = t; the next phase starts from
    result.net and continues exactly as one run would for a deterministic stream."""
    config = Config(task="classification", n=200, n_test=100, steps=400, batch_size=20,
                    activation="relu", bias=True, lr=0.05, clip=None)
    asked = []

    def stop(t, columns):
        asked.append(t)
        return columns["train_accuracy"][-1] >= 0.5
    res = train(config, stop=stop, record_at=list(range(0, 401, 40)))
    assert res.final["stopped_at"] == asked[-1] == res.final["steps_done"] < 400
    assert res.history["step"][-1] == asked[-1] and res.history["train_accuracy"][-1] >= 0.5
    assert asked == list(range(0, asked[-1] + 1, 40))                   # step 0 included
    assert res.final["diverged"] is False


def test_a_given_stream_replaces_the_sampling_and_is_recorded():
    from minisgd.train import prepare
    config = Config(n=100, n_test=50, steps=30, batch_size=10)
    data = prepare(config)[0].data

    class Rows:
        """The first 10 rows, every step (of the rows and targets train passes in)."""
        def __call__(self, X, Y, rng):
            assert np.array_equal(X, data.X) and np.array_equal(Y, data.y[:, None])
            while True:
                yield X[:10], Y[:10]

        def __str__(self):
            return "the first 10 rows, every step"
    res = train(config, stream=Rows())
    assert res.config["stream"] == "the first 10 rows, every step"
    replay = train(config, batches=np.tile(np.arange(10), (30, 1)))
    assert np.array_equal(res.net.theta, replay.net.theta)        # the same batches ran
    with pytest.raises(ValueError, match="stream"):
        train(config, stream=3)
