"""An agent's tool calls and transcript as people see them, and as much of them as is kept.

Workers report each tool call as a :class:`~jshost.records.ToolUse` and hand back the whole
conversation as a transcript (a list of dicts with a ``"kind"``: ``text``, ``tool_use``,
``tool_result``, ``permission``, ``note``; see docs/tools.md). Both come from a model and are
untrusted and unbounded: this module cuts them to a size the store and a terminal can take
(:func:`bound_transcript`, :func:`clip_value`), says a call in one line (:func:`call_text`,
``Read src/app.py``, ``Bash git log -5``), and lays a transcript out for reading
(:func:`transcript_lines`). Nothing here sanitises: every view passes what it shows through
:func:`jshost.text.printable`, as it does for all other text.

Plain functions on plain data: the store, the views and the CLI use them; it imports only the
records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .records import ToolUse

__all__ = [
    "ENTRY_CHARS",
    "INPUT_CHARS",
    "TRANSCRIPT_BYTES",
    "StoredTranscript",
    "bound_transcript",
    "call_text",
    "clip_value",
    "note_cost",
    "rule_text",
    "tool_use_from_json",
    "tool_use_json",
    "transcript_lines",
    "use_line",
]

#: characters of one string in a tool input kept in events, the store and views
INPUT_CHARS = 2_000
#: characters of one transcript entry's text (assistant text, a tool result) kept in the store
ENTRY_CHARS = 4_000
#: bytes of JSON one agent's stored transcript may take; the middle goes beyond that
TRANSCRIPT_BYTES = 256 * 1024
#: nesting kept in a tool input (deeper values become a note)
_DEPTH = 8
#: items kept of a list or keys of a dict in a tool input
_ITEMS = 200
#: the input key that says most about a call of each kind of tool, in the order looked for
_PRIMARY = ("command", "file_path", "pattern", "path", "url", "query", "notebook_path")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def clip_value(value: Any, limit: int = INPUT_CHARS, *, _depth: int = 0) -> Any:
    """A JSON-able copy of ``value`` with every string cut to ``limit`` characters.

    Exact where nothing was cut: what is cut says so in its own text (``… (n more
    characters)``), lists and objects beyond 200 items and nesting beyond 8 levels too.
    """
    if isinstance(value, str):
        return _cut(value, limit)
    if value is None or isinstance(value, bool | int | float):
        return value
    if _depth >= _DEPTH:
        return "… (nested too deeply to show)"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= _ITEMS:
                out["…"] = f"{len(value) - _ITEMS:,} more keys"
                break
            out[_cut(str(k), 200)] = clip_value(v, limit, _depth=_depth + 1)
        return out
    if isinstance(value, list | tuple):
        items = [clip_value(v, limit, _depth=_depth + 1) for v in list(value)[:_ITEMS]]
        if len(value) > _ITEMS:
            items.append(f"… {len(value) - _ITEMS:,} more items")
        return items
    return _cut(str(value), limit)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _primary(tool_input: Any) -> str | None:
    if not isinstance(tool_input, dict):
        return None
    for key in _PRIMARY:
        value = tool_input.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def call_text(tool: str, tool_input: Any, limit: int = 200) -> str:
    """One line for a call: ``Read src/app.py``, ``Bash git log -5``, ``Grep TODO in src``.

    Whitespace (newlines of a script) is collapsed; the line is cut to ``limit`` characters.
    Not sanitised: views pass it through ``printable``.
    """
    main = _primary(tool_input)
    if main is None:
        rest = json.dumps(tool_input, ensure_ascii=False, default=str) if tool_input else ""
        text = f"{tool} {rest}".strip()
    else:
        text = f"{tool} {main}"
        where = tool_input.get("path") if isinstance(tool_input, dict) else None
        if tool in ("Grep", "Glob") and isinstance(where, str) and where and where != main:
            text += f" in {where}"
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rule_text(tool: str, tool_input: Any, limit: int = 120) -> str:
    """The call in rule form, as a denial names it: ``Bash(rm -rf build)``, ``Read(/etc/x)``."""
    main = _primary(tool_input)
    if main is None:
        return tool
    main = _one_line(main)
    if len(main) > limit:
        main = main[: limit - 1] + "…"
    return f"{tool}({main})"


def _reason(summary: str, word: str) -> str:
    # A worker's summary may itself start with what happened ("denied: no rule allows …").
    text = summary.strip()
    if text.lower().startswith(word + ":"):
        text = text[len(word) + 1 :].strip()
    return text


def use_line(use: ToolUse, limit: int = 200) -> str:
    """One line for a reported call as views list it: ``Read src/app.py``, ``denied
    Bash(rm -rf build): no rule allows it``, ``waiting for your answer: Bash(git push)``."""
    if use.status == "denied":
        text = f"denied {rule_text(use.tool, use.input)}"
        reason = _reason(use.summary, "denied")
        text += f": {reason}" if reason else ""
    elif use.status == "waiting":
        text = f"waiting for your answer: {rule_text(use.tool, use.input)}"
    elif use.status == "error":
        text = f"{call_text(use.tool, use.input)} — failed"
        reason = _reason(use.summary, "error")
        text += f": {reason}" if reason else ""
    else:
        text = call_text(use.tool, use.input)
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tool_use_json(use: ToolUse, *, limit: int = INPUT_CHARS) -> dict[str, Any]:
    """A tool call as JSON: ``tool``, ``input`` (strings cut), ``status``, ``summary``, ``rule``,
    ``elapsed_s`` (the keys of the ``agent_tool`` event and of the store's ``last_tool``)."""
    return {
        "tool": use.tool,
        "input": clip_value(use.input, limit),
        "status": use.status,
        "summary": _cut(use.summary, limit),
        "rule": use.rule,
        "elapsed_s": round(use.elapsed, 3),
    }


def tool_use_from_json(data: Any) -> ToolUse | None:
    """The ToolUse :func:`tool_use_json` made, or None for anything else (an old or odd row)."""
    if not isinstance(data, dict) or not isinstance(data.get("tool"), str):
        return None
    status = data.get("status")
    if status not in ("ok", "error", "denied", "waiting"):
        return None
    tool_input = data.get("input")
    elapsed = data.get("elapsed_s")
    rule = data.get("rule")
    return ToolUse(
        tool=data["tool"],
        input=tool_input if isinstance(tool_input, dict) else {},
        status=status,
        summary=str(data.get("summary") or ""),
        rule=rule if isinstance(rule, str) else None,
        elapsed=float(elapsed) if isinstance(elapsed, int | float) else 0.0,
    )


# ---- the stored transcript -------------------------------------------------------------------


def _bound_entry(entry: Any, limit: int) -> dict[str, Any]:
    if not isinstance(entry, dict):
        return {"kind": "note", "text": _cut(str(entry), limit)}
    out = clip_value(entry, limit)
    if not isinstance(out.get("kind"), str):
        out["kind"] = "note"
    return out


def note_cost(entry: Any) -> float | None:
    """The dollars a transcript entry reports: a ``note`` with ``cost_usd`` (a worker's own
    cost figure for an attempt, as the claude-code worker writes it), else None."""
    if not isinstance(entry, Mapping):
        return None
    cost = entry.get("cost_usd")
    if entry.get("kind") == "note" and isinstance(cost, int | float):
        return float(cost)
    return None


#: built once: ``json.dumps`` with arguments builds an encoder per call (per entry here)
_SIZER = json.JSONEncoder(ensure_ascii=True, default=str)


def _size(entry: dict[str, Any]) -> int:
    return len(_SIZER.encode(entry)) + 2


class StoredTranscript(list[dict[str, Any]]):
    """A transcript as the run store keeps it (what :func:`bound_transcript` made).

    An agent's record holds this once its row is committed, so the host does not keep the
    model's full text (for a text answer, the answer itself) beside the store's. Bounding it
    again gives it back as it is: a cut string would otherwise be cut once more and lose how
    much went the first time.
    """

    __slots__ = ()


def bound_transcript(
    entries: Any, *, total: int = TRANSCRIPT_BYTES, entry_chars: int = ENTRY_CHARS
) -> StoredTranscript:
    """The transcript as it is stored: each entry's strings cut, the whole held to ``total``.

    Beyond ``total`` bytes of JSON, the beginning (the task, the first calls) and the end (the
    final answer) are kept and the middle becomes one ``note`` entry saying how much went; it
    carries the ``cost_usd`` of the notes left out (a worker's own cost figure for each
    attempt), so the run's reported cost stays whole. A :class:`StoredTranscript` (this
    function's own result) comes back unchanged.
    """
    if type(entries) is StoredTranscript:
        return entries
    cut = [_bound_entry(e, entry_chars) for e in (entries or ())]
    sizes = [_size(e) for e in cut]
    if sum(sizes) <= total:
        return StoredTranscript(cut)
    head_budget, tail_budget = total * 2 // 3, total // 3
    head: list[dict[str, Any]] = []
    used = 0
    for e, n in zip(cut, sizes, strict=True):
        if used + n > head_budget:
            break
        head.append(e)
        used += n
    tail: list[dict[str, Any]] = []
    used = 0
    for e, n in zip(reversed(cut[len(head) :]), reversed(sizes[len(head) :]), strict=True):
        if used + n > tail_budget:
            break
        tail.append(e)
        used += n
    tail.reverse()
    left_out = len(cut) - len(head) - len(tail)
    note: dict[str, Any] = {
        "kind": "note",
        "text": f"… {left_out:,} entries left out here: the transcript is kept to "
        f"{total // 1024:,} KiB",
    }
    costs = [c for e in cut[len(head) : len(cut) - len(tail)] if (c := note_cost(e)) is not None]
    if costs:
        note["cost_usd"] = sum(costs)
    return StoredTranscript([*head, note, *tail])


# ---- reading it ------------------------------------------------------------------------------

#: lines of a tool result shown by :func:`transcript_lines` (the store keeps more)
RESULT_LINES = 12
RESULT_CHARS = 1_200


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):  # Messages API content blocks
        parts = []
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
            else:
                parts.append(json.dumps(block, ensure_ascii=False, default=str))
        text = "\n".join(parts)
    else:
        text = json.dumps(content, ensure_ascii=False, default=str)
    lines = text.splitlines()
    shown = "\n".join(lines[:RESULT_LINES])
    if len(shown) > RESULT_CHARS:
        shown = shown[:RESULT_CHARS] + "…"
    more = len(lines) - RESULT_LINES
    if more > 0:
        shown += f"\n… {more:,} more lines"
    return shown


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in (text.splitlines() or [""]))


