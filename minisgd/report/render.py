"""The audit report's two pages, from the claims' folders: report.md (figures linked) and
report.html (self-contained: figures embedded as data URIs, inline CSS, no JavaScript, no
network; prints as it shows). Both start with the verdict table, then one section per
claim (verdict, rule, figures, the script's table, where the setup departs), then the
machine, the version, the date and each claim's wall time. Not for: running (audit.py).
"""
import base64
import datetime
import html
import os
import platform

import numpy as np

from .. import __version__
from ..io.outputs import write_atomic
HEAD = ["claim", "data", "measured effect", "spread (seeds)", "published", "verdict", "rule"]


def write_pages(out, done, scale, claim_verdict):
    """report.md and report.html in out from [(claim, its claim.json record)];
    claim_verdict(claim, folder): the verdict dict of a claim that ran (audit.py). Returns
    the pages' paths."""
    claims = []
    for claim, record in done:
        folder = os.path.join(out, claim.name)
        verdict = claim_verdict(claim, folder) if record["status"] == "ok" else \
            {"error": record.get("error") or "failed", "status": record["status"]}
        shown = record["status"] == "ok"        # a failed or skipped claim: no stale figures
        claims.append(dict(claim=claim, record=record, verdict=verdict,
                           note=claim.quick_note if scale == "quick" else "",
                           figures=sorted(f for f in os.listdir(folder) if f.endswith(".png"))
                           if shown else [], table=script_table(folder) if shown else []))
    machine = machine_lines([record for _, record in done], scale)
    paths = [os.path.join(out, "report.md"), os.path.join(out, "report.html")]
    for path, text in zip(paths, (markdown_page(claims, machine, scale),
                                  html_page(claims, machine, scale, out))):
        write_atomic(path, os.path.splitext(path)[1], "w", lambda fh, t=text: fh.write(t))
    return paths


def spread_text(v):
    """The spread with its number of seeds, once (some spreads already name it)."""
    seeds = f"{v['seeds']} seeds"
    return v["spread"] if seeds in v["spread"] else f"{v['spread']} ({seeds})"


def verdict_cells(c):
    """The verdict table's row of one claim (plain text)."""
    claim, v = c["claim"], c["verdict"]
    if "error" in v:
        return [f"{claim.name}: {claim.claim}", claim.data, "–", "–", "–",
                v.get("status", "failed"), v["error"]]
    return [f"{claim.name}: {claim.claim}", claim.data, v["effect"],
            spread_text(v), v.get("published") or "–", v["verdict"],
            v["rule"]]


def script_table(folder):
    """The markdown table the script printed (table.md, else the table lines of its log)."""
    for name in ("table.md", "log.txt"):
        try:
            with open(os.path.join(folder, name), errors="replace") as fh:
                lines = [line.rstrip("\n") for line in fh]
        except OSError:
            continue
        table = [line for line in lines if line.startswith("|")]
        if table:
            return table
    return []


