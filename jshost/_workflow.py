"""A workflow script checked and ready to run: ``Workflow``, ``load``, ``parse``.

Both go through the checks ``jshost validate`` runs; a script with errors never becomes a
``Workflow``, so nothing downstream (the pipeline in ``_api``, the runs in ``_runs``) spends
anything on it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, final

from .errors import ScriptError

if TYPE_CHECKING:
    from .script import Meta, Report, Script

__all__ = ["Workflow", "load", "parse"]

# ---- a workflow ---------------------------------------------------------------------------------


@final
class Workflow:
    """A checked workflow script, ready to run. Made by :func:`load` or :func:`parse`.

    Attributes:
        name (str): ``meta.name``.
        meta (Meta): the script's ``export const meta``.
        source (str): the script's text.
        sha256 (str): the hex digest of ``source`` (what an approval and a resume compare).
        path (str | None): the file it was read from, or the ``name`` given to :func:`parse`.
    """

    def __init__(self, script: Script, report: Report) -> None:
        self.script = script
        self._report = report

    @property
    def name(self) -> str:
        return self.script.meta.name

    @property
    def meta(self) -> Meta:
        return self.script.meta

    @property
    def source(self) -> str:
        return self.script.source

    @property
    def sha256(self) -> str:
        return self.script.sha256

    @property
    def path(self) -> str | None:
        return self.script.path

    def validate(self) -> Report:
        """What ``jshost validate`` reports for this script, as data.

        The report's ``diagnostics`` hold the warnings (a loaded workflow has no errors),
        ``fanout`` the agent estimate, and ``to_json()`` the object ``validate --json`` prints.
        """
        return self._report

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r} from {self.path or '<string>'}>"


def _checked(report: Report) -> Workflow:
    if report.errors or report.script is None:
        from .script.validate import format_text

        count = report.errors
        exc = ScriptError(
            f"not run: {count} error{'s' if count != 1 else ''} "
            "(nothing was spent; check with jshost validate)",
            path=report.path,
            detail="\n".join(format_text(report)),
        )
        exc.diagnostics = list(report.diagnostics)
        raise exc
    return Workflow(report.script, report)


def load(path: str | os.PathLike[str]) -> Workflow:
    """Read and check the workflow script at ``path``, as ``jshost run`` does before it runs.

    Raises:
        ScriptError: the file cannot be read (a ``ScriptLoadError``), or the script has errors;
            ``diagnostics`` lists them (the ``validate`` findings).
    """
    from .script.validate import validate_file

    return _checked(validate_file(path))


def parse(source: str, *, name: str | None = None) -> Workflow:
    """Check a workflow script held in a string; ``name`` is the path messages show.

    Raises:
        ScriptError: the script has errors; ``diagnostics`` lists them.
    """
    from .script.validate import validate_source

    return _checked(validate_source(source, path=name))


def _as_workflow(workflow: Workflow | str | os.PathLike[str]) -> Workflow:
    if isinstance(workflow, Workflow):
        return workflow
    if isinstance(workflow, (str, os.PathLike)):
        return load(workflow)
    raise TypeError(f"workflow must be a Workflow or a path, not {type(workflow).__name__}")
