"""`python -m minisgd sweep CONFIG.toml --out DIR`: run a grid of training runs, keeping
every finished run safe, so that an interrupted sweep started again does only what is left.

    read + validate the config (config.py)         nothing runs if anything is wrong
    check DIR (folder.py)                          refused unless new, empty or this sweep's
    lock DIR (lock.py), look at DIR/runs           done runs are skipped, corrupt ones redone
      (runfiles.py)                                (kept failed runs are reported: exit 1)
    submit runs to an executor (pool.py,           at most a few in flight at a time
      executors.py)
    as each run finishes: write its run file       at once, atomically
    rebuild DIR/summary.csv and summary.md         from the run files (summary.py)

Each submitted call is jobs.execute_task (in a worker process, on a Dask worker, or
here), which never raises for a run's own error: it returns a record with status
"failed: <error>". Runs that share a shape can be trained together by
minisgd.ensemble.train_ensemble (--ensemble, the default); the one-by-one path is the
reference. Not for: the training itself (train.py) or figures (plots.py).
"""
import argparse
import os
import signal
import sys
import time
from dataclasses import dataclass, field

from .. import __version__
from .executors import ExecutorError
from .progress import Progress
from .errors import SweepError, write_or_explain
from .folder import check_out, remove_temp_files, write_json_atomic
from .lock import acquire_lock, release_lock
from .runfiles import read_run, run_file, run_hash, set_aside
from .summary import write_summary
from .config import SweepConfigError, read_sweep
from .pool import run_all
from .jobs import train_config, train_members
from ..bench.cost import TooBig, check_sweep_cost, human_time
from ..config import config_dict

# --- the runner -------------------------------------------------------------------

@dataclass
class SweepReport:
    out: str
    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    diverged: int = 0
    failed_before: int = 0                         # failed runs kept from before (skipped)
    lost: list = field(default_factory=list)       # config dicts whose run was lost
    notes: list = field(default_factory=list)
    engine: str = ""
    seconds: float = 0.0
    summary: str = ""

    @property
    def complete(self):
        return not self.lost and not self.failed and not self.failed_before


def plan(out, runs, retry_failed, report, redo_other_versions=False):
    """(configs to run, number already done); report.failed_before counts the failed runs
    kept. Corrupt files are set aside and redone; runs finished by another minisgd version
    are kept (noted) or, if asked, redone."""
    todo, done, others, notes = [], 0, {}, report.notes
    temps = remove_temp_files(out)
    if temps:
        notes.append(f"removed {temps} half-written temporary file(s) that an interrupted "
                     f"sweep left in {out}")
    for h, config in runs.items():
        path = run_file(out, h)
        record, problem = read_run(path, config)
        if problem:
            aside = set_aside(path)
            notes.append(f"{path} is corrupt ({problem}): set aside as "
                         f"{os.path.basename(aside)}, redoing the run")
        version = None if record is None else record["version"]
        if version is not None and version != __version__:
            others[version] = others.get(version, 0) + 1
        failed = record is not None and record["status"].startswith("failed")
        if record is None or (retry_failed and failed) or \
                (redo_other_versions and version != __version__):
            todo.append(config)
        else:
            done += 1
            report.failed_before += failed
    if others:
        counts = ", ".join(f"{n} by {v}" for v, n in sorted(others.items()))
        notes.append(f"finished runs from another minisgd version ({counts}; this is "
                     f"{__version__}): " + ("redoing them" if redo_other_versions else
                     "kept - their numbers may differ at rounding level "
                     "(--redo-other-versions redoes them)"))
    return todo, done


