"""Neural-collapse measures (minisgd/metrics/collapse.py) on features whose answer is known,
the constant-predictor guard, and the `collapse` metric set."""
import numpy as np
import pytest

from minisgd.config import Config
from minisgd.metrics.collapse import (class_means, equiangularity, equinorm,
                                      is_constant_predictor, nc1, nc3, nc4, neural_collapse,
                                      output_spread)
from minisgd.train import prepare, train


def simplex(C, p, seed=0):
    """(p, C) columns of a simplex equiangular tight frame, unit norm, in a random basis."""
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((p, C)))
    E = np.eye(C) - 1.0 / C                                  # centred basis vectors
    return Q @ E / np.linalg.norm(E, axis=0)


def collapsed(C=4, p=6, per_class=5):
    M = simplex(C, p)                                        # (p, C)
    labels = np.repeat(np.arange(C), per_class)
    return M.T[labels].copy(), labels, M                     # every row at its class mean


def test_perfect_collapse_gives_zeros():
    H, labels, M = collapsed()
    outputs = H @ M                                          # argmax = own class
    nc = neural_collapse(H, labels, 4, 3.0 * M, outputs)
    for key, value in nc.items():
        assert value == pytest.approx(0.0, abs=1e-12), key


def test_nc1_by_hand():
    # C = 2, p = 1: class means -+1, within-class spread sigma: Sigma_W = s^2, Sigma_B = 1
    s = 0.3
    H = np.array([[-1 - s], [-1 + s], [1 - s], [1 + s]])
    labels = np.array([0, 0, 1, 1])
    mu, mu_G = class_means(H, labels, 2)
    np.testing.assert_allclose(mu, [[-1.0], [1.0]]) and np.testing.assert_allclose(mu_G, [0.0])
    assert nc1(H, labels, 2) == pytest.approx(s ** 2 / 2, rel=1e-12)
    # an extra feature carrying only within-class noise adds its own share
    H2 = np.hstack([H, np.array([[0.5], [-0.5], [0.5], [-0.5]])])
    assert nc1(H2, labels, 2) == pytest.approx(s ** 2 / 2, rel=1e-12)   # outside Sigma_B's range


def test_nc1_is_inf_when_the_means_coincide():
    H = np.random.default_rng(0).standard_normal((6, 3))
    H[3:] = H[:3]                                            # both classes, the same points
    assert nc1(H, np.array([0, 0, 0, 1, 1, 1]), 2) == np.inf


def test_nc2_by_hand():
    V = np.diag([1.0, 2.0, 3.0])                             # norms 1, 2, 3, orthogonal
    assert equinorm(V) == pytest.approx(np.std([1, 2, 3]) / 2.0, rel=1e-14)
    assert equiangularity(V) == pytest.approx(0.5, rel=1e-14)       # |0 + 1/2|
    assert equiangularity(simplex(3, 5)) == pytest.approx(0.0, abs=1e-14)
    assert equinorm(simplex(5, 7)) == pytest.approx(0.0, abs=1e-14)


def test_nc3_by_hand():
    M = simplex(3, 4)
    assert nc3(2.0 * M, M) == pytest.approx(0.0, abs=1e-14)
    assert nc3(-M, M) == pytest.approx(4.0, rel=1e-14)      # ||-a - a||^2 with ||a|| = 1


def test_nc4_counts_disagreements_with_the_nearest_mean():
    H = np.array([[0.0], [0.1], [1.0], [0.9]])
    labels = np.array([0, 0, 1, 1])                          # means 0.05, 0.95
    outputs = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])   # row 1 differs
    assert nc4(H, labels, 2, outputs) == pytest.approx(0.25)


@pytest.mark.parametrize("H, labels, C, message", [
    (np.ones((6, 2)), np.array([0, 1, 2, 3, 0, 1]), 4,
     r"at least classes - 1 = 3 units .* got 2"),
    (np.ones((4, 3)), np.array([0, 0, 1, 1]), 3, r"every class 0\.\.2 \(class means\), missing \[2\]"),
    (np.ones((4, 3)), np.array([0, 1, 0]), 2, r"one entry per row of H \(4\)"),
    (np.ones((4, 3)), np.array([0, 1, 0, 5]), 2, r"labels values must be <= 1"),
])
def test_bad_features_are_refused(H, labels, C, message):
    with pytest.raises(ValueError, match=message):
        nc1(H, labels, C)


def test_output_spread_flags_a_constant_predictor():
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    assert output_spread(Y, Y) == pytest.approx(1.0)
    constant = np.full_like(Y, 1 / 3) + 1e-6 * np.arange(6)[:, None]
    assert output_spread(constant, Y) < 1e-5 and is_constant_predictor(constant, Y)
    assert not is_constant_predictor(0.5 * Y, Y)
    with pytest.raises(ValueError, match=r"targets must vary"):
        output_spread(Y, np.ones_like(Y))


CLS = dict(task="classification", classes=3, d=8, n=90, n_test=30, depth=2, width=10,
           activation="relu", bias=True, steps=50, lr=0.05, metrics=("collapse",))


def test_collapse_metric_set_in_a_run():
    r = train(Config(**CLS))
    for key in ("nc1", "nc2_norm_means", "nc2_angle_weights", "nc3", "nc4", "output_spread"):
        assert len(r.history[key]) == len(r.history["step"]) and r.final[key] >= 0, key
    assert 0.0 <= r.final["nc4"] <= 1.0
    problem, _, _ = prepare(Config(**CLS))                 # the run's data, drawn again
    acts = r.net.forward_cache(problem.data.X)
    direct = neural_collapse(acts[-2], problem.labels, 3, r.net.weights[-1], acts[-1])
    for key, value in direct.items():
        assert r.final[key] == pytest.approx(value, rel=1e-12), key


def test_collapse_is_refused_where_it_does_not_apply():
    with pytest.raises(ValueError, match=r"metrics: 'collapse' applies to tasks \['classification'\]"):
        Config(metrics=("collapse",)).validate()                 # the support regression
    with pytest.raises(ValueError, match=r"last hidden layer of at least classes - 1 = 4 units, got width 3"):
        train(Config(**{**CLS, "classes": 5, "width": 3}))       # at step 0, before any update


def test_collapse_on_too_narrow_a_layer_is_refused_when_the_config_is_checked():
    """Before any work: Config.validate runs the metric set's own check."""
    import pytest as _pytest
    from minisgd.train import Config
    with _pytest.raises(ValueError, match=r"at least classes - 1 = 3 units, got width 1"):
        Config(task="classification", classes=4, width=1, metrics=("collapse",)).validate()
    with _pytest.raises(ValueError, match=r"depth must be >= 1"):
        Config(task="classification", depth=0, metrics=("collapse",)).validate()
    with _pytest.raises(ValueError, match=r"'collapse' applies to tasks \['classification'\]"):
        Config(metrics=("collapse",)).validate()
