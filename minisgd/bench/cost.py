"""What a run will cost, from its resolved config, before any work: the memory its big
arrays take and the time its arithmetic takes at best. A run that cannot fit in memory is
refused, naming the options that make it big; one that would run for more than LONG
seconds (an hour) is refused unless the caller says it means it (allow_long=True, --allow-long).
Without this a --width 10**7 run ends in NumPy's MemoryError after allocating, and
--steps 10**12 simply runs for years.

    memory  the data as drawn (X and X_test in float64, a float32 copy for a float32 run,
            the targets the loss reads, the Gaussian-mixture centres), the net's parameters
            times its copies (weights, gradient, divergence restore point, momentum), one
            batch's activations and deltas (at most CHUNK_ROWS rows at a time: the engines
            cut big batches), the moments path's d x d matrix and the history's rows
    time    steps x (OVERHEAD per layer + 6 b P flops at RATE)
            + records x (2 (N + N_test) P flops at RATE)
            (b: rows per step, P: weights, N: training rows; a GD step on the moments path
            reads d rows' worth: X^T X is d x d)

RATE (1e11 flop/s, the float64 GEMM peak of a 2-core machine) and OVERHEAD (4 us per layer
per step; a step of the 4-layer paper net takes ~24 us: docs/performance.md) are on the
fast side, so the time is a lower bound: a run refused as too long would take at least
that. The memory counts only the big arrays, so it too is a lower bound.
Not for: measuring speed (bench/driver.py does).
"""
import functools
import math
import os

from ..engines import CHUNK_ROWS
from ..history import log_spaced_steps
from ..resolve import moments_apply

RATE = 1e11                  # flop/s: on the fast side of a 2-core machine's float64 GEMM
OVERHEAD = 4e-6              # s per layer per step: on the fast side of the measured ~6 us
LONG = 3600                  # s: longer runs need allow_long
ROW_FLOAT = 8                # bytes of a float64


class TooBig(ValueError):
    """A run (or sweep) refused before work for its memory or its time. str(): the message
    naming Config fields; render(cli=True): naming the command-line flags."""

    def __init__(self, message, options):
        self.message, self.options = message, options
        super().__init__(self.render())

    def render(self, cli=False):
        flag = (lambda f: "--" + f.replace("_", "-")) if cli else (lambda f: f)
        allow = "--allow-long" if cli else "allow_long=True"
        return self.message.format(options=", ".join(map(flag, self.options)), allow=allow)


def shape(config):
    """(layers, weights, units): the net's weight matrices, its weights (biases included
    when it has them) and the units of all its layers, inputs and outputs included --
    counted, not listed (a --depth of 10**9 must not build a list of 10**9 widths)."""
    d, n_out = config.d, config.n_out
    if config.model == "diagonal":
        return 2, 2 * d, 2 * d + 1
    depth, w, bias = config.depth, config.width, bool(config.bias)
    if depth == 0:
        return 1, d * n_out + bias * n_out, d + n_out
    P = d * w + (depth - 1) * w * w + w * n_out + bias * (depth * w + n_out)
    return depth + 1, P, d + depth * w + n_out


@functools.lru_cache(maxsize=1024)
def count_records(steps, per_decade):
    return len(log_spaced_steps(steps, per_decade))


def record_count(config):
    """The history's rows: log-spaced steps (history.log_spaced_steps); when there would be
    more than 10**5, the bound min(steps + 1, their count) without listing them."""
    k = config.records_per_decade * math.log10(max(config.steps, 10)) + 2
    if k > 1e5:
        return int(min(config.steps + 1, k))
    return count_records(config.steps, config.records_per_decade)


def step_rows(config):
    """Rows one gradient reads: the batch, the whole training set for GD (d for the moments
    path, whose X^T X stands for the rows)."""
    if config.optimizer == "sgd":
        return config.batch_size
    return config.d if moments_path(config) else config.n_train


def moments_path(config):
    return config.gradient != "rows" and moments_apply(config) is None and \
        config.optimizer == "gd"


