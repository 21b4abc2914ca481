"""experiments/sgd_noise_shape.py at a tiny scale: it runs, writes its outputs, and its
numbers are the library's."""
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
import sgd_noise_shape as exp  # noqa: E402


def test_tiny_run_writes_figures_table_and_summary(tmp_path, capsys):
    out = tmp_path / "ns"
    results = exp.main(["--quick", "--steps", "40", "--headline-b", "64", "--class-b", "64",
                        "--class-n", "600", "--workers", "1", "--out", str(out)])
    for name in ("noise_shape.png", "tail_vs_batch.png", "summary.json"):
        assert (out / name).exists()
    summary = json.loads((out / "summary.json").read_text())
    assert [r["task"] for r in summary["runs"]] == ["headline", "classification"]
    assert "Zhu ratio" in capsys.readouterr().out
    for r in results:
        steps = [p["step"] for p in r["points"]]
        assert steps == exp.record_steps(40, True)
        for p in r["points"]:
            assert len(p["spectrum"]) == p["D"]
            assert p["zhu_ratio"] > 0 and 0 <= p["subspace_top5"] <= 1 + 1e-12
            assert np.sum(p["spectrum"]) == pytest.approx(p["trace"], rel=1e-9)


def test_bad_steps_are_refused():
    with pytest.raises(SystemExit):
        exp.parse_args(["--steps", "3"])
