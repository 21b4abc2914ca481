"""The square-loss experiment scripts (low_rank, sgd_noise, neural_collapse) end to end at
a tiny scale: each writes its PNG and summary.json, prints its table, flags constant
predictors, and rejects bad options with exit status 2."""
import json

import pytest

from experiment_scripts import assert_png, load_script

TINY = ["--depth", "2", "--width", "8", "--n", "60", "--workers", "1", "--seeds", "1"]


def test_low_rank_script(tmp_path, capsys):
    rows = load_script("low_rank").main(TINY + [
        "--out", str(tmp_path), "--steps", "40", "--batch-sizes", "4,16", "--lrs", "0.1,0.4",
        "--wds", "0,1e-3", "--base-wd", "1e-3", "--tol", "1e-3,1e-1"])
    groups = [r["group"] for r in rows]
    assert groups.count("batch, fixed steps") == 2 and groups.count("batch, fixed epochs") == 2
    assert groups.count("step size x weight decay") == 4
    fixed_epochs = [r for r in rows if r["group"] == "batch, fixed epochs"]
    assert [r["steps"] for r in fixed_epochs] == [160, 40]     # 40 * 16 / 60 epochs each
    assert all(r["rank@0.1"] <= r["rank@0.001"] <= r["full_rank"] for r in rows)
    assert all(1.0 <= r["stable_rank"] <= r["full_rank"] for r in rows)
    assert all(r["constant"] in (0, 1) for r in rows)
    assert_png(tmp_path / "low_rank.png")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["runs"]) == 2 + 1 + 3 + 2 + 2               # shared runs counted once
    assert "| arms | b |" in capsys.readouterr().out


def test_sgd_noise_script(tmp_path, capsys):
    rows = load_script("sgd_noise").main(TINY + [
        "--out", str(tmp_path), "--steps", "60", "--gd-steps", "5", "--batch-sizes", "4",
        "--lrs", "0.2", "--wds", "1e-2"])
    assert len(rows) == 5 + 3
    assert all(r["noise_end"] > 0 for r in rows)
    gd = next(r for r in rows if r["batch_size"] == "N")
    assert gd["steps"] == 5
    assert_png(tmp_path / "sgd_noise.png")
    runs = json.loads((tmp_path / "summary.json").read_text())["runs"]
    assert runs[0]["window"][-1] > 0 and runs[0]["noise"][0] is None
    assert "| arm | b |" in capsys.readouterr().out


def test_neural_collapse_script(tmp_path, capsys):
    rows = load_script("neural_collapse").main(TINY + [
        "--out", str(tmp_path), "--steps", "60", "--classes", "3"])
    assert [r["arm"] for r in rows] == ["SGD + WD 0.0003 + WN", "SGD + WN, no WD",
                                        "SGD + WD 0.0003, no WN"]
    assert all(0.0 <= r["nc4"] <= 1.0 and r["nc1"] > 0 for r in rows)
    assert_png(tmp_path / "neural_collapse.png")
    assert "| arm | train acc |" in capsys.readouterr().out


@pytest.mark.parametrize("script, argv, message", [
    ("low_rank", ["--tol", "0"], "argument --tol: tol must be > 0"),
    ("low_rank", ["--tol", "1e-3,-1"], "argument --tol: tol must be > 0"),
    ("low_rank", ["--steps", "0"], "argument --steps: must be >= 1"),
    ("low_rank", ["--batch-sizes", "8", "--base-b", "16"], "argument --base-b: must be one of"),
    ("variants", ["--only", "0,0"], "argument --only: must be distinct"),
    ("variants", ["--only", ""], "argument --only: must be distinct"),
    ("variants", ["--only", "-1"], "argument --only: must be distinct"),
    ("init_dependence", ["--data-seed", "-1"], "argument --data-seed"),
    ("sgd_noise", ["--wd", "0"], "arguments --lr and --wd must be > 0"),
    ("neural_collapse", ["--width", "3", "--classes", "5"],
     "argument --width: neural collapse needs at least classes - 1 = 4 units"),
])
def test_bad_options_exit_with_status_2(script, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script(script).main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_made_ends_the_script_with_status_2(tmp_path, capsys):
    afile = tmp_path / "taken"
    afile.write_text("keep me")
    with pytest.raises(SystemExit) as exit_info:
        load_script("variants").main(["--out", str(afile), "--steps", "5", "--n", "40"])
    assert exit_info.value.code == 2 and afile.read_text() == "keep me"
    assert "argument --out: cannot make the folder" in capsys.readouterr().err


def test_noise_coordinates_constant_over_the_batches_used_are_left_out():
    import numpy as np
    noise = np.random.default_rng(0).standard_normal((40, 6))       # K1 = 6: 36 rows used
    noise[:, 1] = 0.0                                               # dead
    noise[:36, 2] = 0.5                                             # constant where used
    noise[36:, 2] = 1.0
    alphas = load_script("sgd_noise_shape").coordinate_alphas(noise)
    assert alphas.shape == (4,)
