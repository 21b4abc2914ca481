"""Handing a sweep's runs to an executor: grouping them into calls (ensembles of runs that
share a shape), keeping a few calls in flight, writing each result as it arrives, and
carrying on when a worker process dies. Used by runner.execute_sweep. Not for: what one
call does (jobs.py) or the run files' format (runfiles.py).
"""
import concurrent.futures as cf
import json
import math
import os

from .executors import make_engine
from .runfiles import write_run
from .jobs import ensemble_free_fields, ensemble_switches, execute_task, failed_record


def estimated_cost(config):
    """Rough relative run time (longest first keeps a pool busy to the end)."""
    n_train = 2 * config["n"] if config["double"] else config["n"]
    batch = n_train if config["optimizer"] == "gd" else config["batch_size"]
    return config["steps"] * (1 + batch / 300)


MAX_ENSEMBLE = 64   # members per ensemble: per net-step cost at b = 1 falls ~2x from K = 16
                    # to 64 and little beyond; a chunk's files are written when it finishes


def make_tasks(configs, slots, free=None, switches=()):
    """Lists of configs, one list per submitted call. With `free` (fields that may differ
    inside an ensemble): runs equal in every other field and in which of the `switches`
    are on (non-zero; clip: given), in chunks of at most MAX_ENSEMBLE that still keep every
    slot busy; without, one run per call."""
    configs = sorted(configs, key=estimated_cost, reverse=True)
    if free is None:
        return [[c] for c in configs]
    groups = {}
    for c in configs:
        on = [bool(c.get(f)) if f != "clip" else c.get(f) is None for f in switches]
        key = json.dumps([{k: v for k, v in c.items() if k not in free}, on], sort_keys=True)
        groups.setdefault(key, []).append(c)
    tasks = []
    for members in groups.values():
        size = max(1, min(MAX_ENSEMBLE, math.ceil(len(members) / slots)))
        tasks += [members[i:i + size] for i in range(0, len(members), size)]
    return tasks


class WorkerDied(RuntimeError):
    """The worker process running a run died (killed, out of memory, a crash in C code)."""


MAX_DEATHS_IN_A_ROW = 3     # worker deaths with no run finished in between: give up


def run_all(todo, report, progress, executor, workers, scheduler, run_fn, ensemble_fn):
    """Submit the runs (a bounded number in flight), write each record as it arrives.

    If a worker process dies, the pool is started again and the runs it had in hand are run
    again one at a time, so that the one that kills its worker is found: it is recorded as
    failed (WorkerDied) and the sweep goes on. After MAX_DEATHS_IN_A_ROW deaths with no run
    finished in between the rest is left as lost (a rerun of the command does it)."""
    n_workers = min(workers or os.cpu_count() or 1, len(todo))
    free = ensemble_free_fields(ensemble_fn) if ensemble_fn is not None else None
    switches = ensemble_switches(ensemble_fn) if ensemble_fn is not None else ()
    tasks, suspects, deaths = None, [], 0
    while True:
        engine = make_engine(executor, n_workers, scheduler)
        report.engine = engine.name
        progress.slots = engine.slots
        if tasks is None:
            tasks = make_tasks(todo, engine.slots, free, switches)[::-1]
        broken, lost, finished = drive(engine, tasks, suspects, report, progress, run_fn,
                                       ensemble_fn)
        if broken is None:
            return
        deaths = 1 if finished else deaths + 1
        for task, alone in lost:
            if alone:                                 # it ran by itself: the culprit
                err = WorkerDied(f"its worker process died running it, twice, the second "
                                 f"time alone ({type(broken).__name__}: killed, or out of "
                                 "memory?)")
                write_records([failed_record(c, err, 0.0) for c in task], report, progress)
            else:
                suspects += [[c] for c in task]
        if not (tasks or suspects):
            return
        if deaths > MAX_DEATHS_IN_A_ROW:
            report.lost += [c for task in suspects + tasks for c in task]
            progress.message(f"worker processes died {deaths} times in a row "
                             f"({type(broken).__name__}): giving up; {len(report.lost)} runs "
                             "were lost or not started; every finished run is saved - run the "
                             "same command again to do the rest")
            return
        progress.message(f"a worker process died ({type(broken).__name__}); starting the "
                         f"pool again and running the {len(suspects)} runs it had in hand "
                         "one at a time")


def drive(engine, tasks, suspects, report, progress, run_fn, ensemble_fn):
    """Run the queued tasks (and first, one at a time, the suspects) on one engine until
    all are done or a worker dies. Returns (the executor's error or None, the lost tasks
    as (task, ran_alone) pairs, how many calls finished); pops what it submits from `tasks`
    and `suspects`."""
    on_record = progress.on_record if engine.in_process else None

    def submit(task):
        return engine.executor.submit(execute_task, task, run_fn, ensemble_fn, on_record)
    in_flight, broken, lost, finished = {}, None, [], 0
    try:
        while (tasks or suspects or in_flight) and not (broken and not in_flight):
            if broken is None:
                broken = fill(engine, submit, tasks, suspects, in_flight, lost, progress)
            if in_flight:
                err, calls = gather(in_flight, lost, report, progress)
                broken, finished = broken or err, finished + calls
                progress.tick()
    except BaseException:
        engine.close(abort=True)
        raise
    engine.close(abort=broken is not None)
    return broken, lost, finished


def fill(engine, submit, tasks, suspects, in_flight, lost, progress):
    """Submit queued tasks until the engine's limit is in flight; a suspect goes only into
    an empty engine and runs alone. Returns the executor's error if submitting found it
    broken (the task it was refused is lost, but never ran: not evidence against it)."""
    limit = engine.slots if engine.in_process else 2 * engine.slots
    while (suspects or tasks) and len(in_flight) < limit:
        if suspects and in_flight:
            return None                                # a suspect runs alone
        alone = bool(suspects)
        task = suspects.pop() if alone else tasks.pop()
        progress.started(len(task), task[0]["steps"] if engine.in_process else None)
        try:
            future = submit(task)
        except cf.BrokenExecutor as err:
            progress.lost(len(task))
            lost.append((task, False))
            return err
        in_flight[future] = (task, alone)
        if alone:
            return None
    return None


def gather(in_flight, lost, report, progress):
    """Wait (at most a progress interval) for calls in flight to finish and write their
    records. Returns (the executor's error if one broke, how many calls finished)."""
    done, _ = cf.wait(in_flight, timeout=max(progress.interval, 0.05),
                      return_when=cf.FIRST_COMPLETED)
    broken, finished = None, 0
    for future in done:
        task, alone = in_flight.pop(future)
        err = collect(future, task, report, progress)
        if err is not None:
            broken = broken or err
            lost.append((task, alone))
        else:
            finished += 1
    return broken, finished


def collect(future, task, report, progress):
    """Write the records of one finished call. Returns the error if the executor broke."""
    try:
        records = future.result()
    except cf.BrokenExecutor as err:                # a worker process was killed
        progress.lost(len(task))
        return err
    except Exception as err:                        # e.g. dask's KilledWorker, pickling
        records = [failed_record(c, err, 0.0) for c in task]
    write_records(records, report, progress)
    return None


def write_records(records, report, progress):
    for record in records:
        write_run(report.out, record)
        report.done += 1
        report.failed += record["status"].startswith("failed")
        report.diverged += record["status"].startswith("diverged")
        progress.finished(record["status"])
