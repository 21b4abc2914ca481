"""Ensembles whose members differ in every scalar of the update (issue 24, section 1):
member k is train(configs[k]) to the last bit (float64), and a list of configs that cannot
share one stacked step is split into as few groups as can."""
import numpy as np
import pytest

from minisgd.ensemble import MemberSchedules, check_compatible, stack_groups, train_ensemble
from minisgd.optimizers import SGD, LRSchedule, MemberRows
from minisgd.train import Config, train

SMALL = dict(n=200, n_test=100)


def assert_identical(ens_result, single_result):
    """Every history column and every final weight equal, bit for bit (nan where nan)."""
    h1, h2 = ens_result.history, single_result.history
    assert set(h1) == set(h2)
    for key in h2:
        a, b = np.array(h2[key], dtype=float), np.array(h1[key], dtype=float)
        assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True), key
    for W1, W2 in zip(ens_result.net.params, single_result.net.params):
        assert np.array_equal(W1, W2, equal_nan=True)
    assert ens_result.final["diverged"] == single_result.final["diverged"]


GRIDS = {   # name -> per-member overrides of a shared base
    "coupled weight decay, momentum, clip": (
        dict(batch_size=4, steps=300),
        [dict(lr=0.1, weight_decay=1e-3, momentum=0.9, clip=1.0),
         dict(lr=0.05, weight_decay=3e-2, momentum=0.5, clip=0.3),
         dict(lr=0.02, weight_decay=1e-4, momentum=0.99, clip=5.0)]),
    "decoupled weight decay, relu": (
        dict(batch_size=8, steps=250, decoupled_wd=True, activation="relu", bias=True),
        [dict(lr=0.1, weight_decay=1e-2), dict(lr=0.2, weight_decay=0.05)]),
    "L1 and group-L1 strengths, full batch": (
        dict(optimizer="gd", steps=80),
        [dict(lr=0.1, l1=1e-3, group_l1=1e-2), dict(lr=0.1, l1=5e-3, group_l1=3e-2)]),
    "label noise sigma, with replacement": (
        dict(batch_size=5, replacement=True, steps=300),
        [dict(label_noise=0.1), dict(label_noise=0.5, lr=0.05)]),
    "schedules: milestones, factor, warm-up": (
        dict(batch_size=16, steps=300, activation="tanh"),
        [dict(decay_at=(0.5,), decay_factor=0.1), dict(decay_at=(0.2, 0.7), decay_factor=0.5),
         dict(warmup=50), dict(warmup=10, decay_at=(0.9,), decay_factor=0.3)]),
}


@pytest.mark.parametrize("name", GRIDS)
def test_members_differing_in_the_update_are_their_single_runs(name):
    base, members = GRIDS[name]
    configs = [Config(seed=k, **SMALL, **{**base, **m}) for k, m in enumerate(members)]
    assert len(stack_groups(configs)) == 1                  # one stacked step for all
    for res, config in zip(train_ensemble(configs), configs):
        assert_identical(res, train(config))


@pytest.mark.parametrize("name", ["coupled weight decay, momentum, clip",
                                  "decoupled weight decay, relu"])
def test_member_scalars_as_a_column_are_the_single_runs_too(name, monkeypatch):
    """The paper-sized members take their scalars as full rows (MemberRows); members of more
    than MAX_PARAMS parameters take the (K, 1) column: forced here, the same bits."""
    monkeypatch.setattr(MemberRows, "MAX_PARAMS", 0)
    base, members = GRIDS[name]
    configs = [Config(seed=k, **SMALL, **{**base, **m}) for k, m in enumerate(members)]
    for res, config in zip(train_ensemble(configs), configs):
        assert_identical(res, train(config))


