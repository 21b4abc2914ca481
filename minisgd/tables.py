"""Markdown tables for the experiment scripts' printed summaries. Not for: the numbers."""


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
