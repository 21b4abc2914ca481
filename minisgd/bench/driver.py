"""Benchmark: minisgd against PyTorch CPU and JAX on the same net, weights and batches.

`python -m minisgd bench` runs every measurement in a fresh subprocess whose BLAS / OpenMP
thread count is set by environment variables (and torch.set_num_threads), so all
frameworks use the same number of threads; each measurement is repeated and reported as
median (min-max). Ratios are what to read: absolute times depend on the machine and on
whatever else runs on it. A plain NumPy loop (loops.run_plain) runs beside them and
says how fast this machine is against the one the targets were written on. PyTorch and
JAX are optional: missing ones are skipped with a message. What is timed, and how, is in
loops.py. Not for: tests (nothing here asserts a time).
"""
import json
import os
import statistics
import subprocess
import sys

import numpy as np

from ..report.tables import markdown_table
from .loops import SIZES, step_flops
from .mlp import mlp_markdown, mlp_table

# The plain NumPy loop (loops.run_plain) on the reference machine the performance issue
# was written against, in us per (net-)step: single nets by batch size, and K = 64 stacked
# nets. The same loop measured here says how much slower or faster this machine is.
REFERENCE_PLAIN_US = {1: 22.0, 32: 27.0, 512: 110.0, 10000: 2000.0}
REFERENCE_PLAIN_STACKED_US = {1: 4.7, 32: 8.5}


def available(framework):
    name = {"pytorch": "torch", "jax": "jax", "minisgd": "numpy", "plain": "numpy"}[framework]
    code = f"import {name}"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def measure(spec, threads):
    """Run loops.worker(spec) in a subprocess with `threads` BLAS/OpenMP threads."""
    command, env = worker_command(spec, threads)
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    return worker_output(spec, out.returncode, out.stdout, out.stderr)


def measure_split(spec, processes):
    """An ensemble of K split over `processes` one-thread subprocesses running at once (K /
    processes members each, as `sweep --workers P` runs it): per net-step time of the
    whole, repeat by repeat, from the slowest process's loop."""
    K = spec["K"] // processes
    commands = [worker_command({**spec, "K": K, "first_seed": i * K}, 1) for i in range(processes)]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for command, env in commands]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate()
        outs.append(worker_output(spec, p.returncode, stdout, stderr))
    return [max(times) / processes for times in zip(*(o["times"] for o in outs))]


def worker_command(spec, threads):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    if threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
    spec = {**spec, "threads": threads}
    return [sys.executable, "-m", "minisgd.bench.loops", json.dumps(spec)], env


def worker_output(spec, returncode, stdout, stderr):
    """The worker's result (its last line of stdout, JSON); a RuntimeError naming the
    framework when it failed or printed no result."""
    lines = stdout.strip().splitlines()
    if returncode != 0 or not lines:
        raise RuntimeError(f"{spec['framework']} benchmark failed (exit status {returncode})"
                           f":\n{stderr[-2000:]}")
    try:
        return json.loads(lines[-1])
    except ValueError:
        raise RuntimeError(f"{spec['framework']} benchmark printed no JSON result, its last "
                           f"line is {lines[-1][:200]!r}") from None


def summarize(times):
    us = [t * 1e6 for t in times]
    return {"median_us": statistics.median(us), "min_us": min(us), "max_us": max(us)}


def steps_for(b, framework="pytorch"):
    """Enough steps for a stable measurement, few enough for a quick benchmark. minisgd
    runs as long as a user's run (its history recording, ~20 rows per decade of steps,
    then costs what it costs in a real run); the others' per-step time does not depend on
    the run length."""
    if framework == "minisgd":
        return {1: 200000, 32: 100000, 512: 20000}.get(b, 2000)
    return {1: 20000, 32: 10000, 512: 2000}.get(b, 300)


def main_table(threads, repeats, frameworks, batch_sizes, log=print):
    rows = []
    for b in batch_sizes:
        row = {"b": b or 10000, "flops": step_flops(SIZES, b or 10000)}
        for fw in frameworks:
            spec = {"framework": fw, "b": b, "steps": steps_for(b, fw), "repeats": repeats,
                    "gemm": fw == "minisgd"}
            result = measure(spec, threads)
            row[fw] = summarize(result["times"])
            if result["gemm_gflops"]:
                row["gemm_gflops"] = result["gemm_gflops"]
            log(f"  b={row['b']:>5} {fw:8s} {row[fw]['median_us']:9.1f} us/step")
        rows.append(row)
    return rows


