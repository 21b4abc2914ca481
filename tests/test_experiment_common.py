"""minisgd/report/experiment.py, the setup the experiment scripts share: pool workers get one
BLAS thread whatever the parent's environment says, a run in this process keeps the user's
setting; options refuse out-of-range values by name; a given 0 is never a default."""
import ctypes
import glob
import os

import numpy as np
import pytest

from minisgd.report import experiment as ex

SETTING = {name: "2" for name in ex.THREAD_VARS}       # what a user may have exported


def openblas_threads():
    """The threads NumPy's own OpenBLAS runs with in this process (None: not found)."""
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*")
    for path in glob.glob(libs):
        lib = ctypes.CDLL(path)                       # the copy NumPy loaded already
        for symbol in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                       "openblas_get_num_threads"):
            if hasattr(lib, symbol):
                return int(getattr(lib, symbol)())
    return None


def report(job):
    """Run in a worker: its thread variables, blas_threads() and OpenBLAS's own count."""
    return {**ex.worker_threads(), "openblas": openblas_threads(), "job": job}


def test_pool_workers_use_one_blas_thread_whatever_the_parent_says(monkeypatch):
    for name, value in SETTING.items():
        monkeypatch.setenv(name, value)
    reports = ex.run_jobs(report, [0, 1, 2, 3], workers=2)
    assert [r["job"] for r in reports] == [0, 1, 2, 3]
    for r in reports:
        assert [r[name] for name in ex.THREAD_VARS] == ["1", "1", "1"]
        assert r["blas_threads"] == 1
        assert r["openblas"] in (1, None)             # None: a NumPy without that library
    assert {name: os.environ[name] for name in ex.THREAD_VARS} == SETTING   # restored


def test_a_run_in_this_process_keeps_the_users_setting(monkeypatch):
    for name, value in SETTING.items():
        monkeypatch.setenv(name, value)
    for workers, jobs in ((1, [0, 1]), (2, [0])):     # one worker, or one job: no pool
        for r in ex.run_jobs(report, jobs, workers=workers):
            assert [r[name] for name in ex.THREAD_VARS] == ["2", "2", "2"]
            assert r["blas_threads"] == 2


def test_run_jobs_starts_the_costliest_first_and_returns_in_job_order():
    seen = []
    results = ex.run_jobs(abs, [-1, 5, -3], workers=1, cost=abs,
                          done=lambda job, result: seen.append(job))
    assert results == [1, 5, 3] and seen == [5, -3, -1]


def test_parser_common_options(capsys):
    p = ex.experiment_parser("Claim: one.\n\nDetails.", "demo", full="bigger", workers=3,
                             seeds="runs per arm")
    args = p.parse_args([])
    assert (args.out, args.full, args.workers, args.seeds) == (
        os.path.join("results", "demo"), False, 3, None)
    assert p.description == "Claim: one." and p.prog == "demo.py"
    assert not hasattr(args, "quick")
    both = ex.experiment_parser("x", "demo", quick="q", full="f")
    with pytest.raises(SystemExit):
        both.parse_args(["--quick", "--full"])
    assert "not allowed with argument --quick" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "argument --workers: must be >= 1, got '0'"),
    (["--seeds", "1"], "argument --seeds: must be >= 2, got '1'"),
    (["--seeds", "x"], "argument --seeds: must be an integer, got 'x'"),
    (["--seeds", "2.5"], "argument --seeds: must be an integer, got '2.5'"),
])
def test_out_of_range_options_are_refused_by_name(argv, message, capsys):
    p = ex.experiment_parser("x", "demo", workers=1, seeds="s", least_seeds=2)
    with pytest.raises(SystemExit) as exit_info:
        p.parse_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_bounded_types():
    assert ex.at_least(0)("0") == 0 and ex.above(0)("1e-3") == 1e-3
    assert ex.within(0, 1)("1") == 1.0
    for parse, text, shown in ((ex.above(0), "0", "> 0"), (ex.within(0, 1), "1.5", "in (0, 1]"),
                               (ex.within(0, 1), "nan", "in (0, 1]"),
                               (ex.at_least(1), "0", ">= 1"),
                               (ex.at_least(1), "2.5", "an integer")):
        with pytest.raises(Exception, match=shown.replace("(", r"\(").replace("]", r"\]")):
            parse(text)


def test_default_to_keeps_a_given_zero():
    p = ex.experiment_parser("x", "demo")
    p.add_argument("--steps", type=ex.at_least(0))
    p.add_argument("--n", type=int)
    args = ex.default_to(p.parse_args(["--steps", "0"]), steps=100, n=7)
    assert (args.steps, args.n) == (0, 7)


def test_check_configs_names_the_script(capsys):
    from minisgd.train import Config
    assert len(ex.check_configs([Config(steps=3)], "/some/where/demo.py")) == 1
    for bad in (Config(steps=0), Config(steps=10 ** 12)):        # invalid; days long
        with pytest.raises(SystemExit) as exit_info:
            ex.check_configs([Config(steps=3), bad], "/some/where/demo.py")
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("demo.py: error: ") and "steps" in err


def test_a_script_gives_the_same_numbers_in_pool_workers_as_in_this_process(tmp_path):
    """neural_collapse.py's own run_one, pickled to spawned workers (the script imported by
    its name, as load_script does), gives the rows it gives in this process."""
    from experiment_scripts import load_script
    script = load_script("neural_collapse")
    tiny = ["--depth", "2", "--width", "8", "--n", "60", "--seeds", "2", "--steps", "30",
            "--classes", "3"]
    here = script.main(tiny + ["--workers", "1", "--out", str(tmp_path / "here")])
    pool = script.main(tiny + ["--workers", "2", "--out", str(tmp_path / "pool")])
    assert pool == here


def test_train_grouped_gives_every_config_its_single_run(monkeypatch):
    """Stackable configs (step size, weight decay, seed) in groups of at most `members`, an
    unstackable one (other batch size) alone: every Result equals train(config)."""
    from minisgd.ensemble import stack_groups
    from minisgd.train import Config, train
    base = dict(task="classification", d=6, classes=3, n=40, n_test=20, depth=2, width=8,
                activation="relu", bias=True, weight_norm="layer", batch_size=4, steps=60,
                records_per_decade=5)
    configs = [Config(**base, lr=lr, weight_decay=wd, seed=s)
               for lr, wd, s in ((0.1, 1e-3, 0), (0.2, 3e-3, 1), (0.05, 1e-3, 2))]
    configs.append(Config(**{**base, "batch_size": 8}, lr=0.1, weight_decay=1e-3, seed=0))
    assert [len(g) for g in stack_groups([c.validate() for c in configs])] == [3, 1]
    sizes = []
    real_chunk = ex.train_chunk
    monkeypatch.setattr(ex, "train_chunk", lambda cs: sizes.append(len(cs)) or real_chunk(cs))
    results = ex.train_grouped(configs, workers=1, cost=lambda c: c.steps, members=2)
    assert sorted(sizes) == [1, 1, 2]                          # 3 stackable -> 2 + 1
    for config, result in zip(configs, results):
        alone = train(config)
        assert result.history == alone.history
        assert np.array_equal(result.net.theta, alone.net.theta)
