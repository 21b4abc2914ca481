"""Shared by the experiment-script tests: load a script of experiments/ as a module, and
check that a figure is a PNG."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(name):
    """experiments/<name>.py as a module (its main() callable with an argv list)."""
    spec = importlib.util.spec_from_file_location(f"exp_{name}",
                                                  os.path.join(ROOT, "experiments", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_png(path):
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
