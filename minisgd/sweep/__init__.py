"""Sweeps: grids of training runs that survive interruption (the machinery around the loop).

  config.py     TOML text -> the validated list of run Configs
  runfiles.py   one JSON file per finished run, named by the hash of its config
  lock.py       DIR/.lock: one sweep at a time per folder
  folder.py     what a sweep may touch: its own temp files, a folder that holds this sweep
  summary.py    DIR/summary.csv and summary.md, rebuilt from the run files
  errors.py     SweepError: why a sweep stops, with its exit code
  pool.py       grouping runs into calls (ensembles) and driving an executor
  jobs.py       what one call does on a worker: train, turn results into run records
  executors.py  in-process, process pool, Dask
  progress.py   the progress line
  runner.py     `python -m minisgd sweep`: plan, run, write, summarize
  plots.py      `python -m minisgd plot`: the figures of a sweep folder or a run file
"""
from .runner import add_sweep_parser, execute_sweep, run_sweep

__all__ = ["add_sweep_parser", "execute_sweep", "run_sweep"]
