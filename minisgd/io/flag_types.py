"""The argparse types of `python -m minisgd train`'s flags that are not a plain int, float
or choice: "none"/"off" for an optional number, and comma-separated lists. A list refuses
an empty item ("0.5,,0.7" is not read as (0.5, 0.7)): argparse then names the flag.
Not for: which flag has which type (__main__.flag_type)."""
import argparse


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
