"""Synthetic data: shapes, label doubling, centring, target formulas, supports, inputs,
validation and seeding."""
import numpy as np
import pytest

from minisgd.data import check_support, make_data, make_teacher, target_values


# ---- shapes, doubling, centring -------------------------------------------------------

def test_shapes_with_doubling():
    data = make_data(0, d=15, n=50, n_test=30)
    assert data.X.shape == (100, 15) and data.y.shape == (100,)
    assert data.X_test.shape == (30, 15) and data.y_test.shape == (30,)
    assert data.d == 15
    assert data.support == (0, 1, 2, 3, 4)
    assert data.X.dtype == np.float64 and data.y.dtype == np.float64


def test_shapes_without_doubling():
    data = make_data(0, d=6, support=(1,), n=40, n_test=10, double=False)
    assert data.X.shape == (40, 6) and data.y.shape == (40,)


def test_doubling_pairs_labels_around_f():
    n = 2000
    data = make_data(3, n=n, n_test=5, label_eps=0.1)
    X1, X2 = data.X[:n], data.X[n:]
    np.testing.assert_array_equal(X1, X2)
    f = X1[:, :5].sum(axis=1)                                # linear target, by hand
    np.testing.assert_allclose((data.y[:n] + data.y[n:]) / 2, f, rtol=0, atol=1e-12)
    eps = (data.y[:n] - data.y[n:]) / 2
    assert np.all(eps != 0)
    assert 0.09 < eps.std() < 0.11                            # eps ~ label_eps * N(0, 1)
    assert abs(eps.mean()) < 0.01


def test_label_eps_zero_gives_identical_pairs():
    n = 30
    data = make_data(1, n=n, n_test=5, label_eps=0.0)
    np.testing.assert_array_equal(data.y[:n], data.y[n:])


def test_test_set_is_noiseless():
    data = make_data(2, n=20, n_test=100, label_eps=0.5)
    np.testing.assert_allclose(data.y_test, data.X_test[:, :5].sum(axis=1), rtol=0, atol=1e-12)


def test_centering_irrelevant_coordinates_only():
    S = (0, 1, 2, 3, 4)
    centred = make_data(5, n=200, n_test=50, support=S)
    raw = make_data(5, n=200, n_test=50, support=S, center=False)
    irr = list(range(5, 15))
    np.testing.assert_allclose(centred.X[:, irr].mean(axis=0), 0.0, rtol=0, atol=1e-12)
    # relevant coordinates untouched (bit for bit), irrelevant ones shifted by their mean
    np.testing.assert_array_equal(centred.X[:, list(S)], raw.X[:, list(S)])
    np.testing.assert_allclose(centred.X[:, irr], raw.X[:, irr] - raw.X[:, irr].mean(axis=0),
                               rtol=0, atol=1e-14)
    assert np.all(np.abs(raw.X[:, irr].mean(axis=0)) > 0)
    assert np.all(np.abs(centred.X[:, list(S)].mean(axis=0)) > 1e-6)  # not centred
    # test set untouched, labels identical
    np.testing.assert_array_equal(centred.X_test, raw.X_test)
    np.testing.assert_array_equal(centred.y, raw.y)


# ---- target formulas ------------------------------------------------------------------

X_HAND = np.array([[1.0, 2.0, 3.0, 4.0],
                   [-1.0, 0.5, 2.0, -2.0],
                   [0.0, 1.0, -3.0, 0.25]])


def test_linear_target():
    np.testing.assert_allclose(target_values(X_HAND, (0, 2), "linear"), [4.0, 1.0, -3.0])


def test_sine_target():
    np.testing.assert_allclose(target_values(X_HAND, (0, 2), "sine"),
                               np.sin([4.0, 1.0, -3.0]), rtol=1e-15)


def test_staircase_target_order_matters():
    # x_s1 + x_s2^2 + x_s3^3
    np.testing.assert_allclose(target_values(X_HAND, (0, 2, 3), "staircase"),
                               [1 + 9 + 64, -1 + 4 - 8, 0 + 9 + 0.25 ** 3])
    np.testing.assert_allclose(target_values(X_HAND, (3, 2, 0), "staircase"),
                               [4 + 9 + 1, -2 + 4 - 1, 0.25 + 9 + 0])


def test_product_target():
    np.testing.assert_allclose(target_values(X_HAND, (1, 2, 3), "product"),
                               [24.0, -2.0, -0.75])


def test_teacher_target_depends_only_on_support():
    S = (1, 3)
    teacher = make_teacher(np.random.default_rng(0), len(S))
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 5))
    y = target_values(X, S, "teacher", teacher)
    assert y.shape == (50,)
    X2 = X.copy()
    X2[:, [0, 2, 4]] = rng.standard_normal((50, 3))          # change irrelevant coordinates
    np.testing.assert_array_equal(target_values(X2, S, "teacher", teacher), y)
    X3 = X.copy()
    X3[:, 3] += 1.0                                          # change a relevant one
    assert not np.allclose(target_values(X3, S, "teacher", teacher), y)
    np.testing.assert_allclose(y, teacher.forward(X[:, list(S)])[:, 0], rtol=1e-15)
    assert np.std(y) > 0


