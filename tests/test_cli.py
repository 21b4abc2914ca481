"""Command line: `python -m minisgd train`, in-process and as a real subprocess; the JSON
layout; exit status 2 with the flag named for bad input; replay from data/init/batch files."""
import json
import subprocess
import sys

import numpy as np
import pytest

from minisgd.__main__ import main
from minisgd.data import make_data
from minisgd.models import MLP
from minisgd.train import Config, train

SMALL = ["--steps", "300", "--n", "300", "--n-test", "200"]
HISTORY_KEYS = {"step", "train_loss", "test_loss", "irrelevant_norm", "relevant_norm", "lr"}
FINAL_KEYS = {"irrelevant_norm", "relevant_norm", "detected_support", "precision", "recall",
              "train_loss", "test_loss", "diverged"}


def strict_json(path):
    """Parse JSON refusing NaN / Infinity (not valid JSON)."""
    def refuse(token):
        raise AssertionError(f"non-standard JSON constant {token}")
    with open(path) as fh:
        return json.load(fh, parse_constant=refuse)


def check_layout(out, steps):
    assert {"config", "history", "final"} <= set(out)
    hist, final = out["history"], out["final"]
    assert HISTORY_KEYS <= set(hist)
    assert hist["step"][0] == 0 and hist["step"][-1] == steps
    assert len({len(v) for v in hist.values()}) == 1
    assert FINAL_KEYS <= set(final)
    ds = final["detected_support"]
    assert isinstance(ds, list) and ds and all(type(j) is int for j in ds)
    assert final["diverged"] is False
    for key in ("irrelevant_norm", "relevant_norm", "precision", "recall", "train_loss",
                "test_loss"):
        assert isinstance(final[key], float), key
    assert 0.0 <= final["precision"] <= 1.0 and 0.0 <= final["recall"] <= 1.0
    assert out["config"]["steps"] == steps


# ---- runs -----------------------------------------------------------------------------

def test_train_in_process_writes_json(tmp_path, capsys):
    path = tmp_path / "out.json"
    assert main(["train", *SMALL, "--json", str(path)]) == 0
    out = strict_json(path)
    check_layout(out, 300)
    assert out["config"]["n"] == 300 and out["config"]["support"] == [0, 1, 2, 3, 4]
    assert out["config"]["batch_size"] == 32
    text = capsys.readouterr().out
    assert "SGD b=32" in text and "detected support" in text


def test_json_matches_the_python_api(tmp_path):
    path = tmp_path / "out.json"
    main(["train", *SMALL, "--lr", "0.05", "--seed", "3", "--json", str(path), "--quiet"])
    out = strict_json(path)
    res = train(Config(steps=300, n=300, n_test=200, lr=0.05, seed=3))
    assert out["history"] == res.history
    assert out["final"]["detected_support"] == res.final["detected_support"]
    assert out["final"]["irrelevant_norm"] == res.final["irrelevant_norm"]


