"""experiments/sgd_noise_shape.py at a tiny scale: it runs, writes its outputs, and its
numbers are the library's."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
import sgd_noise_shape as exp  # noqa: E402


SCRIPT = os.path.join(os.path.dirname(__file__), "..", "experiments", "sgd_noise_shape.py")


def test_tiny_run_writes_figures_table_and_summary(tmp_path):
    """In a subprocess, as a person runs it, with one BLAS thread exported: a run in one
    process (--workers 1) takes the environment's setting, and two threads on these tiny
    matrices make the run 4x slower (in this process numpy is loaded already)."""
    out = tmp_path / "ns"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, SCRIPT, "--quick", "--steps", "40", "--headline-b",
                           "64", "--class-b", "64", "--class-n", "600", "--workers", "1",
                           "--out", str(out)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Zhu ratio" in done.stdout
    for name in ("noise_shape.png", "tail_vs_batch.png", "summary.json"):
        assert (out / name).exists()
    results = json.loads((out / "summary.json").read_text())["runs"]
    assert [r["task"] for r in results] == ["headline", "classification"]
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
