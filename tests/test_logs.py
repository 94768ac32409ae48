"""Logs are one JSON object per line with the turn's request and session ids, and no secret
ever reaches them — not in messages, arguments, nor tracebacks, from any logger."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app import logs
from app.settings import load_settings
from tools import context

BOT = "xoxb-1111-2222-abcdefghijkl"
APP = "xapp-1-A111-2222-abcdefghijkl"
DB = "postgresql://hexabot:s3cr3t-pa55@db.internal:5432/hexabot"
OPENAI = "an-api-key-without-a-known-shape"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    settings = load_settings(slack_bot_token=BOT, slack_app_token=APP, database_url=DB,
                             openai_api_key=OPENAI, log_format="json", log_level="DEBUG")
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = logs.configure(settings)
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    root.handlers[:], root.level = saved[0], saved[1]


def test_secrets_never_reach_the_log(captured: io.StringIO) -> None:
    log = logging.getLogger("some.library")
    log.info("connecting with %s and %s", BOT, DB)
    log.debug("headers: {'Authorization': 'Bearer %s'}", APP)
    log.warning("openai said no for key=%s", OPENAI)
    try:
        raise RuntimeError(f"login failed for {DB} (password s3cr3t-pa55)")
    except RuntimeError:
        log.exception("while connecting")
    text = captured.getvalue()
    for secret in (BOT, APP, DB, OPENAI, "s3cr3t-pa55"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [entry["level"] for entry in lines] == ["INFO", "DEBUG", "WARNING", "ERROR"]
    assert lines[0]["message"] == "connecting with [REDACTED] and [REDACTED]"
    assert "[REDACTED]" in lines[3]["exception"] and "RuntimeError" in lines[3]["exception"]


def test_lines_carry_the_request_and_session(captured: io.StringIO) -> None:
    request = context.request_id.set("req-42")
    session = context.session_id.set("dm:U0ALICE")
    try:
        logging.getLogger("hexabot.agent").info("answered")
    finally:
        context.request_id.reset(request)
        context.session_id.reset(session)
    [entry] = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert (entry["request_id"], entry["session_id"], entry["logger"]) == (
        "req-42", "dm:U0ALICE", "hexabot.agent")