def execute_sweep(spec, out, executor="local", workers=None, scheduler=None,
                  retry_failed=False, ensemble=None, run_fn=train_config, ensemble_fn=None,
                  quiet=False, stream=None, progress_interval=None, config_file=None,
                  redo_other_versions=False, allow_long=False):
    """Run the SweepSpec's runs into folder `out`; returns a SweepReport.
    ensemble: False = one run per call; None (the default) or True = runs that share a
    shape are trained together by ensemble_fn (default jobs.train_members, which is
    minisgd.ensemble.train_ensemble).
    allow_long: run a sweep that would take more than an hour (bench/cost.py).
    Raises SweepError / ExecutorError / bench.cost.TooBig."""
    start = time.perf_counter()
    ensemble_fn = None if ensemble is False else (ensemble_fn or train_members)
    runs = distinct_configs(spec)
    report = SweepReport(out, len(runs))
    if len(runs) < len(spec.configs):
        report.notes.append(f"{len(spec.configs) - len(runs)} duplicate runs in the grid, "
                            "run once")
    hashes = list(runs)
    check_sweep_cost(spec.configs, workers, allow_long)
    check_out(out, hashes, config_file)                  # before anything is written
    runs_dir = os.path.join(out, "runs")
    write_or_explain(lambda: os.makedirs(runs_dir, exist_ok=True), runs_dir, exit_code=2)
    lock, note = acquire_lock(out)
    report.notes += [note] if note else []
    try:
        check_out(out, hashes, config_file)              # again: under the lock
        write_sweep_info(out, spec, hashes, config_file)
        todo, report.skipped = plan(out, runs, retry_failed, report, redo_other_versions)
        progress = Progress(len(runs), report.skipped, stream, quiet, progress_interval)
        for text in report.notes:
            progress.message(text)
        try:
            if todo:
                run_all(todo, report, progress, executor, workers, scheduler, run_fn, ensemble_fn)
        finally:
            progress.close()
        report.summary = write_summary(out, runs, spec.axes)
    finally:
        release_lock(lock)
    report.seconds = time.perf_counter() - start
    return report


def distinct_configs(spec):
    """{run hash: config dict} of the grid in order, each run once; a spec without runs is
    refused (SweepError, exit 2)."""
    if not spec.configs:
        raise SweepError("the sweep has no runs: a sweep must name at least one run's settings "
                         "([run]) or a grid ([sweep] lists)")
    runs = {}
    for config in map(config_dict, spec.configs):
        runs.setdefault(run_hash(config), config)
    return runs


def write_sweep_info(out, spec, hashes, config_file):
    """DIR/sweep.json: the config file, description and axes of the sweep, and the hashes
    of its runs in grid order (what `plot` reads)."""
    info = {"config_file": config_file, "description": spec.description, "axes": spec.axes,
            "runs": list(hashes), "version": __version__}
    path = os.path.join(out, "sweep.json")
    write_or_explain(lambda: write_json_atomic(info, path), path, exit_code=2)


# --- the command line -------------------------------------------------------------

def add_sweep_parser(sub):
    p = sub.add_parser("sweep", help="run a grid of training runs from a TOML config",
                       description="Run the grid of a sweep config (TOML: [run] fixed train "
                                   "options, [sweep] lists whose product is the grid) into "
                                   "DIR/runs/<hash>.json, skipping runs already done. Exit "
                                   "status: 0 all runs done, 1 some failed (now or in "
                                   "an earlier sweep: --retry-failed) or were lost or a "
                                   "write failed, 2 nothing ran (bad config or "
                                   "options, folder locked or not writable), 130 "
                                   "interrupted.")
    p.add_argument("config", metavar="CONFIG.toml")
    p.add_argument("--out", metavar="DIR", help="output folder (default: results/<config name>)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="runs at once (default: the core count; 1 = in this process)")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local: this process or a process pool; dask: a Dask cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://10.0.0.1:8786 (default: a "
                        "LocalCluster of --workers processes)")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    p.add_argument("--redo-other-versions", action="store_true",
                   help="run again the finished runs that another minisgd version computed")
    p.add_argument("--ensemble", action=argparse.BooleanOptionalAction, default=None,
                   help="train runs that share a shape together (minisgd.ensemble; "
                        "default: on)")
    p.add_argument("--dry-run", action="store_true", help="list what would run, run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress, no table")
    p.add_argument("--allow-long", action="store_true", help="run a sweep that would take more "
                   "than an hour, or has more than 10 000 runs (refused otherwise)")
    return p


