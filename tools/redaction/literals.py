"""Secrets written into code as literals that no ``key = value`` rule reaches.

* a fallback after an environment lookup: ``process.env.JWT_SECRET || 'x'``,
  ``ENV.fetch("DB_PASSWORD") { "x" }``, ``os.environ.get("API_TOKEN", "x")``,
  ``getenv('SMTP_PASS') ?: 'x'``, ``${DB_PASSWORD:-x}`` — hidden when the variable (or the key
  it is assigned to) names a secret;
* a positional credential pair: ``auth=('user', 'x')``, ``HTTPBasicAuth("u", "x")``,
  ``server.login("me", "x")``, and a literal after an account id that comes with a secret
  (Twilio's ``AC…`` SID, an AWS ``AKIA…`` key id): ``Client('AC…', 'x')``;
* a header as a quoted name/value pair: ``'x-api-key', 'x'`` (Envoy debug logs, Go's
  ``Header.Set``) — handled in ``rules`` with the other quoted keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tools.redaction.keys import NOT_SECRET_WORDS, is_placeholder, names_secret

Span = tuple[int, int]
_LITERAL = r"(?P<q>[\"'])(?P<v>[^\"'\n]{1,256})(?P=q)"
# ENV.fetch("X") { "v" } · ENV.fetch("X", "v") · os.getenv("X") or "v" · ENV["X"] || "v"
LOOKUP = re.compile(
    r"(?:\b(?:ENV\.fetch|os\.environ\.get|os\.getenv|getenv|getEnv|GetEnv|env|\.get)\(|"
    r"\b(?:ENV|os\.environ|process\.env)\[)[ \t]*[\"'](?P<k>[^\"'\n]{1,80})[\"'][ \t]*"
    r"(?:,[ \t]*|[\])][ \t]*(?:\|\||\?\?|\?:|or\b|\{)[ \t]*)" + _LITERAL)
LOOKUP_NEEDLES = ("fetch(", "environ", "getenv", "env(", ".get(", "env[")
# process.env.JWT_SECRET || 'v' · import.meta.env.X ?? "v"
DOTTED = re.compile(r"\benv\.(?P<k>[A-Za-z_]\w{0,80})[ \t]*(?:\|\||\?\?)[ \t]*" + _LITERAL)
# ${DB_PASSWORD:-v} · ${API_TOKEN=v}
SHELL_DEFAULT = re.compile(r"\$\{(?P<k>[A-Za-z_]\w{0,80}):?[-=](?P<v>[^}\s$]{1,256})\}")
ASSIGNED = re.compile(r"(?P<k>[^\W\d][\w.\-]{0,80})[\"'\]]{0,2}[ \t]*(?::=|=>|=|:)[ \t]*$")
# auth=('user', 'v') · session.auth = ("u", "v") · HTTPBasicAuth('u', 'v') · smtp.login('u', 'v')
PAIR = re.compile(r"(?P<w>auth\w{0,40}|login|credentials?)[ \t]*(?:=[ \t]*)?[(\[][ \t]*"
                  r"(?P<q1>[\"'])[^\"'\n]{0,200}(?P=q1)[ \t]*,[ \t]*" + _LITERAL)
ACCOUNT_THEN_SECRET = re.compile(
    r"[\"'](?:AC[0-9a-f]{32}|A(?:KIA|SIA)[A-Z0-9]{16})[\"'][ \t]*,[ \t]*" + _LITERAL)


def _fallbacks(text: str) -> Iterator[Span]:
    for pattern in (LOOKUP, DOTTED, SHELL_DEFAULT):
        for match in pattern.finditer(text):
            value = match.group("v")
            if is_placeholder(value):
                continue
            secret = names_secret(match.group("k"))
            if not secret:
                line = text.rfind("\n", max(0, match.start() - 200), match.start()) + 1
                head = ASSIGNED.search(text, max(line, match.start() - 120), match.start())
                secret = names_secret(head.group("k")) if head else ""
            if secret and (secret != "shape" or len(value) >= 12):
                yield match.span("v")


def spans(text: str, lower: str) -> Iterator[Span]:
    """Fallback literals of secret lookups and positional credential pairs."""
    if any(needle in lower for needle in LOOKUP_NEEDLES) or "${" in text \
            or ("env." in lower and ("||" in text or "??" in text)):
        yield from _fallbacks(text)
    if "auth" in lower or "login" in lower or "credential" in lower:
        for match in PAIR.finditer(lower):
            if match.group("w") not in NOT_SECRET_WORDS \
                    and not is_placeholder(text[match.start("v"):match.end("v")]):
                yield match.span("v")
    if "AC" not in text and "KIA" not in text and "SIA" not in text:
        return
    for match in ACCOUNT_THEN_SECRET.finditer(text):
        if not is_placeholder(match.group("v")):
            yield match.span("v")
