"""The API key stays out of what tools can read: jshost is not dumpable while tools run (so a
command of the same user cannot read ``/proc/<jshost>/environ`` or ``mem``), and no program a
tool starts (Bash, ripgrep) gets the credentials in its own environment. Real commands, in
temporary directories; the ``/proc`` check runs as an unprivileged user (root reads
everything, so as root the test drops to ``nobody`` with ``setpriv``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import trio
from tool_kit import call, make_workspace

from jshost.tools import prctl
from jshost.tools.builtin import BashTool, GrepTool

SECRET = "sk-ant-test-0123456789-not-a-real-key"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(prctl.dumpable() is None, reason="PR_SET_DUMPABLE is Linux's")


def test_jshost_is_not_dumpable_while_a_command_runs_and_is_again_after(tmp_path):
    ws, _ = make_workspace(tmp_path)
    seen: list[bool | None] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(BashTool().run, {"command": "sleep 0.3"}, ws)
            await trio.sleep(0.15)
            seen.append(prctl.dumpable())

    assert prctl.dumpable() is True
    trio.run(main)
    assert seen == [False]
    assert prctl.dumpable() is True


AS_USER = textwrap.dedent(
    """
    import sys, trio
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {tests!r})
    from tool_kit import call
    from jshost.tools import Workspace
    from jshost.tools.builtin import BashTool
    out = call(BashTool(), {{"command": {command!r}}}, Workspace({ws!r}))
    print(out.content)
    """
)


def as_unprivileged(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a new Python process as a user that is not root."""
    argv = [sys.executable, "-c", script]
    if os.getuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root without setpriv: cannot test as an unprivileged user")
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, cwd="/")


def test_a_command_cannot_read_the_key_from_jshosts_proc_files():
    # pytest's own temporary directories are root's alone: the unprivileged user gets one
    with tempfile.TemporaryDirectory(prefix="jshost-secrets-") as base:
        top = Path(base)
        top.chmod(0o777)
        ws = top / "ws"
        ws.mkdir()
        ws.chmod(0o777)
        check_proc_files(top, ws)


def check_proc_files(tmp_path: Path, ws: Path) -> None:
    command = (
        "tr '\\0' '\\n' < /proc/$PPID/environ | grep ANTHROPIC; "
        "head -c 100000000 /proc/$PPID/mem | grep -ac " + SECRET[:12] + "; "
        "echo ours: $(env | grep -c ANTHROPIC_API_KEY)"
    )
    script = AS_USER.format(
        root=str(ROOT), tests=str(ROOT / "tests" / "tools"), command=command, ws=str(ws)
    )
    env = {"PATH": os.environ["PATH"], "ANTHROPIC_API_KEY": SECRET, "HOME": str(tmp_path)}
    done = as_unprivileged(script, env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert SECRET not in out
    lines = out.splitlines()
    assert any("/environ: Permission denied" in line for line in lines), out
    assert any("/mem" in line and "Permission denied" in line for line in lines), out
    assert "ours: 0" in out  # and the command's own environment never had it


def test_ripgrep_does_not_get_the_credentials(tmp_path, monkeypatch):
    ws, _ = make_workspace(tmp_path)
    dump = tmp_path / "rg.env"
    fake = tmp_path / "bin" / "rg"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nenv > {dump}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    call(GrepTool(rg=str(fake)), {"pattern": "x"}, ws)
    assert dump.exists()
    text = dump.read_text()
    assert "PATH=" in text and SECRET not in text and "ANTHROPIC_API_KEY" not in text
