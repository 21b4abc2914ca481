"""The large-step experiments run end to end at a tiny scale: outputs written, every run
accounted for (diverged ones counted, not crashing), the published schedule as written."""
import json
import os
import sys

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
