"""Rank and stable rank (minisgd/metrics/rank.py) on matrices whose spectrum is known, and
the `rank` metric set in a run."""
import numpy as np
import pytest

from minisgd.config import Config
from minisgd.metrics import METRIC_SETS
from minisgd.metrics.rank import normalized_singular_values, rank, stable_rank
from minisgd.train import train


def with_spectrum(s, n_in, n_out, seed=0):
    """A random (n_in, n_out) matrix U diag(s) V^T with orthonormal U, V."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n_in, len(s))))
    V, _ = np.linalg.qr(rng.standard_normal((n_out, len(s))))
    return (U * np.asarray(s, dtype=float)) @ V.T


def test_diagonal_matrix_by_hand():
    W = np.diag([3.0, 4.0, 0.0])                 # ||W||_F = 5: normalized 0.8, 0.6, 0
    np.testing.assert_allclose(normalized_singular_values(W), [0.8, 0.6, 0.0], atol=1e-15)
    assert rank(W) == 2
    assert stable_rank(W) == pytest.approx(25.0 / 16.0, rel=1e-14)


def test_tolerance_list_counts_each_threshold():
    # normalized singular values a, a/10, a/100, a/10^4 with a = 1/sqrt(sum of squares)
    s = np.array([1.0, 0.1, 0.01, 1e-4])
    W = with_spectrum(s, 7, 5)
    a = s / np.linalg.norm(s)
    np.testing.assert_allclose(normalized_singular_values(W)[:4], a, rtol=1e-9)
    assert rank(W, [0.5, 0.05, 0.005, 5e-5, 1e-9]) == [1, 2, 3, 4, 4]
    assert rank(W, 1e-3) == 3
    assert stable_rank(W) == pytest.approx(np.sum(s ** 2), rel=1e-10)


def test_scale_and_transpose_invariance():
    W = with_spectrum([2.0, 1.0, 0.5, 1e-5], 9, 6, seed=3)
    for c in (1e-8, 1.0, 1e6):
        assert rank(c * W) == 3 and rank((c * W).T) == 3
        assert stable_rank(c * W) == pytest.approx(stable_rank(W), rel=1e-10)


def test_special_matrices():
    assert rank(np.eye(6)) == 6 and stable_rank(np.eye(6)) == pytest.approx(6.0, rel=1e-14)
    outer = np.outer(np.arange(1.0, 5.0), [1.0, -2.0, 0.5])
    assert rank(outer) == 1 and stable_rank(outer) == pytest.approx(1.0, rel=1e-12)
    assert rank(np.zeros((3, 4))) == 0 and stable_rank(np.zeros((3, 4))) == 0.0


def test_random_square_matrix_edge_of_tolerance():
    # docs/science.md section 3, "Low rank": the smallest normalized singular value of an
    # n x n Gaussian is ~ n^-1.5
    W = np.random.default_rng(0).standard_normal((64, 64))
    s = normalized_singular_values(W)
    assert 1e-5 < s[-1] < 64 ** -1.5 * 10
    assert rank(W, 1e-6) == 64


@pytest.mark.parametrize("tol, error, message", [
    (0.0, ValueError, r"tol must be > 0"), (-1e-3, ValueError, r"tol must be > 0"),
    (float("nan"), ValueError, r"tol must be > 0"), ([1e-3, 0.0], ValueError, r"tol must be > 0"),
    ([], ValueError, r"non-empty list"), (True, TypeError, r"tol must be a positive float"),
    ("1e-3", TypeError, r"tol must be a positive float")])
def test_bad_tolerance_is_refused(tol, error, message):
    with pytest.raises(error, match=message):
        rank(np.eye(3), tol)


def test_bad_matrix_is_refused():
    with pytest.raises(ValueError, match=r"W must be 2-dimensional"):
        rank(np.ones(3))
    with pytest.raises(TypeError, match=r"W must have a floating dtype"):
        rank(np.eye(3, dtype=int))


def test_matches_torch_matrix_rank():
    torch = pytest.importorskip("torch")
    W = with_spectrum([1.0, 0.3, 2e-3, 5e-4, 1e-6], 20, 12, seed=5)
    Wn = torch.tensor(W / np.linalg.norm(W))
    for tol in (1e-2, 1e-3, 1e-4, 1e-7):
        assert rank(W, tol) == int(torch.linalg.matrix_rank(Wn, atol=tol, rtol=0.0))


def test_rank_metric_set_reads_the_effective_weights():
    assert METRIC_SETS["rank"].tasks == ("support", "classification", "sparse_regression")
    config = Config(task="classification", classes=3, d=8, n=90, n_test=30, depth=2, width=10,
                    activation="relu", weight_norm="layer", weight_decay=1e-3, steps=30,
                    metrics=("rank",))
    r = train(config)
    Ws = r.net.effective_weights()
    assert [r.final[f"rank_W{l}"] for l in range(3)] == [rank(W) for W in Ws]
    for l, W in enumerate(Ws):
        assert r.final[f"stable_rank_W{l}"] == pytest.approx(stable_rank(W), rel=1e-12)
    assert len(r.history["rank_W0"]) == len(r.history["step"])
    with pytest.raises(ValueError, match=r"metrics: 'rank' applies to .*models \['mlp'\]"):
        Config(task="sparse_regression", model="diagonal", d=20, support=(0, 1), n=10,
               batch_size=1, metrics=("rank",)).validate()
