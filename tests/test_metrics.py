"""Support metrics on hand-built first-layer matrices W1 (n_in, n_out) with known answers."""
import numpy as np
import pytest

from minisgd.metrics import (column_norms, complement, detect_support, gram, irrelevant_norm,
                             precision_recall, relevant_norm, steps_to_threshold,
                             support_summary)

# row j = everything input j feeds; row norms 5, 2, 1, 0.5, 0.1, 0
W_HAND = np.array([[3.0, 4.0],
                   [0.0, 2.0],
                   [1.0, 0.0],
                   [0.0, -0.5],
                   [-0.1, 0.0],
                   [0.0, 0.0]])

# a clear gap after the three largest: norms 0.03, 10, 0.01, 9, 0.02, 8
W_GAP = np.array([[0.03, 0.0],
                  [0.0, 10.0],
                  [0.01, 0.0],
                  [-9.0, 0.0],
                  [0.0, 0.02],
                  [0.0, -8.0]])


def test_column_norms_are_row_norms_of_n_in_by_n_out():
    np.testing.assert_allclose(column_norms(W_HAND), [5.0, 2.0, 1.0, 0.5, 0.1, 0.0],
                               rtol=1e-15)
    assert column_norms(np.ones((4, 9))).shape == (4,)
    np.testing.assert_allclose(column_norms(np.ones((4, 9))), 3.0)


def test_complement():
    assert complement((0, 3), 5) == [1, 2, 4]
    assert complement([4, 1], 5) == [0, 2, 3]


def test_irrelevant_and_relevant_norms():
    S = (0, 1)
    assert relevant_norm(W_HAND, S) == pytest.approx(np.sqrt(25 + 4), rel=1e-15)
    assert irrelevant_norm(W_HAND, S) == pytest.approx(np.sqrt(1 + 0.25 + 0.01), rel=1e-15)
    # support not at the start, given in any order
    assert relevant_norm(W_HAND, (3, 1)) == pytest.approx(np.sqrt(0.25 + 4), rel=1e-15)
    assert irrelevant_norm(W_HAND, (3, 1)) == pytest.approx(np.sqrt(25 + 1 + 0.01), rel=1e-15)
    # the two parts make up the whole Frobenius norm
    total = np.sqrt(np.sum(W_HAND ** 2))
    assert np.hypot(relevant_norm(W_HAND, (2, 5)), irrelevant_norm(W_HAND, (2, 5))) == \
        pytest.approx(total, rel=1e-14)
    assert isinstance(irrelevant_norm(W_HAND, S), float)


def test_irrelevant_norm_zero_when_support_is_everything():
    assert irrelevant_norm(W_HAND, range(6)) == 0.0


def test_detect_support_gap_finds_the_block():
    assert detect_support(W_GAP, rule="gap") == [1, 3, 5]
    assert detect_support(W_GAP) == [1, 3, 5]                    # gap is the default


def test_detect_support_gap_zero_rows():
    W = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 0.0], [0.0, 2.5]])
    assert detect_support(W, rule="gap") == [1, 3]


def test_detect_support_no_clear_gap_returns_all_inputs():
    W = np.array([[1.0], [1.5], [2.0], [3.0], [4.0]])            # ratios <= 1.5
    assert detect_support(W, rule="gap") == [0, 1, 2, 3, 4]


def test_detect_support_ratio_exactly_two_is_not_a_gap():
    assert detect_support(np.array([[4.0], [2.0], [1.0]]), rule="gap") == [0, 1, 2]
    assert detect_support(np.array([[1.0], [4.2], [2.0]]), rule="gap") == [1]


def test_detect_support_gap_takes_the_largest_ratio():
    # ratios 3 (after the first) and 10 (after the third): cut at the larger one
    W = np.array([[9.0], [3.0], [2.9], [0.29]])
    assert detect_support(W, rule="gap") == [0, 1, 2]


def test_detect_support_all_zero_matrix():
    assert detect_support(np.zeros((3, 2)), rule="gap") == [0, 1, 2]


def test_detect_support_fraction_rule():
    assert detect_support(W_HAND, rule="fraction", fraction=0.1) == [0, 1, 2]  # > 0.5, strict
    assert detect_support(W_HAND, rule="fraction", fraction=0.3) == [0, 1]     # > 1.5
    assert detect_support(W_HAND, rule="fraction", fraction=0.0) == [0, 1, 2, 3, 4]
    assert detect_support(W_GAP, rule="fraction") == [1, 3, 5]


