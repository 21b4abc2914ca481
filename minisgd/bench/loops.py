"""The timed training loops of `python -m minisgd bench`, one per framework, each run in
a fresh subprocess (`python -m minisgd.bench.loops SPEC_JSON` prints the result as JSON).

What is timed, per training step of the paper's net (15-15-15-15-1, linear, no bias,
float64, clipping at 1.0, eta = 0.1, sampling without replacement):
  minisgd   train() as users run it: history recorded at log-spaced steps, over a run as
            long as a real one, on the general (rows) path -- the PyTorch comparison stays
            apples to apples; spec "gradient": "moments" times the moments path instead. The ensemble table records ~once per decade (evaluating
            every member on the full data would otherwise dominate a short benchmark run);
            the width/depth table times the loop body alone, as the PyTorch loop is.
  pytorch   the usual loop: zero_grad, forward, MSELoss, backward, clip_grad_norm_, step
  jax       the whole run compiled inside lax.scan (compile time excluded); an ensemble
            is jax.vmap of that over K copies of the weights, all on the same batches
            (minisgd's members share the data but each draws its own batch order)
  plain     the reference a NumPy user writes first: per step, gather the batch, four
            matmuls forward, backward, clip, update, new arrays every time (the issue's
            "plain NumPy step", and for K > 1 its "plain stacked-matmul version"); it
            measures how fast this machine is against the reference machine's numbers
and the float64 GEMM rate (n = 1000 matmul) in the same subprocess, to put the achieved
GFLOP/s of the training step on a scale.
"""
import json
import os
import sys
import time

import numpy as np

SIZES = [15, 15, 15, 15, 1]
MLP_SIZES = [784, 256, 256, 10]              # the MNIST-sized MLP section (mlp.py)
MLP_ROWS = 4000


