"""Redaction of secrets before text leaves for a non-private LLM provider.

Applied to every message of a prompt (user text, memory and tool results alike).  Patterns:
bearer tokens, JWTs, PEM private keys, password/secret/token/key assignments in env or config
text, cloud access keys, Slack/GitHub/OpenAI-style tokens, and long base64 blobs (Secret data).
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                re.S), f"{MASK} private key"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}"),
     f"{MASK} jwt"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), f"{MASK} aws-key"),
    (re.compile(r"\b(xox[abprs]|xapp)-[A-Za-z0-9-]{8,}"), f"{MASK} slack-token"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), f"{MASK} github-token"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), f"{MASK} api-key"),
    (re.compile(r"(?i)\b([A-Za-z0-9_.-]*(password|passwd|pwd|secret|token|api[_-]?key|"
                r"access[_-]?key|private[_-]?key|credential)s?[A-Za-z0-9_.-]*)"
                r"(\s*[:=]\s*|\"\s*:\s*\"|'\s*:\s*')([^\s\"',;]{3,})"), rf"\1\3{MASK}"),
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/])"),
     f"{MASK} base64"),
)


def redact(text: str) -> str:
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text
