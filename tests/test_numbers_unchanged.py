"""The redesign of the readable core (one reference step, one loop, resolved configs, the
analysis wing) did not move a number: runs of minisgd 0.4.0 and of this version are equal
bit for bit -- every history column, every final metric and every final parameter -- for
the support task on the rows path, classification (square loss and cross-entropy, weight
normalization, random labels, metric sets), diagonal nets, ensembles and GD on the
modified loss. And the recorded config is the same.

How: 0.4.0 (commit REFERENCE) is unpacked from git into a temporary folder and run in a
subprocess on this machine, as tests/test_support_unchanged.py does for 0.3.0.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from old_versions import SAVE_RESULTS, ROOT, run_in, unpack
from minisgd.analysis.modified_loss import train_modified
from minisgd.ensemble import train_ensemble
from minisgd.train import Config, train

REFERENCE = "e470b4bfdb1c855170ffe6f6ab8d4d67dcd6c6ba"   # minisgd 0.4.0
SMALL = dict(n=200, n_test=100)
CLASSES = dict(SMALL, task="classification", activation="relu", bias=True)
SINGLES = [
    dict(SMALL, steps=300, gradient="rows"),                         # the default run
    dict(SMALL, steps=200, batch_size=200, gradient="rows"),         # > 64 rows
    dict(SMALL, steps=40, optimizer="gd", gradient="rows", momentum=0.9, clip=0.5),
    dict(SMALL, steps=200, batch_size=64),                           # moments (auto)
    dict(SMALL, steps=40, optimizer="gd", weight_decay=0.1),         # moments (auto)
    dict(SMALL, steps=200, batch_size=5, replacement=True, label_noise=0.2, l1=1e-3),
    dict(CLASSES, steps=200, batch_size=16, loss="cross_entropy", init_scheme="torch_default"),
    dict(CLASSES, steps=200, batch_size=16, weight_decay=1e-3, weight_norm="layer",
         metrics=("rank", "collapse"), classes=3, width=16),
    dict(CLASSES, steps=150, batch_size=8, weight_norm="unit", random_labels=0.3,
         dataset="teacher", momentum=0.5),
    dict(CLASSES, steps=100, optimizer="gd", loss="cross_entropy", dataset="signals",
         d=40, classes=10, width=32, clip=None, decay_at=(0.5,), warmup=10),
    dict(SMALL, steps=300, model="diagonal", batch_size=4, lr=0.05, clip=None),
    dict(SMALL, steps=100, model="diagonal", task="sparse_regression", optimizer="gd",
         parametrization="u2v2", init_scheme="normal", init_scale=0.5, clip=None,
         l0_threshold=1e-2, lr=0.01),
    dict(SMALL, steps=200, batch_size=4, lr=5.0, clip=None),         # diverges
    dict(n=1500, n_test=100, steps=20, optimizer="gd", gradient="rows", activation="tanh",
         bias=True),                                                  # 3000 rows: pieces
]
ENSEMBLE = [dict(CLASSES, seed=s, lr=lr, steps=150, batch_size=8) for s, lr in
            [(0, 0.1), (1, 0.05), (2, 0.2)]]
MODIFIED = [dict(SMALL, steps=30, batch_size=8), dict(SMALL, steps=20, batch_size=8)]

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import minisgd
    from minisgd.train import Config, train
    from minisgd.ensemble import train_ensemble
    from minisgd.modified_loss import train_modified
    spec = json.loads(sys.argv[1])
    assert minisgd.__file__.startswith(spec["root"]), minisgd.__file__
    cfg = lambda d: Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
    results = [train(cfg(c)) for c in spec["singles"]]
    results += train_ensemble([cfg(c) for c in spec["ensemble"]])
    results += [train_modified(cfg(spec["modified"][0])),
                train_modified(cfg(spec["modified"][1]), variance=False, substeps=2)]
""") + SAVE_RESULTS + textwrap.dedent("""
    print(json.dumps({"finals": finals, "configs": [r.config for r in results]}))
""")


def as_config(values):
    return Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@pytest.fixture(scope="module")
def v040(tmp_path_factory):
    """A folder holding minisgd 0.4.0's package, unpacked from git."""
    return unpack(REFERENCE, tmp_path_factory.mktemp("v040"))


@pytest.fixture(scope="module")
def reference(v040):
    """What minisgd 0.4.0 computes for the runs, on this machine."""
    out = v040 / "reference.npz"
    info = run_in(v040, SCRIPT, {"singles": SINGLES, "ensemble": ENSEMBLE, "modified": MODIFIED,
                                 "out": str(out), "root": str(v040)})
    with np.load(out) as arrays:
        return info, dict(arrays)


@pytest.fixture(scope="module")
def current():
    results = [train(as_config(c)) for c in SINGLES]
    results += train_ensemble([as_config(c) for c in ENSEMBLE])
    return results + [train_modified(as_config(MODIFIED[0])),
                      train_modified(as_config(MODIFIED[1]), variance=False, substeps=2)]


def test_every_number_is_bit_identical_to_040(reference, current):
    info, arrays = reference
    assert len(current) == len(info["finals"])
    for i, result in enumerate(current):
        assert list(result.history) == [k[len(f"h{i}_"):] for k in arrays if k.startswith(f"h{i}_")], i
        for key, column in result.history.items():
            mine = np.array([np.nan if v is None else v for v in column])
            assert np.array_equal(mine, arrays[f"h{i}_{key}"], equal_nan=True), (i, key)
        assert np.array_equal(result.net.theta, arrays[f"theta{i}"]), i
        final = {k: v for k, v in result.final.items() if k not in ("wall_time", "engine")}
        assert final == info["finals"][i], i


def test_the_recorded_config_is_040s(reference, current):
    info, _ = reference
    from test_config import without_new_fields          # fields added since, left unset
    for i, (old, result) in enumerate(zip(info["configs"], current)):
        config = without_new_fields(result.config)
        assert config == old, (i, {k: (old.get(k), v) for k, v in config.items()
                                   if old.get(k) != v})


def test_the_comparison_covers_every_engine_and_a_divergence(reference, current):
    engines = {r.final["engine"] for r in current}
    assert engines >= {"reference", "workspace", "pieces", "moments", "modified_loss"}
    assert any(r.final["diverged"] is not False for r in current)


SWEEP = """
[run]
n = 200
n_test = 100
[[sweep]]
optimizer = ["sgd"]
batch_size = [8, 32]
steps = [100]
[[sweep]]
optimizer = ["gd"]
steps = [30]
weight_decay = [0.0, 0.1]
[[sweep]]
task = ["classification"]
activation = ["relu"]
bias = [true]
batch_size = [16]
steps = [60]
"""


def test_a_sweep_folder_made_by_040_resumes_with_nothing_to_redo(v040, tmp_path):
    """0.4.0 runs a sweep into a folder; this version, given the same TOML and folder,
    finds every run finished (kept, noted as another version's), rewrites no run file, and
    its summary lists them all as done."""
    toml = tmp_path / "grid.toml"
    toml.write_text(SWEEP)
    out = tmp_path / "sweep"

    def sweep(root):
        done = subprocess.run([sys.executable, "-m", "minisgd", "sweep", str(toml), "--out",
                               str(out), "--workers", "1"], capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=str(root)), cwd=str(root),
                              timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr
    sweep(v040)
    files = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    assert len(files) == 5
    said = sweep(ROOT)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()} == files
    assert "5 by 0.4.0" in said and "5 done before, 0 now" in said
    rows = (out / "summary.csv").read_text().strip().splitlines()[1:]
    assert len(rows) == 5 and all(r.split(",")[1] == "ok" for r in rows)
