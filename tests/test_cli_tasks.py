"""The new tasks through the command line: flags, data files, init/save files, bad input
(exit status 2 and a message naming the option, before any work), sweeps and plots."""
import json

import numpy as np
import pytest

from minisgd.__main__ import main
from minisgd.sweep import execute_sweep
from minisgd.sweep.config import parse_sweep

CLS = ["train", "--task", "classification", "--classes", "3", "--d", "6", "--n", "120",
       "--n-test", "60", "--depth", "1", "--width", "8", "--activation", "relu", "--steps", "50"]
SPARSE = ["train", "--task", "sparse_regression", "--model", "diagonal", "--d", "30",
          "--support", "0,1,2", "--n", "20", "--n-test", "50", "--steps", "100",
          "--batch-size", "4"]


def run(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr().out


def test_classification_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run.json"
    code, text = run(CLS + ["--loss", "cross_entropy", "--json", str(out), "--metrics",
                            "layer_norms"], capsys)
    assert code == 0 and "train accuracy" in text and "cross-entropy" in text
    record = json.loads(out.read_text())
    assert record["config"]["task"] == "classification" and record["config"]["support"] is None
    assert "test_accuracy" in record["history"] and "norm_W0" in record["final"]


def test_sparse_regression_save_and_init_round_trip(tmp_path, capsys):
    saved = tmp_path / "final.npz"
    code, text = run(SPARSE + ["--save", str(saved), "--json", str(tmp_path / "a.json")], capsys)
    assert code == 0 and "l0 of beta" in text
    with np.load(saved) as arrays:
        assert set(arrays) == {"u", "v"} and arrays["u"].shape == (30,)
    code, _ = run(SPARSE + ["--init", str(saved), "--steps", "1", "--lr", "1e-12",
                            "--json", str(tmp_path / "b.json")], capsys)
    assert code == 0
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["history"]["train_loss"][0] == pytest.approx(a["final"]["train_loss"], rel=1e-12)


def write_data(path, y, y_test=None, d=4, rows=None):
    rng = np.random.default_rng(0)
    rows = len(y) if rows is None else rows
    arrays = {"X": rng.standard_normal((rows, d)), "y": y}
    if y_test is not None:
        arrays.update(X_test=rng.standard_normal((len(y_test), d)), y_test=y_test)
    np.savez(path, **arrays)
    return str(path)


CLS_FILE = ["train", "--task", "classification", "--depth", "1", "--width", "8", "--steps", "20",
            "--batch-size", "4"]


@pytest.mark.parametrize("one_hot", [False, True])
def test_classification_data_file_int_or_one_hot(tmp_path, capsys, one_hot):
    labels = np.arange(30) % 3
    y = np.eye(3)[labels] if one_hot else labels
    path = write_data(tmp_path / "d.npz", y)
    out = tmp_path / "r.json"
    code, _ = run(CLS_FILE + ["--data", path, "--json", str(out)], capsys)
    assert code == 0
    config = json.loads(out.read_text())["config"]
    assert config["classes"] == 3 and config["d"] == 4 and config["dataset"] is None


def test_regression_targets_of_shape_n_by_1_are_accepted(tmp_path, capsys):
    rng = np.random.default_rng(1)
    path = write_data(tmp_path / "d.npz", rng.standard_normal((40, 1)), d=15)
    code, _ = run(["train", "--data", path, "--steps", "10", "--batch-size", "8"], capsys)
    assert code == 0


@pytest.mark.parametrize("y, extra, message", [
    (np.array([0, 1, 5, 1]), ["--classes", "3"], r"--data .*labels must be < classes.*label 5"),
    (np.zeros(4, dtype=int), [], r"at least two classes"),
    (np.array([[1, 0], [1, 1], [0, 1], [1, 0]]), [], r"one-hot rows.*row 1 is \[1, 1\]"),
    (np.array([[0.5, 0.5], [1, 0], [0, 1], [1, 0]]), [], r"one-hot rows"),
    (np.array([0, -1, 1, 0]), [], r"--data .*y values must be >= 0"),
    (np.array([0.0, 1.0, 1.0, 0.0]), [], r"--data .*y must be a numpy array of ints"),
])
def test_bad_label_files_exit_2_naming_the_problem(tmp_path, capsys, y, extra, message):
    path = write_data(tmp_path / "d.npz", y)
    with pytest.raises(SystemExit) as stop:
        main(CLS_FILE + ["--data", path] + extra)
    assert stop.value.code == 2
    assert __import__("re").search(message, capsys.readouterr().err)


@pytest.mark.parametrize("argv, message", [
    (CLS + ["--random-labels", "1.5"], r"--random-labels: random_labels must be"),
    (SPARSE + ["--l0-threshold", "0"], r"--l0-threshold: l0_threshold must be"),
    (SPARSE + ["--depth", "2"], r"--depth: depth does not apply"),
    (SPARSE + ["--width", "4"], r"--width: width does not apply"),
    (SPARSE + ["--weight-norm", "layer"], r"--weight-norm: weight_norm does not apply"),
    (CLS + ["--classes", "1"], r"--classes: classes must be an int in \[2"),
    (CLS + ["--dataset", "cifar"], r"--dataset: invalid choice"),
    (["train", "--loss", "cross_entropy"], r"--loss: loss='cross_entropy' needs"),
    (CLS + ["--metrics", "no_such_set"], r"--metrics: metrics: unknown metric set .no_such_set."),
])
def test_bad_task_flags_exit_2_naming_the_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert __import__("re").search(message, capsys.readouterr().err)


SWEEP = """
[run]
task = "classification"
classes = 3
d = 6
n = 90
n_test = 60
depth = 1
width = 8
activation = "relu"
steps = 60
metrics = ["layer_norms"]
[sweep]
loss = ["mse", "cross_entropy"]
random_labels = [0.0, 0.5]
seed = [0, 1]
"""


def test_sweep_over_task_keys_resumes_and_plots(tmp_path, capsys):
    spec = parse_sweep(SWEEP)
    assert len(spec.configs) == 8 and {"loss", "random_labels", "seed"} <= set(spec.axes)
    out = str(tmp_path / "sweep")
    report = execute_sweep(spec, out, workers=1, quiet=True)
    assert report.done == 8 and report.complete
    again = execute_sweep(spec, out, workers=1, quiet=True)
    assert again.skipped == 8 and again.done == 0
    summary = (tmp_path / "sweep" / "summary.csv").read_text().splitlines()
    assert "test_accuracy" in summary[0] and "clean_accuracy" in summary[0]
    assert main(["plot", out]) == 0
    written = capsys.readouterr().out.split()
    assert any(p.endswith("accuracy.png") for p in written)
    assert any(p.endswith("test_accuracy_vs_random_labels.png") for p in written) or \
        any(p.endswith("_vs_loss.png") for p in written)


def test_sweep_refuses_a_bad_task_key_before_running(tmp_path):
    from minisgd.sweep.config import SweepConfigError
    with pytest.raises(SweepConfigError, match=r"line \d+.*random_labels"):
        parse_sweep(SWEEP.replace("random_labels = [0.0, 0.5]", "random_labels = [0.0, 2.0]"))
    with pytest.raises(SweepConfigError, match=r"metrics must be a list of strings"):
        parse_sweep(SWEEP.replace('metrics = ["layer_norms"]', "metrics = [1]"))


@pytest.mark.parametrize("kind", ["layer", "unit"])
def test_weight_norm_save_and_init_round_trip(tmp_path, capsys, kind):
    base = CLS + ["--weight-norm", kind, "--depth", "2"]
    saved = tmp_path / "wn.npz"
    assert run(base + ["--save", str(saved), "--json", str(tmp_path / "a.json")], capsys)[0] == 0
    with np.load(saved) as arrays:
        assert {"g0", "g1"} <= set(arrays) and "g2" not in arrays     # hidden layers only
    assert run(base + ["--init", str(saved), "--steps", "1", "--lr", "1e-300",
                       "--json", str(tmp_path / "b.json")], capsys)[0] == 0
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["history"]["train_loss"][0] == a["final"]["train_loss"]
    with pytest.raises(SystemExit) as stop:
        main(CLS + ["--depth", "2", "--init", str(saved)])
    assert stop.value.code == 2 and "weight_norm must be 'layer' or 'unit'" in capsys.readouterr().err


def test_a_flag_disagreeing_with_the_data_file_is_refused(tmp_path, capsys):
    """--d 20 with a 4-column data file: refused (it used to train at 4 and say nothing)."""
    path = write_data(tmp_path / "d.npz", np.random.default_rng(0).standard_normal(30))
    with pytest.raises(SystemExit) as stop:
        main(["train", "--data", path, "--d", "20", "--support", "0,1", "--steps", "5"])
    assert stop.value.code == 2
    assert "d = 20 disagrees with the data's columns, which has 4" in capsys.readouterr().err
    out = tmp_path / "r.json"
    assert main(["train", "--data", path, "--support", "0,1", "--steps", "5", "--batch-size",
                 "4", "--quiet", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["config"]["d"] == 4 and record["given"]["d"] == "the data's columns"
