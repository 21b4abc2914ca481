"""The Python API and the analysis functions refuse bad input before work, each refusal a
ValueError / TypeError raised by minisgd that names the argument; degenerate input gives
no number that means nothing; a numpy scalar in a Config is recorded as the plain Python
number that ran (issue 21, root cause 9)."""
import json

import numpy as np
import pytest

from minisgd.analysis import (gradient_noise, hessian, hvp, lanczos, modified_loss,
                              noise_shape, tail_index)
from minisgd.config import Config, config_dict
from minisgd.history import History, log_spaced_steps
from minisgd.models.mlp import MLP
from minisgd.train import train

SMALL = dict(steps=4, n=40, n_test=10, records_per_decade=2)


def raises_from_minisgd(kind, match, fn, *args, **kwargs):
    """fn(*args, **kwargs) raises `kind` matching `match`, from minisgd's own code."""
    with pytest.raises(kind, match=match) as info:
        fn(*args, **kwargs)
    assert "/minisgd/" in info.traceback[-1].path.as_posix(), info.traceback[-1].path


def small_net():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    return MLP([3, 4, 1]), X, X[:, 0].copy()


# ---- Config: numpy scalars are recorded as the Python numbers that ran ----------------
def test_numpy_scalars_are_recorded_as_plain_python_numbers():
    result = train(Config(lr=np.float32(0.1), seed=np.int64(2), steps=np.int64(4), n=40,
                          n_test=10, center=np.bool_(True), decay_at=(np.float64(0.5),)))
    json.dumps(result.to_dict())                                       # JSON-ready
    config = result.config
    assert type(config["lr"]) is float and config["lr"] == float(np.float32(0.1))
    assert type(config["seed"]) is int and type(config["steps"]) is int
    assert type(config["center"]) is bool and type(config["decay_at"][0]) is float


def test_numpy_scalars_hash_as_the_python_numbers():
    mixed = Config(lr=np.float64(0.05), seed=np.int32(3), width=np.int64(7))
    plain = Config(lr=0.05, seed=3, width=7)
    canonical = lambda c: json.dumps(config_dict(c), sort_keys=True)   # what run_hash hashes
    assert canonical(mixed) == canonical(plain)
    assert config_dict(mixed) == config_dict(plain)
    resolved = mixed.validate()
    assert type(resolved.lr) is float and type(resolved.width) is int
    assert config_dict(resolved) == config_dict(plain.validate())


# ---- train's callbacks, the History -------------------------------------------------------
@pytest.mark.parametrize("arg", ["on_record", "extra_metrics", "stop"])
def test_callbacks_must_be_callable(arg):
    raises_from_minisgd(TypeError, arg, train, Config(**SMALL), **{arg: "x"})


@pytest.mark.parametrize("stream, message", [
    (lambda X, Y, rng: iter([]), "stream ended after 0 batches"),
    (lambda X, Y, rng: ((X[:4], Y[:4]) for _ in range(3)), "stream ended after 3 batches"),
    (lambda X, Y, rng: ((X[:4, :3], Y[:4]) for _ in range(9)), r"step 0 .*X_b \(b, 15\)"),
    (lambda X, Y, rng: ((X[:4], Y[:3]) for _ in range(9)), r"Y_b \(b, 1\)"),
    (lambda X, Y, rng: ((X[:0], Y[:0]) for _ in range(9)), "b >= 1"),
    (lambda X, Y, rng: (X[:4] for _ in range(9)), "must be a pair"),
    (lambda X, Y, rng: 5, "returning int"),
    # a bad pair after good ones of another shape, and of the same shapes but int dtype
    (lambda X, Y, rng: ((X[:4], Y[:4]) if t < 2 else (X[:4, :3], Y[:4]) for t in range(9)),
     r"step 2 .*X_b \(b, 15\)"),
    (lambda X, Y, rng: ((X[:4], Y[:4]) if t < 2 else (X[:4].astype(int), Y[:4])
                        for t in range(9)), r"step 2 .*float arrays"),
    (lambda X, Y, rng: ((X[:4], Y[:4]) if t < 2 else [X[:4], Y[:4]] for t in range(9)),
     r"step 2 .*must be a pair"),
])
def test_a_given_stream_is_checked_batch_by_batch(stream, message):
    raises_from_minisgd(ValueError, message, train, Config(**SMALL), stream=stream)


