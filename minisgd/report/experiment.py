"""What every script of experiments/ sets up the same way, so that a script reads as its
claim, its runs, its figure and its table:

  experiment_parser      the script's ArgumentParser: --out (default results/<script>), and
                         where the script has them --quick / --full, --workers, --seeds
  at_least, above, within  argparse types that refuse a value out of range, naming the flag
  finite, distinct_list  a finite number (no nan, inf); comma-separated numbers, no repeats
  default_to             the defaults of the options left out (None); a given 0 stays 0
  check_configs          every Config valid before anything runs, else "<script>.py: error"
  start_report           the output folder made, the start time for tables.write_report
  run_jobs               fn(job) for every job, in --workers processes of the sweep's local
                         engine (minisgd.sweep.executors.make_engine)
  train_seeded_arms      each arm's seeds as ensembles, chunked over those processes
  train_grouped          any list of configs as stacked groups of a few members each,
                         over those processes
  sign_test              a one-sided sign test, the verdict rules' test of a majority
  new_figure, save_figure  matplotlib on its non-interactive Agg backend (the one place
                         that selects it: minisgd/report/figures.py)

BLAS threads: the scripts set none. A pool worker starts with OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS and MKL_NUM_THREADS = 1 whatever the parent's environment says: the
executors start `spawn` workers (a fresh interpreter, NumPy loaded anew) and set the three
variables in the environment the worker is started with, so N workers on N cores do not
also fight over BLAS threads. A run in this process (--workers 1, or a script without
--workers) uses what the user's environment says. Not for: what an experiment computes.
"""
import argparse
import dataclasses
import math
import os
import sys
import time

from ..bench.cost import check_cost
from ..sweep.executors import THREAD_VARS, make_engine
from .figures import plt  # pyplot on the Agg backend, which figures.py selects
from .tables import number_list

CORES = os.cpu_count() or 1


def experiment_parser(doc, name, quick=None, full=None, workers=None, seeds=None,
                      least_seeds=1):
    """The ArgumentParser of experiments/<name>.py: its description is the first paragraph
    of `doc` (the script's claim), --out defaults to results/<name>.

    quick, full: the help of --quick / --full (None: the script has no such flag; a script
    with both takes at most one). workers: the default of --workers (None: no such flag;
    CORES: the core count). seeds: the help of --seeds (None: no such flag), an integer >=
    least_seeds, None when left out (default_to gives its default)."""
    p = argparse.ArgumentParser(prog=f"{name}.py", description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join("results", name),
                   help="folder for the figures and summary.json (default %(default)s)")
    if quick or full:
        scale = p.add_mutually_exclusive_group()
        for flag, text in (("--quick", quick), ("--full", full)):
            if text:
                scale.add_argument(flag, action="store_true", help=text)
    if workers is not None:
        p.add_argument("--workers", type=at_least(1), default=workers,
                       help="runs in parallel in this many processes, one BLAS thread each "
                            "(default %(default)s; 1: in this process)")
    if seeds:
        p.add_argument("--seeds", type=at_least(least_seeds), help=seeds)
    return p


def bounded(kind, low=None, high=None, low_open=False, what="a number"):
    """An argparse `type`: kind(text) within [low, high] ((low, high] with low_open; None: no
    bound). Refused as argparse's "argument --flag: must be >= 1, got '0'" (out of range) or
    "argument --flag: must be <what>, got 'x'" (not a `kind`)."""
    def fits(value):                                   # NaN fits no bound
        above_low = low is None or (value > low if low_open else value >= low)
        return above_low and (high is None or value <= high)

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not (math.isfinite(value) and fits(value)):      # nan, inf: named as such
            bound = None if low is None and high is None else range_text(low, high, low_open)
            finite = None if math.isfinite(value) else "a finite number"
            raise argparse.ArgumentTypeError(
                f"must be {' '.join(filter(None, (finite, bound)))}, got {text!r}")
        return value
    return parse


