"""The large-step experiments run end to end at a tiny scale: outputs written, every run
accounted for (diverged ones counted, not crashing), the published schedule as written."""
import importlib.util
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
import large_steps_diag  # noqa: E402
import large_steps_relu  # noqa: E402


def test_large_steps_diag_tiny(tmp_path):
    rows, draws, published = large_steps_diag.main(
        ["--out", str(tmp_path), "--data-seeds", "1", "--sgd-seeds", "1", "--scan-seeds", "1",
         "--scan-steps", "300", "--steps", "600", "--workers", "1"])
    for name in ("l0_test.png", "stabilization.png", "summary.json"):
        assert (tmp_path / name).exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [r["arm"] for r in summary["table"]] == large_steps_diag.ARM_ORDER
    for r in rows:
        assert r["runs"] == r["diverged"] + len(r["l0"])
    assert set(published) == {"small const", "large const", "large, decay 10%",
                              "large, decay 30%", "large, decay 50%"}


def test_published_schedule():
    s = large_steps_relu.PublishedSchedule(0.04, 10001, warmup_factor=6.0, p=0.1, decay=3.5)
    assert s(0) == 0.04
    assert s(999) == pytest.approx(0.04 * (1 + 5 * (999 / 10001) ** 0.5))
    assert s(1000) == pytest.approx(0.04 * (1 + 5 * (1000 / 10001) ** 0.5) / 3.5)
    assert s(9000) == s(1000)
    assert large_steps_relu.PublishedSchedule(0.011, 10001)(5000) == 0.011


def test_large_steps_relu_tiny(tmp_path):
    rows, results = large_steps_relu.main(["--out", str(tmp_path), "--data-seeds", "1",
                                           "--seeds", "1", "--steps", "120", "--workers", "1"])
    for name in ("feature_sparsity.png", "stabilization.png", "summary.json"):
        assert (tmp_path / name).exists()
    assert len(results) == sum(len(a) for a in large_steps_relu.ARMS.values())
    for r in rows:
        assert r["runs"] == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    v = large_steps_relu.verdict(summary)                  # what `minisgd report` calls
    assert v["verdict"] in ("reproduced", "partly", "not reproduced", "opposite")
    assert v["seeds"] == 1 and "three-layer" in v["effect"] and "two-layer" in v["effect"]


def fake_teacher_runs(active, test, pairs=8):
    """summary["runs"] for teacher_verdict(): per setup, arm index -> (active fraction in
    every layer, test loss), the same in every (draw, seed) pair but a tiny per-pair jitter."""
    runs = []
    for setup, arms in large_steps_relu.TEACHER_ARMS.items():
        layers = len(large_steps_relu.SETUPS[setup]["student"])
        for i, k in enumerate(arms):
            for j in range(pairs):
                final = {"diverged": False, "test_loss": test[i] + 1e-6 * j,
                         **{f"active_fraction_L{l}": active[i] + 1e-6 * j
                            for l in range(1, layers + 1)}}
                runs.append({"setup": setup, "arm": k, "data_seed": j // 4, "seed": j % 4,
                             "final": final})
    return {"runs": runs}


def test_teacher_verdict_rule_on_made_up_runs():
    v = large_steps_relu.teacher_verdict
    assert large_steps_relu.sign_test(8, 8) == 1 / 256 and large_steps_relu.sign_test(0, 8) == 1
    assert v(fake_teacher_runs([0.6, 0.5, 0.4, 0.3], [1.0, 0.5, 0.4, 0.3]))["verdict"] == \
        "reproduced"
    # sparser but worse test loss: partly; a non-monotone middle arm breaks (a)
    assert v(fake_teacher_runs([0.6, 0.5, 0.4, 0.3], [1.0, 1.5, 1.4, 1.3]))["verdict"] == "partly"
    assert v(fake_teacher_runs([0.6, 0.3, 0.4, 0.5], [1.0, 1.5, 1.4, 1.3]))["verdict"] == \
        "not reproduced"
    assert v(fake_teacher_runs([0.3, 0.4, 0.5, 0.6], [1.0, 1.5, 1.4, 1.3]))["verdict"] == \
        "opposite"
    # too few pairs for the sign test: 4 of 4 below gives p = 1/16 > 0.05
    few = fake_teacher_runs([0.6, 0.5, 0.4, 0.3], [1.0, 1.5, 1.4, 1.3], pairs=4)
    assert v(few)["verdict"] == "not reproduced"
    # a diverged run leaves its pair
    runs = fake_teacher_runs([0.6, 0.5, 0.4, 0.3], [1.0, 0.5, 0.4, 0.3], pairs=5)
    runs["runs"][-1]["final"]["diverged"] = 10
    assert "in 4/4 pairs" in v(runs)["effect"] and v(runs)["verdict"] == "partly"


