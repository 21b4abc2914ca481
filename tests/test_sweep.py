"""Sweeps: config validation, run files, resume, faults (a run that raises or diverges, a
worker killed, a full or read-only disk, a second sweep on the same folder, a kill
mid-sweep, corrupt run files), executors (in-process, process pool, Dask), progress, CLI.

Tiny runs (n=200, steps=200) so the whole file takes seconds. The in-process, one-by-one
path is the reference the other executors and the ensemble path are compared against.
"""
import csv
import errno
import io
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import minisgd
import minisgd.sweep.lock as sweep_lock
import minisgd.sweep.runfiles as runfiles
import minisgd.sweep.jobs as sweep_task
from minisgd.__main__ import main
from minisgd.sweep.executors import ExecutorError, make_engine
from minisgd.sweep.progress import Progress, format_duration
from minisgd.sweep.errors import SweepError
from minisgd.sweep.lock import acquire_lock, release_lock
from minisgd.sweep.runfiles import run_hash, run_path
import minisgd.sweep.pool as sweep_pool
from minisgd.sweep import execute_sweep
from minisgd.sweep.pool import make_tasks
from minisgd.sweep.config import SweepConfigError, parse_sweep
from minisgd.sweep.runner import tail
from minisgd.train import Config, config_dict, train

TINY = "[run]\nn = 200\nn_test = 100\nsteps = 200\n"
GRID = TINY + "[sweep]\nbatch_size = [1, 32]\nseed = [0, 1, 2]\n"          # 6 runs
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def spec_of(text):
    return parse_sweep(text, "c.toml")


def write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def quiet_sweep(spec, out, **kwargs):
    kwargs.setdefault("ensemble", False)
    kwargs.setdefault("workers", 1)
    return execute_sweep(spec, str(out), quiet=True, **kwargs)


def load(out, config):
    with open(run_path(str(out), config)) as fh:
        return json.load(fh)


# run functions for the tests: module level, so that process-pool workers can import them

CALLS = []


def counting_run(config, on_record=None):
    CALLS.append((config.batch_size, config.seed))
    return train(config, on_record=on_record)


def raising_run(config, on_record=None):
    if config.seed == 1:
        raise RuntimeError("boom")
    return counting_run(config, on_record)


def interrupting_run(config, on_record=None):
    if len(CALLS) == 3:
        raise KeyboardInterrupt
    return counting_run(config, on_record)


def killing_run(config, on_record=None):
    """Kills the worker process that runs seed 2 (never the test process itself)."""
    if config.seed == 2 and multiprocessing.parent_process() is not None:
        os._exit(1)
    time.sleep(0.05)
    return train(config, on_record=on_record)


def env_run(config, on_record=None):
    env = os.environ.get
    raise RuntimeError(f"{env('OPENBLAS_NUM_THREADS')} {env('OMP_NUM_THREADS')}")


ENSEMBLE_GROUPS = []


def fake_ensemble(configs):
    ENSEMBLE_GROUPS.append([c.seed for c in configs])
    return [train(c) for c in configs]


def broken_ensemble(configs):
    raise RuntimeError("ensemble not available for this shape")


@pytest.fixture(autouse=True)
def reset_calls():
    CALLS.clear()
    ENSEMBLE_GROUPS.clear()


# --- the config -----------------------------------------------------------------------

def test_grid_is_the_product_with_values_typed_like_config():
    spec = spec_of('[run]\nn = 200\nlr = 1\nclip = "none"\n[sweep]\nbatch_size = [1, 32]\n'
                   'seed = [0, 1, 2]\n')
    assert len(spec.configs) == 6 and spec.axes == ["batch_size", "seed"]
    assert [(c.batch_size, c.seed) for c in spec.configs][:3] == [(1, 0), (1, 1), (1, 2)]
    assert all(c.lr == 1.0 and isinstance(c.lr, float) and c.clip is None for c in spec.configs)
    # lr = 1 and lr = 1.0 are the same run (same hash)
    other = spec_of('[run]\nn = 200\nlr = 1.0\nclip = "none"\n'
                    '[sweep]\nbatch_size = [1]\nseed = [0]\n')
    assert run_hash(config_dict(other.configs[0])) == run_hash(config_dict(spec.configs[0]))


