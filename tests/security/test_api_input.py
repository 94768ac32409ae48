"""Chat API input, attacked over real HTTP (uvicorn on its own loop, Postgres, the sandbox): big
bodies from callers without a valid token are refused before the server reads them, streamed
bodies are bounded as they arrive, and ids in paths and queries that could not be ours are a
400 naming the parameter — never a 500 from the database.  After each attack the server still
answers a normal request.

How "not read" is proven: a body generator counts the bytes the client could hand to the
socket (a server that reads the body pulls all 96 MB; one that refuses leaves all but the
kernel's socket buffers unpulled), and over a raw socket the answer arrives while not one body
byte has been sent.  The gate's own promise not to put a 413 on a response already under way
is checked against a fake ASGI server channel that records every message.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from app.api import gate
from app.api.auth import TokenVerifier
from app.database import asyncpg_url, drop_database, ensure_database
from app.run import api_alone
from app.services import open_services
from app.settings import load_settings
from tests.confirm_support import DIRECTORY
from tests.sandbox_support import ThreadedSandbox
from tests.test_api import KEY, auth, token

PREFIX = "/api/v1/ai"
HUGE = 96 * 1024 * 1024          # what the attacker offers
CHUNK = 64 * 1024
CAP = 64 * 1024                  # routes.MAX_BODY_BYTES
UNREAD = 24 * 1024 * 1024        # at most this much may sit in socket buffers: a quarter of HUGE
NOW = int(time.time())


@pytest.fixture(scope="module")
def served(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The chat API on its own event loop in a thread, over a database of its own; its URL."""
    tmp = tmp_path_factory.mktemp("api-input")
    sandbox = ThreadedSandbox(None, tmp, pod_start_delay=0.05, job_run_seconds=0.1).start()
    public = tmp / "platform.pem"
    public.write_bytes(KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    directory = tmp / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig))
    admin, name = asyncpg_url(pg_admin_url), f"t_{uuid.uuid4().hex[:12]}"
    state: dict[str, Any] = {}
    ready = threading.Event()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HEXABOT_DATA_DIR", str(tmp / "data"))
        for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env.setenv(proxy, "")
        config = load_settings(
            database_url=admin.set(database=name).render_as_string(hide_password=False),
            directory_file=directory, api_token_public_key_file=public, api_host="127.0.0.1",
            api_port=0, api_rate_per_minute=10_000)

        async def main() -> None:
            state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
            await ensure_database(admin, name)
            try:
                async with open_services(config) as services, api_alone(services) as url:
                    state["url"] = url
                    ready.set()
                    await state["stop"].wait()
            finally:
                await drop_database(admin, name)

        def run() -> None:
            try:
                asyncio.run(main())
            finally:  # a server that failed to start: its traceback is on stderr
                ready.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            assert ready.wait(90) and "url" in state, "the API did not start"
            yield state["url"]
        finally:
            if "loop" in state:
                state["loop"].call_soon_threadsafe(state["stop"].set)
            thread.join(60)
            sandbox.stop()


@pytest.fixture
def client(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{served}{PREFIX}", trust_env=False, timeout=30) as http:
        yield http


def still_serving(client: httpx.Client) -> None:
    """The server answers a normal request after the attack."""
    listed = client.get("/actions", headers=auth())
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"actions": []}


class Offer:
    """A body of ``total`` bytes that records how many the client pulled to send."""

    def __init__(self, total: int = HUGE) -> None:
        self.total, self.pulled = total, 0

    def __iter__(self) -> Iterator[bytes]:
        chunk = b"x" * CHUNK
        while self.pulled < self.total:
            self.pulled += CHUNK
            yield chunk