def step_flops(sizes, b):
    """Multiply-adds x 2 of one step: forward X W, gradients a^T delta, deltas delta W^T."""
    pairs = [n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return 2 * b * (2 * sum(pairs) + sum(pairs[1:]))


def gemm_gflops(n=1000, repeats=5, dtype="float64"):
    A = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    best = min(timed(lambda: A @ A) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def problem(spec):
    """Data, initial weights and batch indices shared by every framework."""
    from ..data import make_data
    from ..models import MLP
    sizes = spec.get("sizes", SIZES)
    data = make_data(0, d=sizes[0], support=tuple(range(min(5, sizes[0]))), n=5000)
    net = MLP(sizes, seed=0)
    N, b, steps = data.X.shape[0], spec["b"] or data.X.shape[0], spec["steps"]
    rng = np.random.default_rng(1)
    epochs = -(-steps * b // N) + 1
    order = np.concatenate([rng.permutation(N) for _ in range(epochs)])
    batches = order[:steps * b].reshape(steps, b) if b < N else None
    return data, net, batches


def run_minisgd(spec):
    from ..train import Config, train
    sizes = spec.get("sizes", SIZES)
    config = Config(d=sizes[0], support=tuple(range(min(5, sizes[0]))), depth=len(sizes) - 2,
                    width=sizes[1], optimizer="gd" if spec["b"] is None else "sgd",
                    batch_size=spec["b"], steps=spec["steps"],          # None: GD
                    records_per_decade=spec.get("records_per_decade", 20),
                    gradient=spec.get("gradient", "rows"))   # the general path, unless asked
    if spec.get("loop_only"):
        return time_loop(config, spec["steps"], spec["repeats"])
    if spec.get("K", 1) > 1:
        from ..ensemble import train_ensemble
        # members share one data set (data_seed), as the JAX version's vmap does, and
        # differ in initialization and batch order
        first = spec.get("first_seed", 0)
        configs = [Config(**{**config.__dict__, "seed": first + k, "data_seed": 0})
                   for k in range(spec["K"])]
        return [train_ensemble(configs)[0].final["wall_time"] / spec["steps"]
                for _ in range(spec["repeats"])]          # wall_time is the loop / K
    return [train(config).final["wall_time"] / spec["steps"] for _ in range(spec["repeats"])]


def time_loop(config, steps, repeats):
    """Per-step time of train's loop body alone (the batch, the engine's gradient and
    update -- the engine the run takes, engines.py), without history recording or the
    divergence check: what the PyTorch loop below does."""
    from ..train import prepare, run_batches, run_engine
    times = []
    for _ in range(repeats):
        problem, net, rngs = prepare(config)
        engine = run_engine(problem.config, problem, net, replay=False)
        batches = run_batches(problem.config, problem, rngs[2], rngs[3])
        with engine:
            start = time.perf_counter()
            for _ in range(steps):
                Xb, Yb = next(batches)
                _, grads = engine.gradient(net, Xb, Yb)
                engine.update(net, grads, problem.config.lr)
            times.append((time.perf_counter() - start) / steps)
    return times


def run_torch(spec):
    import torch
    from ..io.torch_bridge import to_torch
    torch.set_num_threads(spec["threads"])
    data, net, batches = problem(spec)
    X, y = torch.from_numpy(data.X), torch.from_numpy(data.y[:, None])
    idx = None if batches is None else torch.from_numpy(batches)
    times = []
    for _ in range(spec["repeats"]):
        model = to_torch(net)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = torch.nn.MSELoss()
        start = time.perf_counter()
        for t in range(spec["steps"]):
            xb, yb = (X, y) if idx is None else (X[idx[t]], y[idx[t]])
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        times.append((time.perf_counter() - start) / spec["steps"])
    return times


def run_jax(spec):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    data, net, batches = problem(spec)
    X, y = jnp.asarray(data.X), jnp.asarray(data.y[:, None])
    K = spec.get("K", 1)
    Ws = [jnp.asarray(np.stack([W] * K)) for W in net.weights]
    steps = spec["steps"]
    idx = jnp.asarray(np.zeros((steps, 1), dtype=np.int64) if batches is None else batches)

    def loss(Ws, xb, yb):
        a = xb
        for W in Ws:
            a = a @ W
        return jnp.mean((a - yb) ** 2)

    def sgd_step(Ws, rows):
        xb, yb = (X, y) if batches is None else (X[rows], y[rows])
        g = jax.grad(loss)(Ws, xb, yb)
        norm = jnp.sqrt(sum(jnp.sum(gi * gi) for gi in g))
        coef = jnp.minimum(1.0 / (norm + 1e-6), 1.0)
        return [W - 0.1 * coef * gi for W, gi in zip(Ws, g)], None

    def run(Ws):
        one_net = lambda Ws1: jax.lax.scan(sgd_step, Ws1, idx)[0]
        return jax.vmap(one_net)(Ws)

    compiled = jax.jit(run).lower(Ws).compile()
    jax.block_until_ready(compiled(Ws))
    return [timed(lambda: jax.block_until_ready(compiled(Ws))) / steps / K
            for _ in range(spec["repeats"])]


def run_plain(spec):
    data, net, batches = problem(spec)
    X, y = data.X, data.y[:, None]
    K = spec.get("K", 1)
    times = []
    for _ in range(spec["repeats"]):
        Ws = [np.stack([W] * K) if K > 1 else W.copy() for W in net.weights]
        start = time.perf_counter()
        for t in range(spec["steps"]):
            xb, yb = (X, y) if batches is None else (X[batches[t]], y[batches[t]])
            plain_sgd_step(Ws, xb, yb)
        times.append((time.perf_counter() - start) / spec["steps"] / K)
    return times


def plain_sgd_step(Ws, xb, yb, lr=0.1, clip=1.0):
    """One clipped SGD step on mean (f - y)^2, written the straightforward way. Weights
    (n_in, n_out), or (K, n_in, n_out) for K nets on the same batch (matmul broadcasts)."""
    acts = [xb]
    for W in Ws:
        acts.append(acts[-1] @ W)
    delta = 2.0 * (acts[-1] - yb) / xb.shape[0]
    grads = [None] * len(Ws)
    for l in reversed(range(len(Ws))):
        grads[l] = acts[l].mT @ delta
        if l > 0:
            delta = delta @ Ws[l].mT
    norm = np.sqrt(sum((g * g).sum(axis=(-2, -1), keepdims=True) for g in grads))
    coef = np.minimum(clip / (norm + 1e-6), 1.0)
    for W, g in zip(Ws, grads):
        W -= lr * coef * g


def mlp_config(spec):
    from ..train import Config
    b = spec["b"]
    return Config(task="classification", d=MLP_SIZES[0], classes=MLP_SIZES[-1], n=MLP_ROWS,
                  n_test=10, depth=len(MLP_SIZES) - 2, width=MLP_SIZES[1],
                  activation="relu", bias=True, loss=spec["loss"], dtype=spec["dtype"],
                  optimizer="gd" if b is None else "sgd", batch_size=b, lr=0.01,
                  steps=spec["steps"], seed=0)


def run_minisgd_mlp(spec):
    """Per-step seconds of minisgd's loop body (time_loop), per repeat."""
    return time_loop(mlp_config(spec), spec["steps"], spec["repeats"])


def run_torch_mlp(spec):
    """Per-step seconds of the same loop in PyTorch, per repeat."""
    import torch
    torch.set_num_threads(spec["threads"])
    dtype = getattr(torch, spec["dtype"])
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.standard_normal((MLP_ROWS, MLP_SIZES[0]))).to(dtype)
    labels = torch.from_numpy(rng.integers(0, MLP_SIZES[-1], MLP_ROWS))
    Y = torch.nn.functional.one_hot(labels, MLP_SIZES[-1]).to(dtype)
    b, steps = spec["b"] or MLP_ROWS, spec["steps"]
    order = torch.from_numpy(np.concatenate([rng.permutation(MLP_ROWS)
                                             for _ in range(-(-steps * b // MLP_ROWS))]))
    times = []
    for _ in range(spec["repeats"]):
        layers = []
        for n_in, n_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
            layers += [torch.nn.Linear(n_in, n_out, dtype=dtype), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1])
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        loss_fn = (torch.nn.MSELoss() if spec["loss"] == "mse" else
                   lambda out, y: torch.nn.functional.cross_entropy(out, y.argmax(1)))
        start = time.perf_counter()
        for t in range(steps):
            rows = order[t * b:(t + 1) * b]
            xb, yb = (X, Y) if b == MLP_ROWS else (X[rows], Y[rows])
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        times.append((time.perf_counter() - start) / steps)
    return times


WORKERS = {"minisgd": run_minisgd, "pytorch": run_torch, "jax": run_jax, "plain": run_plain,
           "mlp_minisgd": run_minisgd_mlp, "mlp_pytorch": run_torch_mlp}


def worker(spec):
    """Run one measurement; returns per-step seconds for each repeat, and the GEMM rate
    (float64, or spec["gemm_dtype"]'s)."""
    times = WORKERS[spec["framework"]](spec)
    if spec.get("gemm_dtype"):
        return {"times": times, "gemm_gflops": gemm_gflops(dtype=spec["gemm_dtype"])}
    return {"times": times, "gemm_gflops": gemm_gflops() if spec.get("gemm") else None}


if __name__ == "__main__":
    from minisgd.sweep.executors import exit_with_parent
    exit_with_parent(os.getppid())        # a killed `bench` takes its measurement with it
    print(json.dumps(worker(json.loads(sys.argv[1]))))
