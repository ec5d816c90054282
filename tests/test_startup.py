"""What `jshost run` imports on its plainest path: start-up is most of a short run's cost.

Issue 22 measured `jshost run` of a one-agent workflow at 2.4 × a bare-trio process doing the
same schedule, most of it imports. A run on the sim worker with no tools, MCP servers, schemas
or views configured must not pay for the packages only those need. Each name below is a package
whose import costs milliseconds; the test names the one that slipped back onto the path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

#: never imported by a plain sim run: model SDKs, tools, MCP, settings files, full-screen views
NOT_ON_A_PLAIN_RUN = (
    "anthropic",
    "claude_agent_sdk",
    "mcp",
    "pathspec",
    "yaml",
    "textual",
    "httpx",
    # rich draws views and wraps lines for a terminal; --quiet to a pipe needs neither
    "rich",
    # JSON Schema checking: only when an agent() passes a schema
    "jsonschema",
    "referencing",
    "re2",
    "jshost.schemas",
    # the other commands (registered lazily) and the classes that read a stored run
    "jshost.cli.agents",
    "jshost.cli.resume",  # resume's options, as many as run's
    "jshost.cli.runs",
    "jshost.cli.watch",
    "jshost.cli.workers",
    "jshost.store.rows",
    # what a worker with tools asks the user about (MCP configs, project settings)
    "jshost.cli.mcp_approval",
    "jshost.cli.settings_approval",
    # the permission policy and MCP configs, with no rule, mode, settings file or config given
    "jshost.permissions.policy",
    "jshost.permissions.decision",
    "jshost.permissions.rules",
    "jshost.tools.mcp_config",
    # what only an error, an odd script or another command needs (issue 22, second pass): the
    # dataclasses machinery (the records are written out), numeric meta keys, "did you mean",
    # a saved workflow's quoted command, importlib's helpers
    "dataclasses",
    "decimal",
    "difflib",
    "shlex",
    "importlib.util",
    "secrets",  # a run id is os.urandom(6).hex(), as secrets.token_hex(6) makes it
    "jshost.script.error_position",  # where a failed destructuring is: only for a failed run
    # the quickjs package's Python layer: its Function helper (unused) brings
    # concurrent.futures and starts a thread at import; jshost imports the extension itself
    "quickjs",
    "concurrent.futures",
    # agent types (Claude Code's agent files): only for an agent() that names an agentType
    "jshost.agent_types",
    # git worktrees: only for an agent that asks for isolation: 'worktree'
    "jshost.engine.worktrees",
    "jshost.worktree_paths",
)

PROBE = """
import sys
from jshost.cli import main
sys.argv = ["jshost", "run", {script!r}, "--worker", "sim", "--sim-latency", "0",
            "--yes", "--quiet", "--no-live", "--no-interactive"]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(({{m.split(".")[0] for m in sys.modules}} | set(sys.modules)) & set({heavy!r}))
