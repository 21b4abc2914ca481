"""Shared by the experiment-script tests: load a script of experiments/ as a module, and
check that a figure is a PNG."""
import importlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = os.path.join(ROOT, "experiments")


def load_script(name):
    """experiments/<name>.py as the module <name> (its main() callable with an argv list).
    Imported by its name from experiments/ on sys.path, so that pool workers (spawned, with
    this sys.path) can import it too and run its functions."""
    if EXPERIMENTS not in sys.path:
        sys.path.insert(0, EXPERIMENTS)
    return importlib.import_module(name)


def assert_png(path):
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