def range_text(low, high, low_open):
    """'>= 1', '> 0', 'in (0, 1]', '<= 5'."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}]"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    return f"<= {high}"


def at_least(low, kind=int):
    """An integer (or `kind`) >= low: at_least(1) for counts of steps, seeds, workers."""
    return bounded(kind, low=low, what="an integer" if kind is int else "a number")


def above(low, kind=float):
    """A number > low: above(0) for step sizes, strengths, products."""
    return bounded(kind, low=low, low_open=True)


def within(low, high, kind=float):
    """A number in (low, high]: within(0, 1) for fractions."""
    return bounded(kind, low=low, high=high, low_open=True)


def finite(kind=float):
    """Any finite number (nan and inf refused, naming the flag)."""
    return bounded(kind)


def distinct_list(kind=int, positive=False):
    """tables.number_list's comma-separated numbers, each finite and none repeated (a
    repeat would run the same arm twice and give the table a row more than the runs)."""
    parse_numbers = number_list(kind, positive)

    def parse(text):
        values = parse_numbers(text)
        if not all(math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(f"must be finite numbers, got {text!r}")
        if len(set(values)) < len(values):
            raise argparse.ArgumentTypeError(
                f"must be comma-separated {kind.__name__}s without repeats, got {text!r}")
        return values
    return parse


def default_to(args, **defaults):
    """args.<name> = defaults[name] for every option that was left out (None). A given
    value, 0 included, is kept: a 0 that makes no sense is refused by the option's type."""
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def check_configs(configs, script):
    """configs (Config objects) each resolved and checked (Config.validate) and their
    cost estimated (bench/cost.py: memory, and at most an hour each), before anything runs;
    the first bad one ends the script: exit status 2 (as argparse's), "<script>: error:
    <what is wrong>" (script: the script's __file__). Returns the resolved configs."""
    try:
        resolved = [config.validate() for config in configs]
        for config in resolved:
            check_cost([config])
        return resolved
    except (TypeError, ValueError) as err:
        print(f"{os.path.basename(script)}: error: {err}", file=sys.stderr)
        sys.exit(2)


def start_report(out):
    """Make the output folder `out`; returns the start time (time.perf_counter()) that
    tables.write_report, at the end, counts the total wall time from. A folder that cannot
    be made (a file of that name, no permission) ends the script before any work: exit
    status 2 naming --out."""
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:
        what = "a file of that name exists" if os.path.isfile(out) else err.strerror or err
        print(f"{os.path.basename(sys.argv[0])}: error: argument --out: cannot make the "
              f"folder {out} ({what}); give a folder path", file=sys.stderr)
        sys.exit(2)
    return time.perf_counter()


def run_jobs(fn, jobs, workers, cost=None, done=None):
    """[fn(job) for job in jobs], in min(workers, len(jobs)) processes of the sweep's local
    engine: in this process for one worker, else spawned pool workers with one BLAS thread
    each (module docstring); the results are the same wherever a job runs.

    cost(job): a rough run time; the longest jobs start first, so that the workers finish at
    about the same time. done(job, result): called here as each result comes back (in start
    order), e.g. for a progress line. With several workers, fn and the jobs go to the
    workers by pickle: fn must be a module-level function (a script's own are, run as a
    script or imported by its module name)."""
    order = list(range(len(jobs)))
    if cost is not None:
        order.sort(key=lambda i: -cost(jobs[i]))
    engine = make_engine("local", workers=max(1, min(workers, len(jobs))))
    results = [None] * len(jobs)
    try:
        futures = {} if engine.in_process else \
            {i: engine.executor.submit(fn, jobs[i]) for i in order}
        for i in order:
            future = futures[i] if futures else engine.executor.submit(fn, jobs[i])
            results[i] = future.result()
            if done is not None:
                done(jobs[i], results[i])
    except BaseException:                          # Ctrl-C included: stop the workers
        engine.close(abort=True)
        raise
    engine.close()
    return results


