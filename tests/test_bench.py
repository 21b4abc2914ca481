"""The benchmark harness runs and reports; nothing here asserts a time."""
import pytest

from minisgd import bench, bench_loops


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
