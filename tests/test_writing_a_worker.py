"""docs/writing-a-worker.md: its excerpts of the example are the shipped files, verbatim, and
its runnable example runs and passes check_worker."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "writing-a-worker.md"
_BLOCK = re.compile(
    r"<!-- (?P<tag>shipped: (?P<path>\S+)|run) -->\n```\w*\n(?P<code>.*?)\n```", re.S
)


def blocks() -> list[re.Match[str]]:
    return list(_BLOCK.finditer(DOC.read_text(encoding="utf-8")))


def test_every_excerpt_of_the_example_is_the_shipped_code():
    shipped = [m for m in blocks() if m["path"]]
    assert {m["path"] for m in shipped} == {
        "examples/jshost-openai-compat/pyproject.toml",
        "examples/jshost-openai-compat/jshost_openai_compat/__init__.py",
    }
    for m in shipped:
        source = (ROOT / m["path"]).read_text(encoding="utf-8")
        assert m["code"] in source, f"the excerpt of {m['path']} no longer matches it:\n{m['code']}"


def test_the_entry_point_in_the_doc_is_the_one_the_example_registers():
    import tomllib

    project = tomllib.loads((ROOT / "examples/jshost-openai-compat/pyproject.toml").read_text())
    assert project["project"]["entry-points"]["jshost.workers"] == {
        "openai-compat": "jshost_openai_compat:make_worker"
    }
    doc = DOC.read_text(encoding="utf-8")
    assert 'openai-compat = "jshost_openai_compat:make_worker"' in doc


def test_the_runnable_example_runs_and_keeps_the_contract():
    (run,) = [m for m in blocks() if m["tag"] == "run"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(run["code"], f"{DOC}:run", "exec"), {"__name__": "doc_example"})
    assert re.fullmatch(r"cancelled in 0\.\d{3} s\n", out.getvalue()), out.getvalue()