def test_a_given_net_with_non_finite_weights_is_refused_as_the_net():
    net = MLP([15, 4, 1], seed=0)
    net.params[0][0, 0] = np.nan
    raises_from_minisgd(ValueError, r"net \(the initial weights\) must be finite", train,
                        Config(**SMALL), net=net)


def test_extra_metrics_must_return_a_dict_of_numbers():
    raises_from_minisgd(TypeError, "extra_metrics", train, Config(**SMALL),
                        extra_metrics=lambda net, data: [1.0])
    raises_from_minisgd(TypeError, "extra_metrics", train, Config(**SMALL),
                        extra_metrics=lambda net, data: {"a": "1.0"})
    raises_from_minisgd(ValueError, "train_loss", train, Config(**SMALL),
                        extra_metrics=lambda net, data: {"train_loss": 0.0})


def test_extra_metrics_keys_must_not_change_between_records():
    calls = []

    def changing(net, data):
        calls.append(1)
        return {"a": 1.0} if len(calls) == 1 else {"b": 1.0}
    raises_from_minisgd(ValueError, "extra_metrics", train, Config(**SMALL),
                        extra_metrics=changing)


def test_history_and_log_steps_check_their_arguments():
    raises_from_minisgd(TypeError, "per_step", History, None, None, [], per_step="a")
    raises_from_minisgd(ValueError, "steps", log_spaced_steps, 0)
    raises_from_minisgd(ValueError, "per_decade", log_spaced_steps, 100, -1)


# ---- MLP -------------------------------------------------------------------------------------
def test_stack_checks_its_nets():
    raises_from_minisgd(ValueError, "nets", MLP.stack, [])
    raises_from_minisgd(TypeError, "nets", MLP.stack, [1, 2])
    raises_from_minisgd(TypeError, "nets", MLP.stack, "ab")
    net = MLP([2, 3, 1])
    raises_from_minisgd(ValueError, "nets", MLP.stack, [MLP.stack([net, net])])


def test_member_takes_a_member_of_a_stack():
    net = MLP([2, 3, 1])
    raises_from_minisgd(ValueError, "single", net.member, 0)          # not rows of W
    raises_from_minisgd(ValueError, "k", MLP.stack([net, net]).member, 2)
    raises_from_minisgd(TypeError, "k", MLP.stack([net, net]).member, 0.0)


def test_mlp_copy_dtype_is_checked():
    raises_from_minisgd(ValueError, "dtype", MLP([2, 1]).copy, dtype="int8")


# ---- the Hessian and its spectrum --------------------------------------------------------
def test_spectrum_refuses_a_matrix_that_is_not_symmetric():
    raises_from_minisgd(ValueError, "symmetric", hessian.spectrum, np.array([[1.0, 5.0],
                                                                               [0.0, 1.0]]))
    raises_from_minisgd(ValueError, "H", hessian.spectrum, np.zeros((0, 0)))


def test_spectrum_summary_refuses_non_finite_and_non_numbers():
    raises_from_minisgd(ValueError, "lam", hessian.spectrum_summary, [np.nan, 1.0])
    raises_from_minisgd(ValueError, "lam", hessian.spectrum_summary, [])
    raises_from_minisgd(TypeError, "lam", hessian.spectrum_summary, ["a", "b"])
    raises_from_minisgd(ValueError, "lam", hessian.spectrum_summary, np.ones((2, 2)))
    assert hessian.spectrum_summary([2.0, 1.0, -1.0])["lambda_max"] == 2.0     # a list works


