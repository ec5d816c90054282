"""Model workers behind one small async protocol (see ``base``)."""

from __future__ import annotations

from .base import AgentRejectedError, AgentRequest, AgentResult, Usage, Worker

__all__ = ["AgentRejectedError", "AgentRequest", "AgentResult", "Usage", "Worker"]
