"""Logs: one JSON object per line (``HEXABOT_LOG_FORMAT=json``, what the Helm chart sets) or
plain text, at ``HEXABOT_LOG_LEVEL``, carrying the request and session ids of the turn that
logged — and never a secret.  Every record, from any library, passes one filter on the root
handler that masks the configured secret values (tokens, keys, URLs with passwords) and
anything shaped like a credential (``tools.redact``), in the message and in tracebacks.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pydantic import SecretStr

from app.settings import Settings
from tools.context import request_id, session_id
from tools.redact import MASK, redact


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret, and the password inside each secret URL."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            secret = value.get_secret_value()
            found.append(secret)
            password = urlsplit(secret).password if "://" in secret else None
            if password:
                found.append(password)
    return found


class Redact(logging.Filter):
    """Masks secrets in a record and stamps it with the current request/session ids."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.clean(record.getMessage()), None
        if record.exc_info:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        record.request_id = request_id.get()
        record.session_id = session_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                     timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name,
                 "message": record.getMessage(),
                 "request_id": getattr(record, "request_id", ""),
                 "session_id": getattr(record, "session_id", "")}
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure(settings: Settings) -> logging.Handler:
    """Replace the root logger's handlers with one redacting handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Redact(secret_values(settings)))
    handler.setFormatter(JsonFormatter() if settings.log_format == "json"
                         else logging.Formatter(TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    return handler
