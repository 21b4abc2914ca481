"""A resolved config (issue 20, item 4): validation returns a new Config -- the values that
ran, from given objects, the task's and the model's defaults -- and never changes its input;
None is "unset" for the fields of config.FIELD_TABLE, so a field set to something that does
not apply, or that disagrees with a given object, is refused even at its usual default; and
the records of every config 0.4.0 accepted and still accepts are what 0.4.0 recorded."""
import copy
import re
import textwrap
from dataclasses import fields

import numpy as np
import pytest

from old_versions import ROOT, run_in, unpack
import minisgd.__main__ as cli
from minisgd import MLP, DiagonalNet
from minisgd.config import FIELD_TABLE, UNSET, Config, field_default
from minisgd.data import make_data
from minisgd.ensemble import train_ensemble
from minisgd.sweep import execute_sweep
from minisgd.sweep.config import parse_sweep
from minisgd.train import train

SMALL = dict(n=60, n_test=30, steps=5)
RUNS = [dict(task="classification"), dict(task="classification", dataset="teacher"),
        dict(task="sparse_regression", model="diagonal"), dict(optimizer="gd"),
        dict(model="diagonal", init_scheme="normal", init_scale=0.2), dict()]


# ---- the table ------------------------------------------------------------------------

def test_the_unset_fields_are_the_table_and_the_docstring_lists_them():
    unset = [f.name for f in fields(Config) if f.default is None and f.name in FIELD_TABLE]
    assert sorted(unset) == sorted(UNSET) == sorted(FIELD_TABLE)
    listed = re.search(r"None means \"unset\" for the fields of FIELD_TABLE: (.*?)\.",
                       Config.__doc__, re.S).group(1)
    assert sorted(re.split(r",\s*", " ".join(listed.split()))) == sorted(UNSET)


def test_the_defaults_resolved_are_the_old_defaults():
    """Config() resolves to what the paper's setup always recorded."""
    c = Config().validate()
    assert (c.model, c.d, c.support, c.target, c.double, c.depth, c.width) == \
        ("mlp", 15, (0, 1, 2, 3, 4), "linear", True, 3, 15)
    assert (c.activation, c.bias, c.weight_norm, c.init_scheme, c.init_scale) == \
        ("linear", False, "none", "kaiming_normal", None)
    assert (c.batch_size, c.replacement, c.threshold, c.support_rule) == (32, False, 0.1, "gap")
    assert c.classes is None and c.parametrization is None and c.noise is None


@pytest.mark.parametrize("kw, expected", [
    (dict(model="diagonal"), dict(init_scheme="constant", init_scale=0.1, parametrization="uv",
                                  depth=None, width=None)),
    (dict(task="classification", dataset="teacher"), dict(blobs=None, separation=None,
                                                           classes=3, support=None)),
    (dict(task="classification", dataset="signals"), dict(blobs=None, separation=0.75)),
    (dict(task="classification", loss="cross_entropy"), dict(label_scale=None)),
    (dict(task="sparse_regression"), dict(noise=0.0, l0_threshold=1e-3, support=(0, 1, 2, 3, 4),
                                          target=None)),
    (dict(optimizer="gd"), dict(batch_size=None, replacement=None)),
])
def test_unset_fields_take_the_task_and_model_default_or_none(kw, expected):
    c = Config(**kw).validate()
    assert {k: getattr(c, k) for k in expected} == expected
    assert all(field_default(Config(**kw), k) == v for k, v in expected.items())


# ---- validation never changes its input ------------------------------------------------

@pytest.mark.parametrize("kw", RUNS)
def test_train_does_not_change_the_callers_config_and_a_reused_one_runs_the_same(kw):
    c = Config(**SMALL, **kw)
    before = copy.deepcopy(c)
    first = train(c)
    assert c == before
    again = train(c)
    assert again.config == first.config and again.history == first.history
    assert c.validate() is not c and c.validate() == c.validate().validate() and c == before


