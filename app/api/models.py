"""The chat API's request and response bodies (pydantic; unknown fields are refused)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_MESSAGE_BYTES = 8 * 1024


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatRequest(Strict):
    message: str = Field(min_length=1, description="what the person asks (at most 8 KB)")
    session_id: str | None = Field(default=None, pattern=r"^api:[0-9a-f]{32}$",
                                   description="continue a session; omit to start one")

    @field_validator("message")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
            raise ValueError("contains control characters")
        if not value.strip():
            raise ValueError("is blank")
        return value


class ProposalOut(Strict):
    id: str
    tool: str
    summary: str
    risk: str
    cost_delta: float | None = None


class ToolCallOut(Strict):
    tool: str
    args: dict[str, Any]
    ok: bool


class FactOut(Strict):
    label: str
    value: str


class ChatResponse(Strict):
    session_id: str
    reply: str
    mode: Literal["llm", "command"]
    proposals: list[ProposalOut]
    tools_called: list[ToolCallOut]
    verdict: str = Field(default="", description="the answer in one line (also the reply's "
                                                 "first line); empty when there is none")
    facts: list[FactOut] = Field(default_factory=list,
                                 description="what the verdict rests on")
    kubectl: list[str] = Field(default_factory=list,
                               description="the same reads as kubectl commands")


class Turn(Strict):
    role: Literal["user", "assistant"]
    content: str


class SessionOut(Strict):
    session_id: str
    turns: list[Turn]


class ActionOut(Strict):
    id: str
    tool: str
    state: str
    requester: str
    workspace: str
    namespace: str
    summary: str
    risk: str
    two_person: bool
    expires_at: str
    approver: str | None = None
    approvals_needed: int = 1        # approvals required (two_people: 2)
    approvals: list[str] = []        # who approved so far
    policy_rule: str | None = None   # the guardrail rule that set the approvals


class ActionsOut(Strict):
    actions: list[ActionOut]


class DecisionOut(Strict):
    ok: bool
    message: str
    action: ActionOut | None = None


class AuditOut(Strict):
    events: list[dict[str, Any]]


class ErrorBody(Strict):
    code: str = Field(description="bad_request, unauthorized, forbidden, not_found, "
                                  "method_not_allowed, too_large, unsupported_media_type, "
                                  "rate_limited, conflict")
    message: str
    field: str | None = None


class ErrorOut(Strict):
    error: ErrorBody