def test_member_rows_follow_changing_values():
    rows = MemberRows((2, 3))
    first = rows.full("lr", np.array([0.1, 0.2]))
    assert np.array_equal(first, [[0.1] * 3, [0.2] * 3])
    assert rows.full("lr", np.array([0.1, 0.2])) is first          # kept while the same
    assert np.array_equal(rows.full("lr", np.array([0.1, 0.02])), [[0.1] * 3, [0.02] * 3])
    assert rows.full("lr", 0.5) == 0.5                              # a scalar passes through


def test_a_mixed_list_is_grouped_and_every_run_is_its_single_run():
    configs = [Config(seed=0, batch_size=4, steps=120, weight_decay=1e-3, **SMALL),
               Config(seed=1, batch_size=4, steps=120, **SMALL),              # no decay
               Config(seed=2, batch_size=4, steps=120, weight_decay=5e-2, **SMALL),
               Config(seed=3, batch_size=8, steps=120, **SMALL),              # other b
               Config(seed=4, batch_size=4, steps=120, width=7, **SMALL),     # other shape
               Config(seed=5, batch_size=4, steps=120, clip=None, **SMALL)]   # no clipping
    assert stack_groups(configs) == [[0, 2], [1], [3], [4], [5]]
    results = train_ensemble(configs)
    for res, config in zip(results, configs):
        assert_identical(res, train(config))


def test_a_diverging_member_is_frozen_while_members_of_other_decays_go_on():
    configs = [Config(seed=0, lr=0.01, weight_decay=1e-3, batch_size=4, steps=300, clip=None,
                      **SMALL),
               Config(seed=1, lr=4.0, weight_decay=1e-2, batch_size=4, steps=300, clip=None,
                      **SMALL)]
    ensemble = train_ensemble(configs)
    singles = [train(c) for c in configs]
    assert singles[0].final["diverged"] is False and isinstance(singles[1].final["diverged"], int)
    for res, single in zip(ensemble, singles):
        assert_identical(res, single)


def test_one_stacked_step_names_what_its_members_may_not_differ_in():
    with pytest.raises(ValueError, match="batch_size"):
        check_compatible([Config(batch_size=1, **SMALL), Config(batch_size=2, **SMALL)])
    with pytest.raises(ValueError, match="weight_decay"):
        check_compatible([Config(weight_decay=0.0, **SMALL), Config(weight_decay=1e-3, **SMALL)])
    with pytest.raises(ValueError, match="all 0 or all non-zero"):
        SGD(0.1, weight_decay=np.array([0.0, 1e-3]))
    with pytest.raises(ValueError, match=r"momentum\[1\]"):
        SGD(0.1, momentum=np.array([0.5, 1.5]))


def test_member_schedules_are_each_members_own_schedule():
    schedules = [LRSchedule(0.1, 100, (0.3, 0.6), 0.5, 10), LRSchedule(0.3, 100),
                 LRSchedule(0.07, 100, (0.5,), 0.1, 0), LRSchedule(0.2, 100, (), 0.1, 40)]
    together = MemberSchedules(schedules)
    for t in list(range(100)) + [5, 70, 3]:                    # out of order too
        assert np.array_equal(together(t), [s(t) for s in schedules]), t


def test_a_sweep_stacks_runs_that_differ_in_the_update_and_splits_by_its_terms():
    from minisgd import ensemble
    from minisgd.config import config_dict
    from minisgd.sweep.jobs import ensemble_free_fields, ensemble_switches
    from minisgd.sweep.pool import make_tasks
    configs = [config_dict(Config(seed=s, weight_decay=wd, momentum=mu, **SMALL).validate())
               for s in range(2) for wd in (0.0, 1e-3, 1e-2) for mu in (0.0, 0.9)]
    fn = ensemble.train_ensemble
    tasks = make_tasks(configs, slots=1, free=ensemble_free_fields(fn),
                       switches=ensemble_switches(fn))
    terms = sorted((len(t), {(bool(c["weight_decay"]), bool(c["momentum"])) for c in t})
                   for t in tasks)
    assert [n for n, _ in terms] == [2, 2, 4, 4]                 # 4 groups by which terms are on
    assert all(len(kinds) == 1 for _, kinds in terms)
