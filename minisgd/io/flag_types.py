"""The argparse types of `python -m minisgd train`'s flags that are not a plain int, float
or choice: "none"/"off" for an optional number, and comma-separated lists. A list refuses
an empty item ("0.5,,0.7" is not read as (0.5, 0.7)): argparse then names the flag.
Parser: the commands' parser class; describe_field: the scope and default of a field, for its flag's help text.
Not for: which flag has which type (__main__.flag_type)."""
import argparse

from ..config import FIELD_TABLE, By, Config, Field


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