def test_a_run_given_data_net_and_batches_leaves_the_config_as_it_was():
    data = make_data(0, d=10, support=(0, 1), n=50, n_test=20)
    net = MLP([10, 6, 6, 1], seed=1)
    batches = np.random.default_rng(2).integers(0, 100, size=(5, 7))
    c = Config(steps=5, support=(0, 1))
    before = copy.deepcopy(c)
    r = train(c, data=data, net=net, batches=batches)
    assert c == before and r.config["d"] == 10 and r.config["width"] == 6
    assert r.config["batch_size"] == 7 and c.d is None and c.batch_size is None
    assert (r.config["n"], r.config["n_test"]) == (100, 20)     # the rows that ran
    plain = train(c)                                  # the same object, nothing given
    assert plain.config == train(Config(steps=5, support=(0, 1))).config
    assert plain.config["d"] == 15 and plain.config["batch_size"] == 32


def test_a_classifier_given_data_does_not_record_the_recipe_and_keeps_the_config():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 6)), np.arange(40) % 4
    from minisgd.data import Data
    c = Config(steps=5, task="classification")
    before = copy.deepcopy(c)
    r = train(c, data=Data(X, y, X[:10], y[:10]))
    assert c == before
    assert (r.config["classes"], r.config["d"], r.config["dataset"], r.config["blobs"]) == \
        (4, 6, None, None)
    assert train(c).config["dataset"] == "gaussian_mixture"


def test_an_ensemble_does_not_change_its_configs():
    configs = [Config(**SMALL, seed=s, task="classification") for s in (0, 1)]
    before = copy.deepcopy(configs)
    results = train_ensemble(configs)
    assert configs == before and results[0].config["classes"] == 3


def test_a_sweep_keeps_its_configs_resolved_and_unchanged(tmp_path):
    spec = parse_sweep('[run]\nn = 60\nn_test = 30\nsteps = 5\ntask = "classification"\n'
                       '[sweep]\nseed = [0, 1]\n')
    assert all(c.classes == 3 and c.dataset == "gaussian_mixture" for c in spec.configs)
    before = copy.deepcopy(spec.configs)
    execute_sweep(spec, str(tmp_path), workers=1, quiet=True)
    assert spec.configs == before


def test_the_command_line_path_hands_train_an_unset_config_and_does_not_change_it(
        monkeypatch, tmp_path):
    seen = []

    def spy(config, **kwargs):
        seen.append((config, copy.deepcopy(config)))
        return train(config, **kwargs)
    monkeypatch.setattr("minisgd.train.train", spy)
    assert cli.main(["train", "--task", "classification", "--n", "60", "--steps", "5",
                     "--quiet"]) == 0
    config, before = seen[0]
    assert config == before and config.classes is None and config.depth is None
    assert config == Config(task="classification", n=60, steps=5)


# ---- a field set to a value that does not apply, or disagrees, is refused ---------------

@pytest.mark.parametrize("kw, message", [
    (dict(optimizer="gd", batch_size=32), r"batch_size does not apply to optimizer='gd'"),
    (dict(optimizer="gd", replacement=False), r"replacement does not apply to optimizer='gd'"),
    (dict(model="diagonal", depth=3), r"depth does not apply to model='diagonal'"),
    (dict(model="diagonal", width=15), r"width does not apply to model='diagonal'"),
    (dict(model="diagonal", weight_norm="none"), r"weight_norm does not apply"),
    (dict(model="diagonal", init_scheme="kaiming_normal"), r"init_scheme must be one of"),
    (dict(parametrization="uv"), r"parametrization does not apply to model='mlp'"),
    (dict(task="classification", target="linear"),
     r"target does not apply to task='classification' \(only to task='support'\)"),
    (dict(task="classification", support=(0, 1, 2, 3, 4)), r"support does not apply"),
    (dict(task="classification", double=True), r"double does not apply"),
    (dict(task="classification", loss="cross_entropy", label_scale=1.0),
     r"label_scale does not apply to loss='cross_entropy'"),
    (dict(classes=3), r"classes does not apply to task='support'"),
    (dict(task="sparse_regression", threshold=0.1), r"threshold does not apply"),
    (dict(noise=0.0), r"noise does not apply to task='support'"),
])
def test_a_set_field_that_does_not_apply_is_refused_even_at_its_default(kw, message):
    with pytest.raises(ValueError, match=message):
        Config(**kw).validate()
    with pytest.raises(ValueError, match=message):
        train(Config(**SMALL, **kw))


