"""A sweep folder on disk: run files named by a hash of their config, the lock, the summary.

    DIR/runs/<hash>.json   one finished run (written atomically, at once):
        {"config", "history", "final", "version"}  as train.Result.to_dict(), plus
        "status"     "ok" | "diverged at step t" | "failed: <error>"
        "wall_time"  seconds for the whole run (data, init, loop, metrics)
        "weights"    {"W0": first-layer weights (n_in, n_out) as nested lists}
        "ensemble"   k, when the run was trained with k - 1 others in one ensemble
      a failed run has history, final and weights null and a "traceback".
    DIR/sweep.json         the sweep: config file, axes, and the hashes of its runs in order
    DIR/summary.csv, summary.md   final metrics per run, rebuilt from the run files
    DIR/.lock              {"pid", "host", "started"} while a sweep writes to DIR

<hash> is the first 16 hex digits of the sha256 of the canonical JSON (sorted keys, no
spaces) of the run's config without the fields that hold their Config default, so the same
config always maps to the same file, and a field added to Config later (whose default keeps
the old behaviour) leaves existing run files valid. A run file is used only if it parses,
has every key, a known status and the config its name promises (fields missing from it
read as their defaults); anything else is reported and redone. Not for: running.
"""
import csv
import hashlib
import io
import json
import os
import socket
import time

from ..config import Config, config_dict
from ..io.files import write_json_atomic

RUN_KEYS = ("config", "history", "final", "status", "version", "wall_time")
METRICS = ("irrelevant_norm", "relevant_norm", "precision", "recall", "detected_support",
           "train_loss", "test_loss", "steps_to_threshold", "steps_done", "wall_time")
TASK_METRICS = {                                   # the summary's columns, per task
    "support": METRICS,
    "classification": ("train_accuracy", "test_accuracy", "clean_accuracy", "train_loss",
                       "test_loss", "steps_done", "wall_time"),
    "sparse_regression": ("l0", "beta_error", "precision", "recall", "top_hits",
                          "train_loss", "test_loss", "steps_done", "wall_time"),
}


class SweepError(RuntimeError):
    """A sweep that cannot go on; exit_code 2 when nothing ran, 1 when it stopped midway."""

    def __init__(self, message, exit_code=2):
        super().__init__(message)
        self.exit_code = exit_code


def canonical(config):
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


DEFAULTS = {k: canonical(v) for k, v in config_dict(Config()).items()}


def non_default(config):
    """The config dict without the fields equal to their Config default."""
    return {k: v for k, v in config.items() if DEFAULTS.get(k) != canonical(v)}


def run_hash(config):
    """The run's file name stem: sha256 of the canonical JSON of its non-default fields,
    16 hex digits."""
    return hashlib.sha256(canonical(non_default(config)).encode()).hexdigest()[:16]


def run_path(out, config):
    return os.path.join(out, "runs", run_hash(config) + ".json")


def read_run(path, config):
    """(record, None) for a usable run file; (None, None) if there is none; (None, why)
    for a corrupt, half-written or mismatched one."""
    try:
        with open(path) as fh:
            record = json.load(fh)
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as err:
        return None, f"unreadable ({type(err).__name__}: {err})"
    problem = check_run(record, config)
    return (None, problem) if problem else (record, None)


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
    if not isinstance(status, str) or not status.startswith(("ok", "diverged at step", "failed")):
        return f"unknown status {status!r}"
    if not status.startswith("failed") and not (isinstance(record["history"], dict)
                                                and isinstance(record["final"], dict)):
        return "history or final metrics missing"
    if not status.startswith("failed"):
        return layout_problem(record)
    return None


TEXT_FINALS = ("note", "gradient")


def is_number(v):
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def layout_problem(record):
    """Why a finished run's history/final do not fit the layout (train.Result.to_dict):
    history columns are lists of numbers (or null) of one length, starting with "step";
    final values are numbers, null or lists of numbers (diverged may be false; note and
    gradient are text). None if they fit."""
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
    return None


def write_run(out, record):
    """Write one run file atomically; SweepError(exit 1) naming the cause if the disk
    refuses (full, read-only, no permission): files written before stay intact."""
    path = run_path(out, record["config"])
    write_or_explain(lambda: write_json_atomic(record, path), path)
    return path


def write_or_explain(write, path, exit_code=1):
    try:
        write()
    except OSError as err:
        raise SweepError(f"cannot write {path}: {err.strerror or err} (errno {err.errno}); "
                         "run files written before are intact - free space or fix the "
                         "folder's permissions and run the same command again to continue",
                         exit_code) from None


def remove_temp_files(out):
    """Delete temp files (.tmp-*) that a killed writer left in DIR/runs; call under the
    lock only. Returns how many there were."""
    runs_dir = os.path.join(out, "runs")
    temps = [f for f in os.listdir(runs_dir) if f.startswith(".tmp-")]
    for name in temps:
        remove_quietly(os.path.join(runs_dir, name))
    return len(temps)


def set_aside(path):
    """Move a corrupt run file to <path>.corrupt (kept for inspection, never read)."""
    write_or_explain(lambda: os.replace(path, path + ".corrupt"), path)


