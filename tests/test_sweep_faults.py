"""Faults that must never need hand cleanup (issue: reliability §4): locks that cannot be
read or written, a pipe closed by the reader, run files that parse but do not fit."""
import errno
import json
import os
import subprocess
import sys
import time

import pytest

import minisgd.sweep.lock as sweep_lock
from minisgd.sweep import execute_sweep
from minisgd.sweep.config import parse_sweep
from minisgd.sweep.errors import SweepError
from minisgd.sweep.lock import acquire_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = "[run]\nn = 60\nn_test = 30\nsteps = 20\n[sweep]\nseed = [0, 1]\n"


def quiet_sweep(out, text=TINY):
    return execute_sweep(parse_sweep(text), str(out), workers=1, quiet=True)


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '{"pid": "abc"}',
                                     '{"pid": 12, "host": 3}', '{"pid": true, "host": "h"}'])
def test_an_unreadable_lock_is_taken_over_once_it_is_old(tmp_path, content):
    lock = tmp_path / ".lock"
    lock.write_text(content)
    with pytest.raises(SweepError, match="unreadable lock"):      # young: may be mid-write
        quiet_sweep(tmp_path)
    old = time.time() - 2 * sweep_lock.UNREADABLE_LOCK_AGE
    os.utime(lock, (old, old))
    report = quiet_sweep(tmp_path)
    assert report.complete and any("could not be read" in n for n in report.notes)
    assert not lock.exists()