def train_seeded_arms(arms_list, workers, seeds, cost):
    """Per arm (label, config), its seeds config.seed, config.seed + 1, ... trained in
    lockstep (ensemble.train_ensemble), each arm's seeds split into min(workers, seeds)
    chunks (every parts-th seed) so that the long arms use every core; the chunks run in
    run_jobs' processes, longest first (cost(config): one member's rough time). Members
    equal their single runs, however they are chunked. Returns [(label, [Result per seed,
    by seed])] in arm order."""
    from ..ensemble import train_ensemble
    parts = min(workers, seeds)
    chunks = []
    for i, (_, config) in enumerate(arms_list):
        configs = [dataclasses.replace(config, seed=config.seed + s) for s in range(seeds)]
        chunks += [(i, configs[j::parts]) for j in range(parts)]
    done = run_jobs(train_ensemble, [configs for _, configs in chunks], workers,
                    cost=lambda configs: cost(configs[0]) * len(configs))
    runs = {i: [] for i in range(len(arms_list))}
    for (i, _), members in zip(chunks, done):
        runs[i] += members
    return [(label, sorted(runs[i], key=lambda r: r.config["seed"]))
            for i, (label, _) in enumerate(arms_list)]


def train_grouped(configs, workers, cost, members=4):
    """[Result per config], in order: the configs that can share a stacked step
    (ensemble.stack_groups) trained in lockstep in groups of at most `members`, a config
    alone by train(), in run_jobs' processes, longest first (cost(config): one run's rough
    time). Every Result equals the config's single run (the ensemble's promise). Why a few
    members and not all: on a 6 x 64 weight-normalized net at b = 16 a member-step cost
    374 us alone and 369 / 333 / 327 / 348 us in stacks of 2 / 3 / 4 / 6 (best of 3;
    docs/performance.md): past ~4 members the stack's arrays leave the cache."""
    from ..ensemble import stack_groups
    resolved = [c.validate() for c in configs]               # group on what will run
    chunks = [group[i:i + members] for group in stack_groups(resolved)
              for i in range(0, len(group), members)]
    jobs = [[configs[k] for k in chunk] for chunk in chunks]
    done = run_jobs(train_chunk, jobs, workers, cost=lambda job: sum(map(cost, job)))
    results = [None] * len(configs)
    for chunk, chunk_results in zip(chunks, done):
        for k, result in zip(chunk, chunk_results):
            results[k] = result
    return results


def train_chunk(configs):
    """[Result] of one stacked group (train_grouped), or of one config alone."""
    from ..ensemble import train_ensemble
    from ..train import train
    return [train(configs[0])] if len(configs) == 1 else train_ensemble(configs)


def sign_test(k, n):
    """One-sided sign test: P(at least k of n fair coin flips come up heads); 1 for n = 0."""
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n if n else 1.0


def worker_threads(_job=None):
    """The BLAS threads of the process this runs in: {variable: value or None for
    THREAD_VARS, "blas_threads": minisgd.engines.blas_threads()} (run it through run_jobs
    to see what a worker gets)."""
    from ..engines import blas_threads
    return {**{name: os.environ.get(name) for name in THREAD_VARS},
            "blas_threads": blas_threads()}


def new_figure(rows=1, cols=1, size=(8, 5), **kw):
    """(fig, axes) of plt.subplots(rows, cols, figsize=size, **kw) on the Agg backend."""
    return plt.subplots(rows, cols, figsize=size, **kw)


def save_figure(fig, path, title=None, dpi=100, rect=None, fontsize=10):
    """The end of every figure: the title over all panels (if any), a tight layout (within
    rect, a (left, bottom, right, top) fraction of the figure, to leave room for a legend),
    the PNG at path, the figure closed."""
    if title:
        fig.suptitle(title, fontsize=fontsize)
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
