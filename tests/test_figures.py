"""Figures of sweeps and runs: `python -m minisgd plot` on a sweep folder (with a diverged
and a failed run in it) and on run files, in PNG / PDF / SVG; the numbers behind the
metric-vs-axis plot on hand-built records; errors exit 2."""
import json
import os

import numpy as np
import pytest

from minisgd.report import figures as plots
from minisgd.__main__ import main
from minisgd.sweep import execute_sweep
from minisgd.sweep.plots import arm_label, metric_lines, plot_path
from minisgd.sweep.config import parse_sweep
from minisgd.train import Config, config_dict, train

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml"}
CONFIG = """
[run]
n = 200
n_test = 100
steps = 300
[[sweep]]
batch_size = [1, 32]
seed = [0, 1]
[[sweep]]
optimizer = ["gd"]
steps = [60]
seed = [0, 1]
[[sweep]]                 # diverges
lr = [50.0]
clip = ["none"]
seed = [0]
"""


def failing_gd_seed_1(config, on_record=None):
    if config.optimizer == "gd" and config.seed == 1:
        raise RuntimeError("this run fails")
    return train(config, on_record=on_record)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    report = execute_sweep(parse_sweep(CONFIG), str(out), workers=1, ensemble=False,
                           quiet=True, run_fn=failing_gd_seed_1)
    assert (report.done, report.failed, report.diverged) == (7, 1, 1)
    return out


def assert_figure(path, fmt):
    with open(path, "rb") as fh:
        head = fh.read(200)
    assert head.startswith(MAGIC[fmt]), (path, head[:20])
    if fmt == "svg":
        assert b"<svg" in head
    assert os.path.getsize(path) > 1000


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_sweep_folder_figures_in_each_format(folder, tmp_path, fmt):
    paths = plot_path(str(folder), str(tmp_path), fmt)
    assert [os.path.basename(p) for p in paths] == [
        f"irrelevant_norm.{fmt}", f"heatmaps.{fmt}", f"irrelevant_norm_vs_batch_size.{fmt}"]
    for path in paths:
        assert_figure(path, fmt)


def test_plot_cli_on_a_folder_and_on_a_run_file(folder, capsys):
    assert main(["plot", str(folder)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed[0] == os.path.join(str(folder), "plots", "irrelevant_norm.png")
    for path in printed:
        assert_figure(path, "png")
    run = sorted((folder / "runs").iterdir())[0]
    assert main(["plot", str(run), "--format", "pdf", "--out", str(folder / "one")]) == 0
    assert sorted(os.listdir(folder / "one")) == [f"{run.stem}_heatmaps.pdf",
                                                 f"{run.stem}_irrelevant_norm.pdf"]


def test_plot_of_a_train_json_without_weights(tmp_path, capsys):
    path = tmp_path / "run.json"
    assert main(["train", "--n", "200", "--n-test", "100", "--steps", "100", "--json",
                 str(path), "--quiet"]) == 0
    assert main(["plot", str(path)]) == 0
    assert sorted(os.listdir(tmp_path)) == ["run.json", "run_irrelevant_norm.png"]


@pytest.mark.parametrize("argv, message", [
    (["plot", "/nonexistent/run.json"], "cannot read run file"),
    (["plot", "{empty}"], "holds no usable run files"),
    (["plot", "{folder}", "--x", "width"], "--x must be a swept key"),
    (["plot", "{folder}", "--metric", "accuracy"], "not a final metric"),
    (["plot", "{folder}", "--format", "jpg"], "invalid choice"),
])
def test_plot_errors_exit_2(folder, tmp_path, capsys, argv, message):
    argv = [a.format(empty=tmp_path, folder=folder) for a in argv]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


def record(optimizer="sgd", batch_size=32, seed=0, lr=0.1, value=1.0):
    config = config_dict(Config(optimizer=optimizer, batch_size=batch_size if optimizer == "sgd"
                                else None, seed=seed, lr=lr, n=100).validate())   # as recorded
    return {"config": config, "final": {"irrelevant_norm": value}, "history": {}}


def test_metric_lines_mean_std_over_seeds_and_gd_at_the_full_batch():
    records = [record(batch_size=b, seed=s, lr=lr, value=v)
               for b, s, lr, v in [(1, 0, 0.1, 1.0), (1, 1, 0.1, 3.0), (32, 0, 0.1, 2.0),
                                   (1, 0, 0.2, 5.0), (32, 0, 0.2, 6.0)]]
    records.append(record(optimizer="gd", value=4.0))
    lines, xticks, log_x = metric_lines(records, ["optimizer", "batch_size", "lr"], "batch_size",
                                        "irrelevant_norm")
    by_label = {label: (xs, means, stds, counts) for label, xs, means, stds, counts in lines}
    assert by_label["SGD, lr=0.1"] == ([1, 32], [2.0, 2.0], [np.std([1.0, 3.0], ddof=1), 0.0],
                                       [2, 1])
    assert by_label["SGD, lr=0.2"] == ([1, 32], [5.0, 6.0], [0.0, 0.0], [1, 1])
    assert by_label["GD, lr=0.1"][0] == [200]                 # GD at b = N = 2n
    assert xticks is None and log_x


def test_categorical_axis_and_labels():
    records = [record(optimizer=o, value=v) for o, v in (("sgd", 1.0), ("gd", 2.0))]
    lines, xticks, log_x = metric_lines(records, ["optimizer"], "optimizer", "irrelevant_norm")
    assert xticks == ([0, 1], ["gd", "sgd"]) and not log_x
    assert lines == [("all runs", [0, 1], [2.0, 1.0], [0.0, 0.0], [1, 1])]
    config = record(batch_size=128)["config"]
    assert arm_label(config, ["batch_size", "seed"]) == "SGD b=128, seed=0"
    assert arm_label({**config, "weight_decay": 0.0, "optimizer": "gd"},
                     ["optimizer", "weight_decay"]) == "GD"
    assert arm_label({**config, "weight_decay": 0.1}, ["weight_decay"]) == "weight_decay=0.1"


def test_drawing_functions_write_files(tmp_path):
    run = train(Config(n=100, n_test=50, steps=50)).to_dict()
    short = json.loads(json.dumps(run))
    short["history"] = {k: v[:5] for k, v in run["history"].items()}  # a diverged-like run
    plots.irrelevant_norm_groups([("a", [run, run, short]), ("b", [run])], tmp_path / "c.png")
    plots.metric_vs_axis([("a", [1, 2], [1.0, 2.0], [0.1, 0.0], [2, 1])], tmp_path / "m.svg",
                         "x", "y", log_x=True)
    assert_figure(tmp_path / "c.png", "png")
    assert_figure(tmp_path / "m.svg", "svg")


def test_plot_refuses_a_metric_that_is_not_a_number(folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plot", str(folder), "--metric", "detected_support", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--metric" in err and "irrelevant_norm" in err, err
    assert not list(tmp_path.iterdir())