def memory_terms(config):
    """[(bytes, what, options)] of the run's big arrays."""
    (_, P, units), N, n_test, d = shape(config), config.n_train, config.n_test, config.d
    float_bytes = 4 if config.dtype == "float32" else ROW_FLOAT
    data = ROW_FLOAT * (N + n_test) * (d + config.n_out) + \
        (float_bytes * (N + n_test) * d if config.dtype == "float32" else 0)
    terms = [(data, f"the data ({N} + {n_test} rows x {d} inputs and {config.n_out} "
              f"target column(s))", ("n", "n_test", "d", "classes")),
             (ROW_FLOAT * P * (3 + bool(config.momentum)),
              f"the net's {P:.3g} weights and their copies", ("width", "depth", "d", "classes"))]
    if config.task == "classification" and config.blobs:
        terms.append((ROW_FLOAT * config.classes * config.blobs * d,
                      f"{config.classes} x {config.blobs} mixture centres", ("blobs", "classes", "d")))
    rows = min(step_rows(config), CHUNK_ROWS)
    terms.append((float_bytes * 3 * rows * units, f"the activations of {rows} rows",
                  ("batch_size", "width", "depth")))
    if moments_path(config):
        terms.append((ROW_FLOAT * d * (d + config.n_out), "the d x d data moments", ("d",)))
    terms.append((ROW_FLOAT * record_count(config) * (40 + d), "the history's rows",
                  ("records_per_decade", "steps")))
    return terms


def seconds(config, members=1):
    """A lower bound on the run's compute time (module docstring), `members` stacked."""
    layers, P, _ = shape(config)
    per_step = OVERHEAD * layers + members * 6 * step_rows(config) * P / RATE
    evaluation = members * 2 * (config.n_train + config.n_test) * P / RATE
    return config.steps * per_step + record_count(config) * evaluation


def available_memory():
    """Bytes the system can give (Linux MemAvailable; else physical memory; else None)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024


def human_time(s):
    for unit, size in (("years", 365 * 86400), ("days", 86400), ("hours", 3600),
                       ("minutes", 60)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


def check_cost(configs, allow_long=False, available=None, what="this run"):
    """Refuse (TooBig) before work a run -- or runs trained together, e.g. an ensemble's
    members -- whose arrays cannot fit in memory, or whose time exceeds LONG unless
    allow_long. Returns (bytes, seconds)."""
    configs = list(configs)
    terms = [t for c in configs for t in memory_terms(c)]
    total = sum(t[0] for t in terms)
    available = available_memory() if available is None else available
    if available is not None and total > available:
        size, name, options = max(terms)
        raise TooBig(f"{what} needs at least {human_bytes(total)} of memory, more than the "
                     f"{human_bytes(available)} available: {name} alone take "
                     f"{human_bytes(size)}; lower {{options}}", options)
    time_needed = seconds(configs[0], members=len(configs))
    if time_needed > LONG and not allow_long:
        c = configs[0]
        raise TooBig(f"{what} would take at least {human_time(time_needed)} (steps={c.steps}, "
                     f"{step_rows(c)} rows per step, {shape(c)[1]:.3g} weights, "
                     f"{record_count(c)} records); lower {{options}} (or the net's or the "
                     "data's size), or say you mean it: {allow}", ("steps",))
    return total, time_needed


COST_FIELDS = ("model", "task", "d", "width", "depth", "classes", "bias", "activation", "loss",
               "weight_norm", "n", "double", "n_test", "dtype", "momentum", "blobs",
               "optimizer", "batch_size", "gradient", "steps", "records_per_decade")


def check_sweep_cost(configs, workers, allow_long=False, available=None):
    """Refuse (TooBig) a sweep before work: a run that cannot fit in memory beside the
    others running at once (`workers` of them), or -- unless allow_long -- runs that take
    more than LONG on `workers` processes. Returns the lower bound on that time."""
    configs = list(configs)
    at_once = max(1, min(workers or os.cpu_count() or 1, len(configs)))
    available = available_memory() if available is None else available
    share = None if available is None else available / at_once
    total, seen = 0.0, {}                 # a grid's runs share a few shapes: check each once
    for k, config in enumerate(configs):
        key = tuple(getattr(config, f) for f in COST_FIELDS)
        if key not in seen:
            seen[key] = check_cost([config], True, share,
                                   what=f"run {k + 1} of the sweep (1/{at_once} of the memory)")[1]
        total += seen[key]
    if total / at_once > LONG and not allow_long:
        raise TooBig(f"the sweep's {len(configs)} runs would take at least "
                     f"{human_time(total / at_once)} on {at_once} process(es); lower "
                     "{options} or run fewer, or say you mean it: {allow}", ("steps",))
    return total / at_once
