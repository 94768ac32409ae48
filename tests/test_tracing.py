"""Tracing: with HEXABOT_OTLP_ENDPOINT set, a real `hexabot ask` exports its spans over
OTLP/HTTP (protobuf, decoded here with the OpenTelemetry protos) — chat turn → tool →
Kubernetes call, nested; without it nothing is sent.  In the Slack app a message or a click
opens the trace (recorded here in memory by a real SDK provider)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from sandbox.slack.state import BOT_USER
from tests.confirm_support import cli_env
from tests.conftest import run_cli
from tests.sandbox_support import ThreadedSandbox
from tests.slack_support import answered, bot_messages, connected_emulator, until


class Collector(http.server.ThreadingHTTPServer):
    requests: list[tuple[str, str, bytes]]


class Receive(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(  # type: ignore[attr-defined]
            (self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector(("127.0.0.1", 0), Receive)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_a_turn_is_one_trace_down_to_the_kubernetes_calls(
        clean_env: dict[str, str], database_url: str, sandbox: ThreadedSandbox,
        tmp_path: Path, collector: Collector) -> None:
    env = cli_env(clean_env, database_url, sandbox, tmp_path)
    quiet = run_cli(["ask", "--as", "alice", "pods"], env, tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert collector.requests == []  # off by default
    env["HEXABOT_OTLP_ENDPOINT"] = f"http://127.0.0.1:{collector.server_address[1]}"
    result = run_cli(["ask", "--as", "alice", "How is my web app doing?"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert collector.requests and all(path == "/v1/traces" and kind == "application/x-protobuf"
                                      for path, kind, _ in collector.requests)
    spans = []
    for _, _, body in collector.requests:
        export = ExportTraceServiceRequest.FromString(body)
        for resource in export.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}
            assert service["service.name"] == "hexabot"
            spans += [s for scope in resource.scope_spans for s in scope.spans]
    by_id = {s.span_id: s for s in spans}
    [turn] = [s for s in spans if s.name == "chat.turn"]
    attributes = {a.key: a.value.string_value for a in turn.attributes}
    assert attributes["hexabot.mode"] == "command" and attributes["hexabot.session_id"]
    [status] = [s for s in spans if s.name == "tool get_deployment_status"]
    assert status.parent_span_id == turn.span_id
    calls = [s for s in spans if s.name == "kubernetes GET" and s.parent_span_id ==
             status.span_id]
    [path] = [a.value.string_value for a in calls[0].attributes if a.key == "url.path"]
    assert path == "/apis/apps/v1/namespaces/shop/deployments/web-app"
    assert {s.trace_id for s in spans} == {turn.trace_id}  # one request, one trace
    assert all(s.parent_span_id in by_id for s in spans if s is not turn)



async def test_a_slack_message_and_a_click_open_their_traces(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, recorded_spans: InMemorySpanExporter) -> None:
    def named(name: str) -> list[Any]:
        return [s for s in recorded_spans.get_finished_spans() if s.name == name]

    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch) as (slack, _):
        dm = slack.state.im_with("U0ALICE").id
        await slack.say("U0ALICE", dm, "pods")
        await until(lambda: answered(slack, dm))
        [message] = await until(lambda: named("slack.message"))
        assert message.kind is SpanKind.SERVER
        [event_id] = [d["payload"]["event_id"] for d in slack.hub.delivered
                      if d["payload"].get("event", {}).get("text") == "pods"]
        assert dict(message.attributes) == {"hexabot.direct": True, "slack.event_id": event_id}
        [turn] = named("chat.turn")
        assert turn.parent.span_id == message.context.span_id
        assert turn.attributes["hexabot.mode"] == "command"

        await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale api-service 4")
        card = await until(lambda: next((m for m in bot_messages(slack, "C0SHOP")
                                         if m["text"].startswith("Approval needed")), None))
        action = card["blocks"][-1]["elements"][1]["value"]
        await slack.click("U0ALICE", "C0SHOP", card["ts"], "reject", action)
        [click] = await until(lambda: named("slack.click"))
        assert click.kind is SpanKind.SERVER
        assert dict(click.attributes) == {"hexabot.action": action, "hexabot.approve": False}