def test_a_stale_lock_in_a_read_only_folder_is_refused_with_the_reason(tmp_path, monkeypatch):
    lock = tmp_path / ".lock"
    lock.write_text("")
    old = time.time() - 2 * sweep_lock.UNREADABLE_LOCK_AGE
    os.utime(lock, (old, old))

    def read_only(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    monkeypatch.setattr(sweep_lock.os, "unlink", read_only)
    with pytest.raises(SweepError, match="cannot take over the stale lock.*Read-only"):
        quiet_sweep(tmp_path)
    assert lock.exists()


def test_a_lock_that_cannot_be_written_is_not_left_behind(tmp_path, monkeypatch):
    def full_disk(obj, fh, **kw):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(sweep_lock.json, "dump", full_disk)
    with pytest.raises(SweepError, match="No space left on device"):
        acquire_lock(str(tmp_path))
    assert not (tmp_path / ".lock").exists()
    monkeypatch.undo()
    assert quiet_sweep(tmp_path).complete                    # nothing to clean by hand


def test_dry_run_into_a_closed_pipe_ends_quietly(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[run]\nsteps = 5\n[sweep]\nseed = [" + ", ".join(map(str, range(200))) + "]\n")
    command = f"{sys.executable} -m minisgd sweep {config} --out {tmp_path / 'o'} --dry-run | head -n 2"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
    assert len(done.stdout.splitlines()) == 2


def children_of(pid):
    """The pids whose parent is pid (from /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry))
    return kids


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to find the workers")
def test_pool_workers_exit_when_the_sweep_is_killed(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[run]\nn = 200\nn_test = 100\nsteps = 200000\n[sweep]\nseed = [0, 1, 2, 3]\n")
    proc = subprocess.Popen([sys.executable, "-m", "minisgd", "sweep", str(config), "--out",
                             str(tmp_path / "o"), "--workers", "2", "--no-ensemble", "--quiet"],
                            cwd=ROOT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(children_of(proc.pid)) < 2:
            time.sleep(0.1)
        kids = children_of(proc.pid)
        assert len(kids) >= 2, "the pool's workers did not start"
        time.sleep(1.0)                                      # the workers are running
    finally:
        proc.kill()
        proc.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(alive(k) for k in kids):
        time.sleep(0.2)
    assert not any(alive(k) for k in kids), [k for k in kids if alive(k)]


@pytest.mark.parametrize("damage, why", [
    (lambda r: r["final"].update(irrelevant_norm="big"), "is not a number"),
    (lambda r: r["final"].pop("steps_done"), "lack 'steps_done'"),
    (lambda r: r["history"].update(train_loss=r["history"]["train_loss"][:-1]),
     "is not a list of"),
    (lambda r: r["history"]["test_loss"].__setitem__(0, "x"), "not a number"),
    (lambda r: r["final"].update(irrelevant_norm=float("nan")), "NaN"),
    (lambda r: r["history"]["train_loss"].__setitem__(1, float("inf")), "Infinity"),
    (lambda r: r.update(status="okay"), "unknown status"),
    (lambda r: r.update(status="diverged at step soon"), "unknown status"),
    (lambda r: r.update(status="diverged at step 3"), "status"),     # final says not diverged
    (lambda r: r["final"].update(diverged=7), "status"),
    (lambda r: r.update(version=None), "version"),
    (lambda r: r.update(wall_time=None), "wall_time"),
    (lambda r: r["final"].update(steps_done=None), "steps_done"),
    (lambda r: r["final"].update(diverged=None), "diverged"),
    (lambda r: r["history"]["step"].__setitem__(1, None), "step"),
    (lambda r: r.update(weights={"W0": "big"}), "weights"),
])
def test_a_run_file_that_parses_but_does_not_fit_is_set_aside_and_redone(tmp_path, damage, why):
    quiet_sweep(tmp_path)
    path = sorted((tmp_path / "runs").glob("*.json"))[0]
    record = json.loads(path.read_text())
    damage(record)
    path.write_text(json.dumps(record))
    report = quiet_sweep(tmp_path)
    assert report.complete and report.done == 1 and report.skipped == 1
    assert any(why in n and "corrupt" in n for n in report.notes), report.notes
    assert path.with_suffix(".json.corrupt").exists()
    assert "big" not in (tmp_path / "summary.csv").read_text()


def test_plot_says_which_run_files_it_skipped(tmp_path, capsys):
    from minisgd.__main__ import main
    quiet_sweep(tmp_path)
    bad = sorted((tmp_path / "runs").glob("*.json"))[0]
    bad.write_text("{truncated")
    assert main(["plot", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and bad.name in err and "unreadable" in err


@pytest.mark.parametrize("record, message", [
    ({"config": {"d": 15}, "history": {"step": [0]}}, "is not a finished run"),
    ({"config": {"d": 15, "optimizer": "sgd"}, "history": {"step": [0], "train_loss": [1, 2]},
      "final": {"diverged": False, "steps_done": 1}}, "does not have the layout"),
    ({"config": {"optimizer": "sgd"}, "history": {"step": [0]},
      "final": {"diverged": False, "steps_done": 1}}, "its config lacks"),
])
def test_plot_of_a_run_file_without_the_layout_is_refused_clearly(tmp_path, capsys, record,
                                                                  message):
    from minisgd.__main__ import main
    path = tmp_path / "run.json"
    path.write_text(json.dumps(record))
    with pytest.raises(SystemExit) as stop:
        main(["plot", str(path)])
    assert stop.value.code == 2 and message in capsys.readouterr().err


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of 48 KiB mounted for the test (root and a kernel that allows it), else skip."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def sweep_command(config, out):
    return [sys.executable, "-m", "minisgd", "sweep", str(config), "--out", str(out),
            "--workers", "1", "--quiet"]


def test_a_full_disk_from_the_start_says_so_and_leaves_no_lock(small_disk, tmp_path):
    fd = os.open(small_disk / "fill", os.O_WRONLY | os.O_CREAT)   # fill it up
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    config = tmp_path / "c.toml"
    config.write_text(TINY)
    done = subprocess.run(sweep_command(config, small_disk / "out"), capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and "No space left on device" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (small_disk / "out" / ".lock").exists()
    os.unlink(small_disk / "fill")
    again = subprocess.run(sweep_command(config, small_disk / "out"), capture_output=True,
                           text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 0, again.stderr                # nothing to clean by hand


def test_a_disk_that_fills_mid_sweep_keeps_what_was_written(small_disk, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(TINY.replace("seed = [0, 1]", "seed = [" + ", ".join(map(str, range(10))) + "]"))
    done = subprocess.run(sweep_command(config, small_disk / "out"), capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1 and "No space left on device" in done.stderr
    assert "run files written before are intact" in done.stderr and "Traceback" not in done.stderr
    runs = sorted(os.listdir(small_disk / "out" / "runs"))
    assert runs and not any("tmp" in r for r in runs)              # no half-written file
    for name in runs:
        json.loads((small_disk / "out" / "runs" / name).read_text())   # each one whole
    assert not (small_disk / "out" / ".lock").exists()


def test_plot_refuses_an_unknown_metric_and_an_out_that_is_a_file(tmp_path, capsys):
    from minisgd.__main__ import main
    run = tmp_path / "run.json"
    assert main(["train", "--steps", "20", "--n", "40", "--quiet", "--json", str(run)]) == 0
    (tmp_path / "afile").write_text("x")
    for argv, message in [(["--metric", "nope"], "--metric 'nope' is not a final metric"),
                          (["--out", str(tmp_path / "afile")], "cannot be a folder")]:
        with pytest.raises(SystemExit) as stop:
            main(["plot", str(run), *argv])
        assert stop.value.code == 2 and message in capsys.readouterr().err
