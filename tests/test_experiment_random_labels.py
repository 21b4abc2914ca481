"""The random-label pretraining experiment runs end to end at a tiny scale: outputs written,
every arm in the table, the same seed giving the same numbers; the published random-label
("confusion") set and schedule as written; bad arguments refused by name."""
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
