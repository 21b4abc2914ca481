"""The four mechanism experiment scripts end to end, at a tiny scale: each writes its PNG
figure(s) and summary.json, prints its markdown table, and rejects bad options with exit
status 2."""
import json

import pytest

from experiment_scripts import assert_png, load_script



def test_modified_loss_script(tmp_path, capsys):
    rows = load_script("modified_loss").main(
        ["--out", str(tmp_path), "--steps", "30", "--n", "60", "--sgd-orders", "2",
         "--substeps", "1,2"])
    assert [r["arm"] for r in rows] == [
        "SGD b=8 (2 orders)", "GD", "GD on C_SGD (b=8), step η", "GD on C + (η/4)‖∇C‖², step η",
        "GD on C_SGD (b=8), step η/2", "GD on C + (η/4)‖∇C‖², step η/2", "GD on C, step η/2"]
    assert rows[0]["fraction_of_sgd_drop"] == pytest.approx(1.0)
    assert len({r["irrelevant_start"] for r in rows}) == 1          # same initial weights
    assert all(0.0 <= r["gamma_irrelevant_share"] <= 1.0 for r in rows)
    assert_png(tmp_path / "modified_loss.png")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["runs"]) == 8 and summary["gamma_coefficient"] > 0
    assert "gamma_irrelevant" in summary["runs"]["GD"]["history"]
    assert "| arm |" in capsys.readouterr().out


def test_modified_loss_arms_give_the_same_numbers_in_workers_and_in_process(tmp_path):
    """The arms run in pool workers (one BLAS thread each) or here: the same histories."""
    script, argv = load_script("modified_loss"), ["--steps", "20", "--n", "40",
                                                  "--sgd-orders", "2", "--substeps", "1,2"]
    runs = {}
    for workers in ("1", "2"):
        out = tmp_path / workers
        script.main(["--out", str(out), "--workers", workers] + argv)
        summary = json.loads((out / "summary.json").read_text())
        runs[workers] = {label: (run["history"], {k: v for k, v in run["final"].items()
                                                  if k != "wall_time"})
                         for label, run in summary["runs"].items()}
    assert list(runs["1"]) == list(runs["2"]) and len(runs["1"]) == 8
    assert runs["1"] == runs["2"]


def test_eta_over_b_script(tmp_path, capsys):
    argv = ["--budget", "2", "--lrs", "0.1,0.2", "--ratios", "10,20", "--n", "60"]
    out = load_script("eta_over_b").main(["--out", str(tmp_path), "--workers", "1"] + argv)
    pool = load_script("eta_over_b").main(["--out", str(tmp_path / "pool"), "--workers", "2"]
                                          + argv)             # the runs in worker processes
    for a, b in zip(out["runs"] + list(out["gd"].values()),
                    pool["runs"] + list(pool["gd"].values())):
        assert a["result"].history == b["result"].history
    assert [(r["lr"], r["b"]) for r in out["runs"]] == [(0.1, 1), (0.2, 2), (0.1, 2), (0.2, 4)]
    assert sorted(out["gd"]) == [0.1, 0.2]
    for r in out["runs"]:                                 # same budget eta * t for every run
        assert r["lr"] * r["steps"] == pytest.approx(2.0)
    assert len(out["by_ratio"]) == 2 and all(g["max_spread"] >= 0 for g in out["by_ratio"])
    for name in ("collapse.png", "rates.png"):
        assert_png(tmp_path / name)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["fits"]) == {"rate", "excess"}
    text = capsys.readouterr().out
    assert "| η/b |" in text and "equal η/b = 1/10" in text


def test_init_dependence_script(tmp_path, capsys):
    rows = load_script("init_dependence").main(
        ["--out", str(tmp_path), "--seeds", "3", "--steps", "20", "--batch-sizes", "4,16",
         "--n", "60", "--workers", "1"])
    assert [r["b"] for r in rows] == [4, 16] and all(r["seeds"] == 3 for r in rows)
    for r in rows:
        assert r["spread_final"] > 0 and -1 <= r["cos_init_all"] <= 1
    assert rows[0]["spread_init"] == rows[1]["spread_init"]   # same initializations per b
    for name in ("init_dependence.png", "gram_heatmaps.png"):
        assert_png(tmp_path / name)
    assert json.loads((tmp_path / "summary.json").read_text())["table"][0]["b"] == 4
    assert "| b | seeds |" in capsys.readouterr().out


def test_variants_script(tmp_path, capsys):
    rows = load_script("variants").main(
        ["--out", str(tmp_path), "--steps", "20", "--n", "60", "--only", "0,1,7"])
    assert [r["variant"] for r in rows][::2] == [
        "baseline (linear net, linear target)", "ReLU net", "d=100, S={0,1,2}"]
    assert [r["optimizer"] for r in rows[:2]] == ["SGD b=8", "GD"]
    assert rows[-1]["d"] == 100 and rows[-1]["support"] == [0, 1, 2]
    assert rows[0]["irrelevant_start"] == rows[1]["irrelevant_start"]
    assert_png(tmp_path / "variants.png")
    assert len(json.loads((tmp_path / "summary.json").read_text())["runs"]) == 6
    assert "| variant |" in capsys.readouterr().out


@pytest.mark.parametrize("script,argv", [
    ("eta_over_b", ["--lrs", "0.1,x"]),
    ("eta_over_b", ["--lrs", "0.15", "--ratios", "10"]),          # b = 1.5 is not an int
    ("init_dependence", ["--seeds", "1"]),
    ("init_dependence", ["--batch-sizes", "4,x"]),
    ("variants", ["--only", "99"]),
    ("modified_loss", ["--steps", "0"]),
    ("modified_loss", ["--substeps", "1,0"]),
])
def test_bad_options_exit_2(tmp_path, script, argv):
    with pytest.raises(SystemExit) as exc:
        load_script(script).main(["--out", str(tmp_path)] + argv)
    assert exc.value.code == 2
