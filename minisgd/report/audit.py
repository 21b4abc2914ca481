"""`python -m minisgd report`: every claim's experiment run into its own folder (or kept, when
it already ran with the same version, script and settings), its verdict computed from its
summary.json by the script's own verdict(), and one report of them all: report.md and a
self-contained report.html (render.py).

A claim runs as `python experiments/<script>.py --out OUT/<claim> <its settings>` in a
child process, its stdout and stderr kept in OUT/<claim>/log.txt. OUT/<claim>/claim.json
then records what ran (version, script hash, settings), how it ended (ok, or failed with
the end of its error) and its wall time; it is written atomically, after the run, so an
interrupted report reruns only the claim it was in. A failed claim is reported as failed
and the others go on; a real-data claim whose dataset's package is not installed is
reported as skipped, with the pip line. Not for: the claims' list (claims.py) or the page (render.py).
"""
import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time

from .. import __version__
from ..io.outputs import read_json, write_json_atomic
from .claims import CLAIMS, SCALES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENTS = os.path.join(ROOT, "experiments")
VERDICTS = ("reproduced", "partly", "not reproduced", "opposite", "inconclusive")
VERDICT_KEYS = ("effect", "spread", "seeds", "verdict", "rule")


def add_report_parser(sub):
    p = sub.add_parser("report", help="run every claim's experiment and write one report",
                       description="Run (or resume) the experiment of every claim and write "
                                   "OUT/report.md and OUT/report.html: a verdict table, then "
                                   "each claim's figures, table and verdict.")
    p.add_argument("--scale", choices=SCALES, default="quick",
                   help="quick: reduced protocols that still show each effect or its absence "
                        "(about 9 minutes on 2 cores); full: each experiment's defaults "
                        "(about 25 minutes) "
                        "(default: %(default)s)")
    p.add_argument("--out", default=os.path.join("results", "report"),
                   help="folder of the report and of one sub-folder per claim "
                        "(default: %(default)s)")
    p.add_argument("--only", type=claim_list, default=None, metavar="CLAIM,...",
                   help="these claims only (comma-separated): " + ", ".join(c.name for c in CLAIMS))
    p.add_argument("--rerun", action="store_true",
                   help="run every claim again, even one whose results are current")
    return p


def claim_list(text):
    names = [t.strip() for t in str(text).split(",")]
    known = [c.name for c in CLAIMS]
    unknown = [n for n in names if n not in known]
    if unknown or not all(names):
        raise argparse.ArgumentTypeError(f"unknown claim(s) {unknown or [text]}; choose from "
                                         f"{', '.join(known)}")
    return list(dict.fromkeys(names))


def run_report(args, parser):
    from .render import write_pages
    if not os.path.isdir(EXPERIMENTS):
        parser.error(f"the experiment scripts are not at {EXPERIMENTS}: run the report from "
                     "a checkout of the repository (pip install -e .)")
    claims = [c for c in CLAIMS if args.only is None or c.name in args.only]
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as err:
        parser.error(f"argument --out: cannot make the folder {args.out}: {err.strerror or err}")
    done = run_claims(claims, args.scale, args.out, args.rerun)
    paths = write_pages(args.out, done, args.scale, claim_verdict)
    print("\n".join(paths))
    return 0 if all(record["status"] != "failed" for _, record in done) else 1


# ---- running, resuming, progress -------------------------------------------------------
def settings(claim, scale):
    """What decides a claim's results: the version, the script's text and its arguments."""
    with open(script_path(claim), "rb") as fh:
        script = hashlib.sha256(fh.read()).hexdigest()[:16]
    return {"version": __version__, "script": claim.script, "script_sha256": script,
            "scale": scale, "args": list(claim.args(scale))}


def script_path(claim):
    return os.path.join(EXPERIMENTS, claim.script + ".py")


def current(folder, wanted):
    """The claim.json in folder if it says this claim already ran, ok, with these settings
    and its summary.json is there; else None."""
    record = read_json(os.path.join(folder, "claim.json"))
    if not isinstance(record, dict) or record.get("status") != "ok" or \
            record.get("settings") != wanted:
        return None
    return record if os.path.isfile(os.path.join(folder, "summary.json")) else None


