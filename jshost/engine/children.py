"""Child workflows: ``workflow('name')`` and ``workflow({scriptPath})``, one level deep.

Finds and loads the child script (each file read once per run), refuses calls the reference
refuses (nesting, the call cap, bad names), and starts the child in the parent's sandbox. A mixin
of :class:`~jshost.engine.run.Engine`, which owns the state these methods use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from .._data import Record
from ..bounds import MAX_PATH_CHARS, MAX_TITLE_CHARS, MAX_WORKFLOW_CALLS
from ..errors import JshostError, ScriptLoadError
from ..sandbox import CHILD_LINE_BASE, JsThread, Sandbox, parse_frames
from ..script import Script, load_child_script
from .bridge import _need, _payload_error, _refuse_text, _Refused

_CHILD_CACHE = 16  # child scripts a run keeps loaded (each up to a few MB)

_NESTED = (
    "workflow() cannot be called from within a child workflow — nesting is limited to one "
    "level. Inline the inner script or call its agents directly."
)


class _Child(Record):
    path: str
    name: str
    source: str = ""

    _fields = ("path", "name", "source")

    def __init__(self, path: str, name: str, source: str = "") -> None:
        self.path = path
        self.name = name
        self.source = source


class ChildWorkflows:
    """The engine's ``workflow()`` calls: find the child, check it, start it in the sandbox."""

    async def _on_workflow(
        self, event: dict[str, Any], js: JsThread, sandbox: Sandbox
    ) -> list[dict[str, Any]]:
        request_id, ref, args_json = event.get("id"), event.get("ref"), event.get("args")
        _need(isinstance(request_id, int) and isinstance(ref, dict), "bad workflow call")
        _need(args_json is None or isinstance(args_json, str), "bad workflow args")
        self._outstanding += 1
        name_ref = ref.get("name")
        raw = ref.get("scriptPath")
        _need(isinstance(name_ref, str) or isinstance(raw, str), "bad workflow reference")
        try:
            self._workflow_calls += 1
            if self._workflow_calls > MAX_WORKFLOW_CALLS:
                raise _Refused(
                    "RangeError",
                    f"workflow() call cap reached ({MAX_WORKFLOW_CALLS} per run, child "
                    "workflows included)",
                )
            self._check_caller(event.get("from"))
            if isinstance(name_ref, str):
                _refuse_text(name_ref, "workflow() name", MAX_TITLE_CHARS)
                try:
                    # Off the loop: the first lookup reads every saved workflow.
                    path = await trio.to_thread.run_sync(self._resolve_workflow, name_ref)
                except (OSError, ValueError, RuntimeError):
                    path = None
                if path is None:
                    found = await trio.to_thread.run_sync(self._workflow_names)
                    names = ", ".join(sorted(found)) or "(none)"
                    raise JshostError(
                        f"workflow('{name_ref}'): no workflow with that name. Available: {names}"
                    )
                label = f"workflow('{name_ref}')"
            else:
                _refuse_text(raw, "workflow({scriptPath})", MAX_PATH_CHARS)
                label = f"workflow({{scriptPath: '{raw}'}})"
                try:
                    path = self._child_path(raw)
                except (OSError, ValueError, RuntimeError):
                    raise JshostError(f"{label}: not a workflow script") from None
            child = await trio.to_thread.run_sync(self._load_child, path)
            if isinstance(child, str):
                raise JshostError(f"{label}: {child}")
            if len(child.meta.name) > MAX_TITLE_CHARS:
                raise _Refused(
                    "RangeError",
                    f"{label}: its meta.name is {len(child.meta.name):,} characters long; "
                    f"the limit is {MAX_TITLE_CHARS:,}",
                )
        except _Refused as exc:
            self._reply(request_id, False, _payload_error(exc.name, str(exc)))
            return []
        except JshostError as exc:
            self._reply(request_id, False, _payload_error("Error", str(exc)))
            return []
        name = child.meta.name
        n = self._child_groups[name] = self._child_groups.get(name, 0) + 1
        group = f"▸ {name}" if n == 1 else f"▸ {name} #{n}"
        self._add_phase(group)
        self._children.append(_Child(path=child.display_path, name=name, source=child.source))
        self._outstanding -= 1  # the child's own promise settles inside the sandbox
        return await self._js(
            js, sandbox.start_child, request_id, child.child_wrapped, name, group, args_json
        )

    def _load_child(self, path: Path) -> Script | str:
        """The child script at ``path``, or why it cannot run; the same file is read once.

        A loop of workflow() calls would otherwise read and check the same file (up to 2 MB
        of source) every time, for as many calls as the cap allows.
        """
        try:
            st = path.stat()
            key: tuple[Any, ...] | None = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        except (OSError, ValueError):
            key = None  # loading says what is wrong
        found = self._child_cache.get(key) if key is not None else None
        if found is None:
            try:
                found = load_child_script(path)
            except ScriptLoadError as exc:
                found = str(exc)
            except (OSError, ValueError, RuntimeError):
                found = "not a workflow script"
            if key is not None:
                self._child_cache[key] = found
                while len(self._child_cache) > _CHILD_CACHE:
                    del self._child_cache[next(iter(self._child_cache))]
        return found

    def _check_caller(self, stack: Any) -> None:
        """Refuse a workflow() call made from a child workflow's code, however it got there.

        A child reaches the parent's ``globalThis.workflow`` as easily as its own stub, so
        the host looks at who called: the prelude sends the call's stack trace, and frames at
        or past ``CHILD_LINE_BASE`` are a child's code. A call with no script frame at all
        (``.then(workflow)``) cannot be attributed and is refused too.
        """
        _need(isinstance(stack, str), "workflow call without its caller")
        base = self._line_base  # from there up to a child's code: the prelude's frames
        lines = [n for _, n, _ in parse_frames(stack) if not base <= n < CHILD_LINE_BASE]
        if any(line >= CHILD_LINE_BASE for line in lines):
            raise _Refused("Error", _NESTED)
        if not lines:
            raise _Refused(
                "Error",
                "workflow() must be called from the workflow script's own code, not passed "
                "as a callback",
            )

    def _child_path(self, raw: str) -> Path:
        path = Path(raw).expanduser()
        if path.is_absolute() or path.exists() or self.script.path is None:
            return path
        beside = Path(self.script.path).parent / path
        return beside if beside.exists() else path