@pytest.mark.parametrize("given, kw, message", [
    (dict(data=make_data(0, d=20, support=(0, 1), n=30, n_test=10)), dict(d=15),
     r"d = 15 disagrees with the data's columns, which has 20"),
    (dict(net=MLP([15, 15, 15, 1], seed=0)), dict(depth=3),
     r"depth = 3 disagrees with the initial net, which has 2"),
    (dict(net=MLP([15, 15, 15, 15, 1], seed=0)), dict(width=16),
     r"width = 16 disagrees with the initial net, which has 15"),
    (dict(net=DiagonalNet(15)), dict(model="mlp"),
     r"model = 'mlp' disagrees with the initial net, which has 'diagonal'"),
    (dict(batches=np.zeros((5, 7), dtype=np.int64)), dict(batch_size=32),
     r"batch_size = 32 disagrees with the batch array's width, which has 7"),
])
def test_a_set_field_disagreeing_with_a_given_object_is_refused_even_at_its_default(
        given, kw, message):
    support = dict(support=(0, 1)) if "data" in given else {}
    with pytest.raises(ValueError, match=message):
        train(Config(**SMALL, **support, **kw), **given)


def test_a_recipe_field_set_for_given_data_is_refused():
    rng = np.random.default_rng(0)
    from minisgd.data import Data
    data = Data(rng.standard_normal((30, 4)), np.arange(30) % 3, rng.standard_normal((9, 4)),
                np.arange(9) % 3)
    with pytest.raises(ValueError, match=r"dataset does not apply to given data"):
        train(Config(steps=5, task="classification", dataset="gaussian_mixture"), data=data)


def test_an_unset_model_is_taken_from_a_diagonal_net():
    r = train(Config(**SMALL), net=DiagonalNet(15, parametrization="u2v2"))
    assert r.config["model"] == "diagonal" and r.config["parametrization"] == "u2v2"
    assert r.config["depth"] is None and r.config["init_scheme"] is None   # the net's weights
    assert r.given["model"] == "the initial net"


# ---- the records of 0.4.0 ----------------------------------------------------------------

