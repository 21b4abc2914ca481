"""What one submitted call of a sweep does, on whichever process or machine runs it:
train a list of configs (one run, or several as an ensemble) and turn each result into
the dict of its run file (layout in runfiles.py). Never raises for a run's own error: the
run gets status "failed: <error>" and its traceback. Everything here is importable by
name, so process-pool and Dask workers can unpickle it. Not for: writing files
(runfiles.py) or scheduling (pool.py).
"""
import sys
import time
import traceback

from .. import __version__
from ..config import config_from_dict
from ..ensemble import PER_MEMBER, train_ensemble  # noqa: F401  (PER_MEMBER: train_members')
from ..history import finite_or_none
from ..train import train

ENSEMBLE_FREE = ("seed", "lr", "batch_size")    # fields that may differ inside an ensemble,
                                                # unless the ensemble's module says (PER_MEMBER)


def train_config(config, on_record=None):
    """The default run function: train.train on one Config (allow_long: the sweep checked
    its runs' cost before any work, bench/cost.py check_sweep_cost)."""
    return train(config, on_record=on_record, allow_long=True)


def train_members(configs):
    """The default ensemble function: ensemble.train_ensemble, cost checked as above."""
    return train_ensemble(configs, allow_long=True)


def run_record(config, result, wall_time):
    """The run-file dict of a finished Result (see runfiles.py for the layout)."""
    record = result.to_dict()
    diverged = record["final"]["diverged"]
    status = "ok" if diverged is False else f"diverged at step {diverged}"
    record.update(config=config, status=status, wall_time=wall_time)
    net = getattr(result, "net", None)
    if net is not None:
        W0 = net.effective_weights()[0]          # what the first layer multiplies by
        record["weights"] = {"W0": finite_or_none(W0.tolist())}
    return record


def failed_record(config, err, wall_time):
    return {"config": config, "history": None, "final": None, "weights": None,
            "status": f"failed: {type(err).__name__}: {err}", "version": __version__,
            "wall_time": wall_time,
            "traceback": "".join(traceback.format_exception(type(err), err, err.__traceback__))}


def execute_one(config, run_fn, on_record=None):
    start = time.perf_counter()
    try:
        result = run_fn(config_from_dict(config), on_record=on_record)
        return run_record(config, result, time.perf_counter() - start)
    except Exception as err:
        return failed_record(config, err, time.perf_counter() - start)


def execute_task(configs, run_fn=train_config, ensemble_fn=None, on_record=None):
    """Run a list of config dicts; one run-file record per config, in order. With an
    ensemble_fn and several configs, try them as one ensemble first; if it raises, run
    them one by one (so one bad run cannot fail its neighbours)."""
    if ensemble_fn is not None and len(configs) > 1:
        start = time.perf_counter()
        try:
            results = ensemble_fn([config_from_dict(c) for c in configs])
            wall = (time.perf_counter() - start) / len(configs)
            return [dict(run_record(c, r, wall), ensemble=len(configs))
                    for c, r in zip(configs, results, strict=True)]
        except Exception as err:
            print(f"minisgd sweep: an ensemble of {len(configs)} runs failed "
                  f"({type(err).__name__}: {err}); running them one by one", file=sys.stderr)
    return [execute_one(c, run_fn, on_record) for c in configs]


def ensemble_free_fields(ensemble_fn):
    """The config fields members of one ensemble may differ in: the PER_MEMBER set of the
    ensemble function's module if it declares one, else ENSEMBLE_FREE."""
    module = sys.modules.get(getattr(ensemble_fn, "__module__", None) or "")
    return tuple(sorted(getattr(module, "PER_MEMBER", ENSEMBLE_FREE)))


def ensemble_switches(ensemble_fn):
    """The fields whose being on (non-zero; clip: given) members of one stacked step must
    share: the SWITCHES of the ensemble function's module, and clip, if it declares them;
    else none (its members then differ only in ENSEMBLE_FREE)."""
    module = sys.modules.get(getattr(ensemble_fn, "__module__", None) or "")
    switches = getattr(module, "SWITCHES", None)
    return () if switches is None else tuple(switches) + ("clip",)