def dry_run(spec, out, config_file=None, retry_failed=False, workers=None, allow_long=False):
    """List what a sweep would do (what is done, failed, corrupt, to run, its cost); writes
    nothing; refuses what the sweep would refuse."""
    runs = distinct_configs(spec)
    seconds = check_sweep_cost(spec.configs, workers, allow_long)
    check_out(out, list(runs), config_file)
    states = [read_run(run_file(out, h), c) for h, c in runs.items()]
    done = sum(1 for record, _ in states if record is not None)
    failed = sum(1 for record, _ in states if record and record["status"].startswith("failed"))
    corrupt = sum(1 for _, problem in states if problem)
    to_run = len(runs) - done + (failed if retry_failed else 0)
    said = f" ({failed} failed: --retry-failed reruns them)" if failed and not retry_failed \
        else f" ({failed} failed, to rerun)" if failed else ""
    print(f"{len(runs)} runs (axes: {', '.join(spec.axes) or 'none'}) into {out}: "
          f"{done} done{said}, {corrupt} corrupt, {to_run} to run; all of them take at "
          f"least {human_time(seconds)} of compute")
    for (h, c), (record, _) in zip(runs.items(), states):
        state = record["status"] if record else "to run"
        print(f"  {h}  " + " ".join(f"{a}={c[a]}" for a in spec.axes) + f"  [{state}]")
    return 0


def check_args(args, parser):
    """Refuse (argparse error, exit 2) options that cannot mean what they say."""
    if args.workers is not None and args.workers < 1:
        parser.error(f"argument --workers: must be an int >= 1, got {args.workers}")
    if args.scheduler and args.executor != "dask":
        parser.error("argument --scheduler: only used with --executor dask")
    if args.out is not None and not args.out.strip():
        parser.error("argument --out: must be a folder path, got an empty one (leave --out "
                     "out for results/<config name>)")


def run_sweep(args, parser):
    check_args(args, parser)
    try:
        spec = read_sweep(args.config, args.allow_long)
    except SweepConfigError as err:
        parser.error(str(err))
    out = args.out or os.path.join("results", os.path.splitext(os.path.basename(args.config))[0])
    config_file = os.path.abspath(args.config)
    if args.dry_run:
        try:
            return dry_run(spec, out, config_file, args.retry_failed, args.workers,
                           args.allow_long)
        except (TooBig, SweepError) as err:
            return refused(err, parser)

    def terminate(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        report = execute_sweep(spec, out, args.executor, args.workers, args.scheduler,
                               args.retry_failed, args.ensemble, quiet=args.quiet,
                               config_file=config_file,
                               redo_other_versions=args.redo_other_versions,
                               allow_long=args.allow_long)
    except (TooBig, SweepError, ExecutorError) as err:
        return refused(err, parser)
    except KeyboardInterrupt:
        print(f"\nminisgd sweep: interrupted; finished runs are saved in {out}/runs - run the "
              "same command again to continue", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not args.quiet:
        print(report.summary, end="")
        print(tail(report), file=sys.stderr)
    return 0 if report.complete else 1


def refused(err, parser):
    """The exit status of a sweep refused before work (or an executor that failed)."""
    if isinstance(err, TooBig):
        parser.error(err.render(cli=True))                   # exit 2, naming the flags
    print(f"minisgd sweep: error: {err}", file=sys.stderr)
    return getattr(err, "exit_code", 2)


def tail(report):
    before = f" ({report.failed_before} of them failed)" if report.failed_before else ""
    text = (f"{report.total} runs in {report.out}: {report.skipped} done before{before}, "
            f"{report.done} now ({report.diverged} diverged, {report.failed} failed)")
    if report.lost:
        text += f", {len(report.lost)} lost"
    text += f"; {report.seconds:.1f} s" + (f" on {report.engine}" if report.engine else "")
    if report.failed or report.failed_before:
        text += "; failed runs keep their error in the run file (--retry-failed reruns them)"
    return text + f"; summary in {os.path.join(report.out, 'summary.csv')}"
