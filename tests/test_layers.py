"""The package's imports flow one way, down the pipeline (../shared/LAYOUT.md, "the import rules").

Every ``import`` in jshost/** counts, those under ``TYPE_CHECKING`` and inside functions too: a
lazy import is still a dependency. A unit is a stage's subpackage (``jshost.script``,
``jshost.engine``, …) or a top-level module (``jshost.events``, ``jshost.journal``, …).
"""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "jshost"
STAGES = {"script", "sandbox", "engine", "store", "workers", "ui", "cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def known_modules() -> set[str]:
    return {module_name(p) for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The jshost modules ``path`` imports, relative imports resolved."""
    name = module_name(path)
    package = name if is_package(path) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "jshost")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "jshost":
                continue
            found.add(target)
            # `from jshost.ui import state` imports the module jshost.ui.state
            found.update(
                f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules
            )
    return found


def unit(module: str) -> str:
    """The unit a module belongs to: its stage package, else the top-level module itself."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in STAGES:
        return f"jshost.{parts[1]}"
    return ".".join(parts[:2])


@functools.cache
def graph() -> dict[str, set[str]]:
    """Unit → the units it imports (within a unit, and the bare ``jshost`` package, left out)."""
    modules = known_modules()
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        source = unit(module_name(path))
        for target in imports_of(path, modules):
            if target == "jshost" or unit(target) == source:
                continue
            edges.setdefault(source, set()).add(unit(target))
    return edges


def test_the_walk_sees_the_imports_it_checks():
    # The guards below are only as good as the walk: it must see relative, lazy and
    # TYPE_CHECKING imports and resolve `from pkg import module`.
    edges = graph()
    assert "jshost.engine" in edges["jshost.cli"]  # lazy, inside a function
    assert "jshost.script" in edges["jshost.ui"]  # under TYPE_CHECKING (ui.confirm → Report)
    assert "jshost.sandbox" in edges["jshost.engine"]  # relative, `from ..sandbox import (`
    assert "jshost.events" in edges["jshost.ui"]  # `from .. import events as ev`


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_between_units():
    assert find_cycle(graph()) is None


# (importer, imported): the directions LAYOUT.md forbids
FORBIDDEN = [
    # data at the bottom: the journal and the error tree import nothing above them
    *[("jshost.journal", u) for u in ("engine", "store", "script", "sandbox", "workers", "ui")],
    *[("jshost.errors", u) for u in ("engine", "store", "script", "sandbox", "workers", "ui")],
    # the one terminal sanitiser: every stage may use it, so it may use none of them
    *[("jshost.text", u) for u in ("engine", "store", "script", "sandbox", "workers", "ui")],
    # records are plain data: naming one never imports the engine, the events or a view
    *[("jshost.records", u) for u in ("engine", "store", "script", "sandbox", "ui", "events")],
    # the events name records, not the engine that fills them in
    ("jshost.events", "jshost.engine"),
    # the engine publishes events and knows no terminal
    ("jshost.engine", "jshost.ui"),
    ("jshost.engine", "jshost.cli"),
    # workers know no JavaScript and schedule nothing
    ("jshost.workers", "jshost.sandbox"),
    ("jshost.workers", "jshost.engine"),
    ("jshost.workers", "jshost.script"),
    # the sandbox talks only to the engine
    ("jshost.sandbox", "jshost.workers"),
    ("jshost.sandbox", "jshost.store"),
    ("jshost.sandbox", "jshost.engine"),
    # checking a script runs nothing
    ("jshost.script", "jshost.engine"),
    ("jshost.script", "jshost.store"),
    ("jshost.script", "jshost.workers"),
    # the store is plain persistence
    ("jshost.store", "jshost.engine"),
    ("jshost.store", "jshost.sandbox"),
    ("jshost.store", "jshost.script"),
    # tools and permission rules act for workers: they know no engine, worker, view or store
    *[
        ("jshost.tools", u)
        for u in ("engine", "workers", "ui", "cli", "store", "sandbox", "script")
    ],
    *[
        ("jshost.permissions", u)
        for u in ("engine", "workers", "ui", "cli", "store", "sandbox", "script", "tools")
    ],
    # nothing below the face imports it
    *[(f"jshost.{u}", "jshost.cli") for u in STAGES - {"cli"}],
    *[(f"jshost.{u}", "jshost.ui") for u in STAGES - {"cli", "ui"}],
]


@pytest.mark.parametrize(
    ("importer", "imported"),
    [(a, b if b.startswith("jshost.") else f"jshost.{b}") for a, b in FORBIDDEN],
)
def test_forbidden_direction(importer, imported):
    assert imported not in graph().get(importer, set())


# Data at the very bottom: plain values every stage names. Each may import only these.
DATA_MODULES = {
    "jshost._data": set(),  # Frozen, Record: what @dataclass gave, written out (issue 22)
    "jshost.records": {"jshost.errors", "jshost._data"},  # AgentRecord, RunOutcome, Usage
    "jshost.limits": {"jshost._data"},  # Limits, SandboxLimits, MAX_CONCURRENCY
    "jshost._quickjs": {"jshost.errors"},  # the QuickJS binding, for the sandbox and patterns
}


@pytest.mark.parametrize("module", sorted(DATA_MODULES))
def test_data_modules_import_nothing_of_jshost_but_what_they_may(module):
    assert module in known_modules()
    path = PACKAGE / f"{module.removeprefix('jshost.')}.py"
    assert imports_of(path, known_modules()) <= DATA_MODULES[module]


def test_no_import_cycle_inside_the_engine():
    # The engine's concerns (agents, bridge, children, timers, control) are split into modules
    # that Engine mixes in: none of them may need run.py, or each other in a circle.
    modules = known_modules()
    edges: dict[str, set[str]] = {}
    for path in (PACKAGE / "engine").glob("*.py"):
        name = module_name(path)
        edges[name] = {m for m in imports_of(path, modules) if m.startswith("jshost.engine")}
        edges[name].discard(name)
    assert find_cycle(edges) is None


HEAVY = ("trio", "quickjs", "_quickjs", "tree_sitter", "textual")


@pytest.mark.parametrize(
    "code",
    [
        "import jshost",
        "from jshost.cli import main\nsys.argv = ['jshost', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass",
        # the plain progress lines and the summary render records: they need no engine,
        # sandbox or parser
        "import jshost.ui.plain\nimport jshost.ui.summary",
    ],
    ids=["import-jshost", "jshost-help", "plain-progress"],
)
def test_a_bare_start_loads_no_engine_sandbox_parser_or_view(code):
    probe = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_only_the_binding_module_imports_quickjs():
    """One place imports the QuickJS binding (jshost/_quickjs.py, with a clear error when it
    is missing), and it imports the C extension, not the quickjs package's Python layer,
    which brings concurrent.futures and a thread of its own (issue 22's start-up)."""
    importers: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = {(node.module or "").split(".")[0]}
            else:
                continue
            for name in names & {"quickjs", "_quickjs"}:
                importers.setdefault(module_name(path), set()).add(name)
    assert importers == {"jshost._quickjs": {"_quickjs"}}
