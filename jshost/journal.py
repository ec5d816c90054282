"""Cache keys and replay decisions for resuming a run (reference §5.2–5.3).

Every ``agent()`` call gets a key chained from the previous call's key, its prompt and the
options that shape its result. On resume the script runs again from the top; a call whose key
has a stored result gets that result at once, without a worker. The first call that failed
(or never started) runs live and turns the cache off for everything after it, because its
new result may change what later calls would have been given. A call that was still running
when the run stopped runs live without turning the cache off: stopping is not failing.

Pure code: the store supplies what it knows, the engine asks :meth:`Replay.decide`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, Literal

from ._data import Frozen, Record, set_field
from .records import Stored

__all__ = [
    "KEY_OPTIONS",
    "Decision",
    "JournalEntry",
    "Recorder",
    "Replay",
    "cache_key",
    "canonical_options",
]

#: the ``agent()`` options that shape a result, and so belong in its key (not label, phase,
#: stallMs: renaming a label must not cost a rerun). The reference's 7-field form: an option a
#: call does not give is left out, so the keys of calls without the last two are those of
#: the 5-field form, and runs stored before them resume from their cache.
KEY_OPTIONS = (
    "schema",
    "model",
    "effort",
    "isolation",
    "agentType",
    "disallowedTools",
    "bashCommandClamp",
)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value) if k != "__proto__"}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


#: built once: ``json.dumps`` with arguments builds an encoder per call (issue 22: every
#: ``agent()`` call computes a key)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


#: the key options a call's ``opts`` may hold (its schema comes apart)
_KEYED = frozenset(KEY_OPTIONS) - {"schema"}


def canonical_options(opts: dict[str, Any], schema: Any = None) -> str:
    """``JSON.stringify`` of the key options with object keys sorted at every level."""
    # One pass over the (few) options the call gave, not a look-up of each key option: the
    # keys are sorted below, so the order they are picked in does not matter.
    picked = {k: v for k, v in opts.items() if k in _KEYED and v is not None}
    if schema is not None:
        picked["schema"] = schema
    if not picked:  # most calls give none of them
        return "{}"
    return _COMPACT.encode(_sorted(picked))


def cache_key(previous: str, prompt: str, opts: dict[str, Any], schema: Any = None) -> str:
    """``"v2:" + sha256(previous + "\\0" + prompt + "\\0" + canonicalOpts)``.

    The chain starts at ``""`` and advances in ``agent()`` call order.
    """
    text = f"{previous}\0{prompt}\0{canonical_options(opts, schema)}"
    return "v2:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


EntryType = Literal["started", "result", "failed"]


class JournalEntry(Frozen):
    """One line of a run's journal, as in Claude Code's ``journal.jsonl``."""

    type: EntryType
    key: str
    agent: int
    result: Any = None

    _fields = ("type", "key", "agent", "result")

    def __init__(self, type: EntryType, key: str, agent: int, result: Any = None) -> None:
        # Written to the instance's dict at once (frozen: no __setattr__); two a link.
        fields = self.__dict__
        fields["type"] = type
        fields["key"] = key
        fields["agent"] = agent
        fields["result"] = result


class Decision(Frozen):
    """What to do with one call: ``hit`` → return ``value``; otherwise run the agent live."""

    hit: bool
    value: Any = None
    #: the call was running when the run stopped (it reruns, the cache stays on)
    interrupted: bool = False

    _fields = ("hit", "value", "interrupted")

    def __init__(self, hit: bool, value: Any = None, interrupted: bool = False) -> None:
        set_field(self, "hit", hit)
        set_field(self, "value", value)
        set_field(self, "interrupted", interrupted)


class Replay(Record):
    """The stored results of earlier sessions of a run, consulted in call order."""

    results: dict[str, Any]
    started: set[str]
    failed: set[str]
    disabled: bool = False
    #: key → (path, branch) of the worktree the latest session kept for that call, still there
    worktrees: dict[str, tuple[str, str]]

    _fields = ("results", "started", "failed", "disabled", "worktrees")

    def __init__(
        self,
        results: dict[str, Any] | None = None,
        started: set[str] | None = None,
        failed: set[str] | None = None,
        disabled: bool = False,
        worktrees: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.results = {} if results is None else results
        self.started = set() if started is None else started
        self.failed = set() if failed is None else failed
        self.disabled = disabled
        self.worktrees = {} if worktrees is None else worktrees

    @classmethod
    def from_entries(cls, entries: Iterable[JournalEntry]) -> Replay:
        replay = cls()
        for e in entries:
            if e.type == "result":
                replay.results[e.key] = e.result
            elif e.type == "started":
                replay.started.add(e.key)
            else:
                replay.failed.add(e.key)
        return replay

    def __len__(self) -> int:
        return len(self.results)

    def decide(self, key: str) -> Decision:
        if not self.disabled and key in self.results:
            value = self.results[key]
            if isinstance(value, Stored):  # a large result, left in the store until now
                value = value.load()
            return Decision(hit=True, value=value)
        if key in self.started and key not in self.failed:
            return Decision(hit=False, interrupted=True)
        self.disabled = True
        return Decision(hit=False)


class Recorder:
    """Where the engine writes what happens during a run; this default keeps nothing.

    The engine calls :meth:`agent`, :meth:`entry` and :meth:`log` as things happen (they must
    be cheap), and :meth:`flush` before each batch of results reaches the script: when flush
    returns, everything recorded so far must be durable, except the rows of agents that are
    only queued or running, which may wait until :attr:`save_by` (they are for watchers).
    """

    def agent(self, rec: Any) -> None:
        """The agent record changed (queued, started, finished, cached, cancelled)."""

    def entry(self, entry: JournalEntry) -> None:
        """A journal entry: an agent started, produced a result, or failed."""

    def log(self, kind: str, text: str) -> None:
        """A ``log()`` line or a failure line (``kind`` is ``log`` or ``failure``)."""

    def paused(self, paused: bool) -> None:
        """The run was paused (no new agents start) or carries on."""

    @property
    def dirty(self) -> bool:
        """Whether anything is recorded that :meth:`flush` has not saved yet."""
        return False

    @property
    def save_by(self) -> float | None:
        """When (``time.monotonic()``) rows kept back for watchers are due; None: none are."""
        return None

    def flush(self) -> None:
        """Make everything recorded so far durable."""
