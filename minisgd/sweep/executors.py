"""Where a sweep's runs execute: this process, a local process pool, or a Dask cluster.

The sweep runner needs only the `concurrent.futures.Executor` interface (submit, futures,
shutdown), so each executor here is one of those:
  InProcessExecutor   runs each call at submit time in this process (--workers 1); the
                      runner can then show a single run's step and loss.
  process pool        concurrent.futures.ProcessPoolExecutor with `spawn` workers that
                      start with OPENBLAS/OMP/MKL_NUM_THREADS=1, so N workers on N cores do
                      not also fight over BLAS threads.
  Dask                dask.distributed's Client.get_executor() (`pip install minisgd[dask]`),
                      on an existing scheduler or a LocalCluster; imported only when asked.
Every executor is wrapped in an `Engine` that knows how many calls it can run at once and
how to stop it, including killing its workers after Ctrl-C. Not for: what a call does.
"""
import concurrent.futures as cf
import multiprocessing
import os
import time
from dataclasses import dataclass, field

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class ExecutorError(RuntimeError):
    """An executor that cannot be started (missing dask, unreachable scheduler)."""


class InProcessExecutor(cf.Executor):
    """Runs fn(*args) inside submit() and returns an already finished Future."""

    def submit(self, fn, /, *args, **kwargs):
        future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:                    # Ctrl-C (KeyboardInterrupt) propagates
            future.set_exception(err)
        return future


@dataclass
class Engine:
    """An executor plus what the runner needs to know about it."""
    executor: cf.Executor
    slots: int                      # calls that can run at once
    name: str
    in_process: bool = False
    closers: list = field(default_factory=list)

    def close(self, abort=False):
        """Shut down; with abort, cancel queued calls and kill running workers."""
        try:
            self.executor.shutdown(wait=not abort, cancel_futures=abort)
        except TypeError:                           # dask's executor: no cancel_futures,
            self.executor.shutdown(wait=not abort)  # wait=False cancels
        if abort:
            for process in list((getattr(self.executor, "_processes", None) or {}).values()):
                if process.is_alive():
                    process.terminate()
        for close in self.closers:
            close()


def make_engine(kind="local", workers=None, scheduler=None):
    """Engine for kind "local" (in-process for 1 worker, else a process pool) or "dask"."""
    if kind == "dask":
        return dask_engine(scheduler, workers)
    if kind != "local":
        raise ExecutorError(f"executor must be 'local' or 'dask', got {kind!r}")
    if workers is None:
        workers = os.cpu_count() or 1
    if workers <= 1:
        return Engine(InProcessExecutor(), 1, "in-process", in_process=True)
    return process_pool_engine(workers)


def process_pool_engine(workers):
    """A spawn-context ProcessPoolExecutor whose workers use one BLAS thread each.

    Spawned workers copy os.environ when they start (at the first submits), so the thread
    variables are set here and restored when the engine closes."""
    saved = {name: os.environ.get(name) for name in THREAD_VARS}
    os.environ.update({name: "1" for name in THREAD_VARS})

    def restore():
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=exit_with_parent, initargs=(os.getpid(),))
    return Engine(pool, workers, f"process pool ({workers} workers)", closers=[restore])


def exit_with_parent(parent_pid, every=1.0):
    """In a pool worker: a daemon thread that ends the process once the sweep that started
    it is gone (kill -9 of the sweep would otherwise leave its workers running forever; a
    worker's parent pid changes when its parent dies)."""
    import threading

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(every)
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def dask_engine(scheduler, workers=None):
    """Client.get_executor() on `scheduler` (an address such as tcp://host:8786, or a
    LocalCluster object); without one, a LocalCluster of `workers` single-threaded
    processes on this machine."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ExecutorError("--executor dask needs dask.distributed, which is not installed: "
                            "pip install 'minisgd[dask]'  (or: pip install "
                            "'dask[distributed]')") from None
    closers = []
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None)
        closers.append(cluster.close)
        scheduler = cluster
    try:
        client = Client(scheduler, timeout=20)
    except (OSError, TimeoutError) as err:
        for close in closers:
            close()
        raise ExecutorError(f"cannot reach the Dask scheduler at {scheduler!r}: {err}") from None
    closers.insert(0, client.close)
    slots = sum(client.nthreads().values()) or 1
    name = f"dask ({len(client.nthreads())} workers, {slots} threads)"
    return Engine(client.get_executor(pure=False), slots, name, closers=closers)
