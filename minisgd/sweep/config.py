"""Reading a sweep config: TOML text -> the validated list of run Configs of the grid.

The form (read with the standard library's tomllib):

    [run]                 # fixed values: any train.Config field (`train` flag, dashes as _)
    steps = 20000
    clip = "none"         # TOML has no null: "none" disables an optional setting
    [sweep]               # each key a list of values; the runs are their product
    batch_size = [1, 32, 128, 512]
    seed = [0, 1, 2, 3]

A config may instead hold several grids as an array of tables, `[[sweep]]`; the runs are
then the union of the grids, each on top of [run] (a grid's lists override [run] values).
Options that do not apply to a GD run (batch_size, replacement) are dropped from its grid
points, so a grid over batch_size makes one GD run, recorded with batch_size null.
Everything is checked before any run starts: unknown tables and keys, wrong types
(against the Config field's annotation; an int is fine where a float is expected), empty
lists, and each expanded Config's own validate(). Errors name the key and its line.
Not for: running anything (runner.py).
"""
import itertools
import math
import re
import tomllib
import typing
from dataclasses import dataclass, fields

from ..config import SGD_ONLY         # config.FIELD_TABLE's fields that apply to SGD only
from ..train import Config

FIELDS = {f.name: f for f in fields(Config)}
TYPES = typing.get_type_hints(Config)                 # field name -> annotation (resolved)
ELEMENT_TYPES = {"support": int, "decay_at": float, "metrics": str}   # tuple fields' entries
TOP_LEVEL = ("run", "sweep", "description")
NONE_WORDS = ("none", "off")


class SweepConfigError(ValueError):
    """A sweep config that cannot be run; the message names the key and line."""


@dataclass
class SweepSpec:
    """A parsed sweep: the runs' Configs in grid order, and the swept keys (axes)."""
    configs: list
    axes: list
    description: str = ""


MAX_RUNS = 10_000      # a bigger grid needs allow_long: checking it alone takes seconds


def read_sweep(path, allow_long=False):
    """SweepSpec from a TOML file (SweepConfigError on any problem)."""
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SweepConfigError(f"cannot read sweep config {path!r}: {err}") from None
    return parse_sweep(text, source=str(path), allow_long=allow_long)


def parse_sweep(text, source="<config>", allow_long=False):
    """SweepSpec from TOML text; `source` names the file in messages. A grid of more than
    MAX_RUNS runs is refused before it is expanded unless allow_long."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:               # message carries line and column
        raise SweepConfigError(f"{source}: malformed TOML: {err}{set_twice(err, text)}") from None
    where = Locator(text, source)
    for key in doc:
        if key not in TOP_LEVEL:
            raise SweepConfigError(f"{where(None, key)}: unknown table or key {key!r}; a sweep "
                                   "config has [run], [sweep] (or [[sweep]]) and an optional "
                                   "description")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise SweepConfigError(f"{where(None, 'description')}: description must be a string")
    run = check_table(doc.get("run", {}), "run", where)
    fixed = {key: check_value(key, value, where("run", key)) for key, value in run.items()}
    grids = check_grids(doc, run, where)
    count = sum(math.prod(len(v) if isinstance(v, list) else 1 for v in g.values()) for g in grids)
    if count > MAX_RUNS and not allow_long:
        raise SweepConfigError(f"{source}: the grid has {count} runs, more than {MAX_RUNS}: that "
                               "many take hours even at a second each; split it, or say you "
                               "mean it: --allow-long")
    configs, axes = [], []
    for index, grid in enumerate(grids):
        lists = check_grid(grid, where, index)
        axes += [key for key in lists if key not in axes]
        configs += expand(fixed, lists, where, index)
    unused = [k for k in SGD_ONLY if k in fixed and all(c.optimizer == "gd" for c in configs)]
    if unused:                        # no SGD run in the sweep: the key would do nothing
        raise SweepConfigError(f"{where('run', unused[0])}: {unused[0]} applies to SGD only and "
                               "every run of this sweep is GD (it uses the whole training set "
                               "every step): leave it out")
    varies = lambda k: len({repr(getattr(c, k)) for c in configs}) > 1
    applies_apart = lambda k: len({repr(getattr(c, k)) for c in configs
                                   if getattr(c, k) is not None}) > 1
    # a key listed in a grid is an axis when it varies; any other key only when it takes
    # several values where it applies (null where it does not apply is no axis)
    axes = [k for k in axes if varies(k)] + \
        [k for k in FIELDS if k not in axes and applies_apart(k)]
    return SweepSpec(configs, axes, description)


def set_twice(err, text):
    """For tomllib's "Cannot overwrite a value" / "Cannot declare ... twice": the line."""
    match = re.search(r"at line (\d+)", str(err))
    if not match or not re.search(r"annot (overwrite|declare)", str(err)):
        return ""
    lines = text.splitlines()
    line = lines[int(match.group(1)) - 1].strip() if int(match.group(1)) <= len(lines) else ""
    return f" -- a key or table set twice: {line!r}"


def check_table(value, name, where, index=0):
    if not isinstance(value, dict):
        raise SweepConfigError(f"{where(None, name)}: {name} must be a table ([{name}]), "
                               f"got {type(value).__name__}")
    for key in value:
        if key not in FIELDS:
            raise SweepConfigError(f"{where(name, key, index)}: unknown key {key!r} in [{name}]; "
                                   f"keys are the train options: {', '.join(FIELDS)}")
    return value


