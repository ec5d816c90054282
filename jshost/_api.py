"""The pipeline, once: load → check → open the run in a store → engine → worker → record.

Everything that runs a workflow goes through here: the public functions (``jshost.load``,
``parse``, ``run``, ``arun``, ``start``, ``resume``), the command line (``cli``), the
benchmarks and the tests. The CLI adds only what belongs to a terminal on top (the review, the
progress views, signals); it has no way into the engine that this module does not offer.

This module holds the pipeline's middle (:func:`prepare`, :class:`Prepared`); the checked
script is ``_workflow``'s, the public runs on top of the pipeline are ``_runs``'.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

from . import events as ev
from ._data import Frozen, replace, set_field
from ._workflow import Workflow, load, parse
from .errors import JshostError, UsageError
from .records import RunOutcome
from .tools import DEFAULT_MAX_TURNS
from .workers.base import Worker

if TYPE_CHECKING:
    from .engine import Engine, Limits
    from .journal import Recorder, Replay
    from .permissions.decision import Asker
    from .store import Store
    from .tools.mcp_config import ApprovalStore, McpServerConfig
    from .tools.toolbox import Toolbox

__all__ = [
    "Prepared",
    "ToolOptions",
    "Workflow",
    "build_toolbox",
    "load",
    "parse",
    "prepare",
    "resolve_worker",
]

# ---- the pipeline -------------------------------------------------------------------------------


def resolve_worker(
    worker: Worker | str | Callable[..., Any] | None, *, model: str | None = None
) -> Worker:
    """A worker from what a caller passed: a Worker, a registered name, or a function.

    None picks as the CLI does: ``anthropic`` when ``ANTHROPIC_API_KEY`` is set, else ``sim``.

    Raises:
        UsageError: an unknown worker name, a missing API key, an unknown model.
    """
    from .workers.registry import WorkerSettings, choose_worker, make_worker

    if isinstance(worker, Worker):
        return worker
    if worker is None or isinstance(worker, str):
        name, _ = choose_worker(worker)
        return make_worker(name, WorkerSettings(model=model))
    if callable(worker):
        from .workers.function import worker_from

        return worker_from(worker)
    raise TypeError(f"worker must be a Worker, a name or a function, not {type(worker).__name__}")


# ---- what agents may do -------------------------------------------------------------------------


@final
class ToolOptions(Frozen):
    """What a run's agents may do on this machine (docs/tools.md); the defaults are Claude
    Code's: tools on, read-only tools allowed inside the workspace, nothing else without a rule.

    Attributes:
        enabled (bool): False: agents get no tools at all (``--no-tools``).
        workspace (str | PathLike | None): where agents act; None: the current directory.
        allowed_tools (Sequence[str]): allow rules, as ``--allowed-tools`` takes them
            (``"Bash(git log:*)"``, ``"Edit"``, ``"Read(./src/**)"``).
        disallowed_tools (Sequence[str]): deny rules (``--disallowed-tools``).
        permission_mode (str | None): ``default``, ``acceptEdits``, ``plan`` or ``dontAsk``;
            None: the settings' ``defaultMode``, else ``default``.
        mcp_config (Sequence[str | PathLike]): MCP server files (``--mcp-config``): their
            servers start without asking, as the user named them.
        max_turns (int): model requests an agent may make (``--max-turns``).
        asker (Asker | None): who answers calls the rules say to ask about (the interactive
            view); None: ``ask`` means deny.
        home (str | PathLike | None): the user's home, for ``~/.claude/settings.json``
            (tests); None: the real one.
        mcp_approvals (ApprovalStore | None): where "don't ask again" approvals of a
            project's ``.mcp.json`` are kept (the CLI passes its ``Store``); None: none are.
        mcp_approved (Sequence[str]): project ``.mcp.json`` files (resolved paths) approved for
            this run only. Servers of a project file approved neither way are left out.
        mcp_servers (Sequence[McpServerConfig] | None): exactly the servers to start, already
            approved (the CLI's confirmation settles them); None: from the files, as above.
        settings_approved (Sequence[str]): the workspace's ``.claude/settings*.json`` files
            (resolved paths) whose grants (allow rules, ``defaultMode: acceptEdits``,
            ``additionalDirectories``) are approved for this run. A project file approved
            neither so nor for good (in ``mcp_approvals``, the store's approvals) keeps only
            its ask and deny rules: it may have come with a cloned repository.
    """

    enabled: bool = True
    workspace: str | os.PathLike[str] | None = None
    allowed_tools: Sequence[str] = ()
    disallowed_tools: Sequence[str] = ()
    permission_mode: str | None = None
    mcp_config: Sequence[str | os.PathLike[str]] = ()
    max_turns: int = DEFAULT_MAX_TURNS
    asker: Asker | None = None
    home: str | os.PathLike[str] | None = None
    mcp_approvals: ApprovalStore | None = None
    mcp_approved: Sequence[str] = ()
    mcp_servers: Sequence[McpServerConfig] | None = None
    settings_approved: Sequence[str] = ()

    _fields = (
        "enabled",
        "workspace",
        "allowed_tools",
        "disallowed_tools",
        "permission_mode",
        "mcp_config",
        "max_turns",
        "asker",
        "home",
        "mcp_approvals",
        "mcp_approved",
        "mcp_servers",
        "settings_approved",
    )

    def __init__(
        self,
        enabled: bool = True,
        workspace: str | os.PathLike[str] | None = None,
        allowed_tools: Sequence[str] = (),
        disallowed_tools: Sequence[str] = (),
        permission_mode: str | None = None,
        mcp_config: Sequence[str | os.PathLike[str]] = (),
        max_turns: int = DEFAULT_MAX_TURNS,
        asker: Asker | None = None,
        home: str | os.PathLike[str] | None = None,
        mcp_approvals: ApprovalStore | None = None,
        mcp_approved: Sequence[str] = (),
        mcp_servers: Sequence[McpServerConfig] | None = None,
        settings_approved: Sequence[str] = (),
    ) -> None:
        set_field(self, "enabled", enabled)
        set_field(self, "workspace", workspace)
        set_field(self, "allowed_tools", allowed_tools)
        set_field(self, "disallowed_tools", disallowed_tools)
        set_field(self, "permission_mode", permission_mode)
        set_field(self, "mcp_config", mcp_config)
        set_field(self, "max_turns", max_turns)
        set_field(self, "asker", asker)
        set_field(self, "home", home)
        set_field(self, "mcp_approvals", mcp_approvals)
        set_field(self, "mcp_approved", mcp_approved)
        set_field(self, "mcp_servers", mcp_servers)
        set_field(self, "settings_approved", settings_approved)


def _workspace_root(given: str | os.PathLike[str] | None) -> Path:
    text = os.fspath(given) if given is not None else os.getcwd()
    path = Path(text).expanduser()
    try:
        root = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UsageError(f"--workspace: no such directory: {text!r}") from None
    if not root.is_dir():
        raise UsageError(f"--workspace: not a directory: {text!r}")
    return root


def build_toolbox(options: ToolOptions | None, worker: Worker) -> Toolbox | None:
    """The run's toolbox, or None when its agents get no tools (turned off, or a worker that
    cannot use them).

    Raises:
        UsageError: a workspace that is not a directory, a rule that does not parse (naming
            the option and the rule), an unknown permission mode, an MCP file that cannot be
            used, a turn cap below 1.
    """
    options = options or ToolOptions()
    if not options.enabled or not worker.supports_tools:
        return None
    from .permissions import PolicyError, RuleError, SettingsError, load_settings
    from .tools.base import Workspace
    from .tools.builtin import builtin_tools
    from .tools.toolbox import Toolbox

    if options.max_turns < 1:
        raise UsageError(f"--max-turns must be at least 1, not {options.max_turns}")
    root = _workspace_root(options.workspace)
    home = Path(options.home).resolve() if options.home is not None else None
    try:
        settings = load_settings(root, home)
        settings, notes = _approved_settings(settings, options)
        policy = _policy(settings, options, home)
    except (RuleError, PolicyError, SettingsError) as exc:
        raise UsageError(str(exc)) from None
    from .worktree_paths import hidden_worktrees

    workspace = Workspace(
        root=root,
        extra_dirs=tuple(settings.additional_directories),
        # Glob and Grep never walk into isolated agents' worktrees from the main checkout.
        hidden=hidden_worktrees(root, root),
    )
    hub, mcp_notes = _mcp_hub(options, root)
    notes += mcp_notes
    return Toolbox(
        builtin_tools(),
        policy,
        workspace,
        home=home,
        asker=options.asker,
        mcp=hub,
        max_turns=options.max_turns,
        notes=notes,
    )


def _approved_settings(settings: Any, options: ToolOptions) -> tuple[Any, list[str]]:
    """The settings with the grants of unapproved project files left out, and a line for
    each such file."""
    store = options.mcp_approvals
    approved = {str(Path(p).resolve()) for p in options.settings_approved}

    def is_approved(f: Any) -> bool:
        if str(f.path.resolve()) in approved:
            return True
        return store is not None and store.is_approved(f.approval_key, f.sha256)

    pending = settings.unapproved(is_approved)
    return settings.leave_out_grants(pending), [settings_left_out(f) for f in pending]


def settings_left_out(file: Any) -> str:
    """The line said when a project settings file's grants are left out."""
    from .text import printable

    return printable(
        f"{file.path} grants {', '.join(file.grants())}; left out: a project's settings may "
        "come with a cloned repository, and these are not approved. Approve them by running "
        'without --yes on a terminal and choosing "don\'t ask again", or give the rules with '
        "--allowed-tools / --permission-mode"
    )


def _rules_without_tools(options: ToolOptions) -> Callable[[str], tuple[str, str] | None]:
    """For a run whose agents get no tools (a worker without them, or turned off): the
    options are still checked — a bad rule, mode or ``--mcp-config`` file is an error, not an
    option silently ignored — and ``Agent(<type>)`` deny rules still deny agent types.

    Raises:
        UsageError: as :func:`build_toolbox`.
    """
    from .permissions import SettingsError, load_settings

    root = _workspace_root(options.workspace)
    home = Path(options.home).resolve() if options.home is not None else None
    try:
        settings = load_settings(root, home)
    except SettingsError:
        settings = None  # its rules would only deny agent types: not worth failing a run for
    given = (
        options.allowed_tools,
        options.disallowed_tools,
        options.permission_mode,
        options.mcp_config,
    )
    if (settings is None or not settings.files) and not any(given):
        # Nothing to check and no rule to deny with: the policy's matchers and parsers are
        # milliseconds of every plain run's start-up (issue 22).
        return lambda name: None
    from .permissions import PolicyError, RuleError
    from .tools.mcp_config import McpConfigError, load_mcp_configs

    try:
        policy = _policy(settings, options, home)
        load_mcp_configs(root, [os.fspath(p) for p in options.mcp_config], project=False)
    except (RuleError, PolicyError, SettingsError, McpConfigError) as exc:
        raise UsageError(str(exc)) from None
    return _type_denial(policy)


def _policy(settings: Any, options: ToolOptions, home: Path | None) -> Any:
    """The run's permission policy: the settings files' rules under the command line's."""
    from .permissions import Policy

    return Policy.from_settings(
        settings,
        allowed=options.allowed_tools,
        disallowed=options.disallowed_tools,
        mode=options.permission_mode,
        home=home,
    )


def _type_denial(policy: Any) -> Callable[[str], tuple[str, str] | None]:
    """The engine's ``agent_type_denial``: ``(rule, source)`` of the rule denying a type."""

    def denial(name: str) -> tuple[str, str] | None:
        found = policy.agent_type_denial(name)
        return None if found is None else (found.rule or "", found.source or "")

    return denial


def _mcp_hub(options: ToolOptions, root: Path) -> tuple[Any, list[str]]:
    """The run's MCP servers: the workspace's ``.mcp.json`` when approved (for good in
    ``mcp_approvals``, or for this run in ``mcp_approved``), and every ``--mcp-config``; and a
    line for each project file left out."""
    from .tools.mcp_config import (
        McpConfigError,
        changed_since_approval,
        left_out_message,
        load_mcp_configs,
        pending_approval,
    )
    from .tools.mcp_servers import McpHub

    if options.mcp_servers is not None:
        servers = list(options.mcp_servers)
        return (McpHub(servers, cwd=root) if servers else None), []
    try:
        configs = load_mcp_configs(root, [os.fspath(p) for p in options.mcp_config])
        pending = pending_approval(configs, options.mcp_approvals)
        left_out = [f for f in pending if f.origin not in options.mcp_approved]
        servers = configs.servers(leave_out=left_out)
    except McpConfigError as exc:
        raise UsageError(str(exc)) from None
    notes = [
        left_out_message(f, changed=changed_since_approval(f, options.mcp_approvals))
        for f in left_out
    ]
    return (McpHub(servers, cwd=root) if servers else None), notes


def _caps(limits: Limits) -> dict[str, Any]:
    return {
        "concurrency": limits.concurrency,
        "max_agents": limits.max_agents,
        "budget": limits.budget,
        "timeout": limits.timeout,
        "cpu_limit": limits.sandbox.cpu_slice,
        "memory_limit": limits.sandbox.memory >> 20,
    }


class Prepared:
    """One run, opened in its store and ready to start: the pipeline's middle.

    :meth:`engine` builds the engine with an event sink, :meth:`serve` runs it with its worker
    open, :meth:`finish` records the end. Made by :func:`prepare`.
    """

    def __init__(
        self,
        workflow: Workflow,
        *,
        worker: Worker,
        limits: Limits,
        args: Any,
        model: str | None,
        recorder: Recorder | None,
        replay: Replay | None,
        toolbox: Toolbox | None = None,
        asker: Asker | None = None,
    ) -> None:
        self.workflow = workflow
        self.worker = worker
        #: what the agents may do (None: no tools); the worker opens it with the run
        self.toolbox = toolbox
        if worker.supports_tools:
            worker.toolbox = toolbox  # None too: a worker used again must not keep old tools
        self.limits = limits
        self.args = args
        self.model = model
        self.recorder = recorder
        self.replay = replay
        #: who answers the agents' permission questions (the interactive view); None: nobody,
        #: so ``ask`` means deny. A worker that asks itself (the sim's scripted tool calls)
        #: has an ``asker`` attribute, set here when it has none.
        self.asker = asker
        if asker is not None and getattr(worker, "asker", False) is None:
            worker.asker = asker  # type: ignore[attr-defined]
        self.run_id: str | None = getattr(recorder, "run_id", None)
        self._saved: list[Any] = []
        self._saved_lock = threading.Lock()
        #: where agent types are discovered from and isolated agents' worktrees are made (None:
        #: the current directory), and the user's home for ~/.claude/agents (None: the real one)
        self.workspace: Path | None = None
        self.home: Path | None = None
        #: the permission rules' say on an agent type: ``denial(name) -> (rule, source) | None``
        self.agent_type_denial: Callable[[str], tuple[str, str] | None] | None = None
        if toolbox is not None:
            # Agent types are found from the workspace, and Agent(<type>) rules deny types.
            self.workspace = toolbox.workspace.root
            self.home = toolbox.home
            self.agent_type_denial = _type_denial(toolbox.policy)

    def _saved_workflows(self) -> list[Any]:
        # Discovered once per run, not per workflow('name') call: a script that misses in a
        # loop must not re-read every saved file each time.
        from .library import discover

        with self._saved_lock:
            if not self._saved:
                self._saved.append(discover()[0])
            return self._saved[0]

    def _resolve_workflow(self, name: str) -> Path | None:
        from .library import find_workflow

        found = find_workflow(name, workflows=self._saved_workflows())
        return None if found is None else found.path

    def _agent_types(self) -> Any:
        # Called once a run by the engine, in a worker thread, at the first agentType.
        from .agent_types import discover_agent_types

        return discover_agent_types(self.workspace, home=self.home)

    def engine(self, sink: ev.Sink | None = None) -> Engine:
        """The engine for this run, publishing its events to ``sink``."""
        from .engine import Engine
        from .settings import ModelPolicy

        return Engine(
            self.workflow.script,
            worker=self.worker,
            limits=self.limits,
            args=self.args,
            sink=sink,
            model=self.model,
            recorder=self.recorder,
            replay=self.replay,
            model_policy=ModelPolicy.from_env(),
            resolve_workflow=self._resolve_workflow,
            workflow_names=lambda: [wf.name for wf in self._saved_workflows()],
            agent_types=self._agent_types,
            agent_type_denial=self.agent_type_denial,
            workspace=self.workspace,
        )

    async def serve(self, engine: Engine) -> RunOutcome:
        """Run ``engine`` in the current trio run, its worker open for the run's length."""
        entered = False
        try:
            async with self.worker:  # its connections close with the run
                entered = True
                return await engine.run()
        except BaseException as exc:
            # The worker did not open (an MCP server that did not start): nothing ran, and the
            # run is recorded as failed with the reason, not left to look interrupted.
            if not entered:
                self.failed_to_start(exc)
            raise

    def failed_to_start(self, exc: BaseException) -> None:
        """Record a run whose worker did not open (an MCP server that did not start) as
        failed with the reason, when ``exc`` is a ``JshostError``: nothing ran, and the run
        must not be left to look interrupted. (The interactive view's engine thread opens the
        worker itself: the command line calls this when that failed.)"""
        found = exc
        while isinstance(found, BaseExceptionGroup) and len(found.exceptions) == 1:
            found = found.exceptions[0]
        if isinstance(found, JshostError):
            from .errors import WorkflowError

            error = WorkflowError(str(found), name=type(found).__name__)
            self.finish(RunOutcome("failed", None, error, [], [], [], [], 0.0, 0))

    def finish(self, outcome: RunOutcome) -> str | None:
        """Record the run's end; the store's complaint when it could not (the run still ended)."""
        if self.recorder is None:
            return None
        try:
            self.recorder.finish(outcome)  # type: ignore[attr-defined]
        except JshostError as exc:
            return str(exc)
        return None


def prepare(
    workflow: Workflow,
    *,
    worker: Worker,
    limits: Limits,
    args: Any,
    model: str | None = None,
    store: Store | None = None,
    resume_id: str | None = None,
    tools: ToolOptions | None = None,
    asker: Asker | None = None,
) -> Prepared:
    """Open a run of ``workflow`` in ``store`` (a new one, or ``resume_id`` replayed).

    Without a store nothing is recorded and the run cannot be resumed. ``tools`` says what
    the agents may do (the defaults when None); the workspace, rules and MCP servers are not
    part of an agent's cache key, so a resumed run does not re-run cached agents for them.
    ``asker`` answers the agents' permission questions (the interactive view's prompt;
    ``tools.asker`` wins when both are given); without one, ask means deny.

    Raises:
        StoreError: the store cannot record the run; ``resume_id`` is unknown or not resumable.
        UsageError: ``tools`` cannot be used (see :func:`build_toolbox`).
    """
    from .engine import NO_ARGS

    if asker is not None and (tools is None or tools.asker is None):
        tools = replace(tools or ToolOptions(), asker=asker)
    toolbox = build_toolbox(tools, worker)  # before the store: a bad rule opens no run
    if hasattr(worker, "tools_off"):  # a worker whose tools are its own (claude-code)
        worker.tools_off = tools is not None and not tools.enabled
    denial = None if toolbox is not None else _rules_without_tools(tools or ToolOptions())

    recorder = replay = None
    if store is not None:
        args_json = None if args is NO_ARGS else json.dumps(args, ensure_ascii=True)
        path = workflow.path
        script = {
            "script": workflow.source,
            "sha256": workflow.sha256,
            "path": None if path is None else str(Path(path).resolve()),
            "name": workflow.name,
            "meta": workflow.meta.raw,
            "args_json": args_json,
        }
        kw = {"caps": _caps(limits), "worker": worker.name, "model": model, **script}
        if resume_id is None:
            recorder = store.begin_run(**kw)
        else:
            recorder, replay = store.resume_run(resume_id, **kw)
    prepared = Prepared(
        workflow,
        worker=worker,
        limits=limits,
        args=args,
        model=model,
        recorder=recorder,
        replay=replay,
        toolbox=toolbox,
        asker=asker,
    )
    if toolbox is None:
        prepared.agent_type_denial = denial
        if tools is not None and tools.workspace is not None:
            # No tools, but agent types and worktrees still come from the workspace given.
            prepared.workspace = _workspace_root(tools.workspace)
    return prepared
