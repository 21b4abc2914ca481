"""A sweep touches only what it made (issue 21, root cause 1): temp files are minisgd's by
name and removed only when their writer is gone; a folder that is not a sweep folder, or
holds another sweep, is refused before anything is written; set-aside files are kept."""
import json
import os
import re
import subprocess
import sys

import pytest

from minisgd.__main__ import main
from minisgd.sweep import execute_sweep
from minisgd.sweep.config import parse_sweep

TINY = "[run]\nn = 60\nn_test = 30\nsteps = 20\n[sweep]\nseed = [0, 1]\n"
OTHER = TINY.replace("seed = [0, 1]", "seed = [5, 6]")
MORE = TINY.replace("seed = [0, 1]", "seed = [0, 1, 2]")
TEMP = re.compile(r"^\.minisgd-tmp-\d+-[0-9a-f]{8}-.+\.part$")


def quiet_sweep(out, text=TINY, **kwargs):
    return execute_sweep(parse_sweep(text, "c.toml"), str(out), workers=1, quiet=True,
                         **kwargs)


def dead_pid():
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_only_minisgds_temp_files_of_a_gone_writer_are_removed(tmp_path):
    out = tmp_path / "out"
    quiet_sweep(out)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = dead_pid()
        theirs = [out / "runs" / ".tmp-notes.txt", out / ".tmp-draft", out / "runs" / ".tmp-x.json"]
        gone = [out / "runs" / f".minisgd-tmp-{dead}-0123abcd-f.json.part",
                out / f".minisgd-tmp-{dead}-0123abcd-sweep.json.part",
                out / f"summary.csv.tmp-{dead}", out / f"summary.md.tmp-{dead}"]
        running = [out / "runs" / f".minisgd-tmp-{alive.pid}-0123abcd-f.json.part",
                   out / f"summary.md.tmp-{alive.pid}"]
        for path in theirs + gone + running:
            path.write_text("x")
        report = quiet_sweep(out)
    finally:
        alive.kill()
        alive.wait()
    assert all(p.exists() for p in theirs + running) and not any(p.exists() for p in gone)
    assert any("removed 4" in n for n in report.notes), report.notes


def test_temp_files_are_named_as_minisgds(tmp_path, monkeypatch):
    seen, real = [], os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real(src, dst)
    monkeypatch.setattr(os, "replace", spy)
    quiet_sweep(tmp_path / "out")
    monkeypatch.undo()
    assert len(seen) >= 5 and all(TEMP.match(name) for name in seen), seen


@pytest.mark.parametrize("make", [
    lambda d: (d / "summary.md").write_text("my notes\n"),
    lambda d: (d / "paper.tex").write_text("x"),
    lambda d: ((d / "runs").mkdir(), (d / "runs" / "mine.json").write_text("{}")),
    lambda d: (d / "sweep.json").write_text("my own settings"),
])
def test_a_folder_that_is_not_a_sweep_folder_is_refused_before_work(tmp_path, capsys, make):
    out = tmp_path / "mine"
    out.mkdir()
    make(out)
    before = snapshot(out)
    config = tmp_path / "c.toml"
    config.write_text(TINY)
    for extra in ([], ["--dry-run"]):
        assert main(["sweep", str(config), "--out", str(out), "--workers", "1", "--quiet",
                     *extra]) == 2
        err = capsys.readouterr().err
        assert "--out" in err and str(out) in err and "Traceback" not in err, err
    assert snapshot(out) == before and sorted(os.listdir(out)) == sorted(
        {p.split("/")[0] for p in before})                     # no runs/, no .lock
    empty = tmp_path / "empty"
    empty.mkdir()
    assert quiet_sweep(empty).complete                          # an empty folder is fine


def test_an_output_that_is_a_file_is_refused_naming_out(tmp_path, capsys):
    out = tmp_path / "afile"
    out.write_text("keep")
    config = tmp_path / "c.toml"
    config.write_text(TINY)
    assert main(["sweep", str(config), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "not a folder" in err and out.read_text() == "keep"


def test_a_second_different_sweep_into_the_same_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    first, second = tmp_path / "first.toml", tmp_path / "second.toml"
    first.write_text(TINY)
    second.write_text(OTHER)
    assert main(["sweep", str(first), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    before = snapshot(out)
    assert main(["sweep", str(second), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "first.toml" in err and "second.toml" in err, err
    assert "Traceback" not in err and snapshot(out) == before
    # a config that keeps every run of the folder's sweep (more seeds) carries it on
    more = tmp_path / "more.toml"
    more.write_text(MORE)
    assert main(["sweep", str(more), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    rows = (out / "summary.csv").read_text().strip().splitlines()[1:]
    assert len(rows) == 3 and all(before[f] == (out / f).read_bytes() for f in before
                                  if f.startswith("runs/"))


def test_a_corrupt_file_set_aside_twice_keeps_both(tmp_path):
    quiet_sweep(tmp_path)
    path = sorted((tmp_path / "runs").glob("*.json"))[0]
    path.write_text("{first")
    quiet_sweep(tmp_path)
    path.write_text("{second")
    quiet_sweep(tmp_path)
    kept = sorted(p.read_text() for p in (tmp_path / "runs").glob(path.name + ".corrupt*"))
    assert kept == ["{first", "{second"]



def test_an_empty_out_is_refused_not_read_as_the_default(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "c.toml"
    config.write_text(TINY)
    run = tmp_path / "run.json"
    assert main(["train", "--steps", "20", "--n", "40", "--quiet", "--json", str(run)]) == 0
    for argv in (["sweep", str(config), "--out", "", "--quiet"],
                 ["sweep", str(config), "--out", "", "--dry-run"], ["plot", str(run), "--out", ""]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2 and "--out" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "run.json"]       # no results/, no png


def test_a_spec_without_runs_is_refused_and_plot_reads_only_run_hashes(tmp_path):
    from minisgd.sweep.config import SweepSpec
    from minisgd.sweep.errors import SweepError
    from minisgd.sweep.runfiles import load_runs
    with pytest.raises(SweepError, match="no runs") as stop:
        execute_sweep(SweepSpec([], []), str(tmp_path / "none"), quiet=True)
    assert stop.value.exit_code == 2 and not (tmp_path / "none").exists()
    quiet_sweep(tmp_path / "out")
    (tmp_path / "secret.json").write_text("{}")
    info = json.loads((tmp_path / "out" / "sweep.json").read_text())
    (tmp_path / "out" / "sweep.json").write_text(json.dumps({**info, "runs": ["../../secret"]}))
    skipped = []
    assert load_runs(str(tmp_path / "out"), skipped)[0] is None and not any(
        "secret" in line for line in skipped)
