"""Values that silently did nothing or meant something else (issue 21, causes 6 and 10),
and divergence reports that named the wrong cause or said "ok" (issue 21)."""
import numpy as np
import pytest

from experiment_scripts import load_script
from minisgd.__main__ import main
from minisgd.optimizers import LRSchedule
from minisgd.train import Config, Divergence, train

SMALL = ["--steps", "50", "--n", "60", "--n-test", "30", "--quiet"]


@pytest.mark.parametrize("bad", [["--decay-at", "0.5,,0.7"], ["--decay-at", "1.0"],
                                 ["--decay-at", ",0.5"]])
def test_decay_at_refuses_empty_items_and_the_last_step(tmp_path, capsys, bad):
    with pytest.raises(SystemExit) as exc:
        main(["train", *SMALL, "--json", str(tmp_path / "r.json"), *bad])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--decay-at" in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


def test_lr_schedule_refuses_a_milestone_at_the_end():
    with pytest.raises(ValueError, match="decay_at.*< 1"):
        LRSchedule(0.1, 100, decay_at=(1.0,))
    assert LRSchedule(0.1, 100, decay_at=(0.99,))(99) == pytest.approx(0.01)


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), 0.0, "x"])
def test_a_given_schedule_returning_nonsense_is_refused(value):
    with pytest.raises((ValueError, TypeError), match="schedule"):
        train(Config(steps=20, n=40, n_test=20), schedule=lambda t: 0.1 if t < 5 else value)


def test_a_good_given_schedule_runs_as_before():
    a = train(Config(steps=30, n=40, n_test=20), schedule=lambda t: 0.02)
    b = train(Config(steps=30, n=40, n_test=20, lr=0.02))
    assert a.history["train_loss"] == b.history["train_loss"]


def test_a_non_finite_loss_diverges_whatever_the_factor():
    guard = Divergence(type("N", (), {"members": None, "theta": None})(), [1e308])
    assert guard.start(np.array([10.0]))
    assert guard.check(3, float("inf"), 0.1) is None and guard.diverged == [3]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_huge_lr_with_a_huge_factor_is_diverged_not_ok():
    result = train(Config(steps=200, n=60, n_test=30, lr=1e300, clip=None,
                          diverge_factor=1e308))
    assert result.final["diverged"] is not False
    assert result.final["steps_done"] == result.final["diverged"] < 200


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("extra", [{"task": "classification"},
                                   {"init_scheme": "normal"}])
def test_huge_initial_weights_are_blamed_not_the_data(extra):
    result = train(Config(steps=20, n=60, n_test=30, init_scale=1e200, **extra))
    note = result.final["note"]
    assert result.final["diverged"] == 0
    assert "initial parameters" in note and "data overflow" not in note, note


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_sharpness_set_records_null_on_a_non_finite_net():
    import minisgd.metrics.sharpness  # noqa: F401
    result = train(Config(steps=20, n=60, n_test=30, lr=1e300, clip=None,
                          metrics=("sharpness",)))
    assert result.final["diverged"] is not False


# ---- experiment scripts ------------------------------------------------------------------

@pytest.mark.parametrize("script,argv,flag", [
    ("init_dependence", ["--batch-sizes", "1,1"], "--batch-sizes"),
    ("support", ["--batch-sizes", "1,32,1"], "--batch-sizes"),
    ("eta_over_b", ["--lrs", "0.1,0.1"], "--lrs"),
    ("eta_over_b", ["--budget", "nan"], "--budget"),
    ("eta_over_b", ["--budget", "inf"], "--budget"),
    ("neural_collapse", ["--wd", "nan"], "--wd"),
    ("neural_collapse", ["--separation", "inf"], "--separation"),
    ("sgd_noise", ["--lr", "nan"], "--lr"),
    ("sgd_noise", ["--wds", "1e-4,1e-4"], "--wds"),
    ("low_rank", ["--tol", "1e-3,nan"], "--tol"),
])
def test_experiment_bad_values_exit_2_naming_the_flag(tmp_path, capsys, script, argv, flag):
    with pytest.raises(SystemExit) as exc:
        load_script(script).main(["--out", str(tmp_path / "o")] + argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert flag in err, err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_huge_diagonal_init_with_clipping_diverges_not_ok():
    # the gradient's squared norm overflowed to inf, so clipping made every step 0: "ok"
    result = train(Config(task="sparse_regression", model="diagonal", init_scale=1e200,
                          steps=50, n=60, n_test=30))
    assert result.final["diverged"] is not False