def ensemble_table(threads, repeats, frameworks, log=print):
    rows = []
    for b in (1, 32):
        for K in (1, 8, 64):
            row = {"b": b, "K": K}
            for fw in [f for f in frameworks if f in ("minisgd", "plain", "jax")]:
                spec = {"framework": fw, "b": b, "K": K, "repeats": repeats,
                        "steps": 20000 if b == 1 else 5000, "records_per_decade": 1}
                row[fw] = summarize(measure(spec, threads)["times"])
                log(f"  ensemble b={b} K={K:<3} {fw:8s} {row[fw]['median_us']:8.2f} us/net-step")
                if fw == "minisgd" and threads > 1 and K % threads == 0 and K > threads:
                    row["split"] = summarize(measure_split(spec, threads))
                    log(f"  ensemble b={b} K={K:<3} {threads} x K={K // threads} processes "
                        f"{row['split']['median_us']:8.2f} us/net-step")
            rows.append(row)
    return rows


def moments_table(threads, repeats, log=print):
    """minisgd's two paths side by side (train(), the paper's linear net): the general
    rows path and the moments path (moments.py) that gradient="auto" takes for linear nets
    at full batch and b >= 128. Reported apart from the framework comparison."""
    rows = []
    for b in (32, 128, 512, None):
        row = {"b": b or 10000}
        for path in ("rows", "moments"):
            spec = {"framework": "minisgd", "b": b, "repeats": repeats, "gradient": path,
                    "steps": steps_for(b, "minisgd") if path == "rows" else
                    {32: 100000, 128: 50000, 512: 50000}.get(b, 20000)}
            row[path] = summarize(measure(spec, threads)["times"])
            log(f"  b={row['b']:>5} {path:8s} {row[path]['median_us']:9.1f} us/step")
        rows.append(row)
    return rows


def scaling_table(threads, repeats, frameworks, log=print):
    rows = []
    for width, depth in [(15, 3), (64, 3), (256, 3), (1024, 3), (64, 1), (64, 6)]:
        sizes = [15] + [width] * depth + [1]
        row = {"width": width, "depth": depth, "b": 32}
        for fw in [f for f in frameworks if f in ("minisgd", "pytorch")]:
            spec = {"framework": fw, "b": 32, "sizes": sizes, "repeats": repeats,
                    "steps": 2000 if width <= 256 else 300, "loop_only": True}
            row[fw] = summarize(measure(spec, threads)["times"])
        log(f"  width={width:<5} depth={depth} " + "  ".join(
            f"{fw} {row[fw]['median_us']:.1f} us" for fw in frameworks if fw in row))
        rows.append(row)
    return rows


def ratio(row, a, b):
    return row[b]["median_us"] / row[a]["median_us"] if a in row and b in row else None


def machine_factors(report):
    """plain NumPy us here / on the reference machine, per measured case (> 1: slower)."""
    factors = {f"b={r['b']}": r["plain"]["median_us"] / REFERENCE_PLAIN_US[r["b"]]
               for r in report.get("single", []) if "plain" in r and r["b"] in REFERENCE_PLAIN_US}
    factors.update({f"K=64 b={r['b']}": r["plain"]["median_us"] / REFERENCE_PLAIN_STACKED_US[r["b"]]
                    for r in report.get("ensembles", []) if "plain" in r and r["K"] == 64})
    return factors


def markdown(report):
    """The report as markdown: the framework comparison, then the tables a full run adds
    (ensembles, width/depth scaling, minisgd's moments path), then this machine against
    the reference machine."""
    parts = [main_markdown(report)] if report.get("single") else []
    for key, table in (("ensembles", ensemble_markdown), ("scaling", scaling_markdown),
                       ("moments", moments_markdown)):
        if report.get(key):
            parts += ["", table(report)]
    if report.get("mlp"):
        parts += ["", mlp_markdown(report, markdown_table, cell, ratio)]
    factors = machine_factors(report)
    if factors:
        parts += ["", "This machine against the reference machine (plain NumPy loop here / there; "
                  "> 1: slower here): " + ", ".join(f"{k} {v:.2f}x" for k, v in factors.items())]
    return "\n".join(parts)


def cell(value, pattern="{:.1f}"):
    """A table cell: `value` by `pattern`, '–' when it is missing."""
    return "–" if value is None else pattern.format(value)


def median_cell(row, key, pattern="{:.1f}"):
    """The median µs of row[key], '–' when that was not measured."""
    return cell(row[key]["median_us"] if key in row else None, pattern)