def test_curvature_functions_check_iters_seed_and_switches():
    net, X, y = small_net()
    top = lanczos.top_hessian_eigenvalues
    raises_from_minisgd(ValueError, "iters", top, net, X, y, iters=-5)
    raises_from_minisgd(TypeError, "iters", top, net, X, y, iters="a")
    raises_from_minisgd(ValueError, "iters", top, net, X, y, k=3, iters=2)
    raises_from_minisgd(ValueError, "iters", top, net, X, y, method="power", iters=0)
    raises_from_minisgd(ValueError, "seed", top, net, X, y, seed=-1)
    raises_from_minisgd(ValueError, "seed", hessian.hutchinson_trace, net, X, y, seed=-1)
    raises_from_minisgd(TypeError, "compress", hessian.hutchinson_trace, net, X, y,
                        compress="no")
    raises_from_minisgd(TypeError, "progress", hessian.full_hessian, net, X, y, progress="x")
    raises_from_minisgd(TypeError, "net", hessian.full_hessian, "net", X, y)
    raises_from_minisgd(TypeError, "net", top, None, X, y)
    raises_from_minisgd(TypeError, "matvec", lanczos.lanczos, "x", 3)
    raises_from_minisgd(ValueError, "seed", lanczos.power_iteration, lambda v: v, 3, seed=-2)


def test_curvature_of_a_non_finite_net_is_refused():
    net, X, y = small_net()
    net.weights[0][0, 0] = np.nan
    for fn in (hessian.full_hessian, lanczos.top_hessian_eigenvalues,
               hessian.hutchinson_trace):
        raises_from_minisgd(ValueError, "not finite", fn, net, X, y)


def test_lanczos_gives_no_nan_eigenvalue():
    raises_from_minisgd(ValueError, "Krylov", lanczos.lanczos, lambda v: 2.0 * v, 4, k=2)


# ---- gradient noise: covariance blocks, indicators ----------------------------------------
def test_noise_blocks_must_lie_inside_the_parameters():
    G = np.random.default_rng(0).standard_normal((10, 6))
    cov = noise_shape.noise_covariance
    raises_from_minisgd(ValueError, "blocks", cov, G, blocks=[("a", slice(4, 9))])
    raises_from_minisgd(ValueError, "blocks", cov, G, blocks=[("a", slice(0, 3)),
                                                              ("a", slice(3, 6))])
    raises_from_minisgd(ValueError, "blocks", cov, G, blocks=[("a", slice(0, 4)),
                                                              ("b", slice(2, 6))])
    raises_from_minisgd(ValueError, "blocks", cov, G, blocks=[("a", slice(3, 3))])
    raises_from_minisgd(TypeError, "blocks", cov, G, blocks=[("a", [0, 1])])
    raises_from_minisgd(ValueError, "blocks", cov, G, blocks=[("a", slice(0, 6, 2))])
    raises_from_minisgd(TypeError, "blocks", cov, G, blocks="W1")


def test_zhu_and_alignment_give_no_nan():
    H = np.diag([2.0, -2.0, 0.0])
    Sigma = np.eye(3)
    out = noise_shape.zhu_indicator(H, Sigma)                # Tr H = 0: no isotropic scale
    assert out["ratio"] is None and "note" in out
    out = noise_shape.alignment(np.diag([3.0, 2.0, 1.0]), np.zeros((3, 3)), k=1)
    assert out["sigma_in_top_k"] is None and "note" in out
    blocks = [("a", slice(0, 2)), ("b", slice(2, 3))]
    raises_from_minisgd(ValueError, "Sigma", noise_shape.zhu_indicator, np.eye(3),
                        {"a": np.eye(2)}, blocks)
    raises_from_minisgd(ValueError, "blocks", noise_shape.zhu_indicator, np.eye(3),
                        {"a": np.eye(2)}, [("a", slice(0, 2))])


def test_noise_functions_check_their_inputs():
    net, X, y = small_net()
    raises_from_minisgd(ValueError, "y", noise_shape.per_sample_gradients, net, X, y[:5])
    raises_from_minisgd(TypeError, "net", noise_shape.per_sample_gradients, "net", X, y)
    raises_from_minisgd(TypeError, "net", noise_shape.parameter_blocks, "net")
    raises_from_minisgd(ValueError, "weight_norm", noise_shape.per_sample_gradients,
                        MLP([3, 4, 1], weight_norm="layer"), X, y)
    raises_from_minisgd(ValueError, "G", noise_shape.minibatch_noise, np.ones((1, 3)), 1,
                        np.random.default_rng(0))


