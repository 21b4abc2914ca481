"""Markdown tables, list-valued options and the closing report of the experiment scripts.
Not for: the numbers."""
import argparse
import os
import time

from ..io.outputs import write_atomic, write_json_atomic


def fmt(value):
    """A table cell: 3 significant digits for floats, '–' for a missing value."""
    if value is None:
        return "–"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def markdown_table(head, rows):
    """GitHub markdown: a header row, a rule, then one line per row (cells through fmt)."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in row) + " |"
              for row in rows]
    return "\n".join(lines)


def number_list(kind=int, positive=False):
    """An argparse `type` for comma-separated numbers: "2,8,32" -> [2, 8, 32]; a bad value
    is reported by argparse as "argument --flag: must be comma-separated ints, got '...'"."""
    def parse(text):
        try:
            values = [kind(v) for v in str(text).split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be comma-separated {kind.__name__}s, got {text!r}") from None
        if positive and min(values) <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return values
    return parse


def write_report(out, payload, table, start, note=""):
    """The end of an experiment script: `payload` as out/summary.json and the markdown `table`
    as out/table.md (both atomic), the table on stdout, then where the outputs are and the
    wall time since `start`."""
    write_json_atomic(payload, os.path.join(out, "summary.json"))
    write_atomic(os.path.join(out, "table.md"), ".md", "w", lambda fh: fh.write(table + "\n"))
    print(table)
    print(f"\nfigures and summary.json in {out}/  (total {time.perf_counter() - start:.0f} s"
          f"{note})")
