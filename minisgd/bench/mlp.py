"""Benchmark section: an MNIST-sized MLP (784 -> 256 -> 256 -> 10, ReLU, biases), where the
matmuls are the work: minisgd's training step against PyTorch CPU's (same net, same
threads) and against the machine's own GEMM rate for the step's FLOPs, measured in the same
subprocess, for the square loss and cross-entropy, in float64 and float32, at b = 32, 128,
1000 and the full 4000 rows.

What is timed, per step, in both frameworks: the loop body alone -- take the batch, forward,
loss, backward, global-norm clipping at 1.0, the SGD update -- on 4000 rows of random
inputs (the values do not change the work; ReLU masks are ~half on, as on real data) and
random labels; minisgd through the engine train() picks (train.run_engine, the engine a
real run of that config takes: the reference step at b = 32, workspaces, or the pieces
engine at full batch). The GEMM rate: the best of five n x n products in the same dtype
(n = 1000), in the same subprocess with the same threads. "% of GEMM" = the step's FLOPs
(step_flops: forward, weight gradients and the deltas) / its time / that rate.
The timed loops themselves are in loops.py (run_minisgd_mlp, run_torch_mlp). Not for: the
paper-net tables (driver.py), which stay as they are.
"""
from .loops import MLP_ROWS, MLP_SIZES, step_flops

MLP_BATCHES = (32, 128, 1000, None)          # None: the full 4000 rows
MLP_CASES = [(loss, dtype) for dtype in ("float64", "float32")
             for loss in ("mse", "cross_entropy")]


def steps_for(b):
    return {32: 600, 128: 300, 1000: 60}.get(b, 20)


def mlp_table(measure, summarize, threads, repeats, frameworks, log=print):
    """One row per (loss, dtype, batch): minisgd and PyTorch per-step times, the GEMM rate
    measured beside minisgd."""
    rows = []
    for loss, dtype in MLP_CASES:
        for b in MLP_BATCHES:
            rows_b = b or MLP_ROWS
            row = {"loss": loss, "dtype": dtype, "b": rows_b,
                   "flops": step_flops(MLP_SIZES, rows_b)}
            for fw in [f for f in frameworks if f in ("minisgd", "pytorch")]:
                spec = {"framework": f"mlp_{fw}", "b": b, "loss": loss, "dtype": dtype,
                        "steps": steps_for(b), "repeats": repeats, "gemm_dtype": dtype}
                result = measure(spec, threads)
                row[fw] = summarize(result["times"])
                row["gemm_gflops"] = max(row.get("gemm_gflops", 0), result["gemm_gflops"])
            log(f"  mlp {loss:13s} {dtype} b={rows_b:>4} " + "  ".join(
                f"{fw} {row[fw]['median_us']:.0f} us" for fw in ("minisgd", "pytorch")
                if fw in row))
            rows.append(row)
    return rows


def mlp_markdown(report, markdown_table, cell, ratio):
    head = ["loss", "dtype", "batch", "minisgd µs/step", "PyTorch µs/step",
            "PyTorch / minisgd", "minisgd GFLOP/s", "GEMM GFLOP/s", "% of GEMM"]
    rows = []
    for r in report["mlp"]:
        gf = r["flops"] / r["minisgd"]["median_us"] / 1e3
        rows.append([r["loss"], r["dtype"], r["b"], f"{r['minisgd']['median_us']:.0f}",
                     cell(r["pytorch"]["median_us"] if "pytorch" in r else None, "{:.0f}"),
                     cell(ratio(r, "minisgd", "pytorch"), "{:.2f}x"), f"{gf:.1f}",
                     f"{r['gemm_gflops']:.1f}", f"{100 * gf / r['gemm_gflops']:.0f}"])
    return (f"MNIST-sized MLP {' -> '.join(map(str, MLP_SIZES))} (ReLU, biases), loop body "
            f"per step, {report['threads']} threads; GEMM measured beside each row "
            "(n = 1000, same dtype):\n\n" + markdown_table(head, rows))