def test_detect_support_returns_python_ints():
    out = detect_support(W_GAP)
    assert all(type(j) is int for j in out)
    assert all(type(j) is int for j in detect_support(W_GAP, rule="fraction"))


def test_detect_support_bad_rule():
    with pytest.raises(ValueError, match="rule"):
        detect_support(W_HAND, rule="largest")


def test_precision_recall():
    assert precision_recall([0, 1, 5], [0, 1, 2, 3]) == pytest.approx((2 / 3, 2 / 4))
    assert precision_recall([0, 1, 2, 3], [3, 2, 1, 0]) == (1.0, 1.0)
    assert precision_recall([], [0, 1]) == (0.0, 0.0)
    assert precision_recall([7, 8], [0, 1]) == (0.0, 0.0)
    assert precision_recall(range(10), [0, 1]) == pytest.approx((0.2, 1.0))


def test_steps_to_threshold():
    steps = [0, 10, 100, 1000]
    irr = [5.0, 1.0, 0.5, 0.1]
    rel = [1.0, 2.0, 10.0, 10.0]                     # ratios 5, 0.5, 0.05, 0.01
    assert steps_to_threshold(steps, irr, rel, threshold=0.1) == 100
    assert steps_to_threshold(steps, irr, rel, threshold=1.0) == 10
    assert steps_to_threshold(steps, irr, rel, threshold=0.01) is None   # strict <
    assert steps_to_threshold(steps, irr, rel, threshold=0.0100001) == 1000
    assert type(steps_to_threshold(np.array(steps), irr, rel)) is int


def test_steps_to_threshold_skips_zero_relevant_norm():
    assert steps_to_threshold([0, 5, 9], [0.0, 0.0, 0.01], [0.0, 0.0, 1.0]) == 9


def test_gram():
    W = np.array([[1.0, 2.0], [3.0, -4.0]])
    np.testing.assert_allclose(gram(W), [[5.0, 5.0], [5.0, 25.0]])
    G = gram(W_HAND)
    assert G.shape == (6, 6)
    np.testing.assert_allclose(np.diag(G), column_norms(W_HAND) ** 2, rtol=1e-14)
    np.testing.assert_allclose(G, G.T)
    assert G[0, 1] == pytest.approx(8.0)                       # |<(3,4),(0,2)>|
    assert G[0, 4] == pytest.approx(0.3)                       # |<(3,4),(-0.1,0)>|


def test_support_summary():
    out = support_summary(W_GAP, (1, 3, 4))
    assert set(out) >= {"irrelevant_norm", "relevant_norm", "column_norms",
                        "detected_support", "precision", "recall"}
    assert out["detected_support"] == [1, 3, 5]
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == pytest.approx(2 / 3)
    assert out["relevant_norm"] == pytest.approx(np.sqrt(100 + 81 + 0.0004))
    assert out["irrelevant_norm"] == pytest.approx(np.sqrt(0.0009 + 0.0001 + 64))
    assert out["column_norms"] == pytest.approx([0.03, 10.0, 0.01, 9.0, 0.02, 8.0])
    assert isinstance(out["column_norms"], list)
    frac = support_summary(W_HAND, (0, 1), rule="fraction")
    assert frac["detected_support"] == [0, 1, 2]
    assert frac["precision"] == pytest.approx(2 / 3) and frac["recall"] == 1.0


def test_support_summary_is_json_ready():
    import json
    json.dumps(support_summary(W_GAP, (1, 3, 5)), allow_nan=False)


def test_detect_support_gap_tiny_norms_count_as_zero():
    # a norm of 1e-5 next to an exact zero is no gap: norms under 1e-3 * max are floored
    W = np.array([[1.0, 0.0], [0.0, 0.9], [1e-5, 0.0], [0.0, 0.0]])
    assert detect_support(W, rule="gap") == [0, 1]
    # an exact zero still stands apart from a real weight
    W = np.array([[1.0], [0.6], [0.4], [0.0]])
    assert detect_support(W, rule="gap") == [0, 1, 2]