# ---- the real-data mode (--dataset) ---------------------------------------------------------
needs_mnist1d = pytest.mark.skipif(importlib.util.find_spec("mnist1d") is None,
                                   reason="the mnist1d package is not installed")


def test_large_steps_relu_defaults_unchanged():
    args = large_steps_relu.parse_args([])
    assert (args.steps, args.seeds, args.data_seeds, args.dataset) == (10_001, 4, 4, None)
    assert args.out == os.path.join("results", "large_steps_relu")
    full = large_steps_relu.parse_args(["--full"])
    assert (full.seeds, full.data_seeds) == (8, 8)


def test_large_steps_relu_real_defaults():
    args = large_steps_relu.parse_args(["--dataset", "mnist1d"])
    d = large_steps_relu.REAL["mnist1d"]
    assert (args.width, args.batch_size, args.steps, args.lr_small, args.lr_large) == \
        (d["width"], d["batch_size"], d["steps"], d["lr_small"], d["lr_large"])
    assert args.seeds >= 3 and args.keep == [0.1, 0.3, 0.5]
    assert args.out == os.path.join("results", "large_steps_relu_mnist1d")


@pytest.mark.parametrize("argv, flag", [
    (["--lr-large", "0.5"], "--lr-large"),                  # a real-data option alone
    (["--keep", "0.2"], "--keep"),
    (["--dataset", "mnist1d", "--data-seeds", "2"], "--data-seeds"),
    (["--dataset", "mnist1d", "--lr-small", "0.5", "--lr-large", "0.5"], "--lr-small"),
    (["--dataset", "mnist1d", "--keep", "0.1,1.5"], "--keep"),
    (["--dataset", "mnist1d", "--n", "4001"], "--n"),
    (["--dataset", "mnist1d", "--n", "20", "--batch-size", "32"], "--batch-size"),
    (["--dataset", "mnist1d", "--lr-large", "0"], "--lr-large"),
    (["--dataset", "cifar10"], "--dataset")])