def transcript_lines(entries: Any, *, results: bool = True) -> list[str]:
    """A transcript laid out for reading, one block per entry (blocks may span lines).

    ``assistant:`` the model's text, ``→`` a tool call with its whole input, ``←`` its result
    (cut to a dozen lines), ``?`` a permission decision, ``·`` a note. Not sanitised.
    """
    out: list[str] = []
    for e in entries or ():
        if not isinstance(e, dict):
            continue
        kind = e.get("kind")
        if kind == "text":
            out.append("assistant: " + str(e.get("text", "")))
        elif kind == "tool_use":
            tool = str(e.get("tool", "?"))
            tool_input = e.get("input")
            line = f"  → {call_text(tool, tool_input, limit=10_000)}"
            rest = (
                {k: v for k, v in tool_input.items() if v != _primary(tool_input)}
                if isinstance(tool_input, dict)
                else tool_input
            )
            if rest and _primary(tool_input) is not None:
                line += " " + json.dumps(rest, ensure_ascii=False, default=str)
            out.append(line)
        elif kind == "tool_result":
            if not results:
                continue
            mark = "  ← error: " if e.get("is_error") else "  ← "
            body = _result_text(e.get("content"))
            first, _, rest_lines = body.partition("\n")
            block = mark + first
            if rest_lines:
                block += "\n" + _indent(rest_lines, "    ")
            out.append(block)
        elif kind == "permission":
            tool = str(e.get("tool", "?"))
            answer = e.get("answer")
            shown = {
                "once": "allowed once by you",
                "run": "allowed for this run by you",
                "deny": "denied by you",
            }.get(str(answer))
            if shown is None:
                shown = {
                    "allow": "allowed",
                    "deny": "denied",
                    "ask": "needed your answer; nobody could give it, so denied",
                }.get(str(e.get("behavior")), str(e.get("behavior", "")))
                if isinstance(answer, str) and answer:  # the worker's note: "nobody to ask"
                    shown += f" ({answer})"
            line = f"  ? {tool}: {shown}"
            if e.get("rule"):
                line += f" (rule {e['rule']})"
            out.append(line)
        else:
            out.append(f"  · {e.get('text', '')}")
    return out