def test_train_subprocess(tmp_path):
    path = tmp_path / "out.json"           # a missing folder is refused: test_cli_outputs
    proc = subprocess.run([sys.executable, "-m", "minisgd", "train", "--steps", "300", "--n",
                           "300", "--n-test", "200", "--json", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "irrelevant norm" in proc.stdout
    check_layout(strict_json(path), 300)


def test_subprocess_bad_flag_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "minisgd", "train", "--lr", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "--lr" in proc.stderr


def test_flags_reach_the_config(tmp_path):
    path = tmp_path / "out.json"
    main(["train", "--steps", "50", "--n", "100", "--n-test", "50", "--clip", "none",
          "--decay-at", "0.5,0.75", "--no-double", "--support", "2,7", "--optimizer", "gd",
          "--lr", "0.02", "--json", str(path), "--quiet"])
    cfg = strict_json(path)["config"]
    assert cfg["clip"] is None and cfg["decay_at"] == [0.5, 0.75] and cfg["double"] is False
    assert cfg["support"] == [2, 7] and cfg["optimizer"] == "gd" and cfg["lr"] == 0.02
    lrs = strict_json(path)["history"]["lr"]
    assert lrs[0] == pytest.approx(0.02) and lrs[-1] == pytest.approx(0.02 * 0.01)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverged_run_still_writes_valid_json(tmp_path, capsys):
    path = tmp_path / "out.json"
    assert main(["train", "--steps", "300", "--n", "100", "--n-test", "50", "--lr", "1",
                 "--clip", "none", "--json", str(path)]) == 0
    final = strict_json(path)["final"]
    t = final["diverged"]
    assert type(t) is int and final["steps_done"] == t
    assert "diverged at step" in capsys.readouterr().out


# ---- bad input: exit 2, flag named -----------------------------------------------------

@pytest.mark.parametrize("bad, flag", [
    (["--support", "0,15"], "--support"),
    (["--support", "1,1"], "--support"),
    (["--support", "a,b"], "--support"),
    (["--d", "4", "--support", "0,4"], "--support"),
    (["--batch-size", "0"], "--batch-size"),
    (["--batch-size", "601"], "--batch-size"),         # n_train = 2 * 300
    (["--lr", "0"], "--lr"),
    (["--lr", "-0.1"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "abc"], "--lr"),
    (["--steps", "0"], "--steps"),
    (["--weight-decay", "-1"], "--weight-decay"),
    (["--momentum", "2"], "--momentum"),
    (["--clip", "0"], "--clip"),
    (["--target", "nope"], "--target"),
    (["--optimizer", "adam"], "--optimizer"),
    (["--decay-at", "1.5"], "--decay-at"),
    (["--init-scheme", "normal"], "--init-scale"),       # normal init needs a scale
])
def test_bad_input_exits_2_naming_the_flag(tmp_path, capsys, bad, flag):
    path = tmp_path / "out.json"
    with pytest.raises(SystemExit) as exc:
        main(["train", *SMALL, "--quiet", "--json", str(path), *bad])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert flag in err, err
    assert not path.exists()


def test_missing_subcommand_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


# ---- file round trip --------------------------------------------------------------------

D, S, STEPS = 8, (0, 1, 2), 50


@pytest.fixture
def files(tmp_path):
    data = make_data(0, d=D, support=S, n=60, n_test=30)
    net = MLP([D, 6, 6, 1], seed=1)
    batches = np.random.default_rng(2).integers(0, data.X.shape[0], size=(STEPS, 16))
    paths = {"data": tmp_path / "data.npz", "init": tmp_path / "init.npz",
             "batches": tmp_path / "batches.npy"}
    np.savez(paths["data"], X=data.X, y=data.y, X_test=data.X_test, y_test=data.y_test)
    np.savez(paths["init"], **{f"W{l}": W for l, W in enumerate(net.weights)})
    np.save(paths["batches"], batches)
    return data, net, batches, paths, tmp_path


def run_files(paths, tmp_path, init=None, extra=()):
    save = tmp_path / "final.npz"
    main(["train", "--data", str(paths["data"]), "--support", ",".join(map(str, S)),
          "--init", str(init or paths["init"]), "--batches", str(paths["batches"]),
          "--steps", str(STEPS), "--lr", "0.05", "--save", str(save),
          "--json", str(tmp_path / "run.json"), "--quiet", *extra])
    with np.load(save) as z:
        return [z[f"W{l}"] for l in range(len(z.files))]


def test_file_round_trip_equals_python_api(files):
    data, net, batches, paths, tmp_path = files
    saved = run_files(paths, tmp_path)
    res = train(Config(d=D, support=S, steps=STEPS, lr=0.05), data=data, net=net,
                batches=batches)
    assert len(saved) == 3
    for W, V in zip(saved, res.net.weights):
        np.testing.assert_array_equal(W, V)
    assert not np.array_equal(saved[0], net.weights[0])           # training happened
    out = strict_json(tmp_path / "run.json")
    assert out["config"]["d"] == D
    assert out["history"]["train_loss"][0] == pytest.approx(
        np.mean((net.forward(data.X)[:, 0] - data.y) ** 2), rel=1e-12)


def test_batches_file_is_replayed_regardless_of_seed(files):
    _, _, _, paths, tmp_path = files
    a = run_files(paths, tmp_path, extra=["--seed", "0"])
    b = run_files(paths, tmp_path, extra=["--seed", "5", "--batch-size", "16"])
    for W, V in zip(a, b):
        np.testing.assert_array_equal(W, V)


def test_batch_size_disagreeing_with_the_batches_file_is_refused(files, capsys):
    """The recorded config is what ran: the batch array's width is the batch size."""
    _, _, _, paths, tmp_path = files
    with pytest.raises(SystemExit) as exc:
        run_files(paths, tmp_path, extra=["--batch-size", "4"])
    assert exc.value.code == 2
    assert "batch_size = 4 disagrees with the batch array's width, which has 16" in \
        capsys.readouterr().err


def test_data_without_test_set_uses_training_set(tmp_path):
    data = make_data(0, d=5, support=(0, 1), n=40, n_test=10)
    np.savez(tmp_path / "d.npz", X=data.X, y=data.y)
    main(["train", "--data", str(tmp_path / "d.npz"), "--support", "0,1", "--steps", "20",
          "--json", str(tmp_path / "o.json"), "--quiet"])
    final = strict_json(tmp_path / "o.json")["final"]
    assert final["test_loss"] == final["train_loss"]


def expect_exit_2(argv, capsys, *needles):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err
    return err


def test_batches_out_of_range_exits_2(files, capsys):
    data, _, batches, paths, tmp_path = files
    bad = batches.copy()
    bad[3, 0] = data.X.shape[0]                                  # one past the last row
    np.save(tmp_path / "bad.npy", bad)
    expect_exit_2(["train", "--data", str(paths["data"]), "--support", "0,1,2", "--batches",
                   str(tmp_path / "bad.npy"), "--steps", str(STEPS), "--quiet"],
                  capsys, "batches", str(data.X.shape[0]))


def test_batches_too_few_rows_exits_2(files, capsys):
    _, _, _, paths, tmp_path = files
    expect_exit_2(["train", "--data", str(paths["data"]), "--support", "0,1,2", "--batches",
                   str(paths["batches"]), "--steps", str(STEPS + 1), "--quiet"],
                  capsys, "batches", "steps")


def test_init_of_wrong_width_exits_2(files, capsys):
    _, _, _, paths, tmp_path = files
    wrong = MLP([D + 2, 6, 1], seed=0)
    np.savez(tmp_path / "wrong.npz", **{f"W{l}": W for l, W in enumerate(wrong.weights)})
    expect_exit_2(["train", "--data", str(paths["data"]), "--support", "0,1,2", "--init",
                   str(tmp_path / "wrong.npz"), "--steps", "5", "--quiet"],
                  capsys, f"d = {D} (from the data's columns) disagrees with the initial net's inputs, "
                  f"which has {D + 2}")


def test_init_missing_a_layer_exits_2(files, capsys):
    _, net, _, paths, tmp_path = files
    np.savez(tmp_path / "gap.npz", W0=net.weights[0], W2=net.weights[2])
    expect_exit_2(["train", "--data", str(paths["data"]), "--support", "0,1,2", "--init",
                   str(tmp_path / "gap.npz"), "--steps", "5", "--quiet"], capsys, "W1")


def test_data_missing_y_exits_2(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", X=np.zeros((10, 4)))
    expect_exit_2(["train", "--data", str(tmp_path / "d.npz"), "--support", "0", "--quiet"],
                  capsys, "--data", "'y'")


@pytest.mark.parametrize("which", ["data", "init", "batches"])
def test_missing_file_exits_2(files, capsys, which):
    _, _, _, paths, tmp_path = files
    missing = tmp_path / f"nope_{which}.{'npy' if which == 'batches' else 'npz'}"
    argv = ["train", "--data", str(paths["data"]), "--support", "0,1,2", "--steps", "5",
            "--quiet", f"--{which}", str(missing)]
    expect_exit_2(argv, capsys, f"--{which}", str(missing))


def test_missing_pt_init_exits_2(files, capsys):
    pytest.importorskip("torch")
    _, _, _, paths, tmp_path = files
    missing = tmp_path / "nope.pt"
    expect_exit_2(["train", "--data", str(paths["data"]), "--support", "0,1,2", "--init",
                   str(missing), "--steps", "5", "--quiet"], capsys, "--init", str(missing))


def test_torch_state_dict_init_equals_npz_init(files):
    torch = pytest.importorskip("torch")
    from minisgd.io.torch_bridge import to_torch
    _, net, _, paths, tmp_path = files
    pt = tmp_path / "init.pt"
    torch.save(to_torch(net).state_dict(), pt)
    from_npz = run_files(paths, tmp_path)
    from_pt = run_files(paths, tmp_path, init=pt)
    for W, V in zip(from_npz, from_pt):
        np.testing.assert_array_equal(W, V)


def test_bad_data_seed_and_dtype_name_the_flag(capsys):
    for argv, flag in ((["--data-seed", "-1"], "--data-seed"), (["--dtype", "float16"], "--dtype")):
        with pytest.raises(SystemExit) as exc:
            main(["train", "--steps", "10", "--n", "50"] + argv)
        assert exc.value.code == 2
        assert flag in capsys.readouterr().err


# ---- only the typed flags reach the Config ------------------------------------------------

def test_an_omitted_flag_is_unset_and_resolved_by_the_run(tmp_path):
    from minisgd.__main__ import build_parser, config_from_args
    parser, _ = build_parser()
    assert config_from_args(parser.parse_args(["train"])) == Config()
    typed = config_from_args(parser.parse_args(["train", "--depth", "3", "--no-bias"]))
    assert typed == Config(depth=3, bias=False) and typed.width is None
    path = tmp_path / "run.json"
    assert main(["train", "--model", "diagonal", *SMALL, "--quiet", "--json", str(path)]) == 0
    config = strict_json(path)["config"]
    assert config["depth"] is None and config["init_scheme"] == "constant"
    assert config["init_scale"] == 0.1


@pytest.mark.parametrize("argv, message", [
    (["--optimizer", "gd", "--batch-size", "32"],
     "argument --batch-size: batch_size does not apply to optimizer='gd'"),
    (["--optimizer", "gd", "--no-replacement"],
     "argument --replacement: replacement does not apply to optimizer='gd'"),
    (["--model", "diagonal", "--depth", "3"],
     "argument --depth: depth does not apply to model='diagonal'"),
    (["--model", "diagonal", "--activation", "linear"],
     "argument --activation: activation does not apply to model='diagonal'"),
    (["--task", "classification", "--target", "linear"],
     "argument --target: target does not apply to task='classification'"),
    (["--task", "classification", "--support", "0,1,2,3,4"],
     "argument --support: support does not apply to task='classification'"),
    (["--classes", "3"], "argument --classes: classes does not apply to task='support'"),
    (["--depth", "0", "--width", "20"], "argument --width: the net has no hidden layer"),
    (["--decay-factor", "0.5"], "argument --decay-factor: it multiplies the step size at the"),
    (["--warmup", "1000"], "argument --warmup: warmup must be an int in [0, steps="),
    (["--ste", "5"], "unrecognized arguments: --ste"),          # no abbreviated flags
])
def test_a_typed_flag_that_does_not_apply_is_refused_even_at_its_default(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(["train", *SMALL, "--quiet", *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_a_typed_flag_equal_to_its_default_that_disagrees_with_a_file_is_refused(files, capsys):
    """--d 15 (the default) with an 8-column data file, --depth 3 with a 2-layer init file,
    --batch-size 32 with a 16-wide batches file: each refused, naming both values."""
    _, _, _, paths, tmp_path = files
    for extra, message in [(["--d", "15"], "d = 15 disagrees with the data's columns, which "
                                           "has 8"),
                           (["--depth", "3"], "depth = 3 disagrees with the initial net, which "
                                              "has 2"),
                           (["--batch-size", "32"], "batch_size = 32 disagrees with the batch "
                                                    "array's width, which has 16")]:
        with pytest.raises(SystemExit) as exc:
            run_files(paths, tmp_path, extra=extra)
        assert exc.value.code == 2 and message in capsys.readouterr().err


def test_a_data_file_of_20_columns_with_d_15_is_refused(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 20))
    np.savez(tmp_path / "d.npz", X=X, y=X[:, 0])
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", str(tmp_path / "d.npz"), "--d", "15", "--steps", "2"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "argument --d: d = 15 disagrees with the data's columns, " \
        "which has 20: leave d unset (--d out" in err
    out = tmp_path / "r.json"
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--steps", "2", "--quiet",
                 "--json", str(out)]) == 0
    assert strict_json(out)["config"]["d"] == 20