def test_several_sweep_tables_are_a_union_of_grids():
    spec = spec_of(TINY + '[[sweep]]\noptimizer = ["sgd"]\nbatch_size = [1, 32]\n'
                   '[[sweep]]\noptimizer = ["gd"]\nsteps = [50]\nweight_decay = [0.0, 0.1]\n')
    assert [(c.optimizer, c.batch_size, c.steps, c.weight_decay) for c in spec.configs] == [
        ("sgd", 1, 200, 0.0), ("sgd", 32, 200, 0.0), ("gd", None, 50, 0.0), ("gd", None, 50, 0.1)]
    assert spec.axes == ["optimizer", "batch_size", "steps", "weight_decay"]


def test_run_hash_ignores_key_order_and_differs_between_configs():
    a = config_dict(spec_of(TINY).configs[0])
    assert run_hash(dict(reversed(list(a.items())))) == run_hash(a)
    assert run_hash({**a, "seed": 1}) != run_hash(a) and len(run_hash(a)) == 16


def test_the_fast_canonical_text_is_json_dumps_text():
    """runfiles.canonical writes plain scalars itself (a 10^5-run grid hashes 5*10^6 values):
    the text, hence every run hash, is json.dumps's."""
    from minisgd.sweep.runfiles import canonical
    values = [0, -3, 10 ** 20, 0.0, -0.0, 0.1, 1e300, 5e-324, 1.0, float("nan"), float("inf"),
              True, False, None, "a\"b", "é", [0.5, 0.7], (1, 2), {"b": 1, "a": [None]}]
    for value in values:
        assert canonical(value) == json.dumps(value, sort_keys=True, separators=(",", ":"))


def test_run_files_survive_a_new_config_field_but_not_a_changed_default(tmp_path):
    spec = spec_of(GRID)
    quiet_sweep(spec, tmp_path)
    config = config_dict(spec.configs[0])
    path = run_path(str(tmp_path), config)
    with open(path) as fh:
        record = json.load(fh)
    # written before `dtype` existed: the field is missing, its default keeps old behaviour
    old = {k: v for k, v in record["config"].items() if k != "dtype"}
    assert run_hash(old) == run_hash(config)
    with open(path, "w") as fh:
        json.dump({**record, "config": old}, fh)
    CALLS.clear()
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run)
    assert CALLS == [] and report.skipped == len(spec.configs) and report.notes == []
    # written when the default of `threshold` was another value (stored explicitly): redone
    changed = {**record["config"], "threshold": 0.2}
    assert run_hash({k: v for k, v in changed.items() if k != "threshold"}) == run_hash(config)
    with open(path, "w") as fh:
        json.dump({**record, "config": changed}, fh)
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run)
    assert len(CALLS) == 1 and report.complete
    assert any("a Config default has changed" in n for n in report.notes)


@pytest.mark.parametrize("text, expected", [
    ("[run]\nsteps = 10\nsteps = 20\n", "line 3, column 11) -- a key or table set twice: "
                                          "'steps = 20'"),
    ("[run]\nsteps = 10\n[run]\n", "set twice: '[run]'"),
    ("[run\nsteps = 1\n", "line 1, column"),
    ("[sweep]\nseed = [0, 1\n", "Unclosed array (at end of document)"),
])
def test_malformed_toml_names_line_and_column(text, expected):
    with pytest.raises(SweepConfigError, match="malformed TOML") as info:
        spec_of(text)
    assert expected in str(info.value)


def test_an_sgd_key_in_a_sweep_of_gd_runs_only_is_refused():
    with pytest.raises(SweepConfigError, match=r"line 3: batch_size applies to SGD only"):
        spec_of("[run]\noptimizer = 'gd'\nbatch_size = 32\nsteps = 5\n")
    mixed = spec_of("[run]\nbatch_size = 32\nsteps = 5\n[sweep]\noptimizer = ['sgd', 'gd']\n")
    assert [c.batch_size for c in mixed.configs] == [32, None]     # GD: recorded as not applying


@pytest.mark.parametrize("text, expected", [
    (TINY + "lr_rate = 0.1\n", r"line 5: unknown key 'lr_rate' in \[run\]"),
    (TINY + "[sweep]\nseed = [0]\nbach_size = [1]\n",
     r"line 7: unknown key 'bach_size' in \[sweep\]"),
    (TINY + "[[sweep]]\nseed = [0]\n[[sweep]]\nbsz = [1]\n", r"line 8: unknown key 'bsz'"),
    ("[runs]\nsteps = 1\n", r"line 1: unknown table or key 'runs'"),
])
def test_unknown_keys_are_named_with_their_line(text, expected):
    with pytest.raises(SweepConfigError, match=expected):
        spec_of(text)