# --- the lock ----------------------------------------------------------------------

def acquire_lock(out):
    """Create DIR/.lock exclusively (O_CREAT | O_EXCL). A lock left by a process on this
    host that no longer exists is stale and taken over, and so is a lock that cannot be
    read (empty or garbled) once it is older than UNREADABLE_LOCK_AGE seconds (a younger
    one may be a lock being written right now); any other lock is refused. A lock whose
    content cannot be written (a full disk) is removed again, never left behind.
    Returns (path, note) where note says whether a stale lock was taken over."""
    path, note = os.path.join(out, ".lock"), None
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for attempt in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_lock(path)
            if attempt == 0 and (is_stale(holder) or unreadable_and_old(path, holder)):
                note = (f"took over a stale lock {path} " +
                        (f"(pid {holder['pid']} on this host is no longer running)"
                         if holder else "(it could not be read: empty or garbled)"))
                remove_quietly(path)
                continue
            raise SweepError(locked_message(out, path, holder)) from None
        except OSError as err:
            raise SweepError(f"cannot write to the output folder {out}: "
                             f"{err.strerror or err} (errno {err.errno})") from None
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
        except OSError as err:
            remove_quietly(path)
            raise SweepError(f"cannot write to the output folder {out}: "
                             f"{err.strerror or err} (errno {err.errno})") from None
        return path, note
    raise SweepError(locked_message(out, path, read_lock(path)))


def locked_message(out, path, holder):
    who = ("a process that left an unreadable lock" if holder is None else
           f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('started')}")
    return (f"another sweep is writing to {out} ({who}); refusing to run a second one there. "
            f"If no sweep is running, delete {path} and start again.")


def read_lock(path):
    try:
        with open(path) as fh:
            holder = json.load(fh)
        return holder if isinstance(holder, dict) else None
    except (OSError, ValueError):
        return None


UNREADABLE_LOCK_AGE = 10.0


def unreadable_and_old(path, holder):
    try:
        return holder is None and time.time() - os.path.getmtime(path) > UNREADABLE_LOCK_AGE
    except OSError:
        return False


def is_stale(holder):
    if not holder or holder.get("host") != socket.gethostname():
        return False                      # another host's pid cannot be checked from here
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, TypeError, ValueError):
        return False
    return False


def release_lock(path):
    holder = read_lock(path)
    if holder is not None and holder.get("pid") == os.getpid():
        remove_quietly(path)


def remove_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# --- the summary -------------------------------------------------------------------

def summary_rows(out, configs, axes):
    """One row per run of the sweep (in grid order), read back from the run files."""
    rows = []
    tasks = list(dict.fromkeys(c.get("task", "support") for c in configs))
    metrics = list(dict.fromkeys(m for task in tasks for m in TASK_METRICS[task]))
    for config in configs:
        record, _ = read_run(run_path(out, config), config)
        row = {"run": run_hash(config), "status": record["status"] if record else "missing"}
        row.update({axis: config[axis] for axis in axes})
        final = (record or {}).get("final") or {}
        history = (record or {}).get("history") or {}
        if "support" in tasks:
            row["irrelevant_start"] = (history.get("irrelevant_norm") or [None])[0]
        row.update({m: final.get(m) for m in metrics})
        if record:
            row["wall_time"] = record["wall_time"]
        rows.append(row)
    return rows


def cell(value, digits=None):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(cell(v, digits) for v in value)
    if isinstance(value, float) and digits:
        return f"{value:.{digits}g}"
    return str(value)


def summary_csv(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(rows[0]) if rows else ["run", "status"])
    for row in rows:
        writer.writerow([cell(v) for v in row.values()])
    return buffer.getvalue()


def summary_markdown(rows):
    if not rows:
        return "(no runs)\n"
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(row[k], 4) or "–" for k in head) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_summary(out, configs, axes):
    """Rebuild summary.csv and summary.md from the run files; returns the markdown."""
    rows = summary_rows(out, configs, axes)
    markdown = summary_markdown(rows)
    for name, text in (("summary.csv", summary_csv(rows)), ("summary.md", markdown)):
        path = os.path.join(out, name)
        write_or_explain(lambda: write_text_atomic(text, path), path)
    return markdown


def write_text_atomic(text, path):
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


def load_runs(folder, skipped=None):
    """(sweep info or None, [(hash, record)]) for plotting: the usable runs listed in
    DIR/sweep.json, in order (every usable file in DIR/runs when there is no sweep.json).
    skipped, a list, receives one line per run file left out and why (unreadable, another
    config than its name, a layout that does not fit)."""
    skipped = [] if skipped is None else skipped
    try:
        with open(os.path.join(folder, "sweep.json")) as fh:
            info = json.load(fh)
        hashes = list(info["runs"])
    except (OSError, ValueError, KeyError, TypeError):
        info = None
        runs_dir = os.path.join(folder, "runs")
        names = sorted(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []
        hashes = [n[:-5] for n in names if n.endswith(".json")]
    runs = []
    for h in hashes:
        path = os.path.join(folder, "runs", h + ".json")
        try:
            with open(path) as fh:
                record = json.load(fh)
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
