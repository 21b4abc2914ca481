"""The argparse types of `python -m minisgd train`'s flags that are not a plain int, float
or choice: "none"/"off" for an optional number, and comma-separated lists. A list refuses
an empty item ("0.5,,0.7" is not read as (0.5, 0.7)): argparse then names the flag.
Parser: the commands' parser class; HELP and describe_field: what a field's flag does, and its
scope and default, for the flag's help text.
Not for: which flag has which type (__main__.flag_type)."""
import argparse

from ..config import FIELD_TABLE, By, Config, Field


HELP = {
    "task": "what is learned: the sparse-support regression, a classifier, sparse regression",
    "model": "an MLP or a diagonal linear net <u*v, x>",
    "classes": "classification: number of classes C",
    "dataset": "classification: data drawn in code, or real digits (digits, mnist, mnist1d: "
               "pip install -e '.[data]')",
    "blobs": "gaussian_mixture: blobs per class", "separation": "how far apart the classes are",
    "random_labels": "classification: fraction of training labels made random",
    "label_scale": "classification with mse: targets label_scale * one-hot",
    "noise": "sparse_regression: std of the label noise",
    "l0_threshold": "sparse_regression: |beta_j| above it counts in l0",
    "weight_norm": "weight normalization of the hidden layers: W = g V / ||V||",
    "parametrization": "diagonal net: beta = u*v (uv) or u^2 - v^2 (u2v2)",
    "loss": "mse (regression, one-hot square loss) or cross_entropy (classification)",
    "metrics": "extra metric sets recorded along the run, comma-separated (e.g. layer_norms)",
    "gradient": "how the gradient is computed: rows (the general path: step.py's reference "
                "step, or its buffered/pieces engines), moments (linear nets under mse, from "
                "the data's moments), auto (moments where exact and faster)",
    "d": "input dimension", "support": "support coordinates, comma-separated (e.g. 0,1,2,3,4)",
    "n": "distinct training inputs (2n training pairs while label doubling is on)",
    "n_test": "test-set size", "target": "target on the support",
    "input": "input distribution", "center": "centre the irrelevant coordinates",
    "double": "label doubling f(x) +- eps (the paper's)", "label_eps": "std of eps",
    "depth": "number of hidden layers", "width": "hidden width",
    "activation": "hidden activation", "bias": "use biases",
    "init_scheme": "initialization", "init_scale": "init std for 'normal', else a multiplier",
    "optimizer": "'gd' uses the whole training set each step", "batch_size": "SGD batch size",
    "replacement": "sample batches with replacement", "lr": "step size eta",
    "clip": "global gradient-norm clipping ('none' to disable)", "momentum": "momentum mu",
    "weight_decay": "weight decay lambda (added to the gradient)",
    "decoupled_wd": "decoupled weight decay", "l1": "L1 prox strength on the first layer",
    "group_l1": "group-L1 prox strength over first-layer input groups",
    "label_noise": "label-noise SGD: std of fresh Gaussian label noise per step",
    "decay_at": "step-decay milestones as fractions of training, comma-separated",
    "decay_factor": "lr multiplier at each milestone", "warmup": "linear warm-up steps",
    "steps": "number of updates", "seed": "seed of every random stream",
    "data_seed": "seed of the data alone ('none': the seed's own data)",
    "records_per_decade": "history points per decade of steps",
    "diverge_factor": "stop as diverged when the batch loss exceeds this x initial loss",
    "threshold": "irrelevant/relevant norm ratio for steps_to_threshold",
    "support_rule": "detected-support rule", "dtype": "float64 (the reference) or float32",
    "noise_inputs": "real datasets: k inputs of pure noise appended, the known irrelevant ones",
}

class Parser(argparse.ArgumentParser):
    """No abbreviated flags (--ste is not --steps); the subcommands' parsers are of this class."""
    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)


def optional_float(text):
    return None if text.lower() in ("none", "off") else float(text)


def optional_int(text):
    return None if text.lower() in ("none", "off") else int(text)


def list_of(kind, what):
    """An argparse type: comma-separated `kind` values (kind(text) each), no empty item."""
    def parse(text):
        items = [v.strip() for v in text.split(",")]
        if not all(items):
            raise argparse.ArgumentTypeError(
                f"must be comma-separated {what} without empty items, got {text!r}")
        try:
            return tuple(kind(v) for v in items)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be comma-separated {what}, got {text!r}") from None
    parse.__name__ = f"{what} list"
    return parse


name_list = list_of(str, "names")
int_list = list_of(int, "integers")
float_list = list_of(float, "numbers")


def describe_field(name):
    """Where a field applies and its default there, for help texts: "default: 3; model mlp
    only" (the Config's own default for a field outside FIELD_TABLE)."""
    if name not in FIELD_TABLE:
        return f"default: {Config.__dataclass_fields__[name].default}"
    field = FIELD_TABLE[name]
    default = field.default if not isinstance(field.default, By) else ", ".join(
        f"{v} ({field.default.field} {k})" for k, v in field.default.values.items()
        if v is not None)
    scope = [f"{key} {' / '.join(getattr(field, key))}" for key in ("task", "model", "optimizer",
             "loss") if getattr(field, key) != getattr(Field, key)]
    return f"default: {default}" + (f"; {', '.join(scope)} only" if scope else "")


def inert_flag(args):
    """A typed flag that this run would ignore (argparse leaves untyped flags out of args):
    the parser's error message for it, or None."""
    if hasattr(args, "width") and getattr(args, "depth", None) == 0:
        return "argument --width: the net has no hidden layer (--depth 0): leave --width out"
    if hasattr(args, "decay_factor") and not getattr(args, "decay_at", None):
        return ("argument --decay-factor: it multiplies the step size at the --decay-at "
                "milestones, and none are given: give --decay-at or leave it out")
    return None
