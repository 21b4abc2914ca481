"""The headline experiment script end to end, at a tiny scale."""
import json

import pytest

from experiment_scripts import load_script



def test_support_experiment_writes_figures_and_table(tmp_path, capsys):
    support = load_script("support")
    rows = support.main(["--out", str(tmp_path), "--sgd-steps", "400", "--gd-steps", "40",
                         "--reg-steps", "200", "--n", "300", "--batch-sizes", "1,32"])
    assert [r["arm"] for r in rows][:3] == ["SGD b=1", "SGD b=32", "GD"]
    assert len(rows) == 5
    for name in ("irrelevant_norm.png", "heatmaps.png"):
        with open(tmp_path / name, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["runs"]) == {r["arm"] for r in rows}
    # every arm starts from the same initial weights (same seed -> same data and init)
    starts = {r["irrelevant_start"] for r in rows}
    assert len(starts) == 1
    # the explicit regularizers remove the irrelevant weights quickly; plain GD does not
    by_arm = {r["arm"]: r for r in rows}
    assert by_arm["GD + weight decay 0.1"]["irrelevant_norm"] < 0.5 * by_arm["GD"]["irrelevant_norm"]
    out = capsys.readouterr().out
    assert "| arm |" in out and "SGD b=32" in out


def test_support_experiment_rejects_bad_batch_sizes(tmp_path):
    support = load_script("support")
    with pytest.raises(SystemExit) as exc:
        support.main(["--out", str(tmp_path), "--batch-sizes", "1,x"])
    assert exc.value.code == 2


def test_support_experiment_with_seeds_reports_mean_and_spread(tmp_path, capsys):
    support = load_script("support")
    rows = support.main(["--out", str(tmp_path), "--sgd-steps", "300", "--gd-steps", "30",
                         "--reg-steps", "100", "--n", "300", "--batch-sizes", "1,128",
                         "--seeds", "3", "--workers", "2"])
    assert [r["arm"] for r in rows][:3] == ["SGD b=1", "SGD b=128", "GD"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    for label, finals in summary["finals"].items():
        assert [f["steps_done"] for f in finals] and len(finals) == 3
    # the spread is over seeds that really differ, and each member is its single run
    by_arm = {r["arm"]: r for r in rows}
    assert by_arm["GD"]["irrelevant_norm"][1] > 0
    from minisgd.train import Config, train
    single = train(Config(optimizer="gd", steps=30, n=300, seed=1))
    assert summary["finals"]["GD"][1]["irrelevant_norm"] == single.final["irrelevant_norm"]
    assert "± " in capsys.readouterr().out
    with open(tmp_path / "irrelevant_norm.png", "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
