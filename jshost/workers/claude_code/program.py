"""Finding the Claude Code program, without importing the SDK (which takes ~0.6 s).

The registry asks :func:`program_problem` when ``--worker claude-code`` is chosen and when
``jshost workers`` lists workers, so a missing extra or program is one line before anything
runs, not a failure per agent.

Where the program comes from, first found wins:

1. ``JSHOST_CLAUDE_PATH`` (or the worker's ``cli_path``): a ``claude`` program of your choice —
   an installed Claude Code, or a test double speaking the same protocol;
2. the program bundled in the ``claude-agent-sdk`` wheel (``claude_agent_sdk/_bundled/claude``);
3. ``claude`` on ``PATH``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "CLAUDE_PATH_ENV",
    "INSTALL_HINT",
    "SETTING_SOURCES_ENV",
    "find_program",
    "program_problem",
]

#: the environment variable naming the program to run
CLAUDE_PATH_ENV = "JSHOST_CLAUDE_PATH"
#: the environment variable that opts in to Claude Code's own settings files
SETTING_SOURCES_ENV = "JSHOST_CLAUDE_SETTING_SOURCES"
INSTALL_HINT = "pip install 'jshost[claude-code]'"


def _sdk_dir() -> Path | None:
    # find_spec on a top-level package locates it without running its __init__.
    try:
        spec = importlib.util.find_spec("claude_agent_sdk")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_program(env: Mapping[str, str], cli_path: str | None = None) -> tuple[Path | None, str]:
    """The program to run and "" , or None and one line saying what is missing and what to do."""
    if _sdk_dir() is None:
        return None, f"the claude-code worker needs the claude-agent-sdk package: {INSTALL_HINT}"
    chosen = cli_path or env.get(CLAUDE_PATH_ENV, "").strip()
    if chosen:
        where = "cli_path" if cli_path else CLAUDE_PATH_ENV
        path = Path(chosen).expanduser()
        if not _executable(path):
            return None, f"{where}={chosen!r} is not an executable file"
        return path.absolute(), ""
    sdk = _sdk_dir()
    assert sdk is not None
    bundled = sdk / "_bundled" / ("claude.exe" if os.name == "nt" else "claude")
    if _executable(bundled):
        return bundled, ""
    on_path = shutil.which("claude", path=env.get("PATH"))
    if on_path:
        return Path(on_path), ""
    return None, (
        "the claude-code worker found no Claude Code program (the claude-agent-sdk wheel "
        f"for this platform bundles none): {INSTALL_HINT}, install Claude Code, "
        f"or set {CLAUDE_PATH_ENV}"
    )


def program_problem(env: Mapping[str, str]) -> str:
    """Why the claude-code worker cannot run here ("" when it can)."""
    return find_program(env)[1]


def setting_sources(env: Mapping[str, str]) -> list[str]:
    """Claude Code's settings files the program may read (``user``, ``project``, ``local``).

    None by default: see docs/claude-code-worker.md for why, and how to opt in.

    Raises:
        ValueError: a name that is not one of the three.
    """
    raw = env.get(SETTING_SOURCES_ENV, "").strip()
    names = [part.strip() for part in raw.split(",") if part.strip()]
    bad = [n for n in names if n not in ("user", "project", "local")]
    if bad:
        raise ValueError(
            f"{SETTING_SOURCES_ENV}: {', '.join(map(repr, bad))} is not a settings source "
            "(user, project, local)"
        )
    return list(dict.fromkeys(names))
