"""Outputs of `train` (--json, --save) and `bench` (--json), issue 21: checked before any
work (not a folder, folder exists and takes a file, not an input or another output of the
run, not empty), written whole or not at all; a run that goes non-finite is reported as
diverged, not a crash."""
import os
import sys

import numpy as np
import pytest

import minisgd.bench.driver
import minisgd.train
from minisgd.__main__ import format_summary, main
from minisgd.data import make_data
from minisgd.io import files
from minisgd.models import MLP

SMALL = ["--steps", "20", "--n", "50", "--n-test", "20", "--quiet"]
D, S = 6, (0, 1)


@pytest.fixture
def no_work(monkeypatch):
    """Training or benchmarking at all fails the test: refusals come before work."""
    def work(*args, **kwargs):
        raise AssertionError("the run started before its outputs were checked")
    monkeypatch.setattr(minisgd.train, "train", work)
    monkeypatch.setattr(minisgd.bench.driver, "run_bench", work)


@pytest.fixture
def inputs(tmp_path):
    data = make_data(0, d=D, support=S, n=40, n_test=20)
    paths = {"data": tmp_path / "d.npz", "init": tmp_path / "w.npz", "batches": tmp_path / "b.npy"}
    np.savez(paths["data"], X=data.X, y=data.y)
    np.savez(paths["init"], **{f"W{l}": W for l, W in enumerate(MLP([D, 4, 1], seed=1).weights)})
    np.save(paths["batches"], np.zeros((20, 8), dtype=np.int64))
    return paths