REFERENCE = "e470b4bfdb1c855170ffe6f6ab8d4d67dcd6c6ba"   # minisgd 0.4.0
MIX = dict(kind="classification", d=6, classes=3)
CASES = [                       # (config, given objects); n, n_test, steps from SMALL
    ({}, {}), (dict(optimizer="gd"), {}), (dict(batch_size=8, replacement=True), {}),
    (dict(target="sine", input="rademacher", center=False, double=False, label_eps=0.01,
          threshold=0.2, support_rule="fraction"), {}),
    (dict(d=10, support=[1, 3]), {}),
    (dict(depth=1, width=7, activation="relu", bias=True), {}),
    (dict(weight_norm="layer", activation="tanh"), {}),
    (dict(init_scheme="normal", init_scale=0.3), {}),
    (dict(init_scheme="torch_default", init_scale=2.0), {}),
    (dict(model="diagonal"), {}),
    (dict(model="diagonal", parametrization="u2v2", init_scale=0.05), {}),
    (dict(model="diagonal", init_scheme="normal", init_scale=0.2, optimizer="gd"), {}),
    (dict(task="sparse_regression"), {}), (dict(task="sparse_regression", optimizer="gd"), {}),
    (dict(task="sparse_regression", model="diagonal", noise=0.1, l0_threshold=0.01, d=30,
          support=[0, 5]), {}),
    (dict(task="classification"), {}), (dict(task="classification", dataset="teacher"), {}),
    (dict(task="classification", dataset="signals", separation=1.0), {}),
    (dict(task="classification", classes=4, blobs=3, random_labels=0.5, label_scale=2.0), {}),
    (dict(task="classification", loss="cross_entropy"), {}),
    (dict(task="classification", loss="cross_entropy", optimizer="gd", metrics=["collapse"]), {}),
    (dict(task="classification", metrics=["layer_norms"], gradient="rows", dtype="float32"), {}),
    (dict(lr=0.05, clip=None, momentum=0.9, weight_decay=1e-3, decay_at=[0.5], warmup=2, seed=3,
          data_seed=1), {}),
    (dict(optimizer="gd", l1=1e-3, group_l1=1e-3), {}),
    (dict(support=[0, 1]), dict(data=dict(kind="support", d=20, support=[0, 1]))),
    ({}, dict(net=dict(sizes=[15, 7, 7, 1], activation="relu", bias=True))),
    ({}, dict(net=dict(sizes=[15, 4, 1], weight_norm="unit"))),
    ({}, dict(net=dict(diagonal=15, parametrization="u2v2"))),
    (dict(task="sparse_regression"), dict(net=dict(diagonal=15, parametrization="uv"))),
    ({}, dict(batches=[5, 7, 120])),
    (dict(task="classification"), dict(data=MIX)),
    (dict(task="classification"), dict(data=MIX, net=dict(sizes=[6, 8, 3]), batches=[5, 4, 60])),
    (dict(task="sparse_regression", support=[0, 1]),
     dict(data=dict(kind="sparse", d=12, support=[0, 1]))),
    (dict(support=[0, 1], optimizer="gd"), dict(data=dict(kind="support", d=8, support=[0, 1]))),
    (dict(support=[0, 1]), dict(data=dict(kind="support", d=8, support=[0, 1]),
                                net=dict(sizes=[8, 5, 1]), batches=[5, 16, 120])),
]
NOW_REFUSED = [                 # 0.4.0 accepted these, changing what was set
    (dict(optimizer="gd", batch_size=32), {}), (dict(model="diagonal", depth=3), {}),
    (dict(task="classification", target="linear"), {}),
    (dict(model="diagonal", init_scheme="kaiming_normal"), {}),
    (dict(d=15, support=[0, 1]), dict(data=dict(kind="support", d=20, support=[0, 1]))),
    (dict(batch_size=32), dict(batches=[5, 7, 120])),
    (dict(task="classification", dataset="teacher"), dict(data=MIX)),
]
SWEEPS = ['[run]\nn = 60\nn_test = 30\nsteps = 5\n[sweep]\noptimizer = ["sgd", "gd"]\n'
          'batch_size = [1, 32]\nseed = [0, 1]\n',
          '[run]\nn = 60\nsteps = 5\n[sweep]\ntask = ["support", "sparse_regression"]\n'
          'model = ["mlp", "diagonal"]\n',
          '[run]\nn = 60\nsteps = 5\ntask = "classification"\n[sweep]\n'
          'loss = ["mse", "cross_entropy"]\ndataset = ["gaussian_mixture", "teacher"]\n']

RECORDS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import minisgd
    from minisgd.config import Config, config_dict
    from minisgd.data import Data, make_classification, make_data, make_sparse_regression
    from minisgd.models import MLP, DiagonalNet
    from minisgd.sweep.config import parse_sweep
    from minisgd.sweep.runfiles import run_hash
    from minisgd.train import prepare
    spec = json.loads(sys.argv[1])
    assert minisgd.__file__.startswith(spec["root"]), minisgd.__file__

    def data(g):
        if g["kind"] == "support":
            return make_data(0, d=g["d"], support=tuple(g["support"]), n=40, n_test=10)
        if g["kind"] == "sparse":
            return make_sparse_regression(0, g["d"], tuple(g["support"]), 40, 10)
        full = make_classification(0, "gaussian_mixture", g["d"], g["classes"], 40, 10)
        return Data(full.X, full.y, full.X_test, full.y_test)     # classes from the labels

    def net(g):
        if "diagonal" in g:
            return DiagonalNet(g["diagonal"], parametrization=g["parametrization"], seed=1)
        extra = {"weight_norm": g["weight_norm"]} if "weight_norm" in g else {}
        return MLP(g["sizes"], activation=g.get("activation", "linear"),
                   bias=g.get("bias", False), seed=1, **extra)

    def objects(g):
        out = {}
        if "data" in g:
            out["data"] = data(g["data"])
        if "net" in g:
            out["net"] = net(g["net"])
        if "batches" in g:
            steps, b, rows = g["batches"]
            out["batches"] = np.random.default_rng(2).integers(0, rows, size=(steps, b))
        return out

    def record(values, g):
        config = lambda: Config(**{k: tuple(v) if isinstance(v, list) else v
                                   for k, v in values.items()})
        try:
            problem = prepare(config(), **objects(g))[0]
        except (ValueError, TypeError) as err:
            return {"error": str(err)}
        out = {"config": config_dict(problem.config), "given": problem.given}
        if not g:
            out["hash"] = run_hash(config_dict(config().validate()))
        return out

    runs = [record(values, g) for values, g in spec["cases"]]
    sweeps = [[[config_dict(c), run_hash(config_dict(c))] for c in parse_sweep(t).configs]
              for t in spec["sweeps"]]
    print(json.dumps({"runs": runs, "sweeps": sweeps}))
