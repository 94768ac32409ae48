"""The ids of the request being handled, for log lines (set where a turn or click starts)."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("hexabot_request_id", default="")
session_id: ContextVar[str] = ContextVar("hexabot_session_id", default="")
