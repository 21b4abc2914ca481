"""Sparse linear regression data: shapes, beta*, exact noiseless targets, label noise,
seeding, independence of the streams, validation."""
import numpy as np
import pytest

from minisgd.data.sparse_regression import make_sparse_regression, sparse_predictor

S = (3, 7, 11, 150, 0)


def make(seed=0, d=200, support=S, n=80, n_test=300, noise=0.0):
    return make_sparse_regression(seed, d, support, n, n_test, noise)


# ---- shapes and beta* ---------------------------------------------------------------

def test_shapes_and_dtypes():
    data = make()
    assert data.X.shape == (80, 200) and data.y.shape == (80,)
    assert data.X_test.shape == (300, 200) and data.y_test.shape == (300,)
    assert data.beta.shape == (200,)
    for a in (data.X, data.y, data.X_test, data.y_test, data.beta):
        assert a.dtype == np.float64
    assert data.support == S and isinstance(data.support, tuple)
    assert data.classes is None and data.y_clean is None


def test_published_setup_first_r_coordinates():
    data = make_sparse_regression(0, 200, range(20), 80, 1000)     # n = 80, d = 200, r = 20
    assert data.support == tuple(range(20))
    assert np.all(data.beta[:20] > 0) and np.all(data.beta[20:] == 0)


def test_beta_unit_norm_zero_off_support_positive_on_it():
    for seed in range(5):
        beta = make(seed).beta
        assert np.linalg.norm(beta) == pytest.approx(1.0, abs=1e-12)
        off = np.setdiff1d(np.arange(200), S)
        assert np.all(beta[off] == 0.0)
        assert np.all(beta[list(S)] > 0.0)                      # |g| > 0 almost surely


def test_beta_is_abs_g_over_norm():
    rng, again = np.random.default_rng(4), np.random.default_rng(4)
    beta = sparse_predictor(rng, 10, (2, 5))
    g = again.standard_normal(2)
    np.testing.assert_array_equal(beta[[2, 5]], np.abs(g) / np.linalg.norm(g))


# ---- targets and noise --------------------------------------------------------------

def test_noiseless_targets_are_exact():
    data = make(noise=0.0)
    np.testing.assert_array_equal(data.y, data.X @ data.beta)
    np.testing.assert_array_equal(data.y_test, data.X_test @ data.beta)


def test_noise_has_requested_std_and_only_on_training_labels():
    n, noise = 20000, 0.3
    data = make_sparse_regression(1, 5, (0, 2), n, 500, noise)
    eps = data.y - data.X @ data.beta
    # The sample std of n iid N(0, noise^2) has relative standard error 1/sqrt(2n) = 0.5%
    # at n = 20000: a 3% tolerance is 6 standard errors (false failure ~ 1e-9).
    assert abs(eps.std() / noise - 1) < 0.03
    assert abs(eps.mean()) < 4 * noise / np.sqrt(n)               # 4 standard errors
    np.testing.assert_array_equal(data.y_test, data.X_test @ data.beta)


def test_noise_level_does_not_change_inputs_or_beta():
    clean, noisy = make(noise=0.0), make(noise=0.5)
    np.testing.assert_array_equal(clean.X, noisy.X)
    np.testing.assert_array_equal(clean.X_test, noisy.X_test)
    np.testing.assert_array_equal(clean.beta, noisy.beta)
    assert not np.array_equal(clean.y, noisy.y)


# ---- seeding and independence --------------------------------------------------------

def test_same_seed_identical_different_seed_different():
    a, b, c = make(5), make(5), make(6)
    for name in ("X", "y", "X_test", "y_test", "beta"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(getattr(a, name), getattr(c, name))


def test_int_seed_and_its_generator_agree():
    a = make(7)
    b = make(np.random.default_rng(7))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.beta, b.beta)


def test_test_set_is_an_independent_draw():
    data = make(n=300, n_test=300)
    assert not np.array_equal(data.X, data.X_test)
    # no test row equals any training row
    assert not np.any((data.X[:, None, :] == data.X_test[None, :, :]).all(axis=2))
    # the correlation between the two sets' entries is that of independent draws
    r = np.corrcoef(data.X.ravel(), data.X_test.ravel())[0, 1]
    assert abs(r) < 4 / np.sqrt(data.X.size)


def test_beta_and_test_set_do_not_depend_on_n():
    small, large = make(n=40), make(n=120)
    np.testing.assert_array_equal(small.beta, large.beta)
    np.testing.assert_array_equal(small.X_test, large.X_test)
    np.testing.assert_array_equal(small.X, large.X[:40])          # the first rows too


# ---- validation ---------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, name", [
    ({"d": 0}, ValueError, "d"),
    ({"d": 20.0}, TypeError, "d"),
    ({"support": []}, ValueError, "support"),
    ({"support": (1, 1)}, ValueError, "support"),
    ({"support": (0, 200)}, ValueError, "support"),
    ({"support": "01"}, TypeError, "support"),
    ({"support": (0.5,)}, TypeError, "support"),
    ({"n": 0}, ValueError, "n"),
    ({"n": 8.5}, TypeError, "n"),
    ({"n_test": 0}, ValueError, "n_test"),
    ({"noise": -0.1}, ValueError, "noise"),
    ({"noise": float("nan")}, ValueError, "noise"),
    ({"noise": "0.1"}, TypeError, "noise"),
    ({"seed": None}, TypeError, "seed"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_bad_arguments_name_the_argument(kwargs, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):         # the message starts with it
        make(**kwargs)