print(f"EXIT {{code}} LOADED [{{','.join(loaded)}}]")
"""


def _python(
    code: str, home: Path, *, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in a clean environment: no API key or jshost settings, ``home`` as
    both JSHOST_HOME and HOME (no user settings, agent types or MCP config from the real one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    env["JSHOST_HOME"] = env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def _run_probe(script: Path, home: Path) -> tuple[str, set[str]]:
    code = PROBE.format(script=str(script), heavy=NOT_ON_A_PLAIN_RUN)
    out = _python(code, home, cwd=script.parent)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    exit_part, _, loaded = last.partition(" LOADED ")
    return exit_part, {name for name in loaded.strip("[]").split(",") if name}


def test_a_plain_sim_run_imports_no_sdk_tools_mcp_schema_checker_or_full_screen_view(
    tmp_path: Path,
) -> None:
    script = tmp_path / "one.js"
    script.write_text(
        "export const meta = { name: 'one', description: 'one agent' }\n"
        "return await agent('say hello', { label: 'hello' })\n",
        encoding="utf-8",
    )
    exit_part, loaded = _run_probe(script, tmp_path / "home")
    assert exit_part == "EXIT 0"
    assert loaded == set(), f"a plain `jshost run` imported {sorted(loaded)}"


@pytest.mark.slow
def test_an_agent_with_a_schema_still_gets_its_schema_checked(tmp_path: Path) -> None:
    """The lazy import is a deferral, not a removal: a schema still loads the checker."""
    script = tmp_path / "schema.js"
    script.write_text(
        "export const meta = { name: 'schema', description: 'one agent with a schema' }\n"
        "return await agent('count', { label: 'n', schema: { type: 'object', properties: "
        "{ n: { type: 'integer', pattern: 'x' } }, required: ['n'] } })\n",
        encoding="utf-8",
    )
    exit_part, loaded = _run_probe(script, tmp_path / "home")
    assert exit_part == "EXIT 0"
    assert "jsonschema" in loaded


def test_the_globals_the_linter_takes_without_a_sandbox_are_all_real_globals() -> None:
    """``SURE_GLOBALS`` lets the linter skip building a sandbox; it must never name a global
    that the real sandbox lacks, or `validate` would pass a script that fails at run time."""
    from jshost.sandbox import SURE_GLOBALS, global_names

    assert global_names() >= SURE_GLOBALS, sorted(SURE_GLOBALS - global_names())


def test_validating_a_plain_script_builds_no_sandbox(tmp_path: Path) -> None:
    from jshost.sandbox import context
    from jshost.script.validate import validate_source

    context.global_names.cache_clear()
    report = validate_source(
        "export const meta = { name: 'one', description: 'one agent' }\n"
        "const r = await parallel([1, 2].map(n => () => agent(`n ${JSON.stringify(n)}`)))\n"
        "log(String(r.length)); return Math.max(...r.map(x => x.length))\n"
    )
    assert not report.errors, report.diagnostics
    assert context.global_names.cache_info().currsize == 0
    # a name outside the sure set still gets the real answer: an undefined one is reported
    report = validate_source(
        "export const meta = { name: 'one', description: 'one agent' }\nreturn frobnicate(1)\n"
    )
    assert any("'frobnicate' is not defined" in d.message for d in report.diagnostics)
    assert context.global_names.cache_info().currsize == 1


def test_events_keep_the_frozen_dataclass_behaviour() -> None:
    """jshost.events is written out rather than generated by @dataclass (start-up); what UIs
    and tests rely on stays: fields by position or keyword, frozen, equal and hashed by value
    within a class, the dataclass repr, and structural pattern matching."""
    import dataclasses

    from jshost import events as ev

    line = ev.LogLine("hello")
    assert line == ev.LogLine(message="hello") and line != ev.FailureLine("hello")
    assert hash(line) == hash(ev.LogLine("hello")) and len({line, ev.LogLine("hello")}) == 1
    assert repr(line) == "LogLine(message='hello')"
    assert repr(ev.BudgetChanged(3, total=10)) == "BudgetChanged(spent=3, total=10)"
    assert repr(ev.RunFinished(outcome=object())) == "RunFinished()"
    with pytest.raises(dataclasses.FrozenInstanceError):
        line.message = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ev.LogLine()  # type: ignore[call-arg]
    import copy
    import pickle

    assert copy.copy(line) == line == pickle.loads(pickle.dumps(line))
    assert copy.deepcopy(ev.BudgetChanged(1, 2)) == ev.BudgetChanged(1, 2)
    match ev.BudgetChanged(3, 10):
        case ev.BudgetChanged(spent, total):
            assert (spent, total) == (3, 10)
        case _:
            raise AssertionError("no match")


def _reads_args_by_walk(root: Any) -> bool:
    """The former implementation: every node of the tree visited in Python."""
    from jshost.script.validate import _DECLARES

    reads, stack = False, [root]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type not in ("identifier", "shorthand_property_identifier"):
            continue
        if node.text != b"args":
            continue
        parent = node.parent
        declared = parent is not None and (
            parent.type in _DECLARES
            and (parent.type == "formal_parameters" or parent.child_by_field_name("name") == node)
        )
        if parent is not None and parent.type == "arrow_function":
            declared = parent.child_by_field_name("parameter") == node
        if declared:
            return False
        reads = True
    return reads


@pytest.mark.parametrize(
    ("body", "reads"),
    [
        ("return args.n", True),
        ("const { n } = args; return n", True),
        ("return { args }", True),
        ("return xargs + argsy + args_ + args", True),
        ("return xargs + argsy", False),
        ("function f(args) { return args } return f(1)", False),
        ("const f = args => args; return f(1)", False),
        ("const args = 1; return args", False),
        ("return 'args' + `${'args'}`", False),
        ("// args\nreturn 1 /* args */", False),
        ("const é = 'ü'; return args[é]", True),
        ("return 1", False),
    ],
)
def test_reads_args_finds_what_a_walk_of_every_node_finds(body: str, reads: bool) -> None:
    """Whether a script reads ``args`` is found from the places its text reads `args`, not by
    visiting every node (a third of validating 512 KiB): the answer must stay the walk's."""
    from jshost.script.grammar import js_parser
    from jshost.script.validate import validate_source

    source = f"export const meta = {{ name: 'a', description: 'b' }}\n{body}\n"
    tree = js_parser().parse(source.encode("utf-8"))
    assert validate_source(source).reads_args == _reads_args_by_walk(tree.root_node) == reads


