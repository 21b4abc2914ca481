"""minisgd/bench/cost.py: runs that cannot fit or would take days are refused before any
work, naming the options; the estimates are lower bounds; a user who means a long run
says so (allow_long / --allow-long)."""
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from minisgd.bench import cost
from minisgd.bench.cost import TooBig, check_cost, check_sweep_cost, memory_terms
from minisgd.history import log_spaced_steps
from minisgd.sweep.config import parse_sweep
from minisgd.train import Config, train

GiB = 1024 ** 3


def resolved(**kwargs):
    return Config(**kwargs).validate()


@pytest.mark.parametrize("kwargs, option", [
    ({"width": 10 ** 7}, "width"),
    ({"d": 10 ** 8}, "d"),
    ({"n": 10 ** 9}, "n"),
    ({"task": "classification", "classes": 10 ** 5, "n": 10 ** 5}, "classes"),
    ({"task": "classification", "blobs": 10 ** 8}, "blobs"),
    ({"records_per_decade": 10 ** 9, "steps": 10 ** 9, "d": 10 ** 4}, "records_per_decade"),
    ({"depth": 10 ** 9}, "depth"),                  # counted, not listed
])
def test_a_run_that_cannot_fit_is_refused_before_anything_is_allocated(kwargs, option):
    tracemalloc.start()
    try:
        with pytest.raises(TooBig, match="memory") as info:
            train(Config(**kwargs), allow_long=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2 ** 20                      # refused from the config, not by NumPy
    assert option in info.value.options and option in str(info.value)


def test_a_run_of_days_is_refused_unless_the_caller_says_so():
    config = resolved(steps=10 ** 12)
    with pytest.raises(TooBig, match=r"at least .*days.*allow_long=True") as info:
        check_cost([config])
    assert info.value.options == ("steps",)
    memory, seconds = check_cost([config], allow_long=True)
    assert seconds > cost.LONG and memory < GiB
    assert check_cost([resolved()])[1] < 60         # the paper's run: seconds, not refused
    with pytest.raises(TooBig, match="at least 4.* hours"):
        check_cost([resolved(steps=10 ** 9)])       # hours at best: also needs allow_long


def test_the_counted_shape_is_the_built_nets():
    from minisgd.train import build_net
    for kwargs in ({}, {"depth": 0}, {"depth": 1, "bias": True}, {"model": "diagonal"},
                   {"task": "classification", "classes": 4, "width": 7, "depth": 3}):
        config = resolved(**kwargs)
        net = build_net(config, np.random.default_rng(0))
        layers, P, units = cost.shape(config)
        if config.model == "mlp":
            assert (layers, P, units) == (len(net.weights), sum(p.size for p in net.params),
                                          sum(net.sizes))
        else:
            assert P == sum(p.size for p in net.params)


def test_the_command_line_names_flags_and_exits_2_without_traceback():
    for argv, flag in ((["--width", "10000000"], "--width"),
                       (["--steps", "1000000000000"], "--allow-long")):
        proc = subprocess.run([sys.executable, "-m", "minisgd", "train", "--quiet", *argv],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and flag in proc.stderr
        assert "Traceback" not in proc.stderr and "allocate" not in proc.stderr


@pytest.mark.parametrize("kwargs", [
    {"steps": 200, "n": 300},
    {"task": "classification", "classes": 5, "n": 400, "width": 40, "optimizer": "gd",
     "steps": 20},
    {"optimizer": "gd", "steps": 30, "n": 2000, "gradient": "moments"},
])
def test_the_memory_estimate_is_a_lower_bound_of_what_a_run_allocates(kwargs):
    estimate = sum(t[0] for t in memory_terms(resolved(**kwargs)))
    tracemalloc.start()
    try:
        train(Config(**kwargs))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert estimate <= peak < 50 * estimate


def test_the_memory_check_uses_what_is_available():
    config = resolved()
    need = sum(t[0] for t in memory_terms(config))
    check_cost([config], available=need)
    with pytest.raises(TooBig, match="available"):
        check_cost([config], available=need - 1)


def log_spaced_by_formula(steps, per_decade):
    k = max(2, int(np.ceil(per_decade * np.log10(max(steps, 10)))) + 1)
    ts = np.unique(np.round(np.logspace(0, np.log10(steps), k)).astype(int))
    return [0] + [int(t) for t in ts if 1 <= t < steps] + [steps]


def test_dense_record_steps_are_listed_without_a_huge_logspace():
    for steps in list(range(1, 80)) + [997, 5000]:
        for per_decade in (1, 20, 300, 5000, 10 ** 5):
            assert log_spaced_steps(steps, per_decade) == log_spaced_by_formula(steps, per_decade)
    assert log_spaced_steps(3000, 10 ** 9) == list(range(3001))     # no 10^9-point logspace
    assert cost.record_count(resolved(steps=3000, records_per_decade=10 ** 9)) == 3001


GRID = """
[run]
steps = {steps}
n = 200
[sweep]
seed = [0, 1, 2, 3, 4, 5]
"""


def test_a_sweep_grid_over_the_run_limit_is_refused_before_it_is_expanded(monkeypatch):
    monkeypatch.setattr("minisgd.sweep.config.MAX_RUNS", 5)
    from minisgd.sweep.config import SweepConfigError
    with pytest.raises(SweepConfigError, match="6 runs, more than 5.*--allow-long"):
        parse_sweep(GRID.format(steps=10))
    assert len(parse_sweep(GRID.format(steps=10), allow_long=True).configs) == 6


def test_a_sweep_is_refused_for_its_total_time_and_each_run_for_its_share_of_memory():
    configs = parse_sweep(GRID.format(steps=150_000_000)).configs
    one = check_cost([configs[0]], allow_long=True)
    assert one[1] < cost.LONG < 6 * one[1] / 2     # each run alone is allowed, not all six
    with pytest.raises(TooBig, match="6 runs would take at least"):
        check_sweep_cost(configs, workers=2)
    assert check_sweep_cost(configs, workers=2, allow_long=True) == pytest.approx(3 * one[1])
    with pytest.raises(TooBig, match=r"run 1 of the sweep \(1/2 of the memory\)"):
        check_sweep_cost(configs, workers=2, allow_long=True, available=one[0] * 1.5)


def test_the_sweep_command_refuses_and_its_dry_run_states_the_cost(tmp_path):
    path = tmp_path / "long.toml"
    path.write_text(GRID.format(steps=10 ** 10))
    run = lambda *extra: subprocess.run(
        [sys.executable, "-m", "minisgd", "sweep", str(path), "--out", str(tmp_path / "o"),
         "--workers", "2", *extra], capture_output=True, text=True, timeout=60)
    for extra in ((), ("--dry-run",)):
        proc = run(*extra)
        assert proc.returncode == 2 and "--allow-long" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
    proc = run("--dry-run", "--allow-long")
    assert proc.returncode == 0 and "take at least" in proc.stdout and "days" in proc.stdout
