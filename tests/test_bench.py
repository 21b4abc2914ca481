"""The benchmark harness runs and reports; nothing here asserts a time."""
import pytest

from minisgd.bench import driver as bench, loops as bench_loops


def test_step_flops_by_hand():
    # sizes 3-4-1, b=2: forward 2*2*(12+4)=64, weight grads 64, deltas 2*2*4=16
    assert bench_loops.step_flops([3, 4, 1], 2) == 64 + 64 + 16


def test_problem_batches_cover_epochs_without_replacement():
    data, net, batches = bench_loops.problem({"b": 32, "steps": 400})
    assert batches.shape == (400, 32)
    first_epoch = batches.reshape(-1)[:data.X.shape[0]]
    assert sorted(first_epoch) == list(range(data.X.shape[0]))
    assert bench_loops.problem({"b": None, "steps": 3})[2] is None


def test_measure_runs_in_a_subprocess_with_the_thread_count():
    result = bench.measure({"framework": "minisgd", "b": 32, "steps": 50, "repeats": 2,
                            "gemm": True}, threads=1)
    assert len(result["times"]) == 2 and all(t > 0 for t in result["times"])
    assert result["gemm_gflops"] > 0


def test_torch_worker_uses_the_same_problem():
    pytest.importorskip("torch")
    result = bench.measure({"framework": "pytorch", "b": 1, "steps": 20, "repeats": 1}, threads=1)
    assert result["times"][0] > 0


def test_markdown_reports_ratios():
    row = {"b": 32, "flops": 1e6, "gemm_gflops": 50.0,
           "minisgd": {"median_us": 10.0, "min_us": 9.0, "max_us": 11.0},
           "pytorch": {"median_us": 200.0, "min_us": 190.0, "max_us": 210.0}}
    text = bench.markdown({"threads": 2, "repeats": 3, "gemm_gflops": 50.0, "single": [row]})
    assert "20.0x" in text                  # PyTorch / minisgd
    assert "| 32 |" in text and "100.00" in text   # 1e6 flop in 10 us = 100 GFLOP/s


def test_measure_split_runs_the_ensemble_in_processes_at_once():
    spec = {"framework": "minisgd", "b": 1, "K": 4, "steps": 40, "repeats": 2,
            "records_per_decade": 1}
    times = bench.measure_split(spec, processes=2)
    assert len(times) == 2 and all(t > 0 for t in times)


def test_measure_reports_a_failing_worker():
    with pytest.raises(RuntimeError, match="minisgd benchmark failed"):
        bench.measure({"framework": "minisgd", "b": -1, "steps": 5, "repeats": 1}, threads=1)


def test_markdown_ensemble_table_has_the_split_column():
    us = lambda v: {"median_us": v, "min_us": v, "max_us": v}
    report = {"threads": 2, "repeats": 1, "gemm_gflops": 50.0, "single": [],
              "ensembles": [{"b": 1, "K": 64, "minisgd": us(2.5), "split": us(1.9),
                             "jax": us(0.9)}]}
    assert "| 1 | 64 | 2.50 | 1.90 | 0.90 |" in bench.markdown(report)


def test_plain_step_is_the_same_clipped_sgd_step_as_minisgd():
    # the plain reference loop must time the same computation: one step from the same
    # weights on the same batch lands where minisgd's train() lands (rounding aside)
    import numpy as np
    from minisgd.train import Config, train
    data, net, batches = bench_loops.problem({"b": 32, "steps": 3})
    config = Config(batch_size=32, steps=3, records_per_decade=1)
    result = train(config, data=data, net=net, batches=batches)
    Ws = [W.copy() for W in net.weights]
    X, y = data.X, data.y[:, None]
    for rows in batches:
        bench_loops.plain_sgd_step(Ws, X[rows], y[rows])
    for W_plain, W_minisgd, W0 in zip(Ws, result.net.weights, net.weights):
        assert not np.allclose(W_minisgd, W0)                 # the steps moved the weights
        np.testing.assert_allclose(W_plain, W_minisgd, rtol=1e-12, atol=1e-14)


def test_plain_stacked_step_is_k_single_steps():
    import numpy as np
    rng = np.random.default_rng(0)
    singles = [[rng.standard_normal((4, 3)), rng.standard_normal((3, 1))] for _ in range(3)]
    stacked = [np.stack([s[l] for s in singles]) for l in range(2)]
    xb, yb = rng.standard_normal((5, 4)), rng.standard_normal((5, 1))
    bench_loops.plain_sgd_step(stacked, xb, yb, lr=0.5, clip=0.1)   # clipping active
    for k, Ws in enumerate(singles):
        bench_loops.plain_sgd_step(Ws, xb, yb, lr=0.5, clip=0.1)
        for l in range(2):
            np.testing.assert_allclose(stacked[l][k], Ws[l], rtol=1e-13)


def test_markdown_says_how_fast_the_machine_is_against_the_reference():
    us = lambda v: {"median_us": v, "min_us": v, "max_us": v}
    report = {"threads": 2, "repeats": 1, "gemm_gflops": 50.0,
              "single": [{"b": 1, "flops": 1e3, "minisgd": us(20.0), "plain": us(44.0)}],
              "ensembles": [{"b": 32, "K": 64, "minisgd": us(5.0), "plain": us(17.0)}]}
    text = bench.markdown(report)
    assert "b=1 2.00x" in text and "K=64 b=32 2.00x" in text
    assert "| 1 | 64 |" not in text and "2.2x" in text     # plain / minisgd at b=1


def test_a_measurement_ends_when_the_bench_that_started_it_is_killed():
    """kill -9 of `bench` must not leave its measurement subprocess running (it would hold
    a core for as long as its repeats last)."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time
    spec = json.dumps({"framework": "minisgd", "b": 1, "steps": 200000, "repeats": 10 ** 6})
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys\n"
         f"p = subprocess.Popen([sys.executable, '-m', 'minisgd.bench.loops', {spec!r}])\n"
         "print(p.pid, flush=True); p.wait()"], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    time.sleep(1.0)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the measurement outlived its bench by 10 s")


@pytest.mark.parametrize("framework", ["mlp_minisgd", "mlp_pytorch"])
def test_the_mnist_sized_mlp_workers_run_with_a_gemm_rate_of_their_dtype(framework):
    if framework == "mlp_pytorch":
        pytest.importorskip("torch")
    result = bench.measure({"framework": framework, "b": 32, "loss": "cross_entropy",
                            "dtype": "float32", "steps": 3, "repeats": 1,
                            "gemm_dtype": "float32"}, threads=1)
    assert result["times"][0] > 0 and result["gemm_gflops"] > 0


def test_the_mlp_section_reports_ratios_and_the_share_of_gemm():
    row = {"loss": "mse", "dtype": "float64", "b": 4000, "flops": 2e9, "gemm_gflops": 100.0,
           "minisgd": {"median_us": 40000.0, "min_us": 1, "max_us": 1},
           "pytorch": {"median_us": 50000.0, "min_us": 1, "max_us": 1}}
    text = bench.markdown({"threads": 2, "repeats": 3, "mlp": [row]})
    assert "784 -> 256 -> 256 -> 10" in text
    assert "| mse | float64 | 4000 | 40000 | 50000 | 1.25x | 50.0 | 100.0 | 50 |" in text
