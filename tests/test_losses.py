"""minisgd.losses: values and gradients with respect to the network outputs, checked by
hand-worked numbers, finite differences and independent reference formulas."""
import numpy as np
import pytest

from minisgd.losses import LOSSES, check_targets, cross_entropy, loss_value_and_grad, mse
from net_checks import rel_err


def fd_wrt_outputs(fn, f, eps=1e-6):
    """Central differences of fn(f) (a scalar) with respect to every entry of f."""
    G = np.zeros_like(f)
    for idx in np.ndindex(f.shape):
        fp, fm = f.copy(), f.copy()
        fp[idx] += eps
        fm[idx] -= eps
        G[idx] = (fn(fp) - fn(fm)) / (2 * eps)
    return G


def test_loss_registry():
    assert set(LOSSES) == {"mse", "cross_entropy"}


# ---- mse ------------------------------------------------------------------------------
def test_mse_hand_worked():
    # f = [[1, 2], [3, 4]], y = [[0, 2], [1, 1]]  ->  r = f - y = [[1, 0], [2, 3]]
    # C = (1/(B*K)) sum r^2 = (1 + 0 + 4 + 9) / 4 = 14/4 = 3.5      (no factor 1/2)
    # dC/df = 2 r / (B*K) = 2 [[1, 0], [2, 3]] / 4 = [[0.5, 0], [1, 1.5]]
    f = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[0.0, 2.0], [1.0, 1.0]])
    value, grad = mse(f, y)
    assert value == pytest.approx(3.5, rel=1e-15)
    np.testing.assert_allclose(grad, [[0.5, 0.0], [1.0, 1.5]], rtol=1e-15, atol=0)


@pytest.mark.parametrize("shape", [(5, 1), (4, 3)])
def test_mse_gradient_finite_differences(shape):
    rng = np.random.default_rng(0)
    f, y = rng.normal(size=shape), rng.normal(size=shape)
    value, grad = mse(f, y)
    assert value == pytest.approx(np.mean((f - y) ** 2), rel=1e-14)
    assert grad.shape == shape
    assert rel_err(fd_wrt_outputs(lambda g: mse(g, y)[0], f), grad) < 1e-6


def test_mse_is_zero_at_target():
    f = np.random.default_rng(1).normal(size=(3, 2))
    value, grad = mse(f, f.copy())
    assert value == 0.0
    assert np.array_equal(grad, np.zeros_like(f))


# ---- cross-entropy -------------------------------------------------------------------
def test_cross_entropy_hand_worked():
    # row 1: logits [0, 0],    label 1: p = [1/2, 1/2], loss -ln(1/2) = ln 2
    # row 2: logits [0, ln 3], label 0: exp = [1, 3], p = [1/4, 3/4], loss -ln(1/4) = ln 4
    # C = (ln 2 + ln 4) / 2 = (ln 2 + 2 ln 2) / 2 = 1.5 ln 2
    # dC/dz = (p - onehot) / B:
    #   row 1: ([1/2, 1/2] - [0, 1]) / 2 = [1/4, -1/4]
    #   row 2: ([1/4, 3/4] - [1, 0]) / 2 = [-3/8, 3/8]
    logits = np.array([[0.0, 0.0], [0.0, np.log(3.0)]])
    value, grad = cross_entropy(logits, np.array([1, 0]))
    assert value == pytest.approx(1.5 * np.log(2.0), rel=1e-14)
    np.testing.assert_allclose(grad, [[0.25, -0.25], [-0.375, 0.375]], rtol=1e-14, atol=1e-16)


def reference_cross_entropy(z, labels):
    """-(1/B) sum_i [z_{i, y_i} - log sum_k exp z_ik], for moderate logits."""
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), labels]))


def test_cross_entropy_matches_reference_and_finite_differences():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    value, grad = cross_entropy(z, labels)
    assert value == pytest.approx(reference_cross_entropy(z, labels), rel=1e-13)
    fd = fd_wrt_outputs(lambda g: cross_entropy(g, labels)[0], z)
    assert rel_err(fd, grad) < 1e-6
    # softmax minus one-hot: each row of B * grad sums to 0
    np.testing.assert_allclose((grad * 6).sum(axis=1), 0.0, atol=1e-15)


