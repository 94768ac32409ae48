"""What goes into a chat turn and what comes out of it — the same for Slack, CLI and API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from tools.registry import private_answer


@dataclass(frozen=True)
class Ask:
    """One user message.  Identity is resolved from ``slack_id`` by the caller, never from text."""
    slack_id: str
    text: str
    session_id: str                      # dm:U… or thread:C…:ts:U…
    workspace: str | None = None
    namespace: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    reads_only: bool = False  # a re-ask to show a whole answer: no change is proposed from it


@dataclass(frozen=True)
class Proposal:
    id: str
    tool: str
    args: dict[str, Any]
    summary: str
    risk: str
    cost_delta: float | None = None
    diff: str = ""


@dataclass(frozen=True)
class ToolCall:
    tool: str
    args: dict[str, Any]
    ok: bool
    text: str = ""
    # Whether what it returned is private; None: the tool's spec says (registry.private_answer).
    # Set by whoever knows better, e.g. a workflow run whose steps read private output.
    private: bool | None = None


@dataclass(frozen=True)
class Attachment:
    """A file that goes with an answer (a PNG chart): uploaded beside the reply in Slack."""
    filename: str
    title: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Reply:
    text: str
    mode: Literal["llm", "command"]
    proposals: tuple[Proposal, ...] = ()
    tools_called: tuple[ToolCall, ...] = ()
    provider: str = ""
    attachments: tuple[Attachment, ...] = ()
    suggestions: tuple[str, ...] = ()  # what to type next, from this answer
    verdict: str = ""                  # the answer in one line (also the text's first line)
    facts: tuple[tuple[str, str], ...] = ()  # what the verdict rests on, as (label, value)
    kubectl: tuple[str, ...] = ()      # the same reads as kubectl commands (do it yourself)
    @property
    def private(self) -> bool:
        """The answer carries private output (a tool whose spec says so was called): in a
        shared place it goes only to the asker — the one rule, ``registry.private_answer``."""
        return any(private_answer(c.tool) if c.private is None else c.private
                   for c in self.tools_called)

    def as_json(self) -> dict[str, Any]:
        return {"reply": self.text, "mode": self.mode,
                "proposals": [{"id": p.id, "tool": p.tool, "args": p.args,
                               "summary": p.summary} for p in self.proposals],
                "tools_called": [{"tool": c.tool, "args": c.args, "ok": c.ok}
                                 for c in self.tools_called],
                "suggestions": list(self.suggestions), "verdict": self.verdict,
                "facts": [{"label": label, "value": value} for label, value in self.facts],
                "kubectl": list(self.kubectl)}