""")


def small(given):
    """SMALL, without the rows given data decide (issue 21: n, n_test are the data's)."""
    return {k: v for k, v in SMALL.items() if "data" not in given or k == "steps"}


# What moved since 0.4.0 (issue 21, cause 3): with a given object its fields record what ran.
MOVED = {"data": ("n", "n_test", "target", "input", "center", "double", "label_eps"),
         "net": ("init_scheme", "init_scale"), "batches": ("replacement",)}


def unmoved(record, given):
    drop = {k for kind in given for k in MOVED[kind]}
    return {"config": {k: v for k, v in record["config"].items() if k not in drop},
            "given": {k: v for k, v in record["given"].items() if k not in ("n", "n_test")}}


def test_what_moved_with_a_given_object_is_what_ran(old_and_new):
    for (values, given), now in zip(CASES, old_and_new[1]["runs"]):
        if "data" in given:
            assert now["given"]["n"] == "the data's rows" and now["config"]["n_test"] == 10
        for kind in given:
            moved = [k for k in MOVED[kind] if k not in ("n", "n_test")]
            assert all(now["config"][k] is None for k in moved), (values, given, now)


def records(root):
    cases = [(dict(small(given), **values), given) for values, given in CASES + NOW_REFUSED]
    return run_in(root, RECORDS, {"cases": cases, "sweeps": SWEEPS, "root": str(root)})


@pytest.fixture(scope="module")
def old_and_new(tmp_path_factory):
    return records(unpack(REFERENCE, tmp_path_factory.mktemp("v040"))), records(ROOT)


NEW_FIELDS = ("noise_inputs",)         # Config fields added since 0.4.0: null when unset


def without_new_fields(value):
    """value with the NEW_FIELDS keys that are null removed, in nested dicts and lists too
    (a field added since 0.4.0 and left unset records null; the run hash leaves it out)."""
    if isinstance(value, dict):
        return {k: without_new_fields(v) for k, v in value.items()
                if not (k in NEW_FIELDS and v is None)}
    if isinstance(value, list):
        return [without_new_fields(v) for v in value]
    return value


def test_configs_that_0_4_0_accepted_and_still_accepts_record_the_same(old_and_new):
    """The recorded config, the given-objects record and the sweep run hash are 0.4.0's."""
    old, new = old_and_new
    new = without_new_fields(new)
    for case, was, now in zip(CASES, old["runs"], new["runs"]):
        assert "error" not in was and "error" not in now, (case, was, now)
        if case[1]:
            was, now = unmoved(was, case[1]), unmoved(now, case[1])
        assert now == was, case


def test_the_configs_now_refused_were_the_ones_setting_a_default_that_did_not_hold(old_and_new):
    old, new = old_and_new
    for case, was, now in zip(NOW_REFUSED, old["runs"][len(CASES):], new["runs"][len(CASES):]):
        assert "error" not in was and "error" in now, case
        assert re.search(r"does not apply|disagrees|must be one of", now["error"]), now


def test_sweep_grids_expand_to_the_same_configs_and_run_hashes(old_and_new):
    old, new = old_and_new
    assert without_new_fields(new["sweeps"]) == old["sweeps"] and all(old["sweeps"])