def check_grids(doc, run, where):
    """The grid tables of the config: [sweep], or each [[sweep]]; a config must name a run
    ([run] settings) or a grid, and no grid may be empty."""
    if "sweep" not in doc:
        if not run:
            raise SweepConfigError(f"{where.source}: the config names no run: give [run] with "
                                   "the settings of a run (e.g. steps = 1000) and/or a [sweep] "
                                   "grid of lists (e.g. seed = [0, 1, 2])")
        return [{}]
    grids = doc["sweep"]
    if isinstance(grids, list) and not grids:
        raise SweepConfigError(f"{where(None, 'sweep')}: sweep = [] holds no grid; give a "
                               "[sweep] table of lists (e.g. seed = [0, 1, 2]) or leave it out")
    grids = grids if isinstance(grids, list) else [check_table(grids, "sweep", where)]
    for index, grid in enumerate(grids):
        check_table(grid, "sweep", where, index)
        if not grid:
            name = f"[[sweep]] number {index + 1}" if isinstance(doc["sweep"], list) \
                else "[sweep]"
            raise SweepConfigError(f"{where.header('sweep', index)}: {name} is empty; list at "
                                   "least one key's values (e.g. seed = [0, 1, 2]) or leave "
                                   "the table out")
    return grids


def check_grid(grid, where, index):
    """{key: list of checked values} of one [sweep] table."""
    lists = {}
    for key, values in grid.items():
        at = where("sweep", key, index)
        if not isinstance(values, list):
            raise SweepConfigError(f"{at}: sweep.{key} must be a list of values, got {values!r} "
                                   f"(put a single value in [run], or write [{values!r}])")
        if not values:
            raise SweepConfigError(f"{at}: sweep.{key} is an empty list; give at least one value")
        lists[key] = [check_value(key, v, at) for v in values]
    return lists


KINDS = {bool: ("true or false", lambda v: isinstance(v, bool)),
         int: ("an int", lambda v: isinstance(v, int) and not isinstance(v, bool)),
         float: ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
         str: ("a string", lambda v: isinstance(v, str)),
         tuple: ("a list", lambda v: isinstance(v, list))}      # field type -> (form, test)


def check_value(key, value, at):
    """The value converted to the Config field's type (float fields get floats, so that
    lr = 1 and lr = 1.0 are the same run; lists become tuples; "none" is None -- unset, or
    off -- for an Optional field); TypeError-like SweepConfigError otherwise."""
    kind, optional = field_kind(key)
    if optional and isinstance(value, str) and value.lower() in NONE_WORDS:
        return None
    bad = lambda want: SweepConfigError(f"{at}: {key} must be {want}, got {value!r} "
                                        f"({type(value).__name__})")
    want, fits = KINDS[kind]
    if not fits(value):
        raise bad(want + (' or "none"' if optional else ""))
    if kind is float:
        return float(value)
    if kind is tuple:
        element = ELEMENT_TYPES.get(key)
        return tuple(value if element is None else
                     [check_value_element(key, v, element, bad) for v in value])
    return value


def field_kind(key):
    """(the type of the Config field, whether it is Optional)."""
    kind = TYPES[key]
    if typing.get_origin(kind) is typing.Union:
        return next(t for t in typing.get_args(kind) if t is not type(None)), True
    return kind, False


def check_value_element(key, v, element, bad):
    if element is str:
        if not isinstance(v, str):
            raise bad("a list of strings")
        return v
    ok = isinstance(v, (int, float) if element is float else int) and not isinstance(v, bool)
    if not ok:
        raise bad(f"a list of {element.__name__}s")
    return element(v)


def expand(fixed, lists, where, index):
    """One validated Config per point of the product of the lists, on top of `fixed`."""
    configs = []
    for combo in itertools.product(*lists.values()):
        values = {**fixed, **dict(zip(lists, combo))}
        if values.get("optimizer", FIELDS["optimizer"].default) == "gd":
            for name in SGD_ONLY:                  # not applying: recorded as such, so a
                values.pop(name, None)             # grid over them makes one GD run
        try:
            config = Config(**values).validate()         # resolved
        except (ValueError, TypeError) as err:
            name = str(err).split(" ", 1)[0]
            table = "sweep" if name in lists else "run" if name in fixed else None
            at = where(table, name, index) if table else where.source
            point = ", ".join(f"{k}={v!r}" for k, v in zip(lists, combo))
            raise SweepConfigError(f"{at}: invalid run ({point or 'the [run] table'}): "
                                   f"{err}") from None
        configs.append(config)
    return configs


class Locator:
    """`where(table, key, index)` -> "file:line N" of `key` inside [table] (the index-th
    [[table]]), found by scanning the text; just the file name when it cannot be found."""

    def __init__(self, text, source):
        self.source = source
        self.lines = text.splitlines()

    def header(self, table, index=0):
        """"file: line N" of the index-th [table] / [[table]] header."""
        header = re.compile(r"^\s*\[\[?\s*" + re.escape(table) + r"\s*\]\]?\s*(#.*)?$")
        found = [n for n, line in enumerate(self.lines, start=1) if header.match(line)]
        return f"{self.source}: line {found[index]}" if index < len(found) else self.source

    def __call__(self, table, key, index=0):
        header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
        assign = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*[=.]")
        current, seen = None, {}
        for number, line in enumerate(self.lines, start=1):
            match = header.match(line)
            if match:
                current = match.group(1)
                seen[current] = seen.get(current, -1) + 1
                if table is None and current == key:
                    return f"{self.source}: line {number}"
                continue
            in_table = current == table and seen.get(current, 0) == index
            if (in_table or (table is None and current is None)) and assign.match(line):
                return f"{self.source}: line {number}"
        return self.source
