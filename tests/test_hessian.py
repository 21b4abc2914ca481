"""The exact Hessian (minisgd/analysis/hessian.py): against central finite differences of
the hand-written gradient, torch's double backward, Lanczos and the compressed rows;
Hutchinson; bad input."""
import numpy as np
import pytest

from minisgd.analysis import hessian as cv
from minisgd.analysis.lanczos import top_hessian_eigenvalues
from minisgd.models.mlp import MLP


def tiny(activation="tanh", bias=True, sizes=(3, 4, 2), seed=1, n=7):
    rng = np.random.default_rng(seed)
    net = MLP(list(sizes), activation=activation, bias=bias, seed=seed)
    X = rng.standard_normal((n, sizes[0]))
    Y = rng.standard_normal((n, sizes[-1]))
    return net, X, Y


def flat_grad(net, X, Y):
    _, g = net.loss_and_grad(X, Y)
    return np.concatenate([a.ravel() for a in g.weights + (g.biases or [])])


def fd_hessian(net, X, Y, h=1e-5):
    """Central differences of the gradient: column j = (g(theta + h e_j) - g(theta - h e_j))
    / 2h."""
    cells = [(p, i) for p in net.params for i in range(p.size)]
    H = np.empty((len(cells), len(cells)))
    for j, (p, i) in enumerate(cells):
        old = p.flat[i]
        p.flat[i] = old + h
        gp = flat_grad(net, X, Y)
        p.flat[i] = old - h
        gm = flat_grad(net, X, Y)
        p.flat[i] = old
        H[:, j] = (gp - gm) / (2 * h)
    return H


@pytest.mark.parametrize("activation,bias", [("tanh", True), ("linear", False), ("relu", True)])
def test_full_hessian_matches_finite_differences(activation, bias):
    net, X, Y = tiny(activation, bias)
    H, asym = cv.full_hessian(net, X, Y, return_asymmetry=True)
    assert asym < 1e-12
    H_fd = fd_hessian(net, X, Y)
    assert np.abs(H - H_fd).max() <= 1e-7 * max(1.0, np.abs(H).max())


def test_full_hessian_matches_torch_double_backward():
    torch = pytest.importorskip("torch")
    from minisgd.io.torch_bridge import to_torch
    net, X, Y = tiny("tanh", True)
    model = to_torch(net)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    names = {id(p): n for n, p in model.named_parameters()}
    shapes = [W.shape for W in net.weights] + [b.shape for b in net.biases]
    keys = [names[id(l.weight)] for l in linears] + [names[id(l.bias)] for l in linears]
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    def loss(theta):                                   # theta in minisgd's flat order
        params, start = {}, 0
        for l, (key, shape) in enumerate(zip(keys, shapes)):
            size = int(np.prod(shape))
            piece = theta[start:start + size].reshape(shape)
            params[key] = piece.T if l < len(linears) else piece   # (out, in) layout
            start += size
        out = torch.func.functional_call(model, params, (Xt,))
        return torch.mean((out - Yt) ** 2)

    theta = torch.from_numpy(np.concatenate([p.ravel() for p in net.params]))
    H_torch = torch.autograd.functional.hessian(loss, theta).numpy()
    H = cv.full_hessian(net, X, Y)
    assert np.abs(H - H_torch).max() <= 1e-12 * np.abs(H_torch).max()


def test_compressed_rows_give_the_same_hessian_and_spectrum_matches_lanczos():
    net, X, Y = tiny("linear", False, sizes=(5, 6, 6, 1), n=300)
    H = cv.full_hessian(net, X, Y)
    H_rows = cv.full_hessian(net, X, Y, compress=False)
    assert np.abs(H - H_rows).max() <= 1e-12 * np.abs(H_rows).max()
    lam, vecs = cv.spectrum(H)
    assert lam.shape == (H.shape[0],) and np.all(np.diff(lam) <= 0)
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(H.shape[0]), atol=1e-10)
    top = top_hessian_eigenvalues(net, X, Y, k=3, iters=H.shape[0])
    np.testing.assert_allclose(lam[:3], top, rtol=1e-9)
    assert cv.spectrum_summary(lam)["trace"] == pytest.approx(np.trace(H), rel=1e-10)


def test_hutchinson_trace_within_its_error_bars():
    net, X, Y = tiny("tanh", True, sizes=(4, 6, 2), n=20)
    exact = np.trace(cv.full_hessian(net, X, Y))
    est, err = cv.hutchinson_trace(net, X, Y, probes=400, seed=3)
    assert abs(est - exact) < 4 * err
    assert cv.hutchinson_trace(net, X, Y, probes=50, seed=3) == \
        cv.hutchinson_trace(net, X, Y, probes=50, seed=3)            # seeded


def test_bad_input_errors():
    net, X, Y = tiny()
    D = sum(p.size for p in net.params)
    with pytest.raises(ValueError, match=rf"D={D} parameters.*max_params=10"):
        cv.full_hessian(net, X, Y, max_params=10)
    H = cv.full_hessian(net, X, Y)
    with pytest.raises(ValueError, match=rf"k must be an int in \[1, D={D}\]"):
        cv.spectrum(H, k=D + 1)
    for probes in (0, 1, 100 * D + 1, 10 ** 9):          # 1: no standard error; 10^9: hours
        with pytest.raises(ValueError, match="probes must be an int in"):
            cv.hutchinson_trace(net, X, Y, probes=probes)
    with pytest.raises(ValueError, match="square"):
        cv.spectrum(np.ones((2, 3)))


def test_progress_is_reported(capsys):
    net, X, Y = tiny()
    cv.full_hessian(net, X, Y, progress=True)
    err = capsys.readouterr().err
    assert "exact Hessian" in err and err.strip().endswith(f"{sum(p.size for p in net.params)}/"
                                                           f"{sum(p.size for p in net.params)}")


@pytest.mark.parametrize("activation,bias,sizes", [
    ("tanh", True, (3, 4, 5, 2)), ("relu", True, (4, 6, 6, 3)), ("relu", False, (3, 5, 1)),
    ("linear", False, (3, 4, 4, 2)), ("linear", True, (2, 3)), ("tanh", False, (5, 3, 4, 2))])
def test_unit_columns_equal_the_general_hvp_bit_for_bit(activation, bias, sizes):
    """hessian_columns.UnitColumns leaves out products with zero arrays only: each column
    equals the general HVP along e_j exactly (== treats -0.0 and 0.0 as equal)."""
    from minisgd.analysis.hessian_columns import UnitColumns
    from minisgd.analysis.lanczos import hessian_operator
    net, X, Y = tiny(activation, bias, sizes=sizes, seed=3, n=11)
    if activation == "relu" and bias:
        net.biases[0][:2] = -50.0                        # dead units: exact zeros downstream
    matvec, D = hessian_operator(net, X, Y)
    fast = UnitColumns(net, X, Y)
    for j in range(D):
        e = np.zeros(D)
        e[j] = 1.0
        general, structured = matvec(e), fast.column(j)
        assert structured.shape == general.shape
        assert np.array_equal(structured, general), (j, np.abs(structured - general).max())
