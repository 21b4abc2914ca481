"""Command line: ``python -m minisgd train ...`` (and the other subcommands).

Every field of train.Config is a flag of `train`, underscores as dashes, so the CLI, the
Python API and sweep configs share one list of options. Only the flags typed reach the
Config: an omitted one is unset (None) for the fields of config.FIELD_TABLE, which the run
then resolves -- from --data / --init / --batches, else the task's and model's default --
so a typed flag that disagrees with a given file or does not apply is refused even when it
equals the default. Bad values end with a message naming the flag and exit status 2.
Not for: any training logic.
"""
import argparse
import os
import re
import sys
import typing
from dataclasses import fields

from .sweep import add_sweep_parser, run_sweep
from .sweep.plots import add_plot_parser, run_plot
from .report.audit import add_report_parser, run_report
from .config import DATASETS, field_default
from .io.flag_types import HELP, Parser, describe_field, inert_flag
from .io.flag_types import float_list, int_list, name_list, optional_float, optional_int
from .train import Config

CHOICES = {"target": ("linear", "sine", "staircase", "product", "teacher"),
           "input": ("gaussian", "rademacher"), "activation": ("linear", "relu", "tanh"),
           "init_scheme": ("kaiming_normal", "torch_default", "normal", "constant"),
           "task": ("support", "classification", "sparse_regression"),
           "model": ("mlp", "diagonal"), "loss": ("mse", "cross_entropy"),
           "weight_norm": ("none", "layer", "unit"), "parametrization": ("uv", "u2v2"),
           "dataset": DATASETS, "dtype": ("float64", "float32"),
           "gradient": ("auto", "rows", "moments"), "optimizer": ("sgd", "gd"),
           "support_rule": ("gap", "fraction")}


def optional_choice(name):
    def parse(text):
        if text.lower() in ("none", "off"):
            return None
        if text not in CHOICES[name]:
            raise argparse.ArgumentTypeError(f"invalid choice {text!r} (choose from "
                                             f"{', '.join(CHOICES[name])})")
        return text
    parse.__name__ = name
    return parse


def add_config_flags(parser):
    """One flag per Config field, typed from the field's annotation; an omitted flag leaves
    the field unset (argparse.SUPPRESS: not in the namespace)."""
    for f in fields(Config):
        parser.add_argument("--" + f.name.replace("_", "-"), default=argparse.SUPPRESS,
                            help=f"{HELP.get(f.name, '')} ({describe_field(f.name)})",
                            **flag_type(f))


def flag_type(f):
    """argparse's action / type / choices for a Config field."""
    args = typing.get_args(f.type) if typing.get_origin(f.type) is typing.Union else ()
    kind = next((t for t in args if t is not type(None)), f.type)
    if kind in (bool, "bool"):
        return {"action": argparse.BooleanOptionalAction}
    lists = {"support": int_list, "decay_at": float_list, "metrics": name_list}
    if f.name in lists:
        return {"type": lists[f.name]}
    if args and kind is str:
        return {"type": optional_choice(f.name)}
    if args:
        return {"type": optional_int if kind is int else optional_float}
    if f.name in CHOICES:
        return {"type": kind, "choices": CHOICES[f.name]}
    return {"type": kind}


def add_train_parser(sub):
    p = sub.add_parser("train", help="train one net and print a summary",
                       usage="python -m minisgd train [options]  (--help lists them)",
                       description="Train one net (defaults: the paper's setup, an MLP on a "
                                   "sparse-support target, SGD with batch size 32; --task "
                                   "classification / sparse_regression for the others).")
    add_config_flags(p)
    p.add_argument("--json", metavar="PATH", help="write {config, history, final} as JSON")
    p.add_argument("--data", metavar="PATH.npz", help="training data: X, y (X_test, y_test); "
                   "y float (N,) or (N, 1) for regression, int labels (N,) or one-hot (N, C) "
                   "for classification")
    p.add_argument("--init", metavar="PATH", help="initial weights: .npz (W0, W1, ..., b0, ...; "
                   "u, v for a diagonal net) or a PyTorch state_dict .pt")
    p.add_argument("--batches", metavar="PATH.npy", help="(steps, b) int array of batch rows")
    p.add_argument("--save", metavar="PATH.npz", help="write the final weights here")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.add_argument("--allow-long", action="store_true", help="run even if the run would take "
                   "more than an hour (refused otherwise, with the estimate)")
    return p


