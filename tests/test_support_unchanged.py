"""The support task's numbers did not move when minisgd learned other tasks.

How: the package as it was at REFERENCE (minisgd 0.3.0, the last commit before classification,
weight normalization and diagonal nets) is unpacked from git into a temporary folder and run
in a subprocess on this machine; the same configs are trained here with the current code.
Histories, final metrics and every final parameter must be equal bit for bit (np.array_equal
on float64, not a tolerance), for single runs and for ensembles, on the general (rows) path
that 0.3.0 had -- gradient="rows"; the moments path that "auto" now picks for linear nets at
large batches is exact too but rounds differently (tests/test_moments.py) -- and the sweep
run hashes (the file names of existing sweep folders) must be the same. Running both versions on the same
machine keeps the comparison exact: another CPU may make OpenBLAS round differently, but
then both sides round the same way.
"""
import textwrap

import numpy as np
import pytest

from old_versions import SAVE_RESULTS, run_in, unpack
from minisgd.ensemble import train_ensemble
from minisgd.sweep.runfiles import run_hash
from minisgd.train import Config, config_dict, train

REFERENCE = "724618ec6319371bb577168f622f1259c6970026"
SMALL = dict(n=300, n_test=200)
CONFIGS = [
    dict(batch_size=32, steps=400),
    dict(optimizer="gd", steps=60, weight_decay=0.1),
    dict(optimizer="gd", steps=40, group_l1=0.01, n=1500),      # a full batch in pieces
    dict(batch_size=1, steps=500, momentum=0.9, weight_decay=1e-3),
    dict(batch_size=7, replacement=True, steps=300, label_noise=0.1, l1=1e-3),
    dict(batch_size=16, steps=300, activation="relu", bias=True, decay_at=(0.5,), warmup=20),
    dict(batch_size=16, steps=200, activation="tanh", decoupled_wd=True, weight_decay=0.01,
         target="staircase", init_scheme="torch_default", clip=None),
    dict(batch_size=8, steps=200, dtype="float32", target="teacher", input="rademacher"),
    dict(batch_size=4, steps=300, lr=3.0, clip=None),                # diverges
]
ENSEMBLE = [dict(seed=s, lr=lr, batch_size=8, steps=300) for s, lr in [(0, 0.1), (1, 0.05), (2, 0.2)]]

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from minisgd.train import Config, config_dict, train
    from minisgd.ensemble import train_ensemble
    from minisgd.runfiles import run_hash
    import minisgd
    spec = json.loads(sys.argv[1])
    assert minisgd.__file__.startswith(spec["root"]), minisgd.__file__
    def cfg(d):
        return Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
    results = [train(cfg(c)) for c in spec["configs"]]
    results += train_ensemble([cfg(c) for c in spec["ensemble"]])
""") + SAVE_RESULTS + textwrap.dedent("""
    hashes = [run_hash(config_dict(cfg(c).validate())) for c in spec["configs"] + spec["ensemble"]]
    print(json.dumps({"finals": finals, "hashes": hashes, "configs": [r.config for r in results]}))
""")


def all_configs():
    return [dict(SMALL, **c) for c in CONFIGS], [dict(SMALL, **c) for c in ENSEMBLE]


def as_config(values):
    return Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """What minisgd at REFERENCE computes for the configs, on this machine."""
    tmp = unpack(REFERENCE, tmp_path_factory.mktemp("reference"))
    singles, ensemble = all_configs()
    out = tmp / "reference.npz"
    info = run_in(tmp, SCRIPT, {"configs": singles, "ensemble": ensemble, "out": str(out),
                                "root": str(tmp)})
    with np.load(out) as arrays:
        return info, dict(arrays)


@pytest.fixture(scope="module")
def current():
    singles, ensemble = all_configs()
    rows = lambda c: as_config(dict(c, gradient="rows"))
    return [train(rows(c)) for c in singles] + train_ensemble([rows(c) for c in ensemble])


def test_histories_and_weights_are_bit_identical(reference, current):
    info, arrays = reference
    assert len(current) == len(info["finals"])
    for i, result in enumerate(current):
        assert list(result.history) == [k[len(f"h{i}_"):] for k in arrays if k.startswith(f"h{i}_")]
        for key, column in result.history.items():
            mine = np.array([np.nan if v is None else v for v in column])
            assert np.array_equal(mine, arrays[f"h{i}_{key}"], equal_nan=True), (i, key)
        assert result.net.theta.dtype == arrays[f"theta{i}"].dtype
        assert np.array_equal(result.net.theta, arrays[f"theta{i}"]), i
        final = {k: v for k, v in result.final.items() if k not in ("wall_time", "gradient", "engine")}
        assert final == info["finals"][i], i
        assert result.final["gradient"] == "rows"


def test_recorded_support_configs_only_gain_keys(reference, current):
    """The support task's config in a run's JSON keeps every old key and value; new keys
    are the new options at their defaults (None: not applying)."""
    info, _ = reference
    for old, result in zip(info["configs"], current):
        if old["optimizer"] == "gd":                 # batch_size, replacement: not applying
            assert result.config["batch_size"] is None and result.config["replacement"] is None
            old = {k: v for k, v in old.items() if k not in ("batch_size", "replacement")}
        assert {k: result.config[k] for k in old} == old
        assert result.config["task"] == "support" and result.config["model"] == "mlp"
        assert set(result.config) - set(old) >= {"task", "model", "gradient", "metrics"}


def test_sweep_run_hashes_unchanged(reference):
    """SGD runs keep their file names. GD runs now record batch_size and replacement as
    null (they do not apply), which is the one change of their name."""
    info, _ = reference
    singles, ensemble = all_configs()
    for c, old_hash, old in zip(singles + ensemble, info["hashes"], info["configs"]):
        new = config_dict(as_config(c).validate())
        if c.get("optimizer") == "gd":
            assert run_hash(new) != old_hash
            assert run_hash({**old, "batch_size": None, "replacement": None,
                             **{k: v for k, v in new.items() if k not in old}}) == run_hash(new)
        else:
            assert run_hash(new) == old_hash


def test_some_reference_run_diverged(reference):
    """The comparison covers a diverged run (its kept history and frozen weights)."""
    info, _ = reference
    assert any(f["diverged"] is not False for f in info["finals"])


def test_run_files_written_by_the_reference_stay_usable(reference):
    """A sweep folder of 0.3.0 resumes: its run files' configs (without the new keys) are
    accepted for the same runs today (check_run compares the non-default fields)."""
    from minisgd.sweep.runfiles import check_run
    info, _ = reference
    singles, ensemble = all_configs()
    for old, values in zip(info["configs"], singles + ensemble):
        record = {"config": old, "history": {"step": [0, old["steps"]]},
                  "final": {"diverged": False, "steps_done": old["steps"], "train_loss": 1.0},
                  "status": "ok",
                  "version": "0.3.0", "wall_time": 0.0}
        problem = check_run(record, config_dict(as_config(values).validate()))
        if old["optimizer"] == "gd":                 # recorded another batch_size: redone
            assert problem is not None
        else:
            assert problem is None
