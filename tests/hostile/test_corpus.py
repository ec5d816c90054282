"""The hostile corpus: every script in ``scripts/`` runs through the real ``jshost run``.

Each script's first line declares the outcome it must get::

    // expect: {"exit": 1, "error": "EvalError", "message": "Code generation …", "line": 4}

Keys (all but ``exit`` optional):

- ``exit``: the exit code of ``jshost run`` (0 completed, 1 failed, 2 refused before running).
- ``error`` / ``message`` / ``line``: the stored error's name, a fragment of its message, its
  line in the file. With exit 2 nothing ran, and ``message`` must be on stderr.
- ``result``: the stored result, exactly.
- ``agents``: counts of the stored agents by status (and ``total``).
- ``prompts``: the prompts of the stored agents, exactly (nothing forged).
- ``failures``: fragments that must each be in some stored failure line; ``failure_count``.
- ``output``: fragments that must each be in what the command printed.
- ``flags``: more arguments for ``jshost run``; ``args``: the ``--args`` value (the strings
  ``$SIDE`` and ``$STORE`` become a scratch directory and the store's directory);
  ``args_gen``: generated args, ``["deep", n]`` (n nested arrays) or ``["strings", n, size]``.
- ``setup``: ``"fifo"`` makes ``$SIDE/pipe.js`` a named pipe, ``"dir"`` a directory ``dir.js``,
  ``"links"`` the symlinks ``$SIDE/env.js`` → ``/proc/self/environ`` and ``$SIDE/secret.js`` →
  a text file.
- ``victim``: run another workflow first, whose secret must not reach this run's output.
- ``seconds``: the run must end within this wall time.
- ``process``: run ``python -m jshost`` in a process of its own (for scripts whose runaway
  native work goes on after the run has given up on it).

For every script the runner also checks: no Python traceback; the store is intact and holds
only its own files; nothing was written anywhere else (the working directory, ``$HOME``,
``$TMPDIR``, the corpus); and the next run in the same process and store works.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from procs import finish, jshost

from jshost.cli import cli
from jshost.store import Store

SCRIPTS = Path(__file__).parent / "scripts"
EXPECT = "// expect: "
SECRET = "victim-secret-7f3a9c"
CANARY = (
    "export const meta = { name: 'canary', description: 'the host still works' }\n"
    "const r = await parallel([() => agent('canary one'), () => agent('canary two')])\n"
    "return r.map((x) => typeof x)\n"
)
VICTIM = (
    "export const meta = { name: 'victim', description: 'another run with a secret' }\n"
    f"log('{SECRET}')\n"
    f"return await agent('keep {SECRET} safe')\n"
)


def expectation(path: Path) -> dict[str, Any]:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    assert first.startswith(EXPECT), f"{path.name}: first line must be '{EXPECT}{{...}}'"
    spec = json.loads(first[len(EXPECT) :])
    assert "exit" in spec, path.name
    return spec


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory below ``roots``, with size and modification time."""
    seen = {}
    for root in roots:
        for p in [root, *root.rglob("*")]:
            st = p.lstat()
            seen[str(p)] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return seen


def store_files(home: Path) -> set[str]:
    if not home.exists():
        return set()
    return {str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()}


def substitute(value: Any, places: dict[str, str]) -> Any:
    if isinstance(value, str):
        for token, where in places.items():
            value = value.replace(token, where)
        return value
    if isinstance(value, list):
        return [substitute(v, places) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, places) for k, v in value.items()}
    return value


def generated_args(spec: list[Any]) -> str:
    kind = spec[0]
    if kind == "deep":
        return "[" * spec[1] + "]" * spec[1]
    if kind == "strings":
        return json.dumps(["x" * spec[2]] * spec[1])
    raise AssertionError(f"unknown args_gen {kind!r}")


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"the host raised {result.exception!r}") from result.exception
    return result.exit_code, result.stdout, result.stderr


def non_daemon_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if not t.daemon}


