"""The layer rule (docs/ARCHITECTURE.md): library modules import in one direction, bottom to top —
tflite_bench (devices, .tflite files) ← mnasnet_tf (architectures, models, training) ← search —
and, inside search/, spaces and controllers ← latency ← proxy ← results ← {multitrial, oneshot,
adapt} ← cli, where the three searches never import each other. No library module takes part in
an import cycle. Lazy imports inside functions count: they hide a cycle, they do not remove it.
The binaries (`search/cli/`) and the Python API (`search/__init__.py`) sit on top.
Also: the modules the controller's tests rely on import no TensorFlow."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAYERS = ("tflite_bench", "mnasnet_tf", "search")
"""Bottom to top: a package may import its own modules and those of the packages before it."""
INNER = {
    "search.spaces": 0,
    "search.controllers": 0,
    "search.latency": 1,
    "search.proxy": 2,
    "search.results": 3,
    "search.multitrial": 4,
    "search.oneshot": 4,
    "search.adapt": 4,
    "search.cli": 5,
    "search": 5,
}
"""search/'s subpackages, bottom to top: a subpackage may import its own modules and those of lower
rank. Two different subpackages of the same rank import each other only where SIBLINGS allows."""
SIBLINGS = {("search.spaces", "search.controllers"), ("search.controllers", "search.spaces")}
"""Pairs of same-rank subpackages that may import each other (the three searches are not one)."""


def _is_binary(path: pathlib.Path) -> bool:
    return path.relative_to(ROOT).parts[:2] == ("search", "cli")


def _subpackage(module: str) -> str:
    """The INNER key a search module belongs to: `search.multitrial.run` → `search.multitrial`."""
    parts = module.split(".")
    return ".".join(parts[:2]) if ".".join(parts[:2]) in INNER else "search"


def _module_name(path: pathlib.Path, root: pathlib.Path | None = None) -> str:
    parts = path.relative_to(root or ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _library_modules() -> dict[str, pathlib.Path]:
    modules = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not _is_binary(path):
                modules[_module_name(path)] = path
    return modules


def _imports(path: pathlib.Path, known: set[str], root: pathlib.Path | None = None) -> set[str]:
    """The project modules `path` imports anywhere in its body (module level or lazily)."""
    found = set()
    package = _module_name(path, root).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join([*(package or "").split(".")[: 1 - node.level or None], base])
            # `from search import report` imports the module search.results.report; `from x import
            # f`
            # a name of module x.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            # `import a.b.c` where only a.b is a module: keep the longest prefix that is one.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] in LAYERS:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _library_modules()
    known = set(modules) | set(LAYERS)
    return {
        name: {dep for dep in _imports(path, known) if dep != name and dep in modules}
        for name, path in modules.items()
    }


@pytest.mark.slow
def test_no_upward_import():
    rank = {package: index for index, package in enumerate(LAYERS)}
    upward = []
    for path in _library_modules().values():
        layer = rank[path.relative_to(ROOT).parts[0]]
        known = set(_library_modules()) | set(LAYERS)
        for dep in sorted(_imports(path, known)):
            if rank[dep.split(".")[0]] > layer:
                upward.append(f"{path.relative_to(ROOT)} imports {dep}")
    assert not upward, "upward imports (see docs/ARCHITECTURE.md):\n" + "\n".join(upward)


def _inner_violations(root: pathlib.Path) -> list[str]:
    modules = {_module_name(p, root): p for p in sorted((root / "search").rglob("*.py"))}
    known = set(modules) | set(LAYERS)
    wrong = []
    for name, path in modules.items():
        own = _subpackage(name)
        for dep in sorted(_imports(path, known, root)):
            if not dep.startswith("search") or dep == "search" and own == "search":
                continue
            other = _subpackage(dep)
            if other == own:
                continue
            if INNER[other] > INNER[own]:
                wrong.append(f"{path.relative_to(root)} ({own}) imports {dep}, a higher layer")
            elif INNER[other] == INNER[own] and (own, other) not in SIBLINGS:
                wrong.append(f"{path.relative_to(root)} ({own}) imports {dep}, a sibling")
    return wrong


def test_search_subpackages_import_downward():
    wrong = _inner_violations(ROOT)
    assert not wrong, "search/ layer violations (see docs/ARCHITECTURE.md):\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        (
            "search/latency/sneaky.py",
            "def f():\n    from search.proxy import task\n",
            "higher layer",
        ),
        ("search/oneshot/sneaky.py", "from search.adapt import units\n", "a sibling"),
        ("search/results/sneaky.py", "import search.cli.mnasnet_search\n", "higher layer"),
        ("search/spaces/sneaky.py", "from search import run_search\n", "higher layer"),
    ],
)
def test_the_inner_checker_fails_on_a_planted_violation(tmp_path, path, code, message):
    """The rule itself: a copy of search/ with one planted import fails, and names it."""
    for source in (ROOT / "search").rglob("*.py"):
        target = tmp_path / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    assert _inner_violations(tmp_path) == []
    (tmp_path / path).write_text(code, encoding="utf-8")
    wrong = _inner_violations(tmp_path)
    assert len(wrong) == 1 and wrong[0].startswith(path) and message in wrong[0], wrong


def test_no_import_cycle():
    graph = _graph()
    cycles = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append(" → ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checker_sees_lazy_and_upward_imports(tmp_path, monkeypatch):
    """The test itself: a lazy upward import in a bottom module is caught."""
    module = tmp_path / "tflite_bench" / "sneaky.py"
    module.parent.mkdir()
    module.write_text("def f():\n    from mnasnet_tf import specs\n    return specs\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _imports(module, {"mnasnet_tf", "mnasnet_tf.specs"}) == {"mnasnet_tf.specs"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "modules",
    [
        "search.spaces.base, search.spaces.registry, search.controllers.controller, "
        "search.controllers.reward, search.multitrial.config",
        "mnasnet_tf.specs, mnasnet_tf.arch_string, mnasnet_tf.zoo, search.latency.table",
        "search.adapt.units, search.adapt.config, search.cli.mnasnet_adapt",
        "search.oneshot.skeleton, search.oneshot.config, search.cli.mnasnet_oneshot",
        "tflite_bench.settings, search.results.run_folder, search.cli.mnasnet_search",
    ],
)
def test_pure_modules_import_no_tensorflow(modules):
    code = (
        f"import sys, time; start = time.perf_counter(); import {modules}; "
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules); "
        "print(heavy, round(time.perf_counter() - start, 3))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    heavy, seconds = result.stdout.rsplit(" ", 1)
    assert heavy == "[]", f"importing {modules} imported {heavy} ({seconds} s)"
