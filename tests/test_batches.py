"""Batch index streams: epochs without replacement, sampling with replacement, replay of a
given array, full batch, and validation of user-given batch arrays."""
from itertools import islice

import numpy as np
import pytest

from minisgd.batches import (batch_stream, check_batches, from_array, full_batch,
                             with_replacement, without_replacement)


def take(stream, k):
    return list(islice(stream, k))


@pytest.mark.parametrize("n, b", [(10, 3), (12, 4), (7, 7), (5, 8), (1, 1)])
def test_without_replacement_each_index_once_per_epoch(n, b):
    per_epoch = -(-n // b)                                  # ceil(n / b)
    batches = take(without_replacement(np.random.default_rng(0), n, b), 3 * per_epoch)
    for e in range(3):
        epoch = batches[e * per_epoch:(e + 1) * per_epoch]
        sizes = [len(x) for x in epoch]
        assert sizes == [b] * (per_epoch - 1) + [n - (per_epoch - 1) * b]
        np.testing.assert_array_equal(np.sort(np.concatenate(epoch)), np.arange(n))


def test_last_batch_holds_n_mod_b():
    batches = take(without_replacement(np.random.default_rng(1), 10, 3), 8)
    assert [len(x) for x in batches] == [3, 3, 3, 1, 3, 3, 3, 1]


def test_without_replacement_reshuffles_between_epochs():
    n, b = 20, 5
    batches = take(without_replacement(np.random.default_rng(2), n, b), 4 * 3)
    orders = [np.concatenate(batches[4 * e:4 * e + 4]) for e in range(3)]
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])
    assert not np.array_equal(orders[0], np.arange(n))     # shuffled, not range order


def test_with_replacement_shapes_and_range():
    n, b = 3, 10
    batches = take(with_replacement(np.random.default_rng(3), n, b), 50)
    for x in batches:
        assert x.shape == (b,)
        assert np.issubdtype(x.dtype, np.integer)
        assert x.min() >= 0 and x.max() < n
    # 10 draws from 3 values must repeat (impossible without replacement), and every index
    # shows up over many batches
    assert all(len(np.unique(x)) < b for x in batches)
    assert set(np.concatenate(batches).tolist()) == {0, 1, 2}


def test_with_replacement_batches_are_not_epochs():
    # n = b: without replacement every batch would be a permutation
    batches = take(with_replacement(np.random.default_rng(4), 8, 8), 20)
    assert any(len(np.unique(x)) < 8 for x in batches)


def test_full_batch_yields_none():
    assert take(full_batch(), 3) == [None, None, None]


def test_from_array_replays_rows_in_order_and_stops():
    arr = np.array([[0, 1], [2, 3], [1, 1]])
    rows = list(from_array(arr))
    assert len(rows) == 3
    for got, want in zip(rows, arr):
        np.testing.assert_array_equal(got, want)


def test_batch_stream_full_batch_for_batch_size_none():
    s = batch_stream(np.random.default_rng(0), 10, None)
    assert take(s, 2) == [None, None]


def test_batch_stream_full_batch_when_b_equals_n_without_replacement():
    assert take(batch_stream(np.random.default_rng(0), 10, 10), 2) == [None, None]


def test_batch_stream_b_equals_n_with_replacement_samples():
    x = next(batch_stream(np.random.default_rng(0), 10, 10, replacement=True))
    assert x is not None and x.shape == (10,)


def test_batch_stream_sampled_without_replacement_covers_epoch():
    s = batch_stream(np.random.default_rng(0), 9, 3)
    np.testing.assert_array_equal(np.sort(np.concatenate(take(s, 3))), np.arange(9))


def test_batch_stream_given_batches_override():
    arr = np.array([[4, 0], [3, 3], [1, 2]])
    s = batch_stream(np.random.default_rng(0), 5, None, batches=arr, steps=3)
    rows = take(s, 5)
    assert len(rows) == 3
    np.testing.assert_array_equal(np.stack(rows), arr)


def test_batch_stream_given_batches_without_steps():
    # steps defaults to None: replaying must work, or fail with a message naming `steps`
    # (not a bare "'<' not supported between 'int' and 'NoneType'")
    arr = np.array([[4, 0], [3, 3]])
    try:
        rows = take(batch_stream(np.random.default_rng(0), 5, 2, batches=arr), 5)
    except (TypeError, ValueError) as err:
        assert "steps" in str(err), f"unhelpful error: {err}"
    else:
        np.testing.assert_array_equal(np.stack(rows), arr)


