"""The package's shape: a package per stage over a common base, a thin CLI, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "weamcli"
STAGES = ("align", "pretrain", "finetune", "evaluate", "compare", "experiment")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the weamcli modules it imports (at any depth of the file, lazy imports included)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                for alias in node.names:
                    candidate = f"{mod}.{alias.name}"
                    targets.add(candidate if candidate in modules else mod)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles():
    assert _cycle(import_graph()) is None, " -> ".join(_cycle(import_graph()))


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """weamcli's packages (``weamcli.pretrain``) -> the other packages their modules import."""

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        out.setdefault(package(module), set()).update(package(t) for t in targets)
    return {p: targets - {p} for p, targets in out.items()}


def test_no_package_cycles():
    """No two packages import each other, at any depth (a function-level import counts): a stage
    that needs another's helper finds it in common/ or in a stage it already follows."""
    cycle = _cycle(package_graph(import_graph()))
    assert cycle is None, " -> ".join(cycle)


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    # two packages importing each other through different modules: no module cycle, a package one
    modules = {"w.x.a": {"w.y.b"}, "w.y.b": set(), "w.y.c": {"w.x.d"}, "w.x.d": set()}
    assert _cycle(modules) is None
    assert _cycle(package_graph(modules)) == ["w.x", "w.y", "w.x"]


def test_common_base_imports_no_stage_and_stages_no_cli():
    for module, targets in import_graph().items():
        if module.startswith("weamcli.common"):
            bad = [t for t in targets if not t.startswith("weamcli.common")]
            assert not bad, f"{module} (common base) imports {bad}"
        if module.split(".")[1:2] and module.split(".")[1] in STAGES:
            assert not [t for t in targets if t.startswith("weamcli.cli")], module


def test_each_stage_is_a_package_and_no_command_imports_another():
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage
        assert (PACKAGE / stage / "settings.py").is_file(), f"{stage} has no settings module"
    commands = {f"weamcli.cli.{s}" for s in STAGES}
    for module, targets in import_graph().items():
        if module in commands:
            assert not (targets & commands), f"{module} imports {targets & commands}"


MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def test_modules_and_functions_stay_short():
    """No module over 500 lines and no function over 80 (a settings dataclass is one class body,
    not a function): a newcomer reads a module whole and a function at a glance."""
    long_modules, long_functions = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if (n := text.count("\n")) > MAX_MODULE_LINES:
            long_modules.append(f"{_module_name(path)} ({n} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (n := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:
                    long_functions.append(f"{_module_name(path)}.{node.name} ({n} lines)")
    assert not long_modules, long_modules
    assert not long_functions, long_functions


def test_no_merge_conflict_markers():
    """A merge conflict's markers inside a docstring or a comment still import and lint cleanly."""
    markers = ("<<<<<<< ", ">>>>>>> ", "=======\n")
    root = PACKAGE.parent
    found = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(root / "tests").glob("*.py"), *root.glob("*.md")]):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(keepends=True), 1):
            if line.startswith(markers):
                found.append(f"{path.relative_to(root)}:{number}")
    assert not found, found
