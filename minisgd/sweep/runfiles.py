"""A sweep folder's run files: one JSON file per finished run, named by a hash of its
config, and how one is checked before it is trusted.

    DIR/runs/<hash>.json   one finished run (written atomically, at once):
        {"config", "history", "final", "version"}  as history.Result.to_dict(), plus
        "status"     "ok" | "diverged at step t" | "failed: <error>"
        "wall_time"  seconds for the whole run (data, init, loop, metrics)
        "weights"    {"W0": first-layer weights (n_in, n_out) as nested lists}
        "ensemble"   k, when the run was trained with k - 1 others in one ensemble
      a failed run has history, final and weights null and a "traceback".
The rest of the folder: DIR/sweep.json (the sweep: config file, axes, and the hashes of its
runs in order; runner.py), DIR/summary.csv and summary.md (summary.py), DIR/.lock (lock.py),
temporary files of writes under way (folder.py) and corrupt run files set aside
(<hash>.json.corrupt, .corrupt-2, ...).

<hash> is the first 16 hex digits of the sha256 of the canonical JSON (sorted keys, no
spaces) of the run's config without the fields that hold their Config default, so the same
config always maps to the same file, and a field added to Config later (whose default keeps
the old behaviour) leaves existing run files valid. A run file is used only if it parses,
has every key, a known status and the config its name promises (fields missing from it
read as their defaults), and finite numbers where numbers belong (NaN, Infinity and
numbers past the float range are never written; a file holding one is corrupt), a version
and wall time, a status that agrees with final["diverged"], and weights that are rows of
numbers; anything else is reported, set aside and redone. Not for: running.
"""
import hashlib
import json
import math
import os
import re

from ..config import Config, config_dict
from ..history import TEXT_FINALS
from .errors import write_or_explain
from .folder import read_sweep_info, write_json_atomic

RUN_KEYS = ("config", "history", "final", "status", "version", "wall_time")


