"""What a sweep folder holds and what a sweep may touch in it: only files it made.

  temporary files   .minisgd-tmp-<pid>-<8 hex>-<target name>.part beside their target
                    (DIR for sweep.json and the summary, DIR/runs for run files); one whose
                    writer (pid) is gone is removed by the next sweep, nothing else is
  check_out         before anything is written: DIR is a folder (or does not exist yet);
                    one without sweep.json holds nothing but what a sweep makes before it
                    (runs/, .lock, temporary files); one with sweep.json holds a sweep whose
                    runs are all in this one (the same sweep, or one it extends): a folder
                    holds one sweep, so that no sweep's runs drop out of its summary
Not for: the run files' content (runfiles.py) or the lock (lock.py).
"""
import json
import os
import re
import secrets

from ..io.outputs import read_json, remove_quietly
from .errors import SweepError
from .lock import pid_alive

TEMP = re.compile(r"^\.minisgd-tmp-(\d+)-[0-9a-f]{8}-.+\.part$")
OLD_SUMMARY_TEMP = re.compile(r"^summary\.(?:csv|md)\.tmp-(\d+)$")   # written before 0.5
HASH = re.compile(r"^[0-9a-f]{16}$")                                  # a run file's stem
BEFORE_SWEEP_JSON = (".lock", "runs")        # what a sweep makes before it writes sweep.json


def temp_path(path):
    """The temporary file a write of `path` goes through (unmistakably minisgd's)."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".minisgd-tmp-{os.getpid()}-{secrets.token_hex(4)}-{name}.part")


def write_atomic(path, write):
    """write(fh) into a new temporary file beside `path`, fsync, rename over `path`: a
    reader sees the old file or the whole new one; a failed write leaves no file behind."""
    tmp, made = temp_path(path), False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        made = True
        with os.fdopen(fd, "w") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if made:
            remove_quietly(tmp)
        raise


def write_json_atomic(obj, path):
    write_atomic(path, lambda fh: json.dump(obj, fh, indent=1, allow_nan=False))


def write_text_atomic(text, path):
    write_atomic(path, lambda fh: fh.write(text))


def writer_of(name):
    """The pid in a minisgd temporary file's name, or None for any other file."""
    match = TEMP.match(name) or OLD_SUMMARY_TEMP.match(name)
    return int(match.group(1)) if match else None


def remove_temp_files(out):
    """Delete the temporary files of writers that are gone (killed mid-write) in DIR and
    DIR/runs; call under the lock only. Any other file is left alone. Returns how many."""
    removed = 0
    for folder in (out, os.path.join(out, "runs")):
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            pid = writer_of(name)
            if pid is not None and not pid_alive(pid):
                remove_quietly(os.path.join(folder, name))
                removed += 1
    return removed


def is_temp(name):
    return writer_of(name) is not None


def check_out(out, hashes, config_file=None):
    """Refuse (SweepError, exit 2) an output folder this sweep must not write into, before
    anything is written; `hashes` are the run hashes of this sweep."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise SweepError(f"--out {out} is not a folder (a file of that name exists); give "
                         "--out a new or empty folder, or a sweep folder")
    if not os.path.isdir(out):
        return
    try:
        names = os.listdir(out)
        runs = os.path.join(out, "runs")
        in_runs = os.listdir(runs) if os.path.isdir(runs) else []
    except OSError as err:
        raise SweepError(f"cannot read the output folder --out {out}: "
                         f"{err.strerror or err} (errno {err.errno})") from None
    if "sweep.json" in names:
        return check_same_sweep(out, hashes, config_file)
    other = [n for n in names if n not in BEFORE_SWEEP_JSON and not is_temp(n)]
    other += [f"runs/{n}" for n in in_runs if not is_temp(n)]
    if other or (os.path.exists(runs) and not os.path.isdir(runs)):
        shown = ", ".join(sorted(other)[:5]) + (", ..." if len(other) > 5 else "")
        raise SweepError(f"--out {out} is not a minisgd sweep folder (it has no sweep.json) "
                         f"and holds other files ({shown or 'runs'}): refusing to write into "
                         "it; give --out a new or empty folder")


def check_same_sweep(out, hashes, config_file):
    """DIR/sweep.json must be a sweep whose runs are all among `hashes`."""
    path = os.path.join(out, "sweep.json")
    info = read_sweep_info(path)
    if info is None:
        raise SweepError(f"--out {out} holds a sweep.json that is not a minisgd sweep record "
                         f"(a JSON object with a list of run hashes, 'runs'): {path}; refusing "
                         "to replace it - give --out a new or empty folder")
    missing = [h for h in info["runs"] if h not in set(hashes)]
    if missing:
        theirs = info.get("config_file") or "an unnamed config"
        ours = config_file or "this config"
        raise SweepError(f"--out {out} holds another sweep: {theirs} ({len(info['runs'])} "
                         f"runs, {len(missing)} of them not in {ours}); a folder holds one "
                         f"sweep, and writing {ours} there would drop those runs from its "
                         "summary and plots - give this sweep its own --out folder (or "
                         "keep every run of the other in this config)")


def read_sweep_info(path):
    """DIR/sweep.json as a dict with a list of run hashes (16 hex digits) "runs", or None."""
    info = read_json(path)
    if not isinstance(info, dict) or not isinstance(info.get("runs"), list) or \
            not all(isinstance(h, str) and HASH.match(h) for h in info["runs"]):
        return None
    return info