def run_claims(claims, scale, out, rerun=False):
    """Run each claim that is not current (in order), printing progress to stderr;
    [(claim, its claim.json record)] in order."""
    start, done_time, expected_done = time.time(), 0.0, 0.0
    records = []
    for k, claim in enumerate(claims, 1):
        folder = os.path.join(out, claim.name)
        wanted = settings(claim, scale)
        record = None if rerun else current(folder, wanted)
        missing = missing_package(claim)
        if missing is not None:
            record = {"status": "skipped", "error": missing, "settings": wanted,
                      "command": "", "wall_time": 0.0, "date": time.strftime("%Y-%m-%d %H:%M")}
            progress(f"[{k}/{len(claims)}] {claim.name}: skipped -- {missing}")
        elif record is not None:
            progress(f"[{k}/{len(claims)}] {claim.name}: current (ran {record['date']}, "
                     f"{record['wall_time']:.0f} s), kept")
        else:
            left = remaining(claims[k - 1:], scale, done_time, expected_done)
            progress(f"[{k}/{len(claims)}] {claim.name} ({scale}): running; "
                     f"{clock(time.time() - start)} elapsed, about {clock(left)} left")
            record = run_one(claim, folder, wanted)
            done_time += record["wall_time"]
            expected_done += claim.seconds(scale)
            progress(f"[{k}/{len(claims)}] {claim.name}: {record['status']} in "
                     f"{record['wall_time']:.0f} s" + (f" -- {record['error']}"
                                                        if record["status"] != "ok" else ""))
        records.append((claim, record))
    progress(f"report: {len(claims)} claim(s) in {clock(time.time() - start)}")
    return records


def missing_package(claim):
    """None, or why the claim cannot run here: the package of its real dataset is missing
    (with the pip line)."""
    if claim.dataset is None:
        return None
    from ..data.real import MissingPackage, package_dir
    try:
        package_dir(claim.dataset)
    except MissingPackage as err:
        return str(err)
    return None


def remaining(claims, scale, done_time, expected_done):
    """Seconds left: the claims' expected times, scaled by how the finished ones compared
    with theirs on this machine."""
    ratio = done_time / expected_done if expected_done > 0 else 1.0
    return ratio * sum(c.seconds(scale) for c in claims)


def run_one(claim, folder, wanted):
    """Run the claim's script; its claim.json record (also written to folder)."""
    os.makedirs(folder, exist_ok=True)
    summary = os.path.join(folder, "summary.json")
    if os.path.exists(summary):
        os.unlink(summary)                            # a stale one must not pass as new
    argv = [sys.executable, script_path(claim), "--out", folder, *wanted["args"]]
    t0 = time.time()
    with open(os.path.join(folder, "log.txt"), "w") as log:
        code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    wall = time.time() - t0
    error = None
    if code != 0:
        error = f"exit status {code}: " + last_lines(os.path.join(folder, "log.txt"))
    elif not os.path.isfile(summary):
        error = "the script ended without writing summary.json"
    record = {"status": "ok" if error is None else "failed", "error": error,
              "settings": wanted, "command": " ".join(argv[1:]), "wall_time": wall,
              "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(t0))}
    write_json_atomic(record, os.path.join(folder, "claim.json"))
    return record


def last_lines(path, k=3):
    try:
        with open(path, errors="replace") as fh:
            lines = [line.rstrip() for line in fh if line.strip()]
    except OSError:
        return "(no log)"
    return " / ".join(lines[-k:]) or "(no output)"


def progress(text):
    print(text, file=sys.stderr, flush=True)


def clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


# ---- verdicts --------------------------------------------------------------------------
def load_script(claim):
    """experiments/<script>.py as a module (its verdict function), by file path."""
    spec = importlib.util.spec_from_file_location(f"minisgd_claim_{claim.script}",
                                                  script_path(claim))
    module = importlib.util.module_from_spec(spec)
    if EXPERIMENTS not in sys.path:
        sys.path.insert(0, EXPERIMENTS)
    spec.loader.exec_module(module)
    return module


def claim_verdict(claim, folder):
    """The claim's verdict, computed from folder/summary.json by the script's verdict()
    (checked to have the keys and a known verdict); an {"error": ...} dict when it cannot."""
    try:
        with open(os.path.join(folder, "summary.json")) as fh:
            summary = json.load(fh)
        result = load_script(claim).verdict(summary, **claim.verdict_args)
    except Exception as err:                   # reported in the page, never a crash of it
        return {"error": f"{type(err).__name__}: {err}"}
    missing = [k for k in VERDICT_KEYS if k not in result]
    if missing or result["verdict"] not in VERDICTS:
        return {"error": f"verdict() returned {result!r}: needs {VERDICT_KEYS}, verdict one "
                         f"of {VERDICTS}"}
    return result