# ---- the tail index ----------------------------------------------------------------------
@pytest.mark.parametrize("x", [np.ones(100), np.zeros(100), np.full(100, -3.0)])
def test_block_sum_alpha_refuses_constant_samples(x):
    raises_from_minisgd(ValueError, "constant", tail_index.block_sum_alpha, x)
    raises_from_minisgd(ValueError, "constant", tail_index.pooled_alpha, x.reshape(10, 10))


def test_block_sum_alpha_gives_no_meaningless_alpha():
    x = np.tile([1.0, -1.0], 50)               # every block sum 0: log difference < 0
    raises_from_minisgd(ValueError, "no tail index", tail_index.block_sum_alpha, x)


def test_per_coordinate_alpha_refuses_constant_columns():
    noise = np.random.default_rng(0).standard_normal((100, 3))
    noise[:, 1] = 0.0
    raises_from_minisgd(ValueError, r"\[1\]", tail_index.per_coordinate_alpha, noise)


def test_symmetric_stable_checks_size_and_scale():
    rng = np.random.default_rng(0)
    raises_from_minisgd(ValueError, "size", tail_index.symmetric_stable, 1.5, -3, rng)
    raises_from_minisgd(TypeError, "size", tail_index.symmetric_stable, 1.5, "3", rng)
    raises_from_minisgd(ValueError, "scale", tail_index.symmetric_stable, 1.5, 3, rng,
                        scale=np.nan)


# ---- the modified loss, the gradient noise, HVPs -------------------------------------------
def test_modified_loss_checks_net_and_switches():
    net, X, y = small_net()
    mod = modified_loss.modified_loss_and_grad
    raises_from_minisgd(TypeError, "variance", mod, net, X, y, 0.1, 4, variance="no")
    raises_from_minisgd(TypeError, "grad_norm", mod, net, X, y, 0.1, 4, grad_norm=None)
    raises_from_minisgd(ValueError, "weight_norm", mod, MLP([3, 4, 1], weight_norm="layer"),
                        X, y, 0.1, 4)
    raises_from_minisgd(ValueError, "single", mod, MLP.stack([net, net]), X, y, 0.1, 4)
    raises_from_minisgd(TypeError, "X", modified_loss.ModifiedLossGD, 0.1, 4, "X", None)
    raises_from_minisgd(TypeError, "substeps", modified_loss.train_modified,
                        Config(**SMALL), substeps="2")
    big = MLP([3, 4, 1], init="normal", scale=1e120)
    raises_from_minisgd(ValueError, "not finite", mod, big, X, y, 0.1, 4)


def test_gradient_noise_refuses_stacks_and_overflow_and_records_null():
    net, X, y = small_net()
    raises_from_minisgd(ValueError, "single", gradient_noise.gradient_noise,
                        MLP.stack([net, net]), X, y, [0])
    big = MLP([3, 4, 1], init="normal", scale=1e120)
    raises_from_minisgd(ValueError, "not finite", gradient_noise.gradient_noise, big, X, y,
                        [0])
    extra = gradient_noise.gradient_noise_metrics()
    data = type("D", (), {"X": X, "y": y, "support": (0,)})()
    assert all(np.isnan(v) for v in extra(big, data).values())   # the history records null


def test_hvp_per_sample_is_a_switch():
    net, X, y = small_net()
    v = hvp.Grads([np.ones_like(W) for W in net.weights], None)
    raises_from_minisgd(TypeError, "per_sample", hvp.hvp, net, X, y, v, per_sample="no")


def test_symmetric_stable_refuses_samples_beyond_float64():
    raises_from_minisgd(ValueError, "alpha", tail_index.symmetric_stable, 0.01, 10000,
                        np.random.default_rng(0))


def test_a_stack_takes_one_input_per_member_or_a_shared_one():
    nets = [MLP([5, 4, 1], seed=k) for k in range(2)]
    stack, X = MLP.stack(nets), np.random.default_rng(0).standard_normal((20, 5))
    out = stack.forward(np.stack([X, 2 * X]))
    assert np.array_equal(out[0], nets[0].forward(X)) and np.array_equal(out[1], nets[1].forward(2 * X))
    assert np.array_equal(stack.forward(X)[1], nets[1].forward(X))
    raises_from_minisgd(ValueError, r"X must have shape \(2, any, 5\)", stack.forward,
                        np.stack([X, X, X]))
