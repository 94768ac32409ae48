"""Socket Mode on the emulator: hello, envelopes, acks, re-delivery, disconnect/refresh.

Envelopes are spread over the open connections in turn, as Slack spreads them over an app's
connections (so several replicas of a bot share the work); ``routes`` records which
connection (by the order it opened) got each envelope.  Events (``events_api``) not acked within
``ack_timeout`` are re-delivered with ``retry_attempt`` 1..3 and ``retry_reason: timeout`` (as
Slack does); interactive and slash-command envelopes wait for an ack that may carry a response
payload.  Ack latency is recorded for every envelope.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.slack.state import APP_ID


@dataclass
class Pending:
    envelope: dict[str, Any]
    sent_at: float
    acked: asyncio.Future[dict[str, Any]]


@dataclass
class SocketHub:
    ack_timeout: float = 3.0
    max_retries: int = 3
    connections: list[web.WebSocketResponse] = field(default_factory=list)
    tickets: set[str] = field(default_factory=set)
    pending: dict[str, Pending] = field(default_factory=dict)
    ack_latencies: list[float] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    routes: list[int] = field(default_factory=list)
    _opened: dict[int, int] = field(default_factory=dict)  # id(ws) -> its number
    _turn: int = 0

    def new_ticket(self) -> str:
        ticket = uuid.uuid4().hex
        self.tickets.add(ticket)
        return ticket

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            raise web.HTTPUnauthorized(text="invalid ticket")
        self.tickets.discard(ticket)
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        self.connections.append(ws)
        self._opened[id(ws)] = len(self._opened)
        await ws.send_json({"type": "hello", "num_connections": len(self.connections),
                            "connection_info": {"app_id": APP_ID},
                            "debug_info": {"host": "hexabot-slack-emulator"}})
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._ack(json.loads(message.data))
        finally:
            if ws in self.connections:
                self.connections.remove(ws)
        return ws

    def _ack(self, data: dict[str, Any]) -> None:
        pending = self.pending.pop(str(data.get("envelope_id")), None)
        if pending is not None and not pending.acked.done():
            self.ack_latencies.append(time.monotonic() - pending.sent_at)
            pending.acked.set_result(data)

    async def _send(self, envelope: dict[str, Any]) -> None:
        open_now = [ws for ws in self.connections if not ws.closed]
        if not open_now:
            raise ConnectionError("no Socket Mode connection is open")
        ws = open_now[self._turn % len(open_now)]
        self._turn += 1
        await ws.send_json(envelope)
        self.delivered.append(envelope)
        self.routes.append(self._opened[id(ws)])

    async def deliver(self, kind: str, payload: dict[str, Any],
                      wait: bool = True) -> dict[str, Any] | None:
        """Send an envelope; for events, re-deliver while un-acked.  Returns the ack."""
        attempt = 0
        while True:
            envelope: dict[str, Any] = {"envelope_id": str(uuid.uuid4()), "type": kind,
                                        "payload": payload,
                                        "accepts_response_payload": kind != "events_api"}
            if kind == "events_api":
                envelope.update(retry_attempt=attempt,
                                retry_reason="timeout" if attempt else "")
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self.pending[envelope["envelope_id"]] = Pending(envelope, time.monotonic(), future)
            await self._send(envelope)
            if not wait:
                return None
            try:
                return await asyncio.wait_for(asyncio.shield(future), self.ack_timeout)
            except TimeoutError:
                self.pending.pop(envelope["envelope_id"], None)
                if kind != "events_api" or attempt >= self.max_retries:
                    return None
                attempt += 1

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        for ws in list(self.connections):
            await ws.send_json({"type": "disconnect", "reason": reason})