def machine_lines(records, scale):
    """[(label, value)]: the machine, versions, date and wall times."""
    cpu = next((line.split(":", 1)[1].strip() for line in read_lines("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor() or "unknown")
    blas = blas_name()
    total = sum(r["wall_time"] for r in records)
    return [("CPU", f"{cpu}, {os.cpu_count()} cores"), ("BLAS", blas),
            ("Python / NumPy", f"{platform.python_version()} / {np.__version__}"),
            ("minisgd", __version__), ("scale", scale),
            ("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
            ("wall time", f"{total:.0f} s over {len(records)} claim(s) (as each last ran)")]


def read_lines(path):
    try:
        with open(path) as fh:
            return fh.readlines()
    except OSError:
        return []


def blas_name():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:                        # older NumPy: no dicts mode
        return "unknown"


# ---- markdown --------------------------------------------------------------------------
def md_row(cells):
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def markdown_page(claims, machine, scale):
    lines = [f"# minisgd audit report ({scale} scale)", "",
             "Every verdict below is computed from the claim's summary.json by its script's "
             "verdict() function, by the rule beside it (docs/science.md).", "",
             md_row(HEAD), "|" + "---|" * len(HEAD)]
    lines += [md_row(verdict_cells(c)) for c in claims]
    for c in claims:
        lines += claim_markdown(c)
    lines += ["", "## Machine and run", ""] + [f"- **{k}**: {v}" for k, v in machine]
    lines += [f"- **{c['claim'].name}**: {c['record']['wall_time']:.0f} s, "
              f"`{c['record'].get('command', '')}`" for c in claims]
    return "\n".join(lines) + "\n"


def claim_markdown(c):
    claim, v = c["claim"], c["verdict"]
    lines = ["", f"## {claim.name}", "", f"**Claim** (docs/science.md section "
             f"{claim.section}): {claim.claim}.", "", f"**Data**: {claim.data}."]
    if "error" in v:
        lines += ["", f"**{v.get('status', 'failed').capitalize()}**: {v['error']}"]
    else:
        lines += ["", f"**Verdict: {v['verdict']}.** {v['effect']}; {spread_text(v)}."
                  + (f" Published: {v['published']}." if v.get("published") else ""),
                  "", f"*Rule*: {v['rule']}"]
        if c.get("note"):
            lines += ["", f"*Quick scale*: {c['note']}."]
    lines += [""] + [f"![{f}]({claim.name}/{f})" for f in c["figures"]]
    if c["table"]:
        lines += [""] + c["table"]
    if claim.departs:
        lines += ["", f"**Where the setup departs from the paper's**: {claim.departs}."]
    return lines


# ---- html ------------------------------------------------------------------------------
CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.4}table{border-collapse:collapse;margin:1em 0;font-size:.85em}
td,th{border:1px solid #bbb;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#eee}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
.v{font-weight:bold;white-space:nowrap}.reproduced{color:#176317}.partly{color:#8a5a00}
.not{color:#a31515}.opposite{color:#a31515}.failed{color:#a31515}.skipped{color:#777}
.scroll{overflow-x:auto}h2{border-top:1px solid #ccc;padding-top:1em}
@media print{h2{page-break-before:always}.scroll{overflow:visible}}"""


def esc(text):
    return html.escape(str(text))


def html_table(head, rows, classes=None):
    out = ['<div class="scroll"><table><tr>' + "".join(f"<th>{esc(h)}</th>" for h in head)
           + "</tr>"]
    for k, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            cls = f' class="v {classes[k].split()[0]}"' if classes and j == len(row) - 2 else ""
            cells.append(f"<td{cls}>{esc(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table></div>"


def markdown_rows(lines):
    """A markdown table's lines -> (head, rows)."""
    split = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]
    rows = [split(line) for line in lines if not set(line.replace("|", "").strip()) <= set("-: ")]
    return (rows[0], rows[1:]) if rows else ([], [])


def image(path):
    with open(path, "rb") as fh:
        data = base64.b64encode(fh.read()).decode("ascii")
    return f'<img alt="{esc(os.path.basename(path))}" src="data:image/png;base64,{data}">'


def html_page(claims, machine, scale, out):
    rows = [verdict_cells(c) for c in claims]
    body = [f"<h1>minisgd audit report ({esc(scale)} scale)</h1>",
            "<p>Every verdict is computed from the claim's summary.json by its script's "
            "verdict() function, by the rule beside it (docs/science.md).</p>",
            html_table(HEAD, rows, classes=[r[-2] for r in rows])]
    for c in claims:
        body += claim_html(c, out)
    body += ["<h2>Machine and run</h2><ul>"] + \
        [f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in machine] + \
        [f"<li><b>{esc(c['claim'].name)}</b>: {c['record']['wall_time']:.0f} s, "
         f"<code>{esc(c['record'].get('command', ''))}</code></li>" for c in claims] + ["</ul>"]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>minisgd audit report</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def claim_html(c, out):
    claim, v = c["claim"], c["verdict"]
    parts = [f'<h2 id="{esc(claim.name)}">{esc(claim.name)}</h2>',
             f"<p><b>Claim</b> (docs/science.md section {esc(claim.section)}): "
             f"{esc(claim.claim)}.<br><b>Data</b>: {esc(claim.data)}.</p>"]
    if "error" in v:
        status = v.get("status", "failed")
        parts.append(f'<p class="{status}"><b>{status.capitalize()}</b>: {esc(v["error"])}</p>')
    else:
        published = f" Published: {esc(v['published'])}." if v.get("published") else ""
        parts.append(f'<p><span class="v {esc(v["verdict"].split()[0])}">Verdict: '
                     f"{esc(v['verdict'])}.</span> {esc(v['effect'])}; "
                     f"{esc(spread_text(v))}.{published}<br><i>Rule</i>: {esc(v['rule'])}"
                     + (f"<br><i>Quick scale</i>: {esc(c['note'])}." if c.get("note") else "")
                     + "</p>")
    parts += [image(os.path.join(out, claim.name, f)) for f in c["figures"]]
    if c["table"]:
        parts.append(html_table(*markdown_rows(c["table"])))
    if claim.departs:
        parts.append(f"<p><b>Where the setup departs from the paper's</b>: "
                     f"{esc(claim.departs)}.</p>")
    return parts