def raw(served: str, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (and ``body``, if any) on a fresh connection and read one response, without
    sending anything else: the status, headers and body."""
    where = urlsplit(served)
    with socket.create_connection((where.hostname, where.port), timeout=20) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            assert more, f"closed without an answer: {data!r}"
            data += more
        top, _, rest = data.partition(b"\r\n\r\n")
        status_line, *lines = top.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines)}
        while len(rest) < int(headers.get("content-length", "0")):
            more = sock.recv(65536)
            if not more:
                break
            rest += more
        return int(status_line.split()[1]), headers, rest


BAD_TOKENS = {
    "no token": None,
    "garbage token": "Bearer not-a-jwt-at-all",
    "expired token": "Bearer " + token(iat=NOW - 900, exp=NOW - 300),
    "not bearer": "Basic YWxpY2U6c2VjcmV0",
}
TARGETS = {"chat": ("POST", "/chat"), "stream": ("POST", "/chat/stream"),
           "approve": ("POST", f"/actions/{uuid.uuid4().hex}/approve"),
           "no such route": ("PUT", "/no/such/route")}


def _unauthorized(answer: httpx.Response | tuple[int, dict[str, str], bytes]) -> None:
    if isinstance(answer, httpx.Response):
        status, headers, body = answer.status_code, dict(answer.headers), answer.content
    else:
        status, headers, body = answer
    assert status == 401, body[:300]
    assert headers["www-authenticate"] == "Bearer"
    assert headers["connection"] == "close"  # the rest of the body is dropped, not drained
    error = json.loads(body)["error"]
    assert error["code"] == "unauthorized" and set(error) == {"code", "message"}


@pytest.mark.parametrize("method,path", TARGETS.values(), ids=TARGETS.keys())
@pytest.mark.parametrize("header", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_chunked_body_without_a_valid_token_is_not_read(
        client: httpx.Client, header: str | None, method: str, path: str) -> None:
    offer = Offer()
    answer = client.request(method, path, content=iter(offer), headers={
        "Content-Type": "application/json", **({"Authorization": header} if header else {})})
    _unauthorized(answer)
    assert offer.pulled < UNREAD, f"{offer.pulled} of {HUGE} bytes were taken"
    still_serving(client)


@pytest.mark.parametrize("header", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_declared_length_without_a_valid_token_is_not_read(
        client: httpx.Client, header: str | None) -> None:
    offer = Offer()
    answer = client.post("/chat", content=iter(offer), headers={
        "Content-Type": "application/json", "Content-Length": str(HUGE),
        **({"Authorization": header} if header else {})})
    _unauthorized(answer)
    assert offer.pulled < UNREAD, f"{offer.pulled} of {HUGE} bytes were taken"
    still_serving(client)


@pytest.mark.parametrize("framing", [f"Content-Length: {HUGE}", "Transfer-Encoding: chunked"])
@pytest.mark.parametrize("header", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_no_valid_token_is_answered_before_any_body_byte_is_sent(
        served: str, client: httpx.Client, header: str | None, framing: str) -> None:
    """The request head only (it promises 96 MB, or chunks): the answer arrives anyway."""
    authorization = f"Authorization: {header}\r\n" if header else ""
    answer = raw(served, f"POST {PREFIX}/chat HTTP/1.1\r\nHost: api\r\n"
                         f"Content-Type: application/json\r\n{framing}\r\n{authorization}")
    _unauthorized(answer)
    still_serving(client)


def test_a_chunked_body_over_the_cap_with_a_valid_token_is_cut_off(
        client: httpx.Client) -> None:
    offer = Offer()
    answer = client.post("/chat", content=iter(offer),
                         headers={**auth(), "Content-Type": "application/json"})
    assert answer.status_code == 413, answer.text
    assert answer.json() == {"error": {"code": "too_large", "message": "the body is over 64 KB"}}
    assert offer.pulled < UNREAD, f"{offer.pulled} of {HUGE} bytes were taken"
    still_serving(client)


@pytest.mark.parametrize("size", [CAP + 1, HUGE])
def test_a_declared_length_over_the_cap_is_refused_before_the_body(
        served: str, client: httpx.Client, size: int) -> None:
    answer = raw(served, f"POST {PREFIX}/chat HTTP/1.1\r\nHost: api\r\n"
                         f"Authorization: {auth()['Authorization']}\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {size}\r\n")
    status, headers, body = answer
    assert status == 413 and headers["connection"] == "close", body[:300]
    assert b'"too_large"' in body
    still_serving(client)


@pytest.mark.parametrize("chunks", [1, 4, 64], ids=["one chunk", "four chunks", "64 chunks"])
def test_a_chunked_body_under_the_cap_is_served(client: httpx.Client, chunks: int) -> None:
    """The gate counts chunks without getting in the way of a body that fits."""
    body = b'{"message": "pods"' + b" " * (CAP - 100) + b"}"
    step = -(-len(body) // chunks)
    parts = [body[i:i + step] for i in range(0, len(body), step)]
    answer = client.post("/chat", content=iter(parts),
                         headers={**auth(), "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert "6 pods in shop" in answer.json()["reply"]


def test_the_openapi_document_needs_no_token(client: httpx.Client) -> None:
    served = client.get(client.base_url.join("/api/v1/openapi.json"))
    assert served.status_code == 200 and served.json()["info"]["title"] == "Hexabot chat API"


BAD_IDS = {name: quote(text, safe="") for name, text in {
    "NUL first": "\x00abc",
    "NUL alone": "\x00",
    "NUL inside": "0123\x00abcd",
    "control char": "abc\x01def",
    "escape sequence": "\x1b[31mred",
    "DEL": "abc\x7f",
    "newline": "abc\ndef",
    "tab": "\tabc",
    "space": " abc",
    "overlong": "a" * 129,
    "very long": "a" * 4000,
    "unicode letter": "caf\u00e9",
    "fullwidth digits": "\uff10\uff11\uff12",
    "right-to-left override": "abc\u202edef",
    "emoji": "\U0001f600",
    "quote": "abc'def",
    "percent": "50%",
}.items()} | {"invalid UTF-8": "%FF%FE", "encoded surrogate": "%ED%A0%80"}
ID_ROUTES = {"read session": ("GET", "/sessions/{}", "session_id"),
             "forget session": ("DELETE", "/sessions/{}", "session_id"),
             "approve": ("POST", "/actions/{}/approve", "action_id"),
             "reject": ("POST", "/actions/{}/reject", "action_id")}


@pytest.mark.parametrize("method,route,field", ID_ROUTES.values(), ids=ID_ROUTES.keys())
@pytest.mark.parametrize("bad", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_bad_path_id_is_400_naming_the_field(client: httpx.Client, method: str, route: str,
                                               field: str, bad: str) -> None:
    answer = client.request(method, route.format(bad), headers=auth())
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "bad_request" and error["field"] == field
    assert error["message"].startswith(f"{field}: ")
    assert "\x00" not in answer.text  # the bad value is not echoed
    still_serving(client)


GOOD_IDS = {"action": uuid.uuid4().hex, "api session": f"api:{uuid.uuid4().hex}",
            "dm session": "dm:U0ALICE", "thread session": "thread:C0SHOP:1700000000.000100:U0ALICE",
            "slash session": "slash:C0SHOP:U0ALICE", "longest": "a" * 128}


@pytest.mark.parametrize("method,route,field", ID_ROUTES.values(), ids=ID_ROUTES.keys())
@pytest.mark.parametrize("good", GOOD_IDS.values(), ids=GOOD_IDS.keys())
def test_an_id_of_our_shape_that_is_not_there_is_404(client: httpx.Client, method: str,
                                                     route: str, field: str, good: str) -> None:
    answer = client.request(method, route.format(quote(good, safe="")), headers=auth())
    assert answer.status_code == 404, answer.text


BAD_QUERIES = {
    "since overflows the date": ("since", "99999999999999d"),
    "since of ten thousand days": ("since", "10000d"),
    "since with NUL": ("since", "1h\x00"),
    "since with unicode digits": ("since", "\u0661h"),
    "since with a newline": ("since", "1h\n"),
    "limit with NUL": ("limit", "5\x00"),
    "limit overflow": ("limit", "9" * 40),
    "state with NUL": ("state", "pending\x00"),
}


@pytest.mark.parametrize("name,value", BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
def test_a_bad_query_parameter_is_400_naming_it(client: httpx.Client, name: str,
                                                value: str) -> None:
    path = "/actions" if name == "state" else "/audit"
    answer = client.get(path, params={name: value}, headers=auth())
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["field"] == name
    still_serving(client)


@pytest.mark.parametrize("since", ["99999999s", "999999m", "99999h", "9999d", "30m"])
def test_the_longest_since_still_reads_the_audit(client: httpx.Client, since: str) -> None:
    answer = client.get("/audit", params={"since": since}, headers=auth())
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json()["events"], list)


def test_session_ids_in_the_body_are_held_to_the_api_shape(client: httpx.Client) -> None:
    for bad in ("api:\x00", "api:" + "0" * 31 + "\u0661", "api:" + "0" * 4000):
        answer = client.post("/chat", json={"message": "pods", "session_id": bad},
                             headers=auth())
        assert answer.status_code == 400 and answer.json()["error"]["field"] == "session_id"
    still_serving(client)


class Channel:
    """The server side of one request for :class:`gate.Gate`: a body in 32 KB chunks that never
    ends, and every message sent back, recorded."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.given = 0

    async def receive(self) -> dict[str, Any]:
        self.given += 32 * 1024
        return {"type": "http.request", "body": b"x" * (32 * 1024), "more_body": True}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def _drain(receive: Any) -> None:
    while True:
        await receive()


async def app_reading_first(scope: Any, receive: Any, send: Any) -> None:
    """Like FastAPI: reads the body first, and answers the read error itself."""
    try:
        await _drain(receive)
    except gate.BodyTooLarge:
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b"from the app"})