@pytest.mark.parametrize("line, expected", [
    ('warmup = "200"', "warmup must be an int, got '200'"),
    ("warmup = 2.5", "warmup must be an int"),
    ("lr = true", "lr must be a number"),
    ("center = 1", "center must be true or false"),
    ("support = [0, 1.5]", "support must be a list of ints"),
    ('clip = "never"', 'clip must be a number or "none"'),
    ("target = 3", "target must be a string"),
])
def test_wrong_types_are_rejected_with_key_and_line(line, expected):
    with pytest.raises(SweepConfigError, match="line 5: " + expected):
        spec_of(TINY + line + "\n")


def test_empty_list_and_scalar_sweep_values_are_rejected():
    with pytest.raises(SweepConfigError, match="line 6: sweep.seed is an empty list"):
        spec_of(TINY + "[sweep]\nseed = []\n")
    with pytest.raises(SweepConfigError, match="sweep.seed must be a list of values"):
        spec_of(TINY + "[sweep]\nseed = 3\n")


@pytest.mark.parametrize("text, expected", [
    ("", "names no run"),
    ("# nothing yet\n", "names no run"),
    ('description = "later"\n', "names no run"),
    ("[run]\n", "names no run"),
    ("[run]\n[sweep]\n", r"line 2: \[sweep\] is empty"),
    (TINY + "[sweep]\n", r"line 5: \[sweep\] is empty"),
    (TINY + "[[sweep]]\nseed = [0]\n[[sweep]]\n", r"line 7: \[\[sweep\]\] number 2 is empty"),
    ("sweep = []\n" + TINY, r"line 1: sweep = \[\] holds no grid"),
])
def test_a_config_without_runs_or_with_an_empty_grid_is_refused(text, expected):
    with pytest.raises(SweepConfigError, match=expected):
        spec_of(text)


def test_cli_refuses_an_empty_config_and_says_when_kept_runs_failed(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["sweep", write(tmp_path, "", "empty.toml"), "--out", str(tmp_path / "e")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "empty.toml" in err and "[run]" in err and "Traceback" not in err
    assert not (tmp_path / "e").exists()
    good = write(tmp_path, GRID)
    out = str(tmp_path / "out")
    assert main(["sweep", good, "--out", out, "--workers", "1", "--no-ensemble"]) == 0
    record = json.loads(open(run_path(out, config_dict(spec_of(GRID).configs[0]))).read())
    record.update(status="failed: RuntimeError: boom", history=None, final=None, weights=None)
    with open(run_path(out, record["config"]), "w") as fh:
        json.dump(record, fh)
    capsys.readouterr()
    assert main(["sweep", good, "--out", out, "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "6 done before (1 of them failed)" in err and "--retry-failed" in err, err
    assert main(["sweep", good, "--out", out, "--dry-run"]) == 0
    assert "1 failed" in capsys.readouterr().out


def test_bad_values_fail_before_anything_runs(tmp_path):
    text = TINY + "[sweep]\nbatch_size = [32, 1000]\n"        # N = 400 training pairs
    with pytest.raises(SweepConfigError, match=r"line 6: invalid run \(batch_size=1000\): "
                                               r"batch_size must be an int in \[1, 400\]"):
        spec_of(text)
    with pytest.raises(SweepConfigError, match=r"line 2: invalid run .*n must be an int"):
        spec_of("[run]\nn = 0\n")


# --- running, run files, summary ----------------------------------------------------

def test_sweep_writes_run_files_and_summary(tmp_path):
    spec = spec_of(GRID)
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run)
    assert (report.total, report.done, report.skipped, report.complete) == (6, 6, 0, True)
    assert sorted(CALLS) == [(b, s) for b in (1, 32) for s in (0, 1, 2)]
    for config in spec.configs:
        record = load(tmp_path, config_dict(config))
        assert set(record) >= {"config", "history", "final", "status", "version", "wall_time",
                               "weights"}
        assert record["status"] == "ok" and record["config"] == config_dict(config)
        assert len(record["weights"]["W0"]) == 15 and len(record["weights"]["W0"][0]) == 15
        assert record["final"]["steps_done"] == 200 and record["history"]["step"][-1] == 200
    with open(tmp_path / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["batch_size"], r["seed"], r["status"]) for r in rows] == [
        (str(b), str(s), "ok") for b in (1, 32) for s in (0, 1, 2)]
    first = load(tmp_path, config_dict(spec.configs[0]))
    assert float(rows[0]["irrelevant_norm"]) == first["final"]["irrelevant_norm"]
    assert rows[0]["detected_support"] == " ".join(map(str, first["final"]["detected_support"]))
    assert "| run | status | batch_size | seed |" in (tmp_path / "summary.md").read_text()
    info = json.loads((tmp_path / "sweep.json").read_text())
    assert info["axes"] == ["batch_size", "seed"] and len(info["runs"]) == 6
    assert not (tmp_path / ".lock").exists()


def test_same_config_gives_the_same_run_file_as_train(tmp_path):
    spec = spec_of(TINY)
    quiet_sweep(spec, tmp_path)
    record = load(tmp_path, config_dict(spec.configs[0]))
    direct = train(spec_of(TINY).configs[0]).to_dict()
    assert record["history"] == direct["history"]


def test_a_run_that_raises_is_recorded_as_failed_and_not_retried(tmp_path):
    spec = spec_of(GRID)
    report = quiet_sweep(spec, tmp_path, run_fn=raising_run)
    assert (report.done, report.failed, report.complete) == (6, 2, False)
    record = load(tmp_path, config_dict(spec.configs[1]))           # b=1, seed=1
    assert record["status"] == "failed: RuntimeError: boom"
    assert "raise RuntimeError" in record["traceback"] and record["final"] is None
    CALLS.clear()
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run)
    assert CALLS == [] and report.skipped == 6 and report.failed == 0
    assert report.failed_before == 2 and not report.complete          # kept, and said
    assert "2 of them failed" in tail(report) and "--retry-failed" in tail(report)
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run, retry_failed=True)
    assert sorted(CALLS) == [(1, 1), (32, 1)] and report.complete
    assert load(tmp_path, config_dict(spec.configs[1]))["status"] == "ok"


