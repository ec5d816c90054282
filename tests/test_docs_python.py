"""Every ```python block in docs/python-api.md and README.md runs, offline, as it is written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(name: str) -> list[str]:
    return BLOCK.findall((ROOT / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("doc", ["docs/python-api.md", "README.md"])
def test_every_python_block_runs(doc, tmp_path, monkeypatch, capsys):
    found = blocks(doc)
    assert found, f"{doc} has no python blocks"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, code in enumerate(found):
        # One namespace, in order: the blocks build on each other as a reader's session would.
        exec(compile(code, f"{doc}[python block {i + 1}]", "exec"), namespace)
    out = capsys.readouterr().out
    assert "Traceback" not in out


def test_the_documented_outputs_are_what_runs_print(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for code in blocks("docs/python-api.md"):
        exec(compile(code, "docs/python-api.md", "exec"), namespace)
    out = capsys.readouterr().out
    # the comments in the docs show these lines; they must stay true
    assert "{'notes': ['style: looks fine', 'bugs: looks fine'], 'ship': True}" in out
    assert "False ['verdict', 'verdict']" in out
    assert "[bugs] failed: broken raised ConnectionError: the model is down" in out
    assert "RunStarted RunFinished" in out
    assert "completed 1 quick this time" in out
    assert "asyncio: completed" in out and "trio: completed" in out and "thread: completed" in out
    readme = {"__name__": "__docs__"}
    exec(compile(blocks("README.md")[0], "README.md", "exec"), readme)
    assert "['Hello there, Ada!', 'Hello there, Linus!']" in capsys.readouterr().out