def spread_cell(row, key):
    """'median (min–max)' µs of row[key], '–' when that was not measured."""
    if key not in row:
        return "–"
    t = row[key]
    return f"{t['median_us']:.1f} ({t['min_us']:.1f}–{t['max_us']:.1f})"


def main_markdown(report):
    """Per step times of every framework by batch size, their ratios to minisgd, and
    minisgd's GFLOP/s, also as a share of the GEMM rate."""
    gemm = report.get("gemm_gflops")
    head = ["batch", "minisgd µs/step", "PyTorch µs/step", "JAX µs/step", "plain NumPy µs/step",
            "PyTorch / minisgd", "JAX / minisgd", "plain / minisgd", "minisgd GFLOP/s",
            "% of GEMM"]
    rows, timed = [], ("minisgd", "pytorch", "jax", "plain")
    for r in report["single"]:
        gf = r["flops"] / r["minisgd"]["median_us"] / 1e3
        rows.append([r["b"]] + [spread_cell(r, fw) for fw in timed]
                    + [cell(ratio(r, "minisgd", "pytorch"), "{:.1f}x"),
                       cell(ratio(r, "minisgd", "jax"), "{:.2f}x"),
                       cell(ratio(r, "minisgd", "plain"), "{:.1f}x"), f"{gf:.2f}",
                       cell(100 * gf / gemm if gemm else None)])
    return (f"threads: {report['threads']}, repeats: {report['repeats']}, float64 GEMM "
            f"(n=1000): {cell(gemm)} GFLOP/s\n\n" + markdown_table(head, rows))


def ensemble_markdown(report):
    """Per net-step times of K stacked nets: minisgd in one process and split over
    processes, JAX, and the plain stacked NumPy loop."""
    t = report["threads"]
    head = ["batch", "K", f"minisgd µs/net-step (1 process, {t} threads)",
            f"minisgd, {t} processes of K / {t}", "JAX (vmap+scan) µs/net-step",
            "plain stacked NumPy µs/net-step"]
    timed = ("minisgd", "split", "jax", "plain")
    rows = [[r["b"], r["K"]] + [median_cell(r, key, "{:.2f}") for key in timed]
            for r in report["ensembles"]]
    return markdown_table(head, rows)


def scaling_markdown(report):
    """minisgd against PyTorch as the net grows wider and deeper (b = 32)."""
    head = ["width", "depth", "minisgd µs/step (b=32)", "PyTorch µs/step", "PyTorch / minisgd"]
    rows = [[r["width"], r["depth"], f"{r['minisgd']['median_us']:.1f}",
             median_cell(r, "pytorch"), cell(ratio(r, "minisgd", "pytorch"), "{:.1f}x")]
            for r in report["scaling"]]
    return markdown_table(head, rows)


def moments_markdown(report):
    """minisgd's rows path against its moments path (not a framework comparison)."""
    head = ["batch", "rows path µs/step", "moments path µs/step", "rows / moments"]
    rows = [[r["b"], f"{r['rows']['median_us']:.1f}", f"{r['moments']['median_us']:.1f}",
             cell(ratio(r, "moments", "rows"), "{:.1f}x")] for r in report["moments"]]
    return ("minisgd's own two paths (linear net, mse; not a framework comparison):\n\n"
            + markdown_table(head, rows))


def run_bench(threads=2, repeats=5, quick=False, log=print, mlp_only=False):
    frameworks = [fw for fw in ("minisgd", "plain", "pytorch", "jax") if available(fw)]
    for fw in ("pytorch", "jax"):
        if fw not in frameworks:
            log(f"  {fw} is not installed: skipped (pip install "
                f"{'torch==2.13.0' if fw == 'pytorch' else 'jax'})")
    report = {"threads": threads, "repeats": repeats, "frameworks": frameworks,
              "machine": machine_info()}
    if mlp_only or not quick:
        report["mlp"] = mlp_table(measure, summarize, threads, repeats, frameworks, log)
    if mlp_only:
        return report
    batch_sizes = [1, 32] if quick else [1, 32, 512, None]
    report["single"] = main_table(threads, repeats, frameworks, batch_sizes, log)
    report["gemm_gflops"] = max(r.get("gemm_gflops", 0) for r in report["single"])
    if not quick:
        report["moments"] = moments_table(threads, repeats, log)
        report["ensembles"] = ensemble_table(threads, repeats, frameworks, log)
        report["scaling"] = scaling_table(threads, repeats, frameworks, log)
    return report


def machine_info():
    import platform
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        info["cpu"] = names[0] if names else None
    except OSError:
        pass
    return info
