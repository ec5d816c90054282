"""``jshost runs`` and ``jshost inspect``: read the run store, never write it."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from ..errors import JshostError
from ..text import encodable, json_text, printable
from .exits import EXIT_FAILED, EXIT_USAGE
from .plan import stored_spent

__all__ = ["inspect_cmd", "runs_cmd"]

_PREVIEW = 80


def _open_store() -> Any:
    from ..store import Store

    try:
        return Store(reading=True)
    except JshostError as exc:
        click.echo(f"jshost: {printable(str(exc))}", err=True)
        sys.exit(EXIT_USAGE)


def _say(text: str = "", *, multiline: bool = False) -> None:
    """A line of a human view: stored text in it is shown, never obeyed. One value stays on
    one line unless ``multiline`` (a prompt, a result, an error message)."""
    click.echo(printable(text, multiline=multiline))


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _seconds(s: float | None) -> str:
    from ..ui.summary import format_seconds

    return "-" if s is None else format_seconds(s)


def _preview(value: Any, limit: int = _PREVIEW) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=True, indent=2))


def _table(rows: list[list[str]], header: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 10_000  # piped: whole lines, for grep
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        # Cells are data: never markup, and nothing in them reaches the terminal live.
        table.add_row(*(Text(printable(cell)) for cell in row))
    console.print(table)


@click.command(name="runs")
@click.option("--json", "json_", is_flag=True, help="Print the runs as a JSON array.")
@click.option(
    "--limit", "-n", type=click.IntRange(1), default=50, show_default=True, help="Runs shown."
)
def runs_cmd(json_: bool, limit: int) -> None:
    """List stored runs, newest first.

    \b
    Example usage:
      jshost runs
      jshost runs --json -n 5
    """
    with _open_store() as store:
        try:
            runs = store.list_runs(limit=limit)
        except JshostError as exc:
            click.echo(f"jshost: {printable(str(exc))}", err=True)
            sys.exit(EXIT_USAGE)
        location = store.path
    if json_:
        _echo_json([r.to_json() for r in runs])
        return
    if not runs:
        click.echo(f"no runs yet (store: {location}); start one with `jshost run SCRIPT`")
        return
    rows = [
        [
            r.id,
            r.name,
            r.shown_status,
            _agents_cell(r),
            _tokens_cell(r),
            _seconds(r.elapsed) if r.finished_at else "-",
            _when(r.created_at),
        ]
        for r in runs
    ]
    _table(rows, ["ID", "NAME", "STATUS", "AGENTS", "TOKENS IN/OUT", "ELAPSED", "STARTED"])


def _agents_cell(r: Any) -> str:
    # Totals over every session (what was paid for), then the latest session's part.
    if r.sessions > 1:
        return f"{r.total_agents:,} (last {r.session_agents:,})"
    return f"{r.total_agents:,}"


def _tokens_cell(r: Any) -> str:
    total = f"{r.total_tokens_in:,}/{r.total_tokens_out:,}"
    if r.sessions > 1:
        return f"{total} (last {r.tokens_in:,}/{r.tokens_out:,})"
    return total


@click.command(name="inspect")
@click.argument("run_id", metavar="RUN_ID")
@click.option("--json", "json_", is_flag=True, help="Print everything stored as JSON.")
@click.option("--agent", "agent_index", type=int, metavar="N", help="Show agent #N in full.")
@click.option(
    "--journal",
    is_flag=True,
    help="Print the run's journal as JSON lines, like Claude Code's journal.jsonl.",
)
@click.option("--result", "result_only", is_flag=True, help="Print only the run's whole result.")
def inspect_cmd(
    run_id: str, json_: bool, agent_index: int | None, journal: bool, result_only: bool
) -> None:
    """Show one stored run: meta, phases, agents, failures, logs and result.

    RUN_ID may be a unique prefix of the id.

    \b
    Example usage:
      jshost inspect wf_3f2a9c01b7de
      jshost inspect wf_3f2a --agent 4
      jshost inspect wf_3f2a --journal > journal.jsonl
      jshost inspect wf_3f2a --result > result.json
    """
    with _open_store() as store:
        try:
            run = store.get_run(run_id)
            if journal:
                for e in store.journal(run.id):
                    line: dict[str, Any] = {
                        "type": e.type,
                        "key": e.key,
                        "agentId": f"{run.id}-{e.agent}",
                    }
                    if e.type == "result":
                        line["result"] = e.result
                    click.echo(json_text(json.dumps(line, ensure_ascii=False)))
                return
            agents = store.agents(run.id)
            logs = store.logs(run.id)
            estimate = store.estimate(run.id)
        except JshostError as exc:
            click.echo(f"jshost: {printable(str(exc))}", err=True)
            sys.exit(EXIT_USAGE)
    if result_only:
        if run.status != "completed":
            click.echo(f"jshost: run {run.id} has no result: it is {run.shown_status}", err=True)
            sys.exit(EXIT_FAILED)
        if isinstance(run.result, str) and not json_:
            # Exact to a pipe or a file; on a terminal, shown without anything live in it.
            if sys.stdout.isatty():
                click.echo(printable(run.result, multiline=True))
            else:
                click.echo(encodable(run.result), color=True)  # no colour codes stripped
        else:
            click.echo(json_text(json.dumps(run.result, ensure_ascii=False, indent=2)))
        return
    if agent_index is not None:
        match = [a for a in agents if a.index == agent_index]
        if not match:
            click.echo(
                f"jshost: run {run.id} has no agent #{agent_index} "
                f"(it has {len(agents)} in its latest session)",
                err=True,
            )
            sys.exit(EXIT_USAGE)
        _show_agent(match[0], json_)
        return
    if json_:
        out = run.to_json(full=True)
        out["counts"] = out.pop("agents")
        out["agents"] = [a.to_json() for a in agents]
        out["kept_worktrees"] = [
            {"agent": a.index, "path": a.worktree_path, "branch": a.worktree_branch}
            for a in agents
            if a.worktree_path is not None
        ]
        out["failures"] = [text for kind, text in logs if kind == "failure"]
        out["logs"] = [text for kind, text in logs if kind == "log"]
        out.update(stored_spent(run, agents, estimate)[1])
        _echo_json(out)
        return
    _show_run(run, agents, logs, stored_spent(run, agents, estimate)[0])


def _show_agent(agent: Any, json_: bool) -> None:
    if json_:
        _echo_json(agent.to_json())
        return
    _say(f"agent #{agent.index} [{agent.label}] {agent.status}")
    used = f" ({agent.model_used})" if agent.model_used and agent.model_used != agent.model else ""
    _say(f"  phase {agent.phase or '-'} · model {agent.model or '-'}{used}")
    cache = ""
    if agent.cache_read or agent.cache_write:
        cache = f" (+ {agent.cache_read:,} cache read, {agent.cache_write:,} cache write)"
    _say(
        f"  tokens {agent.tokens_in:,} in{cache} / {agent.tokens_out:,} out · "
        f"attempts {agent.attempts} · elapsed {_seconds(agent.elapsed)}"
    )
    _say(f"  key {agent.key}")
    if agent.options:
        _say(f"  options {json_text(json.dumps(agent.options, ensure_ascii=False))}")
    if agent.worktree_path is not None:
        _say(f"  worktree {agent.worktree_path} ({agent.worktree_branch}) — review and merge")
    _say("prompt:")
    _say(agent.prompt, multiline=True)
    if agent.error:
        _say("error:")
        _say(agent.error, multiline=True)
    _say("result:")
    if isinstance(agent.result, str):
        _say(agent.result, multiline=True)
    else:
        _say(json.dumps(agent.result, ensure_ascii=False, indent=2), multiline=True)
    _show_transcript(agent)


def _show_transcript(agent: Any) -> None:
    """The agent's turns, tool calls and permission decisions, for people (stored text:
    shown, never obeyed)."""
    from ..transcripts import call_text, transcript_lines

    if agent.transcript:
        calls = sum(1 for e in agent.transcript if e.get("kind") == "tool_use")
        _say(f"transcript ({calls} tool call{'' if calls == 1 else 's'}):")
        for block in transcript_lines(agent.transcript):
            _say(block, multiline=True)
    elif agent.last_tool is not None:
        # Running, or ended before its worker handed back a transcript: the latest call.
        last = agent.last_tool
        call = call_text(str(last.get("tool")), last.get("input"))
        _say(f"latest tool call: {call} ({last.get('status')}) {last.get('summary') or ''}")


def _show_run(run: Any, agents: list[Any], logs: list[tuple[str, str]], usage: list[str]) -> None:
    _say(f"{run.id}  {run.name} — {run.meta.get('description', '')}")
    _say(
        f"status {run.shown_status} · sessions {run.sessions} · started {_when(run.created_at)}"
        f" · elapsed {_seconds(run.elapsed) if run.finished_at else '-'}"
    )
    _say(f"script {run.path or '(no file)'} · sha256 {run.sha256[:16]}…")
    caps = run.caps
    budget = f"{caps['budget']:,} output tokens" if caps.get("budget") else "none"
    _say(
        f"worker {run.worker} · model {run.model or '-'} · concurrency {caps.get('concurrency')}"
        f" · max agents {caps.get('max_agents')} · budget {budget}"
    )
    if run.has_args:
        _say(f"args {_preview(run.args, 200)}")
    counts: dict[str, int] = {}
    for a in agents:
        counts[a.status] = counts.get(a.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
    this = " (this session)" if run.sessions > 1 else ""
    _say(
        f"agents {len(agents)}{this}: {summary} · tokens "
        f"{sum(a.tokens_in for a in agents):,} in / {sum(a.tokens_out for a in agents):,} out"
    )
    if run.sessions > 1:
        _say(
            f"all {run.sessions} sessions: {run.total_agents:,} agents started · tokens "
            f"{run.total_tokens_in:,} in / {run.total_tokens_out:,} out"
        )

    declared = [p.get("title") for p in run.meta.get("phases", []) if isinstance(p, dict)]
    phases: dict[str, list[Any]] = {title: [] for title in declared if isinstance(title, str)}
    for a in agents:
        phases.setdefault(a.phase or "(no phase)", []).append(a)
    if phases:
        _say("\nphases", multiline=True)
        rows = []
        for title, members in phases.items():
            by: dict[str, int] = {}
            for a in members:
                by[a.status] = by.get(a.status, 0) + 1
            states = ", ".join(f"{n} {s}" for s, n in sorted(by.items())) or "-"
            tokens = f"{sum(a.tokens_in for a in members):,}/{sum(a.tokens_out for a in members):,}"
            rows.append(["  " + title, str(len(members)), states, tokens])
        _table(rows, ["  PHASE", "AGENTS", "STATES", "TOKENS IN/OUT"])
    if usage:
        _say()
        for line in usage:
            _say(line)
    if agents:
        _say("\nagents", multiline=True)
        rows = [
            [
                f"  #{a.index}",
                a.status,
                a.label,
                f"{a.tokens_in:,}/{a.tokens_out:,}",
                _preview(a.error) if a.error else ("" if a.result is None else _preview(a.result)),
            ]
            for a in agents
        ]
        _table(rows, ["  #", "STATUS", "LABEL", "TOKENS", "RESULT / ERROR"])
    kept = [a for a in agents if a.worktree_path is not None]
    if kept:
        _say("\nkept worktrees (review and merge)", multiline=True)
        for a in kept:
            _say(f"  #{a.index} {a.worktree_path} ({a.worktree_branch}) [{a.label}]")
    failures = [text for kind, text in logs if kind == "failure"]
    if failures:
        _say("\nfailures", multiline=True)
        for text in failures:
            _say(f"  {text}")
    lines = [text for kind, text in logs if kind == "log"]
    if lines:
        _say("\nlogs", multiline=True)
        for text in lines:
            _say(f"  {text}")
    if run.dropped_logs:
        _say(f"  … {run.dropped_logs:,} more log lines were not stored")
    if run.error:
        e = run.error
        where = ":".join(str(x) for x in (e.get("path"), e.get("line"), e.get("column")) if x)
        _say()
        _say(
            f"error {where + ': ' if where else ''}{e.get('name')}: {e.get('message')}",
            multiline=True,
        )
    if run.status == "completed":
        _say("\nresult", multiline=True)
        if isinstance(run.result, str):
            _say(run.result, multiline=True)
        else:
            _say(json.dumps(run.result, ensure_ascii=False, indent=2), multiline=True)
    elif run.shown_status != "running":
        _say(f"\nresume with: jshost resume {run.id}", multiline=True)
