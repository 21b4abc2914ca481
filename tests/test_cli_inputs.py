"""The input files of `python -m minisgd train` (--data, --init, --batches): every one is
checked before work, and every refusal names the flag or file and the form expected, with
exit status 2 and no traceback (issue 21, causes 4 and 7). Nothing is loaded as a pickle."""
import sys

import numpy as np
import pytest

from minisgd.__main__ import main
from minisgd.io.files import load_batches

REG = ["train", "--steps", "3", "--batch-size", "4"]
CLS = ["train", "--task", "classification", "--steps", "3", "--batch-size", "4"]


def refused(argv, capsys):
    """The stderr of a refused command line (exit status 2, no traceback)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert "Traceback" not in err
    return err


def data_file(tmp_path, name="d.npz", rows=30, d=8, **extra):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, d))
    arrays = {"X": X, "y": X[:, 0].copy()}
    arrays.update(extra)
    path = tmp_path / name
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return str(path)


# ---- cause 4: the test set is not guessed ----------------------------------------------
@pytest.mark.parametrize("half", ["X_test", "y_test"])
def test_half_a_test_set_is_refused(tmp_path, capsys, half):
    rng = np.random.default_rng(1)
    extra = {"X_test": rng.normal(size=(30, 8))} if half == "X_test" else \
        {"y_test": rng.normal(size=30)}
    err = refused(REG + ["--data", data_file(tmp_path, **extra)], capsys)
    other = "y_test" if half == "X_test" else "X_test"
    assert "--data" in err and half in err and other in err and "both" in err


@pytest.mark.parametrize("key", ["X_Test", "x", "Y", "beta"])
def test_an_unknown_key_is_refused_naming_it_and_the_known_keys(tmp_path, capsys, key):
    err = refused(REG + ["--data", data_file(tmp_path, **{key: np.ones(30)})], capsys)
    assert "--data" in err and repr(key) in err
    assert all(k in err for k in ("'X'", "'y'", "'X_test'", "'y_test'"))


def test_a_whole_test_set_and_none_at_all_still_run(tmp_path, capsys):
    rng = np.random.default_rng(2)
    both = data_file(tmp_path, "both.npz", X_test=rng.normal(size=(9, 8)),
                     y_test=rng.normal(size=9))
    assert main(REG + ["--data", both, "--quiet"]) == 0
    assert main(REG + ["--data", data_file(tmp_path), "--quiet"]) == 0


# ---- cause 7: errors that say what is wrong --------------------------------------------
@pytest.mark.parametrize("flag", ["--data", "--init", "--batches"])
def test_a_text_file_is_not_an_npz_or_npy_file(tmp_path, capsys, flag):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n1 2 3\n")
    err = refused(REG + [flag, str(path)], capsys)
    assert flag in err and "not an .npz/.npy file" in err
    assert "pickle" not in err


@pytest.mark.parametrize("flag", ["--data", "--init", "--batches"])
def test_a_folder_is_refused_as_a_folder(tmp_path, capsys, flag):
    err = refused(REG + [flag, str(tmp_path)], capsys)
    assert flag in err and "folder" in err


def test_a_pickled_array_is_never_loaded(tmp_path, capsys):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    err = refused(REG + ["--batches", str(path)], capsys)
    assert "--batches" in err and "allow_pickle" not in err and "object" in err


@pytest.mark.parametrize("bad", [np.zeros((5, 40), dtype=np.int64),
                                 np.full((5, 4), 30, dtype=np.int64)])
def test_batches_that_do_not_fit_the_data_blame_batches(tmp_path, bad):
    batches = tmp_path / "b.npy"
    np.save(batches, bad)
    with pytest.raises(ValueError) as info:
        load_batches(str(batches), rows=30)
    assert "--batches" in str(info.value) and "30 training rows" in str(info.value)
    assert load_batches(str(batches), rows=41).shape == bad.shape


@pytest.mark.parametrize("bad", [np.zeros((5, 4, 2), dtype=np.int64), np.zeros((5, 4)),
                                 np.zeros((5, 4), dtype=bool), np.zeros((0, 4), dtype=int),
                                 -np.ones((5, 4), dtype=int)])
def test_a_batch_array_of_the_wrong_form_names_batches(tmp_path, capsys, bad):
    batches = tmp_path / "b.npy"
    np.save(batches, bad)
    err = refused(["train", "--steps", "3", "--data", data_file(tmp_path),
                   "--batches", str(batches)], capsys)
    assert "--batches" in err and "(steps, b)" in err


def test_labels_past_the_classes_blame_data_not_n(tmp_path, capsys):
    y = np.arange(30) % 3
    y[0] = 10 ** 6
    err = refused(CLS + ["--data", data_file(tmp_path, y=y)], capsys)
    assert "--data" in err and "--n" not in err and "classes" in err and "1000000" in err
    err = refused(CLS + ["--classes", "3", "--data", data_file(tmp_path, y=y)], capsys)
    assert "--data" in err and "1000000" in err and "< classes" in err


def test_a_bool_one_hot_y_is_read_as_its_class_indices(tmp_path, capsys):
    labels = np.arange(30) % 3
    as_bool = data_file(tmp_path, "bool.npz", y=np.eye(3, dtype=bool)[labels])
    as_int = data_file(tmp_path, "int.npz", y=labels)
    out_b, out_i = tmp_path / "b.json", tmp_path / "i.json"
    assert main(CLS + ["--data", as_bool, "--json", str(out_b), "--quiet"]) == 0
    assert main(CLS + ["--data", as_int, "--json", str(out_i), "--quiet"]) == 0
    import json
    b, i = json.loads(out_b.read_text()), json.loads(out_i.read_text())
    assert b["final"] == {**i["final"], "wall_time": b["final"]["wall_time"]}


def test_bool_labels_of_one_column_are_refused_clearly(tmp_path, capsys):
    err = refused(CLS + ["--data", data_file(tmp_path, y=np.arange(30) % 2 == 0)], capsys)
    assert "--data" in err and "bool" in err and "class indices" in err


def test_init_pt_without_torch_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)        # import torch: ImportError
    path = tmp_path / "x.pt"
    path.write_bytes(b"\x00")
    err = refused(REG + ["--init", str(path)], capsys)
    assert "--init" in err and "needs PyTorch: pip install torch==2.13.0" in err


@pytest.mark.parametrize("X", [np.zeros((0, 4)), np.full((30, 4), np.nan),
                               np.zeros((30, 4, 1)), np.zeros((30, 4), dtype=object)])
def test_bad_X_names_data(tmp_path, capsys, X):
    path = tmp_path / "bad.npz"
    np.savez(path, X=X, y=np.zeros(30), allow_pickle=True) if X.dtype == object else \
        np.savez(path, X=X, y=np.zeros(30))
    err = refused(REG + ["--data", str(path)], capsys)
    assert "--data" in err and "allow_pickle" not in err


def test_an_npy_given_as_data_and_an_npz_given_as_batches(tmp_path, capsys):
    npy = tmp_path / "a.npy"
    np.save(npy, np.zeros((5, 4), dtype=int))
    err = refused(REG + ["--data", str(npy)], capsys)
    assert "--data" in err and ".npz" in err
    err = refused(REG + ["--batches", data_file(tmp_path)], capsys)
    assert "--batches" in err and ".npy" in err


def test_an_empty_test_set_names_data_not_n_test(tmp_path, capsys):
    path = data_file(tmp_path, X_test=np.zeros((0, 8)), y_test=np.zeros(0))
    err = refused(REG + ["--data", path], capsys)
    assert "--data" in err and "X_test" in err and "--n-test" not in err


def test_one_hot_rows_wider_than_the_labels_are_not_cut(tmp_path, capsys):
    path = data_file(tmp_path, y=np.eye(3)[np.arange(30) % 2])     # class 2: no row
    err = refused(CLS + ["--data", path], capsys)
    assert "--data" in err and "3 columns" in err and "--classes 3" in err
    assert main(CLS + ["--data", path, "--classes", "3", "--quiet"]) == 0


def test_an_empty_file_and_unknown_init_arrays(tmp_path, capsys):
    empty = tmp_path / "e.npz"
    empty.write_bytes(b"")
    err = refused(REG + ["--data", str(empty)], capsys)
    assert "--data" in err and "empty file" in err
    init = tmp_path / "w.npz"
    np.savez(init, W0=np.zeros((8, 4)), W1=np.zeros((4, 1)), w2=np.zeros(3))
    err = refused(REG + ["--init", str(init)], capsys)
    assert "--init" in err and "'w2'" in err


@pytest.mark.parametrize("content", ["text", "list"])
def test_a_pt_file_that_is_not_a_state_dict_names_init(tmp_path, capsys, content):
    torch = pytest.importorskip("torch")
    path = tmp_path / "x.pt"
    path.write_text("hello") if content == "text" else torch.save([1, 2], path)
    err = refused(REG + ["--init", str(path)], capsys)
    assert "--init" in err and "state_dict" in err and "weights_only=False" not in err


def test_batches_that_do_not_fit_given_data_blame_batches_at_the_cli(tmp_path):
    """Through the CLI too: a batch array wider than the given data is --batches' fault,
    not --batch-size's (a flag the user did not give)."""
    import subprocess
    import sys
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 15))
    np.savez(tmp_path / "d.npz", X=X, y=X[:, :5].sum(axis=1))
    np.save(tmp_path / "b.npy", np.tile(np.arange(40), (10, 1)))
    done = subprocess.run([sys.executable, "-m", "minisgd", "train", "--data",
                           str(tmp_path / "d.npz"), "--batches", str(tmp_path / "b.npy"),
                           "--steps", "10"], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--batches" in done.stderr and "--batch-size" not in done.stderr


def test_rows_that_disagree_with_the_data_file_are_refused(tmp_path, capsys):
    from minisgd.__main__ import main
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, X=rng.standard_normal((40, 6)), y=rng.standard_normal(40),
             X_test=rng.standard_normal((10, 6)), y_test=rng.standard_normal(10))
    base = ["train", "--data", str(path), "--support", "0,1", "--steps", "5", "--quiet"]
    for flag, value, kind in (("--n", "100", "40 training rows"), ("--n-test", "3", "10 test")):
        with pytest.raises(SystemExit) as info:
            main(base + [flag, value])
        assert info.value.code == 2 and kind in capsys.readouterr().err
    assert main(base + ["--n", "40", "--n-test", "10"]) == 0
