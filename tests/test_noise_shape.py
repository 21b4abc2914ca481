"""Noise covariance, alignment with the Hessian and Zhu et al.'s indicator (noise_shape.py):
hand-built matrices with known answers, per-sample gradients against the batch gradient,
and torch's per-sample gradients."""
import numpy as np
import pytest

from minisgd.analysis import noise_shape as ns
from minisgd.analysis.hessian import full_hessian
from minisgd.models.mlp import MLP


def tiny(n=9):
    rng = np.random.default_rng(2)
    net = MLP([3, 4, 2], activation="tanh", bias=True, seed=2)
    return net, rng.standard_normal((n, 3)), rng.standard_normal((n, 2))


def test_per_sample_gradients_average_to_the_batch_gradient():
    net, X, Y = tiny()
    G = ns.per_sample_gradients(net, X, Y, chunk=4)                  # chunks of 4, 4, 1
    _, g = net.loss_and_grad(X, Y)
    flat = np.concatenate([a.ravel() for a in g.weights + g.biases])
    np.testing.assert_allclose(G.mean(axis=0), flat, rtol=1e-12, atol=1e-14)


def test_per_sample_gradients_match_torch():
    torch = pytest.importorskip("torch")
    net, X, Y = tiny()
    G = ns.per_sample_gradients(net, X, Y)
    ws = [torch.tensor(W, requires_grad=True) for W in net.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
    for i in range(X.shape[0]):
        a = torch.from_numpy(X[i:i + 1])
        for l, (W, b) in enumerate(zip(ws, bs)):
            a = a @ W + b
            a = torch.tanh(a) if l < len(ws) - 1 else a
        loss = torch.mean((a - torch.from_numpy(Y[i:i + 1])) ** 2)
        grads = torch.autograd.grad(loss, ws + bs)
        flat = np.concatenate([t.numpy().ravel() for t in grads])
        np.testing.assert_allclose(G[i], flat, rtol=1e-12, atol=1e-15)


def test_covariance_definition_and_blocks():
    rng = np.random.default_rng(0)
    G = rng.standard_normal((50, 6)) * np.arange(1, 7)
    S = ns.noise_covariance(G)
    np.testing.assert_allclose(S, np.cov(G.T, bias=True), rtol=1e-12)
    blocks = [("a", slice(0, 2)), ("b", slice(2, 6))]
    B = ns.noise_covariance(G, blocks)
    np.testing.assert_allclose(B["b"], S[2:6, 2:6], rtol=1e-12)
    H = np.diag(np.arange(6.0))
    full = ns.zhu_indicator(H, S)
    per_block = ns.zhu_indicator(H, B, blocks)                        # H diagonal: same
    assert per_block["tr_H_sigma"] == pytest.approx(full["tr_H_sigma"], rel=1e-12)


def test_indicator_and_alignment_on_known_matrices():
    D = 10
    Q = np.linalg.qr(np.random.default_rng(1).standard_normal((D, D)))[0]
    H = Q @ np.diag([10.0, 5.0] + [0.1] * 8) @ Q.T
    aligned = Q @ np.diag([3.0, 1.0] + [0.01] * 8) @ Q.T              # same eigenvectors
    iso = np.eye(D) * np.trace(aligned) / D
    z = ns.zhu_indicator(H, aligned)
    assert z["tr_H_sigma"] == pytest.approx(30 + 5 + 0.008, rel=1e-10)
    assert z["ratio"] > 3
    assert ns.zhu_indicator(H, iso)["ratio"] == pytest.approx(1.0, rel=1e-12)
    a = ns.alignment(H, aligned, k=2)
    np.testing.assert_allclose(a["overlaps"], 1.0, rtol=1e-10)
    assert a["subspace"] == pytest.approx(1.0) and a["random_baseline"] == 0.2
    assert ns.alignment(H, iso, k=2)["sigma_in_top_k"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match=r"k must be an int in \[1, D=10\]"):
        ns.alignment(H, aligned, k=11)


def test_minibatch_noise_is_the_centred_batch_means():
    G = np.arange(24.0).reshape(12, 2)
    noise = ns.minibatch_noise(G, 4, np.random.default_rng(0))
    assert noise.shape == (3, 2)
    np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match=r"batch_size must be an int in \[1, 6\]"):
        ns.minibatch_noise(G, 7, np.random.default_rng(0))


def test_bad_input_errors():
    with pytest.raises(ValueError, match="at least 2 samples"):
        ns.noise_covariance(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"D=5 parameters.*max_params=4"):
        ns.noise_covariance(np.ones((3, 5)), max_params=4)
    net, X, Y = tiny()
    blocks = ns.parameter_blocks(net)                                # D = 26 > 12: blocks
    S = ns.noise_covariance(ns.per_sample_gradients(net, X, Y), blocks, max_params=12)
    assert set(S) == {"W1", "W2", "b1", "b2"}
    H = full_hessian(net, X, Y)
    assert np.isfinite(ns.zhu_indicator(H, S, blocks)["ratio"])
