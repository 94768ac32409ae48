"""The chat API's routes (FastAPI): the same agent, approvals and audit as Slack.

Errors have one shape, ``{"error": {"code", "message", "field"?}}``: 400 for bad input (naming
the field; unknown fields refused), 401 for tokens, 403 for what the subject may not have, 404
for anything not the caller's (another person's session or action is as good as missing), 413
for messages over 8 KB, 429 with Retry-After over the per-user rate; 503 when a dependency is
down and 500 for a bug, both naming the request id (:mod:`app.api.boundary`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from agents.types import Ask, Reply, ToolCall
from app.api import auth, boundary, gate
from app.api.models import (
    MAX_MESSAGE_BYTES,
    ActionOut,
    ActionsOut,
    AuditOut,
    ChatRequest,
    ChatResponse,
    DecisionOut,
    ErrorOut,
    FactOut,
    ProposalOut,
    SessionOut,
    ToolCallOut,
    Turn,
)
from app.api.params import ActionId, SessionId, Since
from app.api.ratelimit import RateLimit
from app.audit import reader
from app.services import Services
from confirmations import approvers
from confirmations.model import PendingAction
from tools.errors import HexabotError
from tools.security import SecurityContext

PREFIX = "/api/v1/ai"
MAX_BODY_BYTES = 64 * 1024
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text} for code, text in (
        (400, "bad input"), (401, "no or unacceptable token"), (403, "not allowed"),
        (404, "not found (or not yours)"), (413, "message over 8 KB"),
        (429, "over the per-user rate"))}
BEARER = HTTPBearer(auto_error=False, description="the platform's internal token (checked by "
                    "app.api.gate before any body byte is read)")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}


def _error(status: int, code: str, message: str, field: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _action(a: PendingAction) -> ActionOut:
    return ActionOut(id=a.id, tool=a.tool, state=a.state.value, requester=a.requester,
                     workspace=a.workspace, namespace=a.namespace, summary=a.plan.summary,
                     risk=a.risk, two_person=a.two_person, expires_at=a.expires_at.isoformat(),
                     approver=a.approver, approvals_needed=a.approvals_needed,
                     approvals=list(a.approvals), policy_rule=a.policy_rule or None)


def _chat(session: str, reply: Reply) -> ChatResponse:
    return ChatResponse(
        session_id=session, reply=reply.text, mode=reply.mode,
        proposals=[ProposalOut(id=p.id, tool=p.tool, summary=p.summary, risk=p.risk,
                               cost_delta=p.cost_delta) for p in reply.proposals],
        tools_called=[ToolCallOut(tool=c.tool, args=c.args, ok=c.ok)
                      for c in reply.tools_called],
        verdict=reply.verdict, facts=[FactOut(label=label, value=value)
                                      for label, value in reply.facts],
        kubectl=list(reply.kubectl))


def build(services: Services) -> FastAPI:
    """The API over ``services`` (cards and DMs after a decision are the decision service's,
    through whichever notifier the entrypoint installed)."""
    verifier = auth.TokenVerifier(services.settings)
    limit = RateLimit(services.database.engine, services.settings.api_rate_per_minute)
    admins = set(services.settings.api_admin_groups)
    app = FastAPI(title="Hexabot chat API", version="1", openapi_url="/api/v1/openapi.json",
                  docs_url=None, redoc_url=None,
                  description=__doc__.split("\n\n", 1)[1] if __doc__ else "")

    @app.exception_handler(ApiError)
    async def on_api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
                422: "bad_request"}.get(exc.status_code, "error")
        return _error(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:] if not isinstance(p, int)) or None
        if first["type"] == "json_invalid":
            return _error(400, "bad_request", "the body is not valid JSON", "body")
        message = "unknown field" if first["type"] == "extra_forbidden" else str(
            first["msg"]).removeprefix("Value error, ")
        return _error(400, "bad_request", f"{where or 'body'}: {message}", where)

    app.add_exception_handler(HexabotError, boundary.on_domain_error)
    app.add_middleware(gate.Gate, verifier=verifier, max_body=MAX_BODY_BYTES,
                       open_paths={app.openapi_url or ""})
    app.add_middleware(boundary.Boundary)  # outermost: anything else → 500/503, logged once

    async def claims(request: Request, _: Annotated[HTTPAuthorizationCredentials | None,
                                                    Security(BEARER)] = None) -> dict[str, Any]:
        found = gate.verified(request.scope)  # verified by the gate before the body was read
        if found is None:
            raise ApiError(401, "unauthorized", "no verified token",
                           headers={"WWW-Authenticate": "Bearer"})
        wait = await limit.hit(str(found["sub"]))
        if wait is not None:
            raise ApiError(429, "rate_limited", "too many requests; slow down",
                           headers={"Retry-After": str(int(wait))})
        return found

    async def caller(found: dict[str, Any], session: str = "") -> SecurityContext:
        try:
            return await auth.context(services.identity, found, session, uuid.uuid4().hex)
        except auth.Unauthorized as exc:
            raise ApiError(401, "unauthorized", str(exc)) from exc
        except auth.Forbidden as exc:
            raise ApiError(403, "forbidden", str(exc)) from exc

    async def session_of(found: dict[str, Any], wanted: str | None
                         ) -> tuple[str, SecurityContext]:
        session = wanted or f"api:{uuid.uuid4().hex}"
        ctx = await caller(found, session)
        assert services.agent.memory is not None
        if wanted and not await services.agent.memory.load(wanted, ctx.slack_id):
            raise ApiError(404, "not_found", f"no session {wanted}")
        return session, ctx

    def check_size(body: ChatRequest) -> None:
        if len(body.message.encode()) > MAX_MESSAGE_BYTES:
            raise ApiError(413, "too_large", "message is over 8 KB", "message")

    @app.post(f"{PREFIX}/chat", response_model=ChatResponse, responses=ERRORS)
    async def chat(body: ChatRequest, found: dict[str, Any] = Depends(claims)) -> ChatResponse:
        """One turn of the caller's agent (new session unless ``session_id`` is given)."""
        check_size(body)
        session, ctx = await session_of(found, body.session_id)
        reply = await services.agent.handle(Ask(ctx.slack_id, body.message, session,
                                                request_id=ctx.request_id), ctx=ctx)
        await services.decisions.proposed([p.id for p in reply.proposals])
        return _chat(session, reply)

    @app.post(f"{PREFIX}/chat/stream", responses={
        **ERRORS, 200: {"content": {"text/event-stream": {}},
                        "description": "events: session, tool (each as it finishes), delta (the "
                        "model's answer as it is written), answer"}})
    async def chat_stream(body: ChatRequest, found: dict[str, Any] = Depends(claims)
                          ) -> StreamingResponse:
        """The same turn as Server-Sent Events: ``session``, a ``tool`` event as each tool
        finishes, ``delta`` events with the model's answer as it is written (an LLM turn),
        then ``answer`` (the ChatResponse, authoritative)."""
        check_size(body)
        session, ctx = await session_of(found, body.session_id)
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

        async def progress(call: ToolCall) -> None:
            await queue.put(("tool", {"tool": call.tool, "args": call.args, "ok": call.ok}))

        async def delta(text: str) -> None:
            await queue.put(("delta", {"text": text}))

        async def turn() -> None:
            try:
                reply = await services.agent.handle(Ask(ctx.slack_id, body.message, session,
                                                        request_id=ctx.request_id),
                                                    progress, ctx, delta)
                await services.decisions.proposed([p.id for p in reply.proposals])
                await queue.put(("answer", _chat(session, reply).model_dump()))
            finally:
                await queue.put(None)

        async def events() -> AsyncIterator[str]:
            yield f"event: session\ndata: {json.dumps({'session_id': session})}\n\n"
            task = asyncio.create_task(turn())
            while (item := await queue.get()) is not None:
                yield f"event: {item[0]}\ndata: {json.dumps(item[1], default=str)}\n\n"
            await task

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @app.get(f"{PREFIX}/sessions/{{session_id}}", response_model=SessionOut,
             responses=ERRORS)
    async def get_session(session_id: SessionId,
                          found: dict[str, Any] = Depends(claims)) -> SessionOut:
        """The caller's own session, oldest turn first."""
        ctx = await caller(found, session_id)
        assert services.agent.memory is not None
        turns = await services.agent.memory.load(session_id, ctx.slack_id)
        if not turns:
            raise ApiError(404, "not_found", f"no session {session_id}")
        return SessionOut(session_id=session_id, turns=[
            Turn(role="user" if t.role == "user" else "assistant", content=t.content)
            for t in turns])

    @app.delete(f"{PREFIX}/sessions/{{session_id}}", status_code=204, responses=ERRORS)
    async def forget_session(session_id: SessionId,
                             found: dict[str, Any] = Depends(claims)) -> Response:
        """Forget one of the caller's sessions."""
        ctx = await caller(found, session_id)
        assert services.agent.memory is not None
        if not await services.agent.memory.forget_session(session_id, ctx.slack_id):
            raise ApiError(404, "not_found", f"no session {session_id}")
        return Response(status_code=204)

    @app.get(f"{PREFIX}/actions", response_model=ActionsOut, responses=ERRORS)
    async def actions(state: Annotated[str, Query(pattern="^pending$")] = "pending",
                      found: dict[str, Any] = Depends(claims)) -> ActionsOut:
        """Pending actions in the namespaces the token allows: the caller's own and those they
        may decide."""
        ctx = await caller(found)
        return ActionsOut(actions=[_action(a) for a in
                                   await services.confirmations.pending_for(ctx)])

    # Decision.code -> (HTTP status, error code); see confirmations.decision.CODES.
    refused = {"not_found": (404, "not_found"), "closed": (409, "conflict"),
               "conflict": (409, "conflict"), "forbidden": (403, "forbidden"),
               "policy": (422, "policy"), "failed": (502, "failed"),
               "unavailable": (503, "unavailable")}
    decided: dict[int | str, dict[str, Any]] = {**ERRORS, **{
        status: {"model": ErrorOut, "description": text} for status, text in (
            (403, "the caller may not decide it (approver rule, access review, scope), or the "
                  "requester lost the permission to run it"),
            (409, "already decided, running or expired (code conflict), or the target "
                  "changed since the plan (nothing was changed)"),
            (422, "refused by the guardrails at approval (code policy); nothing was changed"),
            (502, "approved and run, and the cluster refused the change (code failed)"),
            (503, "the Kubernetes API did not answer (code unavailable)"))}}

    async def decide(action_id: str, found: dict[str, Any], approve: bool) -> DecisionOut:
        """The status follows the decision's code, never the action's state: 404 not_found,
        403 forbidden, 409 conflict (closed or a stale target), 422 policy, 502 failed, 503
        unavailable."""
        ctx = await caller(found)
        store = services.confirmations.store
        action = await store.get(action_id)
        if action is None or not approvers.in_reach(ctx.workspace_id, ctx.namespaces, action):
            raise ApiError(404, "not_found", f"no action {action_id}")  # the token's scope too
        flow = services.confirmations
        decision = await (flow.approve(action_id, ctx.slack_id) if approve
                          else flow.reject(action_id, ctx.slack_id))
        current = decision.action or await store.get(action_id)
        if not decision.ok:
            status, code = refused.get(decision.code, (409, "conflict"))
            raise ApiError(status, code, decision.message)
        await services.decisions.decided(action_id, current, ctx.slack_id)
        return DecisionOut(ok=True, message=decision.message,
                           action=_action(current) if current else None)

    @app.post(f"{PREFIX}/actions/{{action_id}}/approve", response_model=DecisionOut,
              responses=decided)
    async def approve(action_id: ActionId,
                      found: dict[str, Any] = Depends(claims)) -> DecisionOut:
        """Approve (the same policy and exactly-once claim as the Slack button); a refusal's
        status follows its reason (see the responses)."""
        return await decide(action_id, found, approve=True)

    @app.post(f"{PREFIX}/actions/{{action_id}}/reject", response_model=DecisionOut,
              responses=decided)
    async def reject(action_id: ActionId,
                     found: dict[str, Any] = Depends(claims)) -> DecisionOut:
        """Reject (the requester's own rejection cancels)."""
        return await decide(action_id, found, approve=False)

    @app.get(f"{PREFIX}/audit", response_model=AuditOut, responses=ERRORS)
    async def audit(since: Since = None,
                    limit_: Annotated[int, Query(alias="limit", ge=1, le=1000)] = 100,
                    found: dict[str, Any] = Depends(claims)) -> AuditOut:
        """Audit events of the token's workspace (the same name and cluster) in its namespaces:
        the caller's own; members of an admin group: everyone's."""
        ctx = await caller(found)
        start: datetime | None = reader.since(since)
        admin = bool(admins & set(ctx.groups))
        found_events = await reader.events(
            services.settings, services.database.engine,
            user=None if admin else ctx.slack_id, workspace_id=ctx.workspace_id,
            namespaces=ctx.namespaces,
            since=start, limit=limit_)
        return AuditOut(events=found_events)

    return app