PLAIN_SCHEMAS = [
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]},
    {"type": "array", "items": {"type": "string", "maxLength": 3}, "minItems": 1},
    # property names that a walk looking for regexes stops at
    {"type": "object", "properties": {"pattern": {"type": "string"}}},
    {"type": "object", "properties": {"patternProperties": {"type": "object"}}},
    {"anyOf": [{"type": "null"}, {"enum": [{"pattern": "(?<=x)"}]}]},
]


@pytest.mark.parametrize("schema", PLAIN_SCHEMAS)
def test_a_plain_schema_is_usable_without_the_meta_schema_check(schema: dict) -> None:
    """The fast path skips jsonschema and the regex engines for schemas of the keywords it
    knows: the full check must have nothing to say about them either."""
    from jshost.schemas import _meta_schema_and_pattern_problem, _plainly_valid, schema_problem

    assert _plainly_valid(schema)
    assert schema_problem(schema) is None
    assert _meta_schema_and_pattern_problem(schema) is None


def test_validating_plain_schemas_imports_no_schema_checker() -> None:
    code = (
        "import sys\nfrom jshost.script.validate import validate_source\n"
        "r = validate_source(\"export const meta = { name: 'a', description: 'b' }\\n"
        "return await agent('n', { schema: { type: 'object', properties: { n: { type: "
        "'integer' } }, required: ['n'] } })\\n\")\n"
        "assert not r.errors, r.diagnostics\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'jsonschema', 're2'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- the process: no teardown, and no garbage collection while starting ------------------------

PROGRAM = """
import atexit, gc, sys, threading, time
from pathlib import Path

class Teardown:
    def __del__(self):
        print("TEARDOWN", flush=True)

KEEP = Teardown()  # a normal exit frees it while tearing the modules down
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(1))

def late_write():
    time.sleep(0.3)
    Path("late.txt").write_text("written")

threading.Thread(target=late_write).start()  # not a daemon: the exit waits for it
atexit.register(lambda: print(
    f"HANDLER gc={{gc.isenabled()}} frozen={{gc.get_freeze_count() > 0}}", file=sys.stderr
))
import jshost.cli
print(f"IMPORTED gc={{gc.isenabled()}}", file=sys.stderr)
sys.argv = ["jshost", *{argv!r}]
jshost.cli.console_main()
"""


def _program(tmp_path: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return _python(PROGRAM.format(argv=argv), tmp_path / "home", cwd=tmp_path)


def test_the_program_ends_as_a_normal_exit_would_without_tearing_down(tmp_path: Path) -> None:
    """console_main() skips the interpreter's teardown (issue 22), and nothing else: the
    threads that are not daemons are waited for, the exit handlers run, what was printed is
    flushed, and the exit code is the command's."""
    script = tmp_path / "one.js"
    script.write_text(
        "export const meta = { name: 'one', description: 'one agent' }\n"
        "return await agent('say hello', { label: 'hello' })\n",
        encoding="utf-8",
    )
    argv = ["run", str(script), "--worker", "sim", "--sim-latency", "0", "--yes", "--quiet"]
    out = _program(tmp_path, [*argv, "--no-live", "--no-interactive"])
    assert out.returncode == 0, out.stderr
    # both streams flushed before the process ended: the result, then the summary
    assert out.stdout.startswith("[sim sim] say hello")
    assert "completed · agents 1 done" in out.stderr
    assert "TEARDOWN" not in out.stdout  # the modules were not torn down
    assert (tmp_path / "late.txt").read_text() == "written"  # the thread was waited for
    # the collector was paused for the start-up only: the run had it back, start-up frozen
    assert "IMPORTED gc=True" in out.stderr
    assert "HANDLER gc=True frozen=True" in out.stderr
    store = tmp_path / "home"
    assert not list(store.glob("*-wal")), "the store was not closed before the exit"

    bad = _program(tmp_path, ["run", str(tmp_path / "missing.js")])
    assert bad.returncode == 2
    assert "jshost: no such file" in bad.stderr and "Traceback" not in bad.stderr
    assert "HANDLER gc=True" in bad.stderr and "TEARDOWN" not in bad.stdout


def test_a_command_other_than_run_gets_the_collector_back_before_its_work(tmp_path: Path) -> None:
    """Only `run` and `resume` keep the collector paused past their command's import (until
    the run starts); `watch` or `runs` must not work for long without it."""
    out = _program(tmp_path, ["runs"])
    assert out.returncode == 0, out.stderr
    assert "HANDLER gc=True frozen=True" in out.stderr


def test_main_as_a_function_leaves_the_collector_and_the_process_alone(tmp_path: Path) -> None:
    code = (
        "import gc, sys\nfrom jshost.cli import main\n"
        "assert gc.isenabled()\n"
        "sys.argv = ['jshost', 'runs']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    print('EXIT', exc.code)\n"
        "print('AFTER', gc.isenabled(), gc.get_freeze_count())\n"
    )
    out = _python(code, tmp_path / "home", timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "AFTER True 0"


IMPORTS_UNCOLLECTED = """
import gc, importlib.util
{before}
import jshost  # a program's own import: the collector left as it was
importlib.util.find_spec("jshost.cli")  # the path's finders are set up: not jshost's imports
gc.collect()
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(1))
import jshost.cli
print(len(collections), gc.isenabled(), gc.get_freeze_count(), gc.get_count()[0] < 700)
"""


def test_the_command_lines_imports_collect_no_garbage() -> None:
    """The command line pauses the collector for its imports and gives it back without the
    collection of all they made that re-enabling it would start (issue 22: 16 collections,
    ~4 M instructions, of a one-agent `jshost run`); objects a program froze stay frozen."""
    out = subprocess.run(
        [sys.executable, "-c", IMPORTS_UNCOLLECTED.format(before="")],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    # At most one: reading jshost/cli/__init__'s own compiled code, before it can pause anything.
    count, *rest = out.stdout.split()
    assert int(count) <= 1 and rest == ["True", "0", "True"], out.stdout
    frozen = "KEEP = [[] for _ in range(10)]\ngc.freeze()"
    still = (
        "tracked = {id(o) for o in gc.get_objects()}\nprint(any(id(k) in tracked for k in KEEP))"
    )
    code = IMPORTS_UNCOLLECTED.format(before=frozen) + still
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split()[-1] == "False"  # still frozen: in no generation


def test_import_jshost_leaves_a_programs_collector_as_it_was() -> None:
    # A library must not move a program's objects between generations or switch its
    # collector: only the command line, which owns its process, does that.
    code = (
        "import gc\n"
        "gc.collect()\n"
        "gc.set_threshold(1_000_000)  # no collection of its own during the import\n"
        "young = [[] for _ in range(50)]\n"
        "import jshost\n"
        "print(gc.isenabled(), gc.get_freeze_count(),"
        " any(o is young[0] for o in gc.get_objects(generation=0)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    # Still young: not moved to the oldest generation by a freeze and unfreeze.
    assert out.stdout.split() == ["True", "0", "True"], out.stdout


# -- records written out instead of generated by @dataclass ------------------------------------

WRITTEN_OUT = [
    ("jshost.records", "ToolUse"),
    ("jshost.records", "AgentRecord"),
    ("jshost.records", "RunOutcome"),
    ("jshost.agent_types.types", "AgentType"),
    ("jshost.agent_types.types", "SkippedAgentFile"),
    ("jshost.config", "Config"),
    ("jshost.workers.registry", "WorkerInfo"),
    ("jshost.workers.registry", "_Entry"),
    ("jshost.script.validate", "Report"),
    ("jshost.script.load", "Script"),
    ("jshost.script.load", "Inspection"),
    ("jshost.script.meta", "Phase"),
    ("jshost.script.meta", "Meta"),
    ("jshost.script.meta", "MetaSpan"),
    ("jshost.script.diagnostics", "Diagnostic"),
    ("jshost.prices", "Price"),
    ("jshost.prices", "EstimateSettings"),
    ("jshost.estimate", "PhaseUsage"),
    ("jshost.estimate", "SizeWarning"),
    ("jshost.journal", "JournalEntry"),
    ("jshost.journal", "Decision"),
    ("jshost.journal", "Replay"),
    ("jshost.settings", "ModelPolicy"),
    # the public ones: dataclasses.fields/replace/asdict still work on them
    ("jshost.records", "Usage"),
    ("jshost.workers.base", "AgentRequest"),
    ("jshost.workers.base", "AgentResult"),
    ("jshost._api", "ToolOptions"),
    ("jshost.limits", "SandboxLimits"),
    ("jshost.limits", "Limits"),
    ("jshost.tools.base", "ToolSpec"),
    ("jshost.tools.base", "ToolOutput"),
    ("jshost.tools.base", "Workspace"),
    ("jshost.workers.registry", "WorkerSettings"),
    ("jshost.permissions.settings", "SettingsFile"),
    ("jshost.permissions.settings", "Settings"),
    ("jshost.engine.children", "_Child"),
    ("jshost.engine.worktrees", "Worktree"),
    ("jshost.script.lint", "Lint"),
    ("jshost.script.lint.fanout", "FanOut"),
]


def _sample(cls: type) -> tuple[Any, Any, type]:
    """Two equal instances of ``cls`` (required fields filled in, the rest defaulted) and the
    ``@dataclass`` the class used to be, built from the same fields and defaults."""
    import dataclasses
    import importlib
    import inspect

    from jshost._data import Frozen

    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert tuple(p.name for p in params) == cls._fields  # every field, in order, in __init__
    required = {p.name: f"<{p.name}>" for p in params if p.default is inspect.Parameter.empty}
    one, two = cls(**required), cls(**required)
    frozen = issubclass(cls, Frozen)
    spec = []
    for p in params:
        flags = {"compare": p.name not in cls._uncompared, "repr": p.name not in cls._no_repr}
        if p.name in cls._unhashed:
            flags["hash"] = False
        if p.default is inspect.Parameter.empty:
            spec.append((p.name, Any, dataclasses.field(**flags)))
        else:  # a factory default (None here) is whatever the class made of it
            made = getattr(one, p.name)
            spec.append((p.name, Any, dataclasses.field(default_factory=lambda v=made: v, **flags)))
    module = importlib.import_module(cls.__module__)
    reference = dataclasses.make_dataclass(cls.__name__, spec, frozen=frozen, namespace={})
    reference.__qualname__ = cls.__qualname__
    assert module  # the class is where it says it is
    return one, two, reference


@pytest.mark.parametrize(("module", "name"), WRITTEN_OUT)
def test_written_out_records_keep_what_the_dataclass_gave(module: str, name: str) -> None:
    """jshost._data replaces @dataclass on the start-up path (issue 22: 88 M instructions of a
    one-agent run); each class must still behave as its dataclass did: fields by position or
    keyword with the same defaults (fresh mutable defaults per instance), the same repr, ==
    by value within the class, frozen or not, hashable exactly when frozen, pattern matching,
    copy and pickle."""
    import copy
    import dataclasses
    import importlib
    import pickle

    from jshost._data import Frozen

    cls = getattr(importlib.import_module(module), name)
    one, two, reference = _sample(cls)
    values = {n: getattr(one, n) for n in cls._fields}
    assert repr(one) == repr(reference(**values))
    assert one == two and (one != two) is False
    assert one.__eq__(reference(**values)) is NotImplemented
    assert cls.__match_args__ == reference.__match_args__ == cls._fields
    assert copy.copy(one) == one == pickle.loads(pickle.dumps(one))
    for n in cls._fields:  # a mutable default is made afresh for each instance
        if isinstance(getattr(one, n), (list, dict, set)):
            assert getattr(one, n) is not getattr(two, n)
    if issubclass(cls, Frozen):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(one, cls._fields[0], "changed")
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(one, cls._fields[0])
        try:
            expected: Any = hash(reference(**values))
        except TypeError:  # a dict or list among the fields: unhashable, as it was
            with pytest.raises(TypeError):
                hash(one)
        else:
            assert hash(one) == hash(two) == expected
    else:
        with pytest.raises(TypeError):
            hash(one)
        setattr(one, cls._fields[0], "changed")
        assert one != two


@pytest.mark.parametrize(("module", "name"), WRITTEN_OUT)
def test_written_out_records_still_work_with_the_dataclasses_functions(
    module: str, name: str
) -> None:
    """Public records (AgentRequest, Limits, ToolOptions, …) may be handed to
    dataclasses.replace, fields, asdict or is_dataclass by a caller: those still work."""
    import dataclasses
    import importlib

    from jshost._data import replace

    cls = getattr(importlib.import_module(module), name)
    one, _, _ = _sample(cls)
    assert dataclasses.is_dataclass(one) and dataclasses.is_dataclass(cls)
    assert tuple(f.name for f in dataclasses.fields(one)) == cls._fields
    assert dataclasses.replace(one) == one == replace(one)
    values = dataclasses.asdict(one)
    assert set(values) == set(cls._fields)
    field = cls._fields[0]
    old = getattr(one, field)
    new = old + 1 if isinstance(old, int) else "<changed>"  # still valid where it is checked
    changed = dataclasses.replace(one, **{field: new})
    assert getattr(changed, field) == new == getattr(replace(one, **{field: new}), field)
    assert changed.__class__ is cls and getattr(one, field) == old


def test_post_init_checks_still_run_on_written_out_limits() -> None:
    from jshost._data import replace
    from jshost.limits import Limits, SandboxLimits

    with pytest.raises(ValueError, match="memory limit"):
        SandboxLimits(memory=1)
    with pytest.raises(ValueError):
        Limits(concurrency=0)
    with pytest.raises(ValueError):
        replace(Limits(), concurrency=0)
    import dataclasses

    with pytest.raises(ValueError):
        dataclasses.replace(Limits(), concurrency=0)


def test_the_prelude_goes_to_quickjs_in_ascii_on_the_same_lines() -> None:
    """The prelude is handed to QuickJS in ASCII (no UTF-8 copy of 600,000 lines) after a
    comment that spans its line base (cheaper to skip than blank lines): its strings and its
    frames' line numbers must be what they were."""
    import quickjs

    from jshost.sandbox import RUNTIME_LINE_BASE, context

    text = "▸ running — § 😀"
    assert context._ascii(text).isascii()
    ctx = quickjs.Context()
    assert ctx.eval("'" + context._ascii(text) + "'") == text
    assert context._ascii("plain") == "plain"
    assert context._ascii("\\U 😀 é") == "\\U \\ud83d\\ude00 \\u00e9"  # past U+FFFF
    # without a character past U+FFFF: Python's escapes, read by JavaScript alike
    bmp = "é — ▸ § ÿ\x80\uffff"
    assert context._ascii(bmp).isascii()
    assert ctx.eval("'" + context._ascii(bmp) + "'") == bmp
    assert ctx.eval("`" + context._ascii(bmp) + "`") == bmp
    assert ctx.eval("/" + context._ascii(bmp) + "/u.test('" + bmp + "')") is True
    for base in ("\n" * RUNTIME_LINE_BASE, context._padding(RUNTIME_LINE_BASE)):
        with pytest.raises(quickjs.JSException) as caught:
            ctx.eval(base + "// first line\nfunction f() {\n  throw new Error('x') }\nf()")
        assert f"at f (<input>:{RUNTIME_LINE_BASE + 3}:13)" in str(caught.value)
    sandbox = context.Sandbox(
        context.SandboxLimits(), {"maxAgents": 1, "budget": None, "args": None}
    )
    assert context._RUNTIME is not None and context._RUNTIME.isascii()
    assert sandbox._ctx.eval("typeof agent") == "function"


def test_a_lazy_pattern_compiles_at_its_first_use_and_then_is_the_pattern() -> None:
    import re

    from jshost._lazy import lazy_pattern

    pattern = lazy_pattern(r"^(?P<n>\d+)\s*(?P<unit>[km]?)$", re.IGNORECASE)
    assert set(vars(pattern)) == {"_source"}  # nothing compiled yet
    m = pattern.match("12 K")
    assert m is not None and m.group("n", "unit") == ("12", "K")
    assert "match" in vars(pattern)  # kept: the next .match is a plain attribute
    assert isinstance(pattern.match.__self__, re.Pattern)
    assert pattern.sub("x", "3m") == "x" and pattern.pattern.startswith("^(?P<n>")
    assert pattern.groupindex["unit"] == 2


COMPILED = """
import sys
from re import _compiler
compiled = []
_compile = _compiler.compile
def compile(p, flags=0):
    compiled.append(p)
    return _compile(p, flags)
_compiler.compile = compile
from jshost.cli import main
sys.argv = ["jshost", "run", {script!r}, "--worker", "sim", "--sim-latency", "0",
            "--yes", "--quiet", "--no-live", "--no-interactive"]
try:
    main()
except SystemExit:
    pass
print("COMPILED", repr(compiled))
"""


def test_a_plain_run_compiles_none_of_the_regexes_only_odd_input_needs(tmp_path: Path) -> None:
    """Compiled at first use (issue 22): the sim worker's marker (a prompt with no ``[[sim:``
    is not searched), meta's array-index keys (a key that starts with a digit), and the
    prelude's escapes of characters past U+FFFF."""
    import ast

    script = tmp_path / "one.js"
    script.write_text(
        "export const meta = { name: 'one', description: 'one agent' }\n"
        "return await agent('say hello', { label: 'hello' })\n",
        encoding="utf-8",
    )
    out = _python(COMPILED.format(script=str(script)), tmp_path / "home", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("COMPILED "))
    compiled = ast.literal_eval(line.removeprefix("COMPILED "))
    assert compiled, "the probe saw no compile at all"
    for needle in ("[[sim:", "[1-9][0-9]*", "[^x00-x7f]"):  # backslashes taken out
        found = [p for p in compiled if isinstance(p, str) and needle in p.replace("\\", "")]
        assert not found, f"a plain run compiled {found}"


def test_printable_text_compiles_no_regex_and_unsafe_text_is_still_marked() -> None:
    """printable() returns text that str.isprintable() accepts as it is, ASCII or not (the
    run summary's "·"): the regex of unsafe characters is compiled only for text that may
    hold one, and then marks them as before."""
    code = (
        "from jshost import text\n"
        "assert text.printable('completed · agents 1 done — ü ✓') == "
        "'completed · agents 1 done — ü ✓'\n"
        "print(sorted(vars(text._UNSAFE)))\n"
        "print(text.printable('a\\x1b[31m\\u202eb'), text.printable('x\\ny', multiline=True))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()[:2]
    assert first == "['_source']"
    assert second == "a⟨U+001B⟩[31m⟨U+202E⟩b x"


def test_meta_read_keeps_what_the_named_tuple_gave() -> None:
    """``MetaRead``, written out, behaves as the ``NamedTuple`` it was (built here from the
    same fields): a tuple, its fields by name, repr, ``==``, hash, pattern matching, pickle."""
    import copy
    import pickle
    from typing import NamedTuple

    from jshost.script.meta import MetaRead, read_meta

    class Was(NamedTuple):
        meta: Any
        span: Any
        problems: list

    found = read_meta("export const meta = { name: 'x', description: 'y' }\nreturn 1\n")
    assert isinstance(found, MetaRead) and isinstance(found, tuple)
    fields = (found.meta, found.span, found.problems)
    was = Was(*fields)
    assert found.meta is not None and found.span is not None and found.problems == []
    assert tuple(found) == tuple(was) and found == was and found == fields
    assert (found.meta, found.span, found.problems) == (was.meta, was.span, was.problems)
    assert repr(found) == repr(was).replace("Was(", "MetaRead(", 1)
    assert MetaRead._fields == Was._fields and MetaRead.__match_args__ == Was.__match_args__
    assert hash(MetaRead(None, None, ())) == hash(Was(None, None, ()))  # type: ignore[arg-type]
    match found:
        case MetaRead(meta, span, problems=[]):
            assert (meta, span) == fields[:2]
        case _:
            raise AssertionError("positional and keyword patterns must match")
    for again in (pickle.loads(pickle.dumps(found)), copy.copy(found), copy.deepcopy(found)):
        assert type(again) is MetaRead and again == found
    with pytest.raises(AttributeError):
        found.meta = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        found.other = 1  # type: ignore[attr-defined]


def test_importing_the_meta_reader_compiles_no_python() -> None:
    """A ``NamedTuple`` compiles its annotations and its ``__new__`` when its module is
    imported; ``MetaRead`` is written out, so the meta reader's import compiles nothing (but its
    own source, where no bytecode cache is written)."""
    probe = (
        "import builtins, sys\n"
        "import jshost._data, jshost._lazy, jshost.script.diagnostics\n"
        "import jshost.script.grammar, jshost.script.strings, tree_sitter\n"
        "compiled = []\n"
        "real = builtins.compile\n"
        "builtins.compile = lambda *a, **k: compiled.append(a[1]) or real(*a, **k)\n"
        "import jshost.script.meta\n"
        "print([name for name in compiled if not str(name).endswith('.py')])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_the_suspect_characters_are_the_control_characters_and_non_ascii() -> None:
    """The load's scan for suspect characters (written as a negated class: compiling the
    class of every code point from DEL up cost 59 M instructions of every start-up) still finds
    exactly the control characters but tab, line feed and carriage return, DEL, and every
    character outside ASCII, lone surrogates included."""
    from jshost.script.load import _SUSPECT

    everything = "".join(map(chr, range(0x110000)))
    found = "".join(_SUSPECT.findall(everything))
    expected = "".join(
        c for c in everything if (ord(c) < 0x20 and c not in "\t\n\r") or ord(c) >= 0x7F
    )
    assert found == expected


def test_ascii_text_is_checked_for_lone_surrogates_without_compiling_the_pattern() -> None:
    """The lone-surrogate pattern (~2 M instructions to compile) is compiled only for text
    that is not ASCII; such text is still refused or escaped as before."""
    probe = (
        "from jshost import bounds, text\n"
        "assert bounds.text_problem('say hello', 'prompt', 100) is None\n"
        "assert not bounds.has_surrogate('x') and not bounds.value_has_surrogate({'a': ['b']})\n"
        "assert text.encodable('plain') == 'plain'\n"
        "print(sorted(k for k in ('_source',) if k not in vars(bounds._SURROGATE)),"
        " 'search' in vars(bounds._SURROGATE), 'search' in vars(text._SURROGATE))\n"
        "name, message = bounds.text_problem('é\\udc00', 'prompt', 100)\n"
        "assert name == 'TypeError' and 'U+DC00 at index 1' in message, message\n"
        "assert bounds.value_has_surrogate({'k': ['\\ud800']})\n"
        "assert text.encodable('a\\udc00') == 'a\\\\udc00'\n"
        "print('search' in vars(bounds._SURROGATE))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split("\n")[:2] == ["[] False False", "True"]


BINDING_GONE = """
import sys
sys.modules["_quickjs"] = None  # as if quickjs-ng were not installed
{code}
"""


def test_a_missing_binding_is_one_clear_line_from_the_command_line(tmp_path: Path) -> None:
    script = tmp_path / "one.js"
    script.write_text(
        "export const meta = { name: 'one', description: 'one agent' }\nreturn 1\n",
        encoding="utf-8",
    )
    code = BINDING_GONE.format(
        code=f"import jshost.cli\nsys.argv = ['jshost', 'run', {str(script)!r}, '--yes']\n"
        "jshost.cli.console_main()"
    )
    out = _python(code, tmp_path / "home", timeout=60)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert "jshost: cannot import the QuickJS binding" in out.stderr
    assert "pip install 'quickjs-ng>=0.17,<0.18'" in out.stderr


def test_a_missing_binding_is_an_import_error_to_a_program() -> None:
    code = BINDING_GONE.format(
        code="try:\n    import jshost.sandbox\nexcept ImportError as exc:\n"
        "    print(type(exc).__name__, isinstance(exc.__cause__, ImportError))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "BindingMissingError True"


def test_the_binding_error_names_the_requirement_pyproject_declares() -> None:
    import tomllib

    from jshost import _quickjs

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert _quickjs.REQUIREMENT in project["dependencies"]


def test_the_binding_names_are_the_quickjs_packages_own() -> None:
    """What the sandbox catches and builds is what the quickjs package would have given it."""
    import quickjs

    from jshost import _quickjs

    for name in ("Context", "Object", "JSException", "StackOverflow"):
        assert getattr(_quickjs, name) is getattr(quickjs, name)


def test_the_prelude_is_no_parenthesised_expression() -> None:
    """At a `(` QuickJS scans ahead to its match, looking for an arrow's `=>`: around the
    whole prelude, that scan was 2.4 M instructions of every run (issue 22)."""
    from jshost.sandbox import context

    code = [ln for ln in context._runtime_source().splitlines() if not ln.startswith("//")]
    assert code[0] == "0, function (configJson) {" and code[-1] == "}"