def test_a_diverging_run_is_recorded_with_its_step(tmp_path):
    spec = spec_of(TINY + 'lr = 50.0\nclip = "none"\n')
    report = quiet_sweep(spec, tmp_path)
    record = load(tmp_path, config_dict(spec.configs[0]))
    t = record["final"]["diverged"]
    assert t is not False and record["status"] == f"diverged at step {t}"
    assert report.diverged == 1 and report.complete        # diverging is a result, not a failure
    with open(tmp_path / "summary.csv") as fh:
        assert next(csv.DictReader(fh))["status"] == f"diverged at step {t}"


def test_resume_after_an_interruption_runs_only_what_is_missing(tmp_path):
    spec = spec_of(GRID)
    with pytest.raises(KeyboardInterrupt):
        quiet_sweep(spec, tmp_path, run_fn=interrupting_run)
    assert len(CALLS) == 3 and len(os.listdir(tmp_path / "runs")) == 3
    assert not (tmp_path / ".lock").exists()
    before = {f: os.stat(tmp_path / "runs" / f).st_mtime_ns for f in os.listdir(tmp_path / "runs")}
    CALLS.clear()
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run)
    assert len(CALLS) == 3 and report.skipped == 3 and report.done == 3 and report.complete
    assert all(os.stat(tmp_path / "runs" / f).st_mtime_ns == t for f, t in before.items())