def test_check_batches_accepts_good_array():
    arr = np.array([[0, 4], [2, 3], [1, 1]])
    assert check_batches(arr, 5, 3) is arr
    assert check_batches(arr, 5, 2) is arr                  # more rows than steps is fine


@pytest.mark.parametrize("arr, exc", [
    (np.array([[0.0, 1.0], [2.0, 3.0]]), TypeError),      # float dtype
    (np.array([[True, False], [False, True]]), TypeError),
    ([[0, 1], [2, 3]], TypeError),                        # not an array
    (np.array([[0, 5], [2, 3]]), ValueError),             # index == n
    (np.array([[0, -1], [2, 3]]), ValueError),            # negative
    (np.array([0, 1, 2, 3]), ValueError),                 # 1-d
    (np.array([[0, 1]]), ValueError),                     # too few rows for steps=2
])
def test_check_batches_rejects(arr, exc):
    with pytest.raises(exc, match="batches"):
        check_batches(arr, 5, 2)


def test_too_few_rows_message_mentions_steps():
    with pytest.raises(ValueError, match="steps=4"):
        check_batches(np.zeros((3, 2), dtype=int), 5, 4)


@pytest.mark.parametrize("replacement", [False, True])
def test_same_seed_same_stream(replacement):
    a = take(batch_stream(np.random.default_rng(7), 50, 8, replacement), 20)
    b = take(batch_stream(np.random.default_rng(7), 50, 8, replacement), 20)
    c = take(batch_stream(np.random.default_rng(8), 50, 8, replacement), 20)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


# ---- (X_batch, Y_batch) streams used by the training loop --------------------------------

def xy(n=23, d=3):
    rng = np.random.default_rng(9)
    return rng.standard_normal((n, d)), rng.standard_normal((n, 1))


def test_epoch_views_match_indexing_by_without_replacement():
    from minisgd.batches import epoch_views
    X, Y = xy()
    X0, Y0 = X.copy(), Y.copy()
    idx_stream = without_replacement(np.random.default_rng(5), 23, 5)
    views = epoch_views(np.random.default_rng(5), X, Y, 5)
    for _ in range(3 * 5):                                   # 3 epochs of 5 batches (5,..,3)
        idx = next(idx_stream)
        Xb, Yb = next(views)                                 # compared before the next draw
        np.testing.assert_array_equal(Xb, X[idx])
        np.testing.assert_array_equal(Yb, Y[idx])
    np.testing.assert_array_equal(X, X0)                     # the data is not permuted in place
    np.testing.assert_array_equal(Y, Y0)


def test_gathered_takes_rows_and_passes_full_batch_through():
    from minisgd.batches import gathered
    X, Y = xy()
    idx = [np.array([0, 5, 5, 22]), None, np.array([3, 1, 2, 0]), np.array([7])]
    out = gathered(iter(idx), X, Y)
    for i in idx:
        Xb, Yb = next(out)
        if i is None:
            assert Xb is X and Yb is Y
        else:
            np.testing.assert_array_equal(Xb, X[i])
            np.testing.assert_array_equal(Yb, Y[i])


@pytest.mark.parametrize("kwargs", [dict(batch_size=4), dict(batch_size=4, replacement=True),
                                    dict(batch_size=None), dict(batch_size=23),
                                    dict(batch_size=23, replacement=True)])
def test_data_batches_follow_batch_stream(kwargs):
    from minisgd.batches import data_batches
    X, Y = xy()
    idx_stream = batch_stream(np.random.default_rng(3), 23, **kwargs)
    pairs = data_batches(np.random.default_rng(3), X, Y, **kwargs)
    for _ in range(20):
        idx = next(idx_stream)
        Xb, Yb = next(pairs)
        np.testing.assert_array_equal(Xb, X if idx is None else X[idx])
        np.testing.assert_array_equal(Yb, Y if idx is None else Y[idx])


def test_data_batches_replays_given_batches():
    from minisgd.batches import data_batches
    X, Y = xy()
    arr = np.array([[1, 2, 3], [22, 0, 0], [4, 4, 4]])
    pairs = list_of_copies(data_batches(np.random.default_rng(0), X, Y, 8, batches=arr,
                                        steps=3))
    assert len(pairs) == 3
    for (Xb, Yb), row in zip(pairs, arr):
        np.testing.assert_array_equal(Xb, X[row])
        np.testing.assert_array_equal(Yb, Y[row])
    with pytest.raises(ValueError, match="batches"):
        data_batches(np.random.default_rng(0), X, Y, 8, batches=arr + 1, steps=3)