def config_from_args(args):
    """The Config of the typed flags (the others keep the Config's defaults: unset)."""
    return Config(**{f.name: getattr(args, f.name) for f in fields(Config)
                     if hasattr(args, f.name)})


def flagged(message):
    """Prefix a validation message with the flag of the Config field it names."""
    match = re.match(r"[a-z_0-9]+", message)
    name = match.group(0) if match else ""
    if name in {f.name for f in fields(Config)}:
        return f"argument --{name.replace('_', '-')}: {message}"
    return message


def run_train(args, parser):
    from .io.files import (check_outputs, check_rows, load_batches, load_data, load_init,
                           save_weights, write_json_atomic, write_outputs)
    from .bench.cost import TooBig
    from .train import train
    config = config_from_args(args)
    if (inert := inert_flag(args)) is not None:
        parser.error(inert)
    try:
        check_outputs([("--json", args.json), ("--save", args.save)],
                      [("--data", args.data), ("--init", args.init), ("--batches", args.batches)])
        data = None
        value = lambda name: field_default(config, name)       # typed, or its default
        if args.data is not None:
            data = check_rows(config, load_data(args.data, value("support"), config.classes,
                                                config.task))
        net = load_init(args.init, value("activation") or "linear", value("model"),
                        value("parametrization") or "uv", config.weight_norm) \
            if args.init is not None else None
        batches = None if args.batches is None else \
            load_batches(args.batches, None if data is None else data.X.shape[0])
        result = train(config, data=data, net=net, batches=batches, allow_long=args.allow_long)
    except TooBig as err:
        parser.error(err.render(cli=True))
    except (ValueError, TypeError) as err:
        parser.error(flagged(str(err)))
    status = write_outputs([("--json", args.json, lambda p: write_json_atomic(result.to_dict(), p)),
                            ("--save", args.save, lambda p: save_weights(result.net, p))],
                           "python -m minisgd train")
    if not args.quiet:
        print(format_summary(result))
    return status


ENGINE_FILES = {"reference": "minisgd/step.py", "moments": "minisgd/moments.py",
                "modified_loss": "minisgd/analysis/modified_loss.py"}


def format_summary(result):
    """The printed summary; a value the run could not compute (null: diverged, not finite)
    shows as "nan", never as a crash."""
    c, f = result.config, result.final
    status = "ok" if f["diverged"] is False else f"diverged at step {f['diverged']}"
    arm = "GD" if c["optimizer"] == "gd" else f"SGD b={c['batch_size']}"
    fmt = lambda v, spec=".4g": "nan" if v is None else format(v, spec)
    lines = [f"{arm}, lr={c['lr']}, {fmt(f['steps_done'], '')} steps, {status}, "
             f"{fmt(f['wall_time'], '.2f')} s",
             f"  engine: {f['engine']} ({ENGINE_FILES.get(f['engine'], 'minisgd/engines.py')}), "
             f"gradient path {f['gradient']}"]
    if "irrelevant_norm" in f:                # the support task, or real data + noise inputs
        true = c.get("support") or f"inputs 0..{c['d'] - c['noise_inputs'] - 1}"
        found = f["detected_support"]
        found = f"{len(found)} inputs" if found and len(found) > 12 else fmt(found, "")
        lines += [f"  irrelevant norm ||W1[:, S^c]||_F = {fmt(f['irrelevant_norm'])}   "
                  f"relevant ||W1[:, S]||_F = {fmt(f['relevant_norm'])}",
                  f"  detected support {found} (true {true}), "
                  f"precision {fmt(f['precision'], '.2f')}, recall {fmt(f['recall'], '.2f')}"]
    if c["task"] == "sparse_regression":
        lines += [f"  l0 of beta = {fmt(f['l0'], '')} (|beta_j| > {c['l0_threshold']:g}), "
                  f"||beta - beta*|| = {fmt(f['beta_error'])}, support {c['support']} "
                  f"among the top |S|: {fmt(f['top_hits'])}"]
    elif c["task"] == "classification":
        clean = f"   clean-label train accuracy {fmt(f['clean_accuracy'])}" \
            if "clean_accuracy" in f else ""
        lines += [f"  train accuracy {fmt(f['train_accuracy'])}   test accuracy "
                  f"{fmt(f['test_accuracy'])}{clean}"]
    loss = "cross-entropy" if c["loss"] == "cross_entropy" else "mse"
    lines.append(f"  train {loss} {fmt(f['train_loss'])}   test {loss} {fmt(f['test_loss'])}")
    return "\n".join(lines + ([f"  note: {f['note']}"] if f.get("note") else []))