def test_corrupt_run_files_are_detected_and_redone(tmp_path):
    spec = spec_of(GRID)
    quiet_sweep(spec, tmp_path)
    configs = [config_dict(c) for c in spec.configs]
    paths = [run_path(str(tmp_path), c) for c in configs]
    text = open(paths[0]).read()
    open(paths[0], "w").write(text[:len(text) // 2])                    # half-written
    record = json.loads(open(paths[1]).read())
    del record["final"]
    json.dump(record, open(paths[2], "w"))                             # missing key
    json.dump({**record, "final": {}, "config": configs[0]}, open(paths[1], "w"))  # wrong config
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run)
    assert sorted(CALLS) == sorted([(c["batch_size"], c["seed"]) for c in configs[:3]])
    assert report.skipped == 3 and len(report.notes) == 3
    assert any("unreadable" in n for n in report.notes)
    assert any("missing keys ['final']" in n for n in report.notes)
    assert any("config is not the one" in n for n in report.notes)
    assert all(os.path.exists(p + ".corrupt") for p in paths[:3])
    assert all(load(tmp_path, c)["status"] == "ok" for c in configs)


def test_run_files_whose_numbers_contradict_their_status_are_redone(tmp_path):
    """An "ok" run file without a final train loss, or that stopped short of its steps, is
    not a finished run, however well-formed its JSON."""
    spec = spec_of(GRID)
    quiet_sweep(spec, tmp_path)
    configs = [config_dict(c) for c in spec.configs]
    paths = [run_path(str(tmp_path), c) for c in configs]
    edits = [lambda r: r["final"].update(train_loss=None),
             lambda r: r["final"].update(steps_done=r["config"]["steps"] // 2),
             lambda r: r["history"]["step"].__setitem__(-1, r["config"]["steps"] - 1)]
    for path, edit in zip(paths, edits):
        record = json.loads(open(path).read())
        edit(record)
        json.dump(record, open(path, "w"))
    CALLS.clear()
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run)
    assert sorted(CALLS) == sorted([(c["batch_size"], c["seed"]) for c in configs[:3]])
    assert sum("without a final train_loss" in n for n in report.notes) == 1
    assert sum("but final steps_done" in n for n in report.notes) == 2


# --- faults: disk, lock, killed processes -------------------------------------------

@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_full_or_read_only_disk_stops_cleanly_and_keeps_finished_runs(tmp_path, monkeypatch, code):
    spec = spec_of(GRID)
    real, written = runfiles.write_json_atomic, []

    def failing_write(obj, path):
        if "runs" in path and len(written) == 2:
            raise OSError(code, os.strerror(code))
        real(obj, path)
        written.append(path)
    monkeypatch.setattr(runfiles, "write_json_atomic", failing_write)
    with pytest.raises(SweepError) as info:
        quiet_sweep(spec, tmp_path, run_fn=counting_run)
    assert info.value.exit_code == 1
    assert os.strerror(code) in str(info.value) and "intact" in str(info.value)
    kept = [f for f in os.listdir(tmp_path / "runs")]
    assert len(kept) == 2 and all(json.loads((tmp_path / "runs" / f).read_text())["status"] == "ok"
                                  for f in kept)
    assert not (tmp_path / ".lock").exists()
    monkeypatch.undo()
    CALLS.clear()
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run)
    assert len(CALLS) == 4 and report.complete


