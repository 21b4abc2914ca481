"""What a run is given (data, an initial net, batches) meets its config: a field left unset
takes the object's value and records where it came from, a field set to anything else is
refused (its usual default included), the caller's config is not changed, and a bad object
is refused with a message about itself before any work."""
import numpy as np
import pytest

from minisgd import MLP, DiagonalNet
from minisgd.data import Data, make_data
from minisgd.ensemble import train_ensemble
from minisgd.resolve import resolve
from minisgd.train import Config, train

SMALL = dict(n=50, n_test=20, steps=5)


def regression(d=10, rows=50, support=(0, 1)):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, d))
    return Data(X, X[:, 0].copy(), X[:20], X[:20, 0].copy(), support)


@pytest.mark.parametrize("net, field, value", [
    (MLP([10, 7, 7, 1], seed=0), "width", 7),
    (MLP([10, 15, 1], seed=0), "depth", 1),
    (MLP([10, 15, 15, 1], activation="relu", seed=0), "activation", "relu"),
    (MLP([10, 15, 15, 1], bias=True, seed=0), "bias", True),
    (MLP([10, 15, 15, 1], weight_norm="layer", seed=0), "weight_norm", "layer"),
])
def test_an_unset_field_is_taken_from_the_net_and_recorded(net, field, value):
    r = train(Config(**SMALL, support=(0, 1)), data=regression(), net=net)
    assert r.config[field] == value and r.config["d"] == 10


@pytest.mark.parametrize("net, kw, message", [
    (MLP([10, 7, 7, 1], seed=0), dict(width=8), r"width = 8 disagrees with the initial net"),
    (MLP([10, 15, 1], seed=0), dict(depth=2), r"depth = 2 disagrees"),
    (MLP([10, 15, 15, 1], activation="relu", seed=0), dict(activation="tanh"),
     r"activation = 'tanh' disagrees"),
    (MLP([10, 15, 15, 1], bias=True, seed=0), dict(bias=True, width=16),
     r"width = 16 disagrees"),
    (MLP([10, 6, 5, 1], seed=0), {}, r"hidden widths \[6, 5\] differ"),
    (DiagonalNet(10), dict(model="mlp", depth=2), r"depth does not apply|model"),
])
def test_a_field_set_otherwise_must_agree_with_the_net(net, kw, message):
    with pytest.raises(ValueError, match=message):
        train(Config(**SMALL, support=(0, 1), **kw), data=regression(), net=net)


def test_gd_with_a_batch_array_is_refused():
    batches = np.zeros((5, 4), dtype=np.int64)
    with pytest.raises(ValueError, match=r"optimizer='gd' .* batch array"):
        train(Config(**SMALL, optimizer="gd"), batches=batches)


def test_the_batch_width_is_the_recorded_batch_size():
    batches = np.random.default_rng(0).integers(0, 100, size=(5, 7))
    assert train(Config(**SMALL), batches=batches).config["batch_size"] == 7


@pytest.mark.parametrize("data, message", [
    ("data.npz", r"data must be a minisgd.data.Data"),
    (Data([[1.0]], np.zeros(1), np.zeros((1, 1)), np.zeros(1)), r"data.X must be a numpy"),
    (Data(np.full((4, 3), np.nan), np.zeros(4), np.zeros((2, 3)), np.zeros(2)),
     r"data.X contains non-finite"),
    (Data(np.zeros((4, 3)), np.zeros(5), np.zeros((2, 3)), np.zeros(2)),
     r"data.y must have shape \(4\)"),
    (Data(np.zeros((0, 3)), np.zeros(0), np.zeros((2, 3)), np.zeros(2)),
     r"data.X must hold at least one row"),
    (Data(np.zeros((4, 3)), np.zeros(4), np.zeros((2, 4)), np.zeros(2)),
     r"data.X_test must have shape \(any, 3\)"),
])
def test_bad_data_objects_are_refused_naming_what_is_wrong(data, message):
    with pytest.raises((TypeError, ValueError), match=message):
        train(Config(**SMALL), data=data)