def test_large_steps_relu_real_bad_args(argv, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        large_steps_relu.parse_args(argv)
    assert exc.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err


def test_real_arms_schedules():
    s = {"steps": 1000, "lr_small": 0.05, "lr_large": 0.5, "keep": (0.1, 0.3, 0.5)}
    arms = large_steps_relu.real_arms(s)
    assert len(arms) == 5
    assert {arms[0][1](t) for t in (0, 500, 999)} == {0.05}
    for (_, sched), p in zip(arms[1:4], s["keep"]):
        t_d = int(p * 1000)
        assert sched(0) == sched(t_d - 1) == 0.5
        assert sched(t_d) == pytest.approx(0.05) and sched(999) == pytest.approx(0.05)
    assert arms[4][1](999) == 0.5
    assert large_steps_relu.large_phase(s, 0) == (50, 500)    # the small arm: longest window
    assert large_steps_relu.large_phase(s, 1) == (50, 100)
    assert large_steps_relu.large_phase(s, 4) == (50, 1000)


def fake_rows(small_fs, decayed_fs, small_err, decayed_err, ratio_long=1.1, ratio_small=0.3):
    """Rows as summarize_real makes them: 3 seeds, the same numbers in both layers."""
    def row(fs, err, ratio):
        r = {"diverged": 0, "collapsed": 0, "phase_ratio_per_seed": [ratio] * 3,
             "test_error_per_seed": list(err), "test_error": [float(np.mean(err)), 0.0]}
        for l in (1, 2):
            r[f"feature_sparsity_L{l}_per_seed"] = list(fs)
            r[f"feature_sparsity_L{l}"] = [float(np.mean(fs)), 0.0]
        return r
    return [row(small_fs, small_err, ratio_small)] + \
        [row(f, e, ratio_long) for f, e in zip(decayed_fs, decayed_err)]


def test_real_verdict_rule():
    s = {"keep": (0.1, 0.3, 0.5)}
    fs = [(0.5, 0.52, 0.48), (0.4, 0.41, 0.39), (0.3, 0.31, 0.29), (0.2, 0.21, 0.19)]
    err = [(0.38, 0.39, 0.37), (0.32, 0.33, 0.31), (0.31, 0.31, 0.30), (0.30, 0.29, 0.30)]
    verdict = large_steps_relu.real_verdict
    assert verdict(fake_rows(fs[0], fs[1:], err[0], err[1:]), s)["verdict"] == "reproduced"
    # test error rising clearly from decay 10 % to 30 %: partly
    rising = [err[1], (0.36, 0.37, 0.365), (0.36, 0.37, 0.365)]
    v = verdict(fake_rows(fs[0], fs[1:], err[0], rising), s)
    assert v["verdict"] == "partly" and not v["checks"]["test_error_does_not_rise"]
    # sparsity rising and test error worse, the longer the worse: not reproduced
    v = verdict(fake_rows(fs[3], fs[:3][::-1], err[3], err[:3][::-1]), s)
    assert v["verdict"] == "not reproduced"
    # the large step's loss still falling: no stabilization, inconclusive
    v = verdict(fake_rows(fs[0], fs[1:], err[0], err[1:], ratio_long=0.2), s)
    assert v["verdict"].startswith("inconclusive")


@needs_mnist1d
def test_large_steps_relu_real_tiny(tmp_path):
    rows, results, verdict = large_steps_relu.main(
        ["--dataset", "mnist1d", "--n", "200", "--steps", "200", "--seeds", "2", "--width", "16",
         "--workers", "1", "--out", str(tmp_path)])
    for name in ("feature_sparsity.png", "training.png", "summary.json"):
        assert (tmp_path / name).exists()
    assert [r["runs"] for r in rows] == [2] * 5 and len(results) == 10
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["verdict"]["verdict"] == verdict["verdict"]
    report = large_steps_relu.verdict(summary)             # what `minisgd report` calls
    assert verdict["verdict"].startswith(report["verdict"]) and report["seeds"] == 2
    assert report["rule"] == verdict["rule"] and {"effect", "spread", "published"} <= set(report)
    for r in rows:
        for l in (1, 2):
            assert 0 <= r[f"feature_sparsity_L{l}"][0] <= r[f"active_fraction_L{l}"][0] <= 1
        assert 0 <= r["test_error"][0] <= 1
    decayed = [r for r in results if r["arm"] == 1 and r["seed"] == 0][0]["history"]
    lrs = dict(zip(decayed["step"], decayed["lr"]))
    assert lrs[19] == 0.5 and lrs[20] == pytest.approx(0.05)      # decay at 10 % of 200
    again, _, _ = large_steps_relu.main(
        ["--dataset", "mnist1d", "--n", "200", "--steps", "200", "--seeds", "2", "--width", "16",
         "--workers", "1", "--out", str(tmp_path / "again")])
    assert [r["test_error_per_seed"] for r in again] == [r["test_error_per_seed"] for r in rows]


@needs_mnist1d
def test_large_steps_relu_real_scan_tiny(tmp_path):
    rows, runs = large_steps_relu.main(
        ["--dataset", "mnist1d", "--scan", "0.5,0.05", "--n", "200", "--steps", "100",
         "--seeds", "2", "--width", "8", "--workers", "1", "--out", str(tmp_path)])
    assert [r["lr"] for r in rows] == [0.05, 0.5] and [r["runs"] for r in rows] == [2, 2]
    assert len(runs) == 4 and (tmp_path / "summary.json").exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stabilization_onset"] in (None, 0.05, 0.5)