def test_unwritable_output_folder_is_refused_before_running(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    monkeypatch.setattr(sweep_lock.os, "open", read_only)
    with pytest.raises(SweepError, match="Read-only file system") as info:
        quiet_sweep(spec_of(GRID), tmp_path, run_fn=counting_run)
    assert info.value.exit_code == 2 and CALLS == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_real_read_only_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(SweepError, match="cannot"):
            quiet_sweep(spec_of(GRID), out, run_fn=counting_run)
    finally:
        out.chmod(0o755)


def test_a_second_sweep_on_a_locked_folder_is_refused(tmp_path):
    lock, _ = acquire_lock(str(tmp_path))                   # held by this (live) process
    with pytest.raises(SweepError, match="another sweep is writing to") as info:
        quiet_sweep(spec_of(GRID), tmp_path, run_fn=counting_run)
    assert info.value.exit_code == 2 and CALLS == [] and f"pid {os.getpid()}" in str(info.value)
    release_lock(lock)
    assert quiet_sweep(spec_of(GRID), tmp_path).complete


def test_a_lock_from_another_host_is_refused_and_a_dead_pid_taken_over(tmp_path):
    lock = tmp_path / ".lock"
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "x"}))
    with pytest.raises(SweepError, match="pid 1 on elsewhere"):
        quiet_sweep(spec_of(TINY), tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    lock.write_text(json.dumps({"pid": int(dead), "host": socket.gethostname(), "started": "x"}))
    report = quiet_sweep(spec_of(TINY), tmp_path)
    assert report.complete and any("stale lock" in n for n in report.notes)
    assert not lock.exists()


def test_kill_mid_sweep_then_restart(tmp_path):
    """A real sweep process: a second sweep on its folder is refused while it runs; it is
    killed with SIGKILL; the restart takes over its stale lock, keeps its finished runs
    untouched and does the rest."""
    config = write(tmp_path, "[run]\nn = 200\nn_test = 100\nsteps = 6000\n"
                             "[sweep]\nseed = [0, 1, 2, 3, 4]\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "minisgd", "sweep", config, "--out", str(out),
               "--workers", "1", "--no-ensemble", "--quiet"]
    proc = subprocess.Popen(command, cwd=ROOT)
    try:
        deadline = time.time() + 60
        finished = lambda: (out / "runs").exists() and any(
            not f.startswith(".minisgd-tmp-") for f in os.listdir(out / "runs"))  # not mid-write
        while time.time() < deadline and not finished():
            time.sleep(0.02)
        assert main(["sweep", config, "--out", str(out), "--quiet"]) == 2    # refused: locked
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = {f: (out / "runs" / f).read_bytes() for f in os.listdir(out / "runs")
            if not f.startswith(".minisgd-tmp-")}         # a temp file of the killed write
    assert 1 <= len(done) < 5 and (out / ".lock").exists()
    result = subprocess.run(command[:-1], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "took over a stale lock" in result.stderr
    assert f"{len(done)} done before, {5 - len(done)} now" in result.stderr, result.stderr
    assert all((out / "runs" / f).read_bytes() == data for f, data in done.items())
    assert len(os.listdir(out / "runs")) == 5            # and no temp files left


def test_a_run_that_kills_its_worker_is_found_and_failed_and_the_rest_finish(tmp_path):
    spec = spec_of(GRID.replace("seed = [0, 1, 2]", "seed = [0, 1, 2, 3]"))
    stream = io.StringIO()
    report = execute_sweep(spec, str(tmp_path), workers=2, run_fn=killing_run, ensemble=False,
                           stream=stream)
    assert "process pool" in report.engine and not report.lost
    culprits = {run_hash(config_dict(c)) for c in spec.configs if c.seed == 2}
    for c in map(config_dict, spec.configs):
        status = load(tmp_path, c)["status"]
        if run_hash(c) in culprits:
            assert status.startswith("failed: WorkerDied: its worker process died"), status
        else:
            assert status == "ok"
    assert (report.done, report.failed) == (8, 2) and not report.complete
    assert "starting the pool again" in stream.getvalue()
    report = quiet_sweep(spec, tmp_path, workers=2, retry_failed=True)
    assert report.complete and report.skipped == 6 and report.done == 2


def dying_run(config, on_record=None):
    """Every run kills its worker (a broken environment)."""
    if multiprocessing.parent_process() is not None:
        os._exit(1)
    return train(config, on_record=on_record)


def test_workers_that_keep_dying_are_given_up_on(tmp_path):
    spec = spec_of(GRID.replace("seed = [0, 1, 2]", "seed = [0, 1, 2, 3]"))
    stream = io.StringIO()
    report = execute_sweep(spec, str(tmp_path), workers=2, run_fn=dying_run, ensemble=False,
                           stream=stream)
    assert "giving up" in stream.getvalue() and not report.complete
    # the first death loses the calls in flight; each later one is a suspect run alone,
    # recorded as failed, until MAX_DEATHS_IN_A_ROW deaths without a finished run
    assert report.failed == report.done == sweep_pool.MAX_DEATHS_IN_A_ROW
    assert report.done + len(report.lost) == 8
    assert len(os.listdir(tmp_path / "runs")) == report.done


# --- executors and ensembles ---------------------------------------------------------

def histories(out, spec):
    return [load(out, config_dict(c))["history"] for c in spec.configs]


def test_process_pool_gives_the_same_runs_as_in_process(tmp_path):
    spec = spec_of(GRID)
    quiet_sweep(spec, tmp_path / "one")
    report = quiet_sweep(spec, tmp_path / "pool", workers=2)
    assert report.engine == "process pool (2 workers)"
    assert histories(tmp_path / "pool", spec) == histories(tmp_path / "one", spec)
    # workers run with one BLAS thread; this process's environment is restored afterwards
    env_spec, before = spec_of(TINY + "[sweep]\nseed = [0, 1]\n"), dict(os.environ)
    quiet_sweep(env_spec, tmp_path / "env", workers=2, run_fn=env_run)
    statuses = {load(tmp_path / "env", config_dict(c))["status"] for c in env_spec.configs}
    assert statuses == {"failed: RuntimeError: 1 1"}
    assert os.environ.get("OPENBLAS_NUM_THREADS") == before.get("OPENBLAS_NUM_THREADS")


def test_dask_local_cluster_gives_the_same_runs(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec = spec_of(GRID)
    quiet_sweep(spec, tmp_path / "one")
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        report = quiet_sweep(spec, tmp_path / "dask", executor="dask",
                             scheduler=cluster.scheduler_address, run_fn=raising_run)
        assert report.engine.startswith("dask (2 workers")
        assert report.done == 6 and report.failed == 2
        report = quiet_sweep(spec, tmp_path / "dask", executor="dask", retry_failed=True,
                             scheduler=cluster.scheduler_address)
        assert report.complete
    assert histories(tmp_path / "dask", spec) == histories(tmp_path / "one", spec)


def test_dask_worker_processes(tmp_path):
    """Runs pickled to a separate Dask worker process, and a LocalCluster started by the
    runner itself when no scheduler is given."""
    distributed = pytest.importorskip("distributed")
    spec = spec_of(TINY + "[sweep]\nseed = [0, 1]\n")
    with distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        report = quiet_sweep(spec, tmp_path / "remote", executor="dask",
                             scheduler=cluster.scheduler_address)
    assert report.complete and report.engine.startswith("dask (1 workers")
    report = quiet_sweep(spec, tmp_path / "local", executor="dask", workers=2)
    assert report.complete and report.engine.startswith("dask (2 workers")
    assert histories(tmp_path / "remote", spec) == histories(tmp_path / "local", spec)


def test_missing_dask_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ExecutorError, match=r"pip install 'minisgd\[dask\]'"):
        make_engine("dask", 1, "tcp://127.0.0.1:1")


def test_ensembles_group_runs_of_one_shape_and_match_one_by_one(tmp_path):
    spec = spec_of(TINY + "[sweep]\nbatch_size = [1, 32]\nseed = [0, 1, 2]\nwidth = [15, 8]\n")
    quiet_sweep(spec, tmp_path / "one")
    report = quiet_sweep(spec, tmp_path / "ens", ensemble=True, ensemble_fn=fake_ensemble)
    assert sorted(len(g) for g in ENSEMBLE_GROUPS) == [6, 6] and report.complete
    assert histories(tmp_path / "ens", spec) == histories(tmp_path / "one", spec)
    assert load(tmp_path / "ens", config_dict(spec.configs[0]))["ensemble"] == 6
    tasks = make_tasks([config_dict(c) for c in spec.configs], slots=2,
                       free=sweep_task.ensemble_free_fields(fake_ensemble))
    assert sorted(map(len, tasks)) == [3, 3, 3, 3]
    assert all(len({c["width"] for c in t}) == 1 for t in tasks)


def test_make_tasks_caps_ensembles_and_keeps_every_slot_busy():
    from minisgd.sweep.pool import MAX_ENSEMBLE
    configs = [config_dict(Config(seed=s).validate()) for s in range(3 * MAX_ENSEMBLE + 1)]
    tasks = make_tasks(configs, slots=1, free=("seed",))
    assert max(map(len, tasks)) == MAX_ENSEMBLE and sum(map(len, tasks)) == len(configs)
    assert sorted(map(len, make_tasks(configs[:10], slots=4, free=("seed",)))) == [1, 3, 3, 3]


def test_minisgd_ensemble_matches_one_by_one(tmp_path):
    ensemble = pytest.importorskip("minisgd.ensemble")
    spec = spec_of(TINY + "[sweep]\nbatch_size = [1, 32]\nseed = [0, 1, 2]\n")
    quiet_sweep(spec, tmp_path / "one")
    report = quiet_sweep(spec, tmp_path / "ens", ensemble=True)
    assert report.complete
    free = sweep_task.ensemble_free_fields(ensemble.train_ensemble)
    expected = 3 if "batch_size" not in free else 6              # runs per ensemble
    for config in map(config_dict, spec.configs):
        one, ens = load(tmp_path / "one", config), load(tmp_path / "ens", config)
        assert ens["ensemble"] == expected and ens["status"] == one["status"]
        assert ens["history"]["step"] == one["history"]["step"]
        for column in ("train_loss", "irrelevant_norm"):
            assert ens["history"][column] == pytest.approx(one["history"][column], rel=1e-10)


def test_a_failing_ensemble_falls_back_to_one_by_one(tmp_path):
    spec = spec_of(GRID)
    report = quiet_sweep(spec, tmp_path, ensemble=True, ensemble_fn=broken_ensemble,
                         run_fn=counting_run)
    assert report.complete and len(CALLS) == 6
    assert "ensemble" not in load(tmp_path, config_dict(spec.configs[0]))


# --- progress -----------------------------------------------------------------------

class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_lines_in_a_log_and_in_place_on_a_terminal(tmp_path):
    log = io.StringIO()
    execute_sweep(spec_of(GRID), str(tmp_path / "a"), stream=log, progress_interval=0,
                  run_fn=raising_run, ensemble=False, workers=1)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) >= 6
    assert "sweep 6/6 runs done, 2 failed" in lines[-1] and "elapsed" in lines[-1]
    assert any("this run: step" in line and "/200, loss" in line for line in lines)
    assert any("left" in line for line in lines)
    tty = FakeTTY()
    execute_sweep(spec_of(GRID), str(tmp_path / "b"), stream=tty, progress_interval=0,
                  ensemble=False, workers=1)
    assert tty.getvalue().count("\r") >= 6 and tty.getvalue().endswith("\n")
    quiet = io.StringIO()
    execute_sweep(spec_of(GRID), str(tmp_path / "c"), stream=quiet, quiet=True, ensemble=False,
                  workers=1)
    assert quiet.getvalue() == ""


def test_progress_eta_and_durations():
    clock = iter([0.0, 0.0, 30.0, 30.0, 30.0]).__next__
    p = Progress(4, stream=io.StringIO(), interval=1000, clock=clock)
    p.started(1)
    p.finished("ok")
    assert "1/4 runs done" in p.line() and "30s elapsed" in p.line() and "~1m30s left" in p.line()
    assert [format_duration(s) for s in (5, 65, 7300)] == ["5s", "1m05s", "2h01m"]
    pool = Progress(8, stream=io.StringIO(), interval=1000)
    pool.slots = 2
    for _ in range(4):
        pool.started(1)
    assert "2 running, 2 queued" in pool.line()


# --- command line -------------------------------------------------------------------

def test_cli_exit_codes(tmp_path, monkeypatch, capsys):
    good = write(tmp_path, GRID)
    out = str(tmp_path / "out")
    assert main(["sweep", good, "--out", out, "--workers", "1", "--quiet"]) == 0
    assert main(["sweep", good, "--out", out, "--workers", "1", "--quiet",
                 "--redo-other-versions"]) == 0                   # nothing of another version
    for argv in (["sweep", write(tmp_path, TINY + "foo = 1\n", "bad.toml"), "--out", out],
                 ["sweep", str(tmp_path / "missing.toml")],
                 ["sweep", good, "--workers", "0"],
                 ["sweep", good, "--scheduler", "tcp://x:1"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert "bad.toml: line 5: unknown key 'foo'" in capsys.readouterr().err
    assert main(["sweep", good, "--out", out, "--dry-run"]) == 0
    assert "6 runs (axes: batch_size, seed)" in capsys.readouterr().out

    def boom(config, on_record=None, allow_long=False):
        raise ValueError("no")
    monkeypatch.setattr(sweep_task, "train", boom)
    one_by_one = ["--workers", "1", "--no-ensemble", "--quiet"]
    assert main(["sweep", good, "--out", str(tmp_path / "f"), *one_by_one]) == 1

    def interrupt(config, on_record=None, allow_long=False):
        raise KeyboardInterrupt
    monkeypatch.setattr(sweep_task, "train", interrupt)
    assert main(["sweep", good, "--out", str(tmp_path / "i"), *one_by_one]) == 130
    assert "run the same command again" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "i" / ".lock")


def test_shipped_configs_are_valid():
    folder = os.path.join(ROOT, "experiments", "configs")
    names = sorted(f for f in os.listdir(folder) if f.endswith(".toml"))
    assert "support_full.toml" in names
    for name in names:
        with open(os.path.join(folder, name)) as fh:
            spec = parse_sweep(fh.read(), name)
        assert spec.configs
    with open(os.path.join(folder, "support_full.toml")) as fh:
        spec = parse_sweep(fh.read(), "support_full.toml")
    arms = {(c.optimizer, c.batch_size if c.optimizer == "sgd" else None, c.steps,
             c.weight_decay, c.group_l1) for c in spec.configs}
    assert {("sgd", b, 200_000, 0.0, 0.0) for b in (1, 32, 128, 512)} <= arms
    assert ("gd", None, 20_000, 0.0, 0.0) in arms and ("gd", None, 5_000, 0.1, 0.0) in arms


def test_runs_of_another_version_are_kept_with_a_note_or_redone_on_request(tmp_path):
    spec = spec_of(GRID)
    quiet_sweep(spec, tmp_path, run_fn=counting_run)
    path = run_path(str(tmp_path), config_dict(spec.configs[0]))
    with open(path) as fh:
        record = json.load(fh)
    record["version"] = "0.0.1"
    with open(path, "w") as fh:
        json.dump(record, fh)
    CALLS.clear()
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run)
    assert CALLS == [] and report.skipped == len(spec.configs)
    assert any("1 by 0.0.1" in n and "--redo-other-versions" in n for n in report.notes)
    report = quiet_sweep(spec, tmp_path, run_fn=counting_run, redo_other_versions=True)
    assert len(CALLS) == 1 and report.complete
    with open(path) as fh:
        assert json.load(fh)["version"] == minisgd.__version__
    CALLS.clear()
    assert quiet_sweep(spec, tmp_path, run_fn=counting_run).notes == [] and CALLS == []