async def app_responding_first(scope: Any, receive: Any, send: Any) -> None:
    """Starts its response, then reads the body."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    await _drain(receive)


@pytest.mark.parametrize("app", [app_reading_first, app_responding_first],
                         ids=["app reads first", "app already responding"])
async def test_the_cap_never_puts_a_second_response_on_a_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: Any) -> None:
    """Past the cap: a 413 if nothing was sent yet (and the app's own answer is dropped);
    nothing of the gate's once the app has started — the app's response stays its own."""
    monkeypatch.setenv("HEXABOT_DATA_DIR", str(tmp_path / "data"))
    public = tmp_path / "platform.pem"
    public.write_bytes(KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    verifier = TokenVerifier(load_settings(api_token_public_key_file=public))
    channel = Channel()
    scope = {"type": "http", "method": "POST", "path": f"{PREFIX}/chat", "headers": [
        (b"authorization", auth()["Authorization"].encode())]}
    await gate.Gate(app, verifier, CAP)(scope, channel.receive, channel.send)
    starts = [m["status"] for m in channel.sent if m["type"] == "http.response.start"]
    if app is app_reading_first:
        assert starts == [413] and b'"too_large"' in channel.sent[1]["body"]
        assert len(channel.sent) == 2  # the app's 400 went nowhere
    else:
        assert starts == [200] and [m.get("body") for m in channel.sent[1:]] == [b"partial"]
    assert channel.given <= CAP + 32 * 1024  # one chunk past the cap, no more