def canonical(value):
    """The canonical JSON text of a config value (sorted keys, no spaces), which the run
    hash is taken of. Plain scalars are written directly: the same text json.dumps gives
    (ints and finite floats by their repr), without its per-call cost -- a 10^5-run grid
    hashes 5*10^6 field values."""
    kind = type(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


DEFAULTS = {k: canonical(v) for k, v in config_dict(Config().validate()).items()}  # resolved


def non_default(config):
    """The config dict without the fields equal to their Config default."""
    return {k: v for k, v in config.items() if DEFAULTS.get(k) != canonical(v)}


def run_hash(config):
    """The run's file name stem: sha256 of the canonical JSON of its non-default fields,
    16 hex digits."""
    return hashlib.sha256(canonical(non_default(config)).encode()).hexdigest()[:16]


def run_path(out, config):
    return run_file(out, run_hash(config))


def run_file(out, h):
    """DIR/runs/<hash>.json: the file of the run whose hash is h."""
    return os.path.join(out, "runs", h + ".json")


def read_run(path, config):
    """(record, None) for a usable run file; (None, None) if there is none; (None, why)
    for a corrupt, half-written or mismatched one."""
    try:
        record = load_json(path)
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as err:
        return None, f"unreadable ({type(err).__name__}: {err})"
    problem = check_run(record, config)
    return (None, problem) if problem else (record, None)


def refuse_constant(token):
    raise ValueError(f"it holds {token}, which minisgd never writes (non-finite values are "
                     "written as null)")


def finite_float(text):
    value = float(text)
    return value if math.isfinite(value) else refuse_constant(text)


def load_json(path):
    """A run file parsed strictly: NaN, Infinity or an overflowing number is a ValueError."""
    with open(path) as fh:
        return json.load(fh, parse_constant=refuse_constant, parse_float=finite_float)


STATUS = re.compile(r"^(ok|diverged at step (\d+)|failed: .*)$", re.S)


def check_run(record, config):
    """Why a parsed run file cannot be used for `config`, or None if it can."""
    if not isinstance(record, dict) or any(k not in record for k in RUN_KEYS):
        missing = [k for k in RUN_KEYS if not isinstance(record, dict) or k not in record]
        return f"missing keys {missing}"
    if not isinstance(record["config"], dict) or \
            canonical(non_default(record["config"])) != canonical(non_default(config)):
        return ("its config is not the one its name stands for (or a Config default has "
                "changed since it was written)")
    status = record["status"]
    match = STATUS.match(status) if isinstance(status, str) else None
    if match is None:
        return f"unknown status {status!r}"
    if not isinstance(record["version"], str) or not record["version"]:
        return f"version {record['version']!r} is not a version string"
    if not is_count(record["wall_time"], float):
        return f"wall_time {record['wall_time']!r} is not a number of seconds"
    if status.startswith("failed"):
        return None
    if not (isinstance(record["history"], dict) and isinstance(record["final"], dict)):
        return "history or final metrics missing"
    return layout_problem(record) or outcome_problem(record, match) or \
        weights_problem(record.get("weights"))


def outcome_problem(record, match):
    """Why the status and final["diverged"] disagree, or None."""
    diverged = record["final"]["diverged"]
    said = False if match.group(2) is None else int(match.group(2))
    if diverged != said or type(diverged) is not type(said):
        return f"its status {record['status']!r} and final['diverged'] = {diverged!r} disagree"
    final, steps = record["final"], record["config"].get("steps")
    ran, last = (steps if said is False else said), record["history"]["step"][-1]
    if final["steps_done"] != ran or not (last == ran or (said is not False and last < ran)):
        return (f"its status {record['status']!r} for a {steps}-step run, but final steps_done "
                f"= {final['steps_done']!r} and the history ends at step "
                f"{record['history']['step'][-1]!r}")
    if said is False and not isinstance(final.get("train_loss"), (int, float)):
        return f"a finished run without a final train_loss (got {final.get('train_loss')!r})"
    return None


def weights_problem(weights):
    """Why a run file's "weights" are not null or {name: rows of numbers}, or None."""
    if weights is None:
        return None
    ok = isinstance(weights, dict) and all(
        isinstance(rows, list) and all(isinstance(row, list) and all(is_number(v) for v in row)
                                       and len(row) == len(rows[0]) for row in rows)
        for rows in weights.values())
    return None if ok else "its weights are not rows of numbers of one length"


def is_number(v):
    if isinstance(v, float):
        return math.isfinite(v)
    return v is None or (isinstance(v, int) and not isinstance(v, bool))


def is_count(v, kind=int):
    """A non-negative int (or, with kind=float, any non-negative finite number)."""
    return v is not None and is_number(v) and v >= 0 and (kind is float or isinstance(v, int))


def layout_problem(record):
    """Why a finished run's history/final do not fit the layout (history.Result.to_dict):
    history columns are lists of numbers (or null) of one length, starting with "step";
    final values are numbers, null or lists of numbers (diverged may be false; note,
    gradient and engine are text). None if they fit."""
    history, final = record["history"], record["final"]
    columns = {k: v for k, v in history.items()}
    if not isinstance(columns.get("step"), list) or not columns["step"]:
        return "its history has no step column"
    length = len(columns["step"])
    for key, column in columns.items():
        if not isinstance(column, list) or len(column) != length:
            return f"history column {key!r} is not a list of {length} values"
        if not all(is_number(v) for v in column):
            return f"history column {key!r} holds a value that is not a number"
    for key, value in final.items():
        ok = is_number(value) or (isinstance(value, list) and all(is_number(v) for v in value))
        ok = ok or (key in TEXT_FINALS and isinstance(value, str)) or \
            (key == "diverged" and value is False)
        if not ok:
            return f"final[{key!r}] = {value!r} is not a number"
    for key in ("diverged", "steps_done"):
        if key not in final:
            return f"final metrics lack {key!r}"
    if not all(is_count(t) for t in columns["step"]):
        return "history column 'step' holds a value that is not a step number"
    if not is_count(final["steps_done"]) or not (final["diverged"] is False
                                                 or is_count(final["diverged"])):
        return (f"final steps_done = {final['steps_done']!r} or diverged = "
                f"{final['diverged']!r} is not a step number")
    return None


def write_run(out, record):
    """Write one run file atomically; SweepError(exit 1) naming the cause if the disk
    refuses (full, read-only, no permission): files written before stay intact."""
    path = run_path(out, record["config"])
    write_or_explain(lambda: write_json_atomic(record, path), path)
    return path


def set_aside(path):
    """Move a corrupt run file to <path>.corrupt (kept for inspection, never read; one set
    aside before keeps its name: this one becomes <path>.corrupt-2, -3, ...)."""
    target, n = path + ".corrupt", 1
    while os.path.lexists(target):
        n += 1
        target = f"{path}.corrupt-{n}"
    write_or_explain(lambda: os.replace(path, target), path)
    return target


def load_runs(folder, skipped=None):
    """(sweep info or None, [(hash, record)]) for plotting: the usable runs listed in
    DIR/sweep.json, in order (every usable file in DIR/runs when there is no sweep.json).
    skipped, a list, receives one line per run file left out and why (unreadable, another
    config than its name, a layout that does not fit)."""
    skipped = [] if skipped is None else skipped
    info = read_sweep_info(os.path.join(folder, "sweep.json"))
    if info is not None:
        hashes = list(info["runs"])
    else:
        runs_dir = os.path.join(folder, "runs")
        names = sorted(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []
        hashes = [n[:-5] for n in names if n.endswith(".json")]
    runs = []
    for h in hashes:
        path = run_file(folder, h)
        try:
            record = load_json(path)
        except FileNotFoundError:
            skipped.append(f"{path}: missing (the run has not finished)")
            continue
        except (OSError, ValueError) as err:
            skipped.append(f"{path}: unreadable ({type(err).__name__}: {err})")
            continue
        config = record.get("config") if isinstance(record, dict) else None
        problem = "no config" if not isinstance(config, dict) else \
            ("its config is not the one its name stands for" if run_hash(config) != h
             else check_run(record, config))
        if problem:
            skipped.append(f"{path}: {problem}")
        else:
            runs.append((h, record))
    return info, runs