@pytest.mark.parametrize("script", sorted(SCRIPTS.glob("*.js")), ids=lambda p: p.stem)
def test_hostile_script(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = expectation(script)
    home, work, side = tmp_path / "store", tmp_path / "work", tmp_path / "side"
    user, tmp = tmp_path / "user", tmp_path / "tmp"
    for d in (work, side, user, tmp):
        d.mkdir()
    monkeypatch.chdir(work)
    env = {"JSHOST_HOME": str(home), "HOME": str(user), "TMPDIR": str(tmp)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if "fifo" in spec.get("setup", []):
        os.mkfifo(side / "pipe.js")
    if "dir" in spec.get("setup", []):
        (side / "dir.js").mkdir()
    if "links" in spec.get("setup", []):
        (side / "env.js").symlink_to("/proc/self/environ")
        (side / "secret.txt").write_text("API_KEY=not-for-scripts\n")
        (side / "secret.js").symlink_to(side / "secret.txt")

    if spec.get("victim"):
        victim = side / "victim.js"
        victim.write_text(VICTIM)
        code, _, _ = invoke(["run", str(victim), "--yes", "--quiet"], env)
        assert code == 0
    argv = [
        "run",
        str(script),
        "--yes",
        "--quiet",
        "--sim-latency",
        "0.001",
        *spec.get("flags", []),
    ]
    places = {"$SIDE": str(side), "$STORE": str(home)}
    if "args" in spec or "args_gen" in spec:
        args_file = side / "args.json"
        if "args" in spec:
            args_file.write_text(json.dumps(substitute(spec["args"], places)))
        else:
            args_file.write_text(generated_args(spec["args_gen"]))
        argv += ["--args-file", str(args_file)]

    before = snapshot(work, user, tmp, SCRIPTS)
    runs_before = {r.id for r in Store(reading=True).list_runs()} if home.exists() else set()
    threads = non_daemon_threads()
    started = time.monotonic()
    if spec.get("process"):
        code, out, err = finish(jshost(home, *argv, env=env, cwd=work), timeout=120)
    else:
        code, out, err = invoke(argv, env)
    elapsed = time.monotonic() - started

    # The outcome the script must get.
    assert "Traceback" not in err and "internal error" not in err, err
    assert code == spec["exit"], (code, err[-2000:])
    if "seconds" in spec:
        assert elapsed < spec["seconds"], f"took {elapsed:.1f} s"
    if spec.get("victim"):
        assert SECRET not in out + err
    with Store(reading=True) as store:
        new = [r for r in store.list_runs() if r.id not in runs_before] if home.exists() else []
        if code == 2:
            assert not new, "a refused script must not start a run"
            if "message" in spec:
                assert spec["message"] in err, err
        else:
            (row,) = new
            check_run(spec, row, store, out + err)

    # Nothing written outside the store, and only the store's own files in it.
    assert snapshot(work, user, tmp, SCRIPTS) == before
    assert all(f.startswith(("jshost.db", "locks/")) for f in store_files(home)), store_files(home)
    if home.exists():
        con = sqlite3.connect(home / "jshost.db")
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        con.close()

    # The host is unharmed: the next run in this process and this store works.
    canary = side / "canary.js"
    canary.write_text(CANARY)
    code, out, err = invoke(["run", str(canary), "--yes", "--json", "--sim-latency", "0"], env)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["result"] == ["string", "string"]
    assert non_daemon_threads() <= threads


def check_run(spec: dict[str, Any], row: Any, store: Store, output: str) -> None:
    error = row.error or {}
    if spec["exit"] == 0:
        assert row.status == "completed", error
    elif spec["exit"] == 1:
        assert row.status == "failed"
    if "error" in spec:
        assert error.get("name") == spec["error"], error
    if "message" in spec:
        assert spec["message"] in error.get("message", ""), error
    if "line" in spec:
        assert error.get("line") == spec["line"], error
    if "result" in spec:
        assert row.result == spec["result"]
    agents = store.agents(row.id)
    if "agents" in spec:
        counts: dict[str, int] = {"total": len(agents)}
        for a in agents:
            counts[a.status] = counts.get(a.status, 0) + 1
        assert {k: counts.get(k, 0) for k in spec["agents"]} == spec["agents"], counts
    if "prompts" in spec:
        assert sorted(a.prompt for a in agents) == sorted(spec["prompts"])
    failures = [text for kind, text in store.logs(row.id) if kind == "failure"]
    for fragment in spec.get("failures", []):
        assert any(fragment in f for f in failures), (fragment, failures[:10])
    if "failure_count" in spec:
        assert len(failures) == spec["failure_count"], failures[-3:]
    for fragment in spec.get("output", []):
        assert fragment in output, output[-2000:]
    # Every agent that finished has its result in the store.
    for a in agents:
        if a.status == "done":
            assert a.result is not None or a.error is None