@pytest.mark.parametrize("call, message", [
    (lambda: train("sgd"), r"config must be a minisgd.train.Config, got 'sgd'"),
    (lambda: train_ensemble(Config()), r"configs must be a list of minisgd.train.Config"),
    (lambda: train_ensemble([Config(), "x"]), r"configs\[1\] must be a minisgd.train.Config"),
    (lambda: train(Config(**SMALL), net="net.npz"), r"net must be a minisgd MLP or DiagonalNet"),
    (lambda: train(Config(**SMALL), net=MLP.stack([MLP([15, 1]), MLP([15, 1])])),
     r"net must be a single net"),
    (lambda: train(Config(**SMALL), batches=[[0, 1]]), r"batches must be a \(steps, b\) int array"),
])
def test_public_api_checks_its_arguments(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


def test_support_numbers_unchanged_when_nothing_is_given():
    """Resolving only takes what a given object states."""
    a = train(Config(**SMALL))
    data = make_data(a.config["seed"], n=50, n_test=20)     # not the run's data stream
    assert a.config["d"] == 15 and a.config["batch_size"] == 32 and data.X.shape[1] == 15


def test_a_loss_overflowing_from_the_data_is_a_divergence_at_step_0():
    r = train(Config(**SMALL, label_eps=1e300))
    assert r.final["diverged"] == 0 and r.final["train_loss"] is None
    assert "initial training loss is not finite" in r.final["note"]
    assert r.final["detected_support"] is None and r.final["precision"] is None
    members = train_ensemble([Config(**SMALL, label_eps=1e300, seed=s) for s in (0, 1)])
    assert [m.final["diverged"] for m in members] == [0, 0]
    same = lambda final: {k: v for k, v in final.items() if k not in ("wall_time", "engine")}
    assert same(members[0].final) == same(r.final)          # the stacked run's own engine


def test_overflowing_weights_leave_no_metric_standing():
    """Weights of 1e171 are finite, their norms are not: the detected support, precision
    and recall computed from them would mean nothing, so every metric of the net is null."""
    with np.errstate(all="ignore"):
        r = train(Config(**dict(SMALL, steps=30), lr=50, clip=None, diverge_factor=1e300))
    assert r.final["diverged"] is not False
    assert r.final["irrelevant_norm"] is None and r.final["detected_support"] is None
    assert "not finite" in r.final["note"]


def test_output_paths_are_checked_before_the_run(tmp_path, capsys):
    from minisgd.__main__ import main
    (tmp_path / "afile").write_text("x")
    for argv, message in [(["--json", str(tmp_path)], "--json must be a file path"),
                          (["--save", str(tmp_path / "afile" / "w.npz")], "cannot be written")]:
        with pytest.raises(SystemExit) as stop:
            main(["train", "--steps", "2", "--n", "50", "--quiet", *argv])
        assert stop.value.code == 2 and message in capsys.readouterr().err
    out = tmp_path / "final"
    assert main(["train", "--steps", "2", "--n", "50", "--quiet", "--save", str(out)]) == 0
    assert out.exists() and not (tmp_path / "final.npz").exists()     # exactly that path


@pytest.mark.parametrize("content, flag, message", [
    (b"garbage", "--data", "must be a readable .npz file"),
    (b"", "--data", "must be a readable .npz file"),
    (b"", "--init", "must be a readable .npz file"),
    (b"", "--batches", "must be a readable .npy file"),
])
def test_unreadable_files_name_the_option(tmp_path, capsys, content, flag, message):
    from minisgd.__main__ import main
    path = tmp_path / "f.npz"
    path.write_bytes(content)
    with pytest.raises(SystemExit) as stop:
        main(["train", "--steps", "2", flag, str(path)])
    err = capsys.readouterr().err
    # the file is named with its option, and the form it must have (io/files.py's wording)
    assert stop.value.code == 2 and flag in err and (message in err or "file (NumPy's" in err)


def test_the_run_records_which_values_came_from_the_given_objects():
    batches = np.random.default_rng(0).integers(0, 100, size=(5, 7))
    r = train(Config(steps=5, support=(0, 1)), data=regression(d=10, rows=100),
              net=MLP([10, 6, 6, 1], seed=0), batches=batches)
    given = r.to_dict()["given"]
    assert given["d"] == "the data's columns" and given["width"] == "the initial net"
    assert given["batch_size"] == "the batch array's width" and r.config["width"] == 6
    assert "given" not in train(Config(**SMALL)).to_dict()      # nothing given: no key


def test_resolve_returns_a_new_config_and_what_came_from_where():
    config = Config(**SMALL, support=(0, 1), width=6)
    net = MLP([10, 6, 6, 1], activation="tanh", seed=0)
    batches = np.zeros((5, 4), dtype=np.int64)
    resolved, given = resolve(config, data=regression(), net=net, batches=batches)
    assert config == Config(**SMALL, support=(0, 1), width=6)          # not changed
    assert (resolved.d, resolved.depth, resolved.width, resolved.activation,
            resolved.batch_size) == (10, 2, 6, "tanh", 4)
    assert given == {"d": "the data's columns", "n": "the data's rows",
                     "n_test": "the data's test rows", "model": "the initial net",
                     "depth": "the initial net", "width": "the initial net",
                     "activation": "the initial net", "bias": "the initial net",
                     "weight_norm": "the initial net", "batch_size": "the batch array's width"}
    assert resolve(resolved, data=regression(), net=net, batches=batches) == (resolved, given)


def test_two_given_objects_that_disagree_are_refused_naming_both():
    with pytest.raises(ValueError, match=r"d = 10 \(from the data's columns\) disagrees with "
                                         r"the initial net's inputs, which has 12"):
        resolve(Config(**SMALL, support=(0, 1)), data=regression(), net=MLP([12, 3, 1], seed=0))


# ---- issue 21, cause 3: what is recorded is what ran --------------------------------------

def test_given_data_records_its_own_rows_and_no_recipe():
    r = train(Config(steps=5, support=(0, 1)), data=regression(rows=60))
    c = r.config
    assert (c["n"], c["n_test"], c["double"]) == (60, 20, None)
    assert all(c[k] is None for k in ("target", "input", "center", "label_eps"))
    assert r.given["n"] == "the data's rows" and r.given["n_test"] == "the data's test rows"


def test_a_set_n_the_data_does_not_have_is_not_recorded():
    r = train(Config(steps=5, n=10, n_test=2000, support=(0, 1)), data=regression(rows=60))
    assert (r.config["n"], r.config["n_test"]) == (60, 20)
    assert r.given["n"] == "the data's rows (the config's n = 10 did not run)"
    assert r.given["n_test"] == "the data's test rows (the config's n_test = 2000 did not run)"


@pytest.mark.parametrize("kw", [dict(target="sine"), dict(label_eps=5.0), dict(double=False),
                                dict(input="rademacher"), dict(center=False)])
def test_a_data_field_set_for_given_data_is_refused(kw):
    """The recipe's fields would not run: a value set for them is refused, not dropped."""
    (name,) = kw
    with pytest.raises(ValueError, match=rf"^{name} does not apply to given data"):
        train(Config(steps=5, support=(0, 1), **kw), data=regression(rows=60))
    r = train(Config(steps=5, support=(0, 1)), data=regression(rows=60))
    assert r.config[name] is None and r.config["n"] == 60


def test_given_rows_that_agree_are_accepted():
    r = train(Config(steps=5, n=60, n_test=20, support=(0, 1)), data=regression(rows=60))
    assert r.config["n"] == 60


def test_an_initial_net_records_no_init_scheme():
    r = train(Config(steps=5), net=MLP([15, 7, 1], seed=0))
    assert r.config["init_scheme"] is None and r.config["init_scale"] is None
    r = train(Config(steps=5), net=DiagonalNet(15))
    assert r.config["init_scheme"] is None and r.config["init_scale"] is None
    for kw in (dict(init_scheme="kaiming_normal"), dict(init_scheme="normal", init_scale=0.5),
               dict(init_scale=2.0)):                    # the weights come from the net
        with pytest.raises(ValueError, match="does not apply to a given initial net"):
            train(Config(steps=5, **kw), net=MLP([15, 7, 1], seed=0))


def test_a_batch_array_records_no_replacement():
    batches = np.zeros((5, 7), dtype=np.int64)
    r = train(Config(steps=5, n=50, n_test=20), batches=batches)
    assert r.config["replacement"] is None
    for value in (True, False):                          # the array decides the batches
        with pytest.raises(ValueError, match="^replacement does not apply to a given batch"):
            train(Config(steps=5, n=50, n_test=20, replacement=value), batches=batches)


def test_decoupled_weight_decay_without_weight_decay_is_refused():
    with pytest.raises(ValueError, match=r"decoupled_wd .*weight_decay.* 0"):
        Config(decoupled_wd=True).validate()
    assert Config(decoupled_wd=True, weight_decay=1e-3).validate().decoupled_wd


def test_the_cli_records_the_rows_of_given_data(tmp_path):
    import json
    from minisgd.__main__ import main
    X = np.random.default_rng(0).standard_normal((40, 5))
    np.savez(tmp_path / "d.npz", X=X, y=X[:, 0].copy(), X_test=X[:10], y_test=X[:10, 0].copy())
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--steps", "2",
                 "--support", "0,1", "--quiet", "--json", str(tmp_path / "r.json")]) == 0
    config = json.loads((tmp_path / "r.json").read_text())["config"]
    assert (config["n"], config["n_test"], config["double"]) == (40, 10, None)


def test_a_batch_array_longer_than_the_run_records_the_prefix_that_ran():
    batches = np.zeros((30, 7), dtype=np.int64)
    r = train(Config(steps=20, n=50, n_test=20), batches=batches)
    assert r.given["steps"] == "the first 20 of the batch array's 30 rows"
    assert "steps" not in train(Config(steps=30, n=50, n_test=20), batches=batches).given
