"""The package's shape, as the readable-core issue set it: the top level is the math and the
loop (at most 15 modules), no module over 300 lines, no function over 40 lines of code
(docstring, blank and comment-only lines not counted), no import circle (lazy imports inside
functions count too), and no reference to a file that is not in the repository."""
import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minisgd"
MODULES = sorted(PACKAGE.rglob("*.py"))


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def code_lines(node, lines):
    """Lines of code of a function: neither its docstring nor blank nor comment-only."""
    body, skip = node.body, set()
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        skip = set(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(1 for i in range(node.lineno, node.end_lineno + 1)
               if i not in skip and lines[i - 1].strip() and not lines[i - 1].strip().startswith("#"))


def imports_of(path):
    """The minisgd modules a module imports, anywhere in it."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names = [target + "." + a.name for a in node.names]
            out.update(n for n in names + [target] if n in KNOWN)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in KNOWN)
    return out - {module_name(path)}


KNOWN = {module_name(p) for p in MODULES}


def test_top_level_holds_at_most_15_modules():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 15, top


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_and_function_sizes(path):
    text = path.read_text()
    lines = text.splitlines()
    assert len(lines) <= 300, f"{path.name}: {len(lines)} lines"
    long = [(n.name, code_lines(n, lines)) for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and code_lines(n, lines) > 40]
    assert not long, long


def test_no_import_circle():
    graph = {module_name(p): imports_of(p) for p in MODULES}
    # a package's __init__ importing its own submodules is how it re-exports them, not a
    # circle; a submodule importing its package's __init__ for a name defined there is one
    state, path = {}, []

    def visit(m):
        state[m] = "open"
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if n.startswith(m + "."):
                continue                                     # a package and its own modules
            if state.get(n) == "open" and not m.startswith(n + "."):
                raise AssertionError("import circle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = "done"
    for m in sorted(graph):
        if m not in state:
            visit(m)


STALE = ("SCIENCE.md", "model.py", "sweep.py", "diagnostics.py", "curvature.py",
         "batch_gradient.py", "given.py", "torch_io.py")       # moved, or not in the repository


def test_references_to_files_resolve():
    """Every path into the repository that a docstring, comment, experiment or doc names
    (minisgd/..., docs/..., tests/..., experiments/...) exists, and no text names a file
    that moved or that users do not have (SCIENCE.md: docs/science.md is the science)."""
    texts = list(MODULES) + sorted((ROOT / "experiments").glob("*.py")) + [ROOT / "README.md"] \
        + sorted((ROOT / "docs").glob("*.md"))
    missing = []
    for path in texts:
        text = path.read_text()
        for ref in re.findall(r"\b(?:minisgd|docs|tests|experiments)/[\w/.-]*\w", text):
            if not (ROOT / ref).exists() and not ref.endswith("/"):
                missing.append((path.name, ref))
        for name in STALE:
            if re.search(r"(?<![\w/.])" + re.escape(name), text):
                missing.append((path.name, name))
    assert not missing, sorted(set(missing))