def list_of_copies(stream):
    return [(Xb.copy(), Yb.copy()) for Xb, Yb in stream]


# ---- draws made a block of steps at a time equal the draws of one call per step ----------
@pytest.mark.parametrize("n", [1, 2, 23, 80, 4000, 2**33 + 5])
@pytest.mark.parametrize("b", [1, 3, 32, 300])
def test_one_integers_call_equals_one_call_per_step(n, b):
    """What the blocked streams rely on: numpy fills integers element by element from one
    stream, so a (steps, b) call gives the numbers and the final state of steps calls."""
    per_step, block = np.random.default_rng(7), np.random.default_rng(7)
    expected = np.stack([per_step.integers(0, n, size=b) for _ in range(40)])
    np.testing.assert_array_equal(block.integers(0, n, size=(40, b)), expected)
    assert block.bit_generator.state == per_step.bit_generator.state


@pytest.mark.parametrize("b", [1, 5, 23, 300])
def test_with_replacement_streams_equal_one_draw_per_step(b):
    """The index stream, the single run's (X_b, Y_b) views, and every ensemble member's
    batches (shared data and stacked data) equal rng.integers(0, n, size=b) step by step,
    across several blocks."""
    from minisgd.batches import block_steps, data_batches, member_batches
    X, Y = xy()
    steps = 3 * block_steps(b) + 2
    reference = [np.random.default_rng(s) for s in (3, 4)]
    expected = [[r.integers(0, 23, size=b) for _ in range(steps)] for r in reference]
    idx_stream = batch_stream(np.random.default_rng(3), 23, b, replacement=True)
    pairs = data_batches(np.random.default_rng(3), X, Y, b, replacement=True)
    shared = member_batches([np.random.default_rng(s) for s in (3, 4)], X, Y, b, True)
    XK, YK = np.stack([X, X + 1.0]), np.stack([Y, Y - 1.0])
    stacked = member_batches([np.random.default_rng(s) for s in (3, 4)], XK, YK, b, True)
    for t in range(steps):
        idx = expected[0][t]
        np.testing.assert_array_equal(next(idx_stream), idx)
        Xb, Yb = next(pairs)
        np.testing.assert_array_equal(Xb, X[idx])
        np.testing.assert_array_equal(Yb, Y[idx])
        Xs, Ys = next(shared)
        Xm, Ym = next(stacked)
        for k in range(2):
            i = expected[k][t]
            np.testing.assert_array_equal(Xs[k], X[i])
            np.testing.assert_array_equal(Ys[k], Y[i])
            np.testing.assert_array_equal(Xm[k], XK[k, i])
            np.testing.assert_array_equal(Ym[k], YK[k, i])


@pytest.mark.parametrize("members", [None, 2])
def test_label_noise_equals_one_normal_draw_per_step(members):
    """Label noise drawn a block at a time equals rng.standard_normal(Y_b.shape) per step,
    also when the batch size changes (the short last batch of an epoch, 23 = 4 * 5 + 3) and
    across the block boundary."""
    from minisgd.batches import make_batches
    X, Y = xy()
    seeds = (11,) if members is None else (11, 12)
    stream = make_batches(X, Y, [np.random.default_rng(s) for s in (1, 2)][:len(seeds)],
                          [np.random.default_rng(s) for s in seeds], batch_size=5,
                          label_noise=0.3, members=members)
    plain = make_batches(X, Y, [np.random.default_rng(s) for s in (1, 2)][:len(seeds)],
                         [None] * len(seeds), batch_size=5, members=members)
    noise = [np.random.default_rng(s) for s in seeds]
    for t in range(2000):                                     # > one block of 4096 values
        (Xn, Yn), (Xb, Yb) = next(stream), next(plain)
        np.testing.assert_array_equal(Xn, Xb)
        if members is None:
            expected = Yb + 0.3 * noise[0].standard_normal(Yb.shape)
        else:
            expected = Yb + 0.3 * np.stack([r.standard_normal(Yb.shape[1:]) for r in noise])
        np.testing.assert_array_equal(Yn, expected)
