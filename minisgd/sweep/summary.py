"""A sweep folder's summary: DIR/summary.csv and DIR/summary.md, one row per run of the
sweep (in grid order) with its swept values and final metrics, rebuilt from the run files
after every sweep. The columns follow the runs' tasks (TASK_METRICS). Not for: the run
files themselves (runfiles.py).
"""
import csv
import io
import os

from .errors import write_or_explain
from .folder import write_text_atomic
from .runfiles import read_run, run_file

METRICS = ("irrelevant_norm", "relevant_norm", "precision", "recall", "detected_support",
           "train_loss", "test_loss", "steps_to_threshold", "engine", "steps_done", "wall_time")
TASK_METRICS = {                                   # the summary's columns, per task
    "support": METRICS,           # engine: the engine that ran (engines.py; empty before 0.5)
    "classification": ("train_accuracy", "test_accuracy", "clean_accuracy", "train_loss",
                       "test_loss", "engine", "steps_done", "wall_time"),
    "sparse_regression": ("l0", "beta_error", "precision", "recall", "top_hits",
                          "train_loss", "test_loss", "engine", "steps_done", "wall_time"),
}


def summary_rows(out, runs, axes):
    """One row per run of the sweep (runs: {hash: config dict} in grid order), read back
    from the run files."""
    rows = []
    tasks = list(dict.fromkeys(c.get("task", "support") for c in runs.values()))
    noise = any(c.get("noise_inputs") for c in runs.values())    # real data + known noise
    metrics = list(dict.fromkeys(m for task in tasks for m in TASK_METRICS[task]))
    if noise:
        metrics[2:2] = [m for m in METRICS[:4] + ("steps_to_threshold",) if m not in metrics]
    for h, config in runs.items():
        record, _ = read_run(run_file(out, h), config)
        row = {"run": h, "status": record["status"] if record else "missing"}
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


def write_summary(out, runs, axes):
    """Rebuild summary.csv and summary.md from the run files; returns the markdown."""
    rows = summary_rows(out, runs, axes)
    markdown = summary_markdown(rows)
    for name, text in (("summary.csv", summary_csv(rows)), ("summary.md", markdown)):
        path = os.path.join(out, name)
        write_or_explain(lambda: write_text_atomic(text, path), path)
    return markdown