def add_bench_parser(sub):
    p = sub.add_parser("bench", help="time minisgd against PyTorch and JAX side by side",
                       description="Per-step times of the paper's net in minisgd, PyTorch CPU "
                                   "and JAX (when installed), same weights and batches, same "
                                   "thread count; ratios, GFLOP/s and the GEMM rate.")
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads for every framework")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="only b=1 and b=32, no ensembles/scaling")
    p.add_argument("--mlp", action="store_true",
                   help="only the MNIST-sized MLP section (784-256-256-10 against PyTorch and "
                        "the GEMM rate; a full run includes it)")
    p.add_argument("--json", metavar="PATH", help="write the full report as JSON")
    return p


def run_bench_command(args, parser, MAX_REPEATS=100):
    from .bench.driver import markdown, run_bench
    from .io.files import check_outputs, write_json_atomic, write_outputs
    cores = os.cpu_count() or 1
    if not 1 <= args.threads <= cores:
        parser.error(f"argument --threads: must be an int in [1, {cores}] (this machine's "
                     f"cores; more threads measure contention), got {args.threads}")
    if not 1 <= args.repeats <= MAX_REPEATS:
        parser.error(f"argument --repeats: must be an int in [1, {MAX_REPEATS}] (every row runs "
                     f"again per repeat; 5 give stable medians), got {args.repeats}")
    try:
        check_outputs([("--json", args.json)])
    except ValueError as err:
        parser.error(str(err))
    try:
        report = run_bench(args.threads, args.repeats, args.quick,
                           log=lambda msg: print(msg, file=sys.stderr, flush=True),
                           mlp_only=args.mlp)
    except RuntimeError as err:             # a measurement's worker failed: its own stderr
        print(f"python -m minisgd bench: {err}", file=sys.stderr)
        return 1
    status = write_outputs([("--json", args.json, lambda p: write_json_atomic(report, p))],
                           "python -m minisgd bench")
    print(markdown(report))
    return status


def build_parser():
    parser = Parser(prog="python -m minisgd", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    parsers = {"train": add_train_parser(sub)}
    parsers.update(sweep=add_sweep_parser(sub), plot=add_plot_parser(sub))
    parsers.update(bench=add_bench_parser(sub), report=add_report_parser(sub))
    return parser, parsers


def main(argv=None):
    parser, parsers = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        return run_train(args, parsers["train"])
    if args.command == "bench":
        return run_bench_command(args, parsers["bench"])
    if args.command in ("sweep", "plot", "report"):
        run = {"sweep": run_sweep, "plot": run_plot, "report": run_report}[args.command]
        return run(args, parsers[args.command])
    return 2


def main_closing_quietly(argv=None):
    """main(), and when the reader of stdout goes away (`... --dry-run | head`) a quiet end
    with status 1 instead of a BrokenPipeError traceback (the Python docs' recipe); Ctrl-C
    a one-line note and status 130 (train and bench write their outputs only at the end,
    atomically, so nothing half-written is left; sweep keeps its finished runs)."""
    try:
        code = main(argv)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("\npython -m minisgd: interrupted (Ctrl-C); nothing more was written",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())        # no second error at interpreter exit
        return 1


if __name__ == "__main__":
    sys.exit(main_closing_quietly())