@pytest.mark.parametrize("target", ["linear", "sine", "staircase", "product"])
def test_make_data_labels_follow_formula(target):
    S = (2, 0, 4)
    data = make_data(4, d=6, support=S, n=40, n_test=20, target=target, double=False,
                     label_eps=0.0)
    z = data.X[:, list(S)]
    zt = data.X_test[:, list(S)]
    hand = {"linear": lambda z: z.sum(1), "sine": lambda z: np.sin(z.sum(1)),
            "staircase": lambda z: z[:, 0] + z[:, 1] ** 2 + z[:, 2] ** 3,
            "product": lambda z: z.prod(1)}[target]
    np.testing.assert_allclose(data.y, hand(z), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(data.y_test, hand(zt), rtol=1e-13, atol=1e-13)


def test_make_data_teacher_target():
    data = make_data(0, d=8, support=(1, 4), n=100, n_test=50, target="teacher")
    assert np.all(np.isfinite(data.y)) and np.std(data.y_test) > 0


def test_make_data_teacher_depends_only_on_support():
    # Rademacher inputs: the support (1, 4) takes only 4 patterns, so the teacher's labels
    # (train with label_eps=0, and test) take one value per pattern, whatever the other
    # 6 coordinates are
    S = [1, 4]
    data = make_data(3, d=8, support=S, n=200, n_test=200, target="teacher",
                     inputs="rademacher", center=False, double=False, label_eps=0.0)
    X = np.vstack([data.X, data.X_test])
    y = np.concatenate([data.y, data.y_test])
    patterns = {}
    for row, value in zip(X[:, S], y):
        patterns.setdefault(tuple(row), []).append(value)
    assert len(patterns) == 4
    for values in patterns.values():
        assert len(values) > 10
        np.testing.assert_allclose(values, values[0], rtol=0, atol=1e-14)
    assert len({round(v[0], 12) for v in patterns.values()}) > 1


def test_support_not_the_first_coordinates():
    S = (3, 7, 11)
    data = make_data(6, d=15, support=S, n=100, n_test=30, target="staircase",
                     double=False, label_eps=0.0)
    assert data.support == S
    X = data.X
    np.testing.assert_allclose(data.y, X[:, 3] + X[:, 7] ** 2 + X[:, 11] ** 3,
                               rtol=1e-13, atol=1e-13)
    irr = [j for j in range(15) if j not in S]
    np.testing.assert_allclose(X[:, irr].mean(axis=0), 0.0, atol=1e-12)
    assert np.all(np.abs(X[:, list(S)].mean(axis=0)) > 1e-6)


# ---- inputs ---------------------------------------------------------------------------

def test_rademacher_values():
    data = make_data(0, d=10, support=(0, 1, 2), n=200, n_test=100, inputs="rademacher",
                     target="product", center=False)
    assert set(np.unique(data.X)) == {-1.0, 1.0}
    assert set(np.unique(data.X_test)) == {-1.0, 1.0}
    assert set(np.unique(data.y_test)) == {-1.0, 1.0}       # parity
    # both signs about equally often
    assert abs(data.X_test.mean()) < 0.1


def test_rademacher_centred_keeps_relevant_signs():
    data = make_data(0, d=10, support=(0, 1, 2), n=200, n_test=10, inputs="rademacher")
    assert set(np.unique(data.X[:, :3])) == {-1.0, 1.0}
    np.testing.assert_allclose(data.X[:, 3:].mean(axis=0), 0.0, atol=1e-12)


def test_gaussian_inputs_are_standard_normal():
    X = make_data(0, d=4, support=(0,), n=20000, n_test=10, center=False, double=False).X
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(X.std(axis=0), 1.0, atol=0.05)


# ---- validation -----------------------------------------------------------------------

@pytest.mark.parametrize("support", [(), [], (1, 1), (15,), (0, 20), (-1,), (1.5,), (0, 2.0),
                                     "012", 3, None, (True, 2)])
def test_bad_support_raises_naming_support(support):
    with pytest.raises((TypeError, ValueError), match="^support "):
        make_data(0, d=15, support=support, n=10, n_test=5)


def test_check_support_accepts_numpy_ints_and_keeps_order():
    assert check_support(np.array([7, 2]), 15) == (7, 2)
    assert check_support((np.int64(3),), 15) == (3,)


@pytest.mark.parametrize("kwargs, name", [
    (dict(target="nope"), "target"), (dict(inputs="uniform"), "inputs"),
    (dict(d=0), "d"), (dict(n=0), "n"), (dict(n_test=0), "n_test"),
    (dict(label_eps=-0.1), "label_eps"), (dict(seed=-1), "seed"), (dict(seed=None), "seed"),
])
def test_bad_arguments_raise_naming_them(kwargs, name):
    args = dict(seed=0, n=10, n_test=5)
    args.update(kwargs)
    with pytest.raises((TypeError, ValueError), match=f"^{name} "):
        make_data(**args)


# ---- seeding --------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["linear", "teacher"])
def test_same_seed_identical_arrays(target):
    a = make_data(11, n=50, n_test=20, target=target)
    b = make_data(11, n=50, n_test=20, target=target)
    for key in ("X", "y", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    c = make_data(12, n=50, n_test=20, target=target)
    assert not np.array_equal(a.X, c.X) and not np.array_equal(a.y_test, c.y_test)


def test_generator_seed_accepted():
    a = make_data(np.random.default_rng(5), n=20, n_test=5)
    b = make_data(5, n=20, n_test=5)
    np.testing.assert_array_equal(a.X, b.X)