def test_cross_entropy_does_not_modify_logits():
    z = np.random.default_rng(3).normal(size=(3, 3))
    before = z.copy()
    cross_entropy(z, np.array([0, 1, 2]))
    assert np.array_equal(z, before)


def test_cross_entropy_stable_for_large_logits():
    # [1000, -1000]: p ~ [1, e^-2000]; label 0 -> loss ~0, label 1 -> loss ~2000
    z = np.array([[1000.0, -1000.0], [1000.0, -1000.0]])
    value, grad = cross_entropy(z, np.array([0, 1]))
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert value == pytest.approx((0.0 + 2000.0) / 2, rel=1e-12)
    # row 1: p - onehot(0) = [0, 0];  row 2: p - onehot(1) = [1, -1];  / B = 2
    np.testing.assert_allclose(grad, [[0.0, 0.0], [0.5, -0.5]], atol=1e-15)


def test_cross_entropy_shift_invariant():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(5, 3))
    labels = rng.integers(0, 3, size=5)
    v0, g0 = cross_entropy(z, labels)
    v1, g1 = cross_entropy(z + 700.0, labels)
    assert v1 == pytest.approx(v0, rel=1e-12)
    np.testing.assert_allclose(g1, g0, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_batch_loss_is_mean_of_row_losses(loss):
    rng = np.random.default_rng(5)
    f = rng.normal(size=(4, 3))
    y = rng.integers(0, 3, size=4) if loss == "cross_entropy" else rng.normal(size=(4, 3))
    value, grad = loss_value_and_grad(loss, f, y)
    rows = [loss_value_and_grad(loss, f[i:i + 1], y[i:i + 1]) for i in range(4)]
    assert value == pytest.approx(np.mean([r[0] for r in rows]), rel=1e-14)
    # gradient of the mean = (1/B) * gradient of each row's own loss
    np.testing.assert_allclose(grad, np.vstack([r[1] for r in rows]) / 4, rtol=1e-13, atol=0)


# ---- check_targets -------------------------------------------------------------------
def test_check_targets_reshapes_single_output_mse():
    y = np.arange(4.0)
    out = check_targets("mse", y, 4, 1)
    assert out.shape == (4, 1)
    assert np.array_equal(out[:, 0], y)
    y2 = np.zeros((4, 3))
    assert check_targets("mse", y2, 4, 3).shape == (4, 3)
    labels = np.array([0, 2, 1, 2])
    assert np.array_equal(check_targets("cross_entropy", labels, 4, 3), labels)


@pytest.mark.parametrize("loss,y,batch,n_out,exc,pattern", [
    ("hinge", np.zeros(3), 3, 1, ValueError, r"\bloss\b"),
    ("mse", np.zeros(3, dtype=int), 3, 1, TypeError, r"\by\b"),
    ("mse", np.zeros(4), 3, 1, ValueError, r"\by\b"),
    ("mse", np.zeros(3), 3, 2, ValueError, r"\by\b"),
    ("mse", np.array([0.0, np.nan, 1.0]), 3, 1, ValueError, r"\by\b"),
    ("cross_entropy", np.zeros(3), 3, 2, TypeError, r"\by\b"),
    ("cross_entropy", np.array([0, 2, 1]), 3, 2, ValueError, r"\by\b"),
    ("cross_entropy", np.array([0, -1, 1]), 3, 2, ValueError, r"\by\b"),
    ("cross_entropy", np.array([0, 1]), 3, 2, ValueError, r"\by\b"),
    ("cross_entropy", np.array([0, 0, 0]), 3, 1, ValueError, r"cross_entropy"),
])
def test_check_targets_rejects(loss, y, batch, n_out, exc, pattern):
    with pytest.raises(exc, match=pattern):
        check_targets(loss, y, batch, n_out)
