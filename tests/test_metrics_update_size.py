"""The update-size measure (minisgd/metrics/update_size.py): by hand, and the
streaming `noise` set against the weights a run actually went through."""
import numpy as np
import pytest

from minisgd.config import Config
from minisgd.ensemble import train_ensemble
from minisgd.metrics.update_size import UpdateNoise
from minisgd.models import MLP
from minisgd.train import build_net, spawn_rngs, train

CLS = dict(task="classification", classes=3, d=8, n=120, n_test=30, depth=2, width=10,
           activation="relu", bias=True, lr=0.05, batch_size=8)


def test_stream_by_hand():
    net = MLP.from_weights([np.eye(2), np.ones((2, 1))])
    stream = UpdateNoise(net, None)
    first = stream.row(net)
    assert np.isnan(first["noise"]) and first["noise_window"] == 0.0
    net.weights[0][...] = 2 * np.eye(2)           # update 0: layer 0 doubles, layer 1 stays
    stream.step(net, 0)
    net.weights[1][...] = 0.5 * np.ones((2, 1))   # update 1: layer 1 halves
    stream.step(net, 1)
    row = stream.row(net)
    assert row["noise_W0"] == pytest.approx(0.5) and row["noise_W1"] == pytest.approx(0.25)
    assert row["noise"] == pytest.approx(0.375) and row["noise_window"] == 2.0
    assert stream.row(net) == row                 # no update since: the same window again
    net.weights[0][...] = 3 * np.eye(2)
    stream.step(net, 2)
    assert stream.row(net)["noise_W0"] == pytest.approx(0.5)   # a new window: ||I|| / ||2I||


@pytest.mark.parametrize("weight_norm", ["none", "layer"])
def test_one_step_run_equals_the_change_of_the_effective_weights(weight_norm):
    config = Config(**CLS, steps=1, weight_norm=weight_norm, metrics=("noise",))
    start = build_net(config.validate(), spawn_rngs(config.seed)[1]).effective_weights()
    r = train(config)
    for l, (W0, W1) in enumerate(zip(start, r.net.effective_weights())):
        assert r.final[f"noise_W{l}"] == pytest.approx(
            np.linalg.norm(W1 - W0) / np.linalg.norm(W0), rel=1e-12)
    assert r.final["noise_window"] == 1.0


def test_windows_cover_every_update_between_records():
    r = train(Config(**CLS, steps=200, weight_decay=1e-3, metrics=("noise",)))
    steps, windows = np.array(r.history["step"]), np.array(r.history["noise_window"])
    np.testing.assert_array_equal(windows[1:], np.diff(steps))
    assert r.history["noise"][0] is None                    # step 0: no update yet (null)
    assert all(v > 0 for v in r.history["noise"][1:])


def test_update_size_scales_with_the_step_size():
    rs = [train(Config(**{**CLS, "lr": lr}, steps=1, metrics=("noise",))) for lr in (1e-4, 2e-4)]
    assert rs[1].final["noise"] / rs[0].final["noise"] == pytest.approx(2.0, rel=1e-3)


def test_ensembles_refuse_the_streaming_set():
    with pytest.raises(ValueError, match=r"metrics \['noise'\] follow every step"):
        train_ensemble([Config(**CLS, steps=5, seed=s, metrics=("noise",)) for s in (0, 1)])