def refused(capsys, argv, *words):
    """main(argv) exits 2 with every word in its message and no traceback."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("given, out", [
    ("data", "--save"), ("data", "--json"), ("init", "--save"), ("init", "--json"),
    ("batches", "--json"), ("batches", "--save")])
def test_an_output_onto_an_input_is_refused_and_the_input_kept(inputs, no_work, capsys,
                                                              given, out):
    before = inputs[given].read_bytes()
    spelled = str(inputs[given].parent / "sub" / ".." / inputs[given].name)   # same file
    os.mkdir(inputs[given].parent / "sub")
    argv = ["train", *SMALL, "--support", "0,1", "--d", str(D),
            f"--{given}", str(inputs[given]), out, spelled]
    refused(capsys, argv, out, f"--{given}")
    assert inputs[given].read_bytes() == before


def test_an_output_onto_an_input_through_a_symlink_is_refused(inputs, no_work, capsys):
    link = inputs["data"].parent / "link.npz"
    link.symlink_to(inputs["data"])
    refused(capsys, ["train", *SMALL, "--d", str(D), "--support", "0,1", "--data",
                     str(inputs["data"]), "--save", str(link)], "--save", "--data")


def test_an_output_onto_a_hard_link_of_an_input_is_refused(inputs, no_work, capsys):
    link = inputs["init"].parent / "also_w.npz"
    os.link(inputs["init"], link)
    refused(capsys, ["train", *SMALL, "--d", str(D), "--support", "0,1", "--init",
                     str(inputs["init"]), "--json", str(link)], "--json", "--init")


def test_json_and_save_onto_the_same_file_are_refused(tmp_path, no_work, capsys):
    path = str(tmp_path / "r.json")
    refused(capsys, ["train", *SMALL, "--json", path, "--save", path], "--save", "--json")
    assert not os.path.exists(path)


@pytest.mark.parametrize("flag", ["--json", "--save"])
def test_an_empty_output_path_is_refused(no_work, capsys, flag):
    refused(capsys, ["train", *SMALL, flag, ""], flag, "empty")


@pytest.mark.parametrize("flag", ["--json", "--save"])
def test_a_new_folder_path_is_refused_before_work(tmp_path, no_work, capsys, flag):
    path = str(tmp_path / "newdir") + os.sep
    refused(capsys, ["train", *SMALL, flag, path], flag, "folder")
    assert not os.path.exists(path)


@pytest.mark.parametrize("flag", ["--json", "--save"])
def test_a_missing_parent_folder_is_refused_and_not_made(tmp_path, no_work, capsys, flag):
    path = tmp_path / "no" / "such" / "out.json"
    refused(capsys, ["train", *SMALL, flag, str(path)], flag, "does not exist")
    assert not (tmp_path / "no").exists()


def test_save_onto_the_folder_of_the_json_is_refused(tmp_path, no_work, capsys):
    refused(capsys, ["train", *SMALL, "--json", str(tmp_path / "out" / "r.json"),
                     "--save", str(tmp_path / "out")], "--json")
    assert not (tmp_path / "out").exists()


def test_a_parent_that_is_a_file_is_refused_with_the_os_reason(tmp_path, no_work, capsys):
    (tmp_path / "afile").write_text("x")
    refused(capsys, ["train", *SMALL, "--save", str(tmp_path / "afile" / "w.npz")],
            "--save", "cannot be written", "Not a directory")


def test_a_file_name_too_long_is_refused_before_work(tmp_path, no_work, capsys):
    path = tmp_path / ("a" * 300 + ".json")
    refused(capsys, ["train", *SMALL, "--json", str(path)], "--json", "cannot be written",
            "too long")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(sys.platform != "linux", reason="needs /dev/null")
def test_a_device_is_refused_not_replaced(no_work, capsys):
    refused(capsys, ["train", *SMALL, "--json", os.devnull], "--json", "regular file")
    assert not os.path.isfile(os.devnull)                    # still the device


@pytest.mark.parametrize("flag", ["--data", "--init", "--batches"])
def test_an_empty_input_path_is_refused_not_ignored(no_work, capsys, flag):
    refused(capsys, ["train", *SMALL, flag, ""], flag, "could not read ''")


def test_an_output_through_a_symlink_writes_the_file_it_points_to(tmp_path):
    link, real = tmp_path / "link.json", tmp_path / "real.json"
    link.symlink_to(real.name)
    assert main(["train", *SMALL, "--json", str(link)]) == 0
    assert link.is_symlink() and real.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


# ---- written whole or not at all -------------------------------------------------------

def test_a_failed_save_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    net = MLP([D, 4, 1], seed=1)
    files.save_weights(net, str(path))
    before = path.read_bytes()

    def full_disk(fh, **arrays):
        fh.write(b"PK\x03\x04 half")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError):
        files.save_weights(MLP([D, 4, 1], seed=2), str(path))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


def test_a_failed_save_in_the_cli_is_a_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    def full_disk(fh, **arrays):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", full_disk)
    json_path, save = tmp_path / "r.json", tmp_path / "w.npz"
    assert main(["train", *SMALL, "--json", str(json_path), "--save", str(save)]) == 1
    err = capsys.readouterr().err
    assert "--save" in err and "No space left on device" in err and "Traceback" not in err
    assert json_path.exists() and not save.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


# ---- non-finite is an outcome ----------------------------------------------------------

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("argv", [["--lr", "1e300", "--clip", "none"],
                                  ["--init-scale", "1e200"]])
def test_a_run_that_goes_non_finite_prints_diverged_and_exits_0(tmp_path, capsys, argv):
    path = tmp_path / "r.json"
    assert main(["train", "--steps", "50", "--n", "100", "--n-test", "50", *argv,
                 "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "diverged at step" in out and "None" not in out
    assert path.exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_sparse_regression_shows_no_none_when_non_finite(capsys):
    assert main(["train", "--steps", "50", "--n", "100", "--n-test", "50", "--lr", "1e300",
                 "--clip", "none", "--task", "sparse_regression", "--model", "diagonal"]) == 0
    out = capsys.readouterr().out
    assert "diverged at step" in out and "None" not in out


def test_the_summary_formats_every_null():
    class Result:
        config = {"optimizer": "sgd", "batch_size": 32, "lr": 0.1, "task": "support",
                  "support": [0, 1], "loss": "mse"}
        final = {k: None for k in ("irrelevant_norm", "relevant_norm", "detected_support",
                                   "precision", "recall", "train_loss", "test_loss",
                                   "wall_time", "steps_done")}
        final.update(diverged=3, engine="reference", gradient="rows")
    text = format_summary(Result())
    assert "diverged at step 3" in text and "None" not in text


# ---- bench --json ----------------------------------------------------------------------

@pytest.mark.parametrize("path, words", [
    ("{tmp}", ("folder",)), ("{tmp}/newdir/", ("folder",)), ("", ("empty",)),
    ("{tmp}/no/such/r.json", ("does not exist",))])
def test_bench_json_is_checked_before_benchmarking(tmp_path, no_work, capsys, path, words):
    refused(capsys, ["bench", "--quick", "--repeats", "1", "--json",
                     path.format(tmp=tmp_path)], "--json", *words)


def test_a_failed_benchmark_worker_is_a_message_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setattr(minisgd.bench.driver, "available", lambda fw: fw == "minisgd")
    monkeypatch.setattr(minisgd.bench.driver.subprocess, "run", lambda *a, **k: Broken())
    assert main(["bench", "--quick", "--repeats", "1"]) == 1
    err = capsys.readouterr().err
    assert "minisgd benchmark" in err and "Traceback" not in err


class Broken:
    """A worker process that exited 0 without printing its result."""
    returncode, stdout, stderr = 0, "", "killed"


def test_plot_into_a_folder_it_cannot_write_says_so_without_traceback(monkeypatch, capsys):
    import errno

    import minisgd.sweep.plots as plots

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/ro/x.png")
    monkeypatch.setattr(plots, "plot_path", read_only)
    assert main(["plot", "run.json", "--out", "/ro"]) == 1
    err = capsys.readouterr().err
    assert "cannot write the figures to /ro: Permission denied (/ro/x.png)" in err


def test_plot_refuses_an_out_folder_inside_the_sweeps_runs(tmp_path, capsys):
    from minisgd.sweep.config import parse_sweep
    from minisgd.sweep.runner import execute_sweep
    sweep = tmp_path / "sw"
    execute_sweep(parse_sweep("[run]\nsteps = 5\nn = 40\n"), str(sweep), workers=1, quiet=True)
    with pytest.raises(SystemExit) as info:
        main(["plot", str(sweep), "--out", str(sweep / "runs" / "x.json")])
    assert info.value.code == 2 and "inside the sweep's runs/ folder" in capsys.readouterr().err
    assert not (sweep / "runs" / "x.json").exists()
