"""Redaction of secrets before text leaves for a non-private LLM provider, a log line or a shared
channel: ``redact(text)`` keeps the text's shape and replaces only each secret value by
``[REDACTED]`` (``DB_PASSWORD=[REDACTED]``, ``postgres://app:[REDACTED]@db:5432``).

Four kinds of rules, their spans merged before anything is replaced:

* ``vendors`` — tokens recognisable on their own (detect-secrets' vendor plugins plus ours);
* ``rules`` — values recognised by their context (``keys`` decides which key names a secret):
  secret-naming keys in env, YAML, JSON, flags, query strings, code and XML; Kubernetes env
  ``name``/``value`` pairs; ``Authorization``/``Cookie`` headers of any scheme; passwords inside
  URLs, ``.pgpass`` lines and command lines (``commands``: which flag is a password depends on
  the tool); PEM private keys; every value of a Secret's ``data``;
* ``literals`` — secrets in code that no key names: fallbacks after an environment lookup
  (``process.env.JWT_SECRET || '…'``) and positional credential pairs (``auth=('u', '…')``);
* here — base64 values that decode to text holding a secret (two levels deep).

What is deliberately left alone (``tests/security/corpus/dev_harmless.txt``): digests, UIDs,
resourceVersions, commit SHAs, checksums, references to secrets (``secretKeyRef``,
``secretName``, ``var.db_password``, ``${GITHUB_TOKEN}``), values already masked (``***``,
``[FILTERED]``), settings about secrets (``token_ttl``), object ids (``ch_…``) and prose.
Measured on corpora by ``bench/bench_redaction.py``.  Every pattern does bounded work per
character (no nested open-ended quantifiers, values capped at 4 KB, scanning resumes after each
value), which ``test_a_megabyte_of_adversarial_text_finishes`` exercises.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from tools.redaction import literals, rules, vendors

MASK = "[REDACTED]"
# A base64 value after `:` or `=` — decoded, and hidden if what it encodes holds a secret
# (a Secret's data outside its manifest, a .dockerconfigjson, an encoded DATABASE_URL).
ENCODED = re.compile(r"[:=][ \t]*\\?[\"']?(?P<v>[A-Za-z0-9+/]{16,65536}={0,2})(?![A-Za-z0-9+/=])")


def _encoded(text: str, depth: int) -> Iterator[tuple[int, int]]:
    if depth > 1:
        return
    for match in ENCODED.finditer(text):
        value = match.group("v").rstrip("=")
        value = value[:len(value) // 4 * 4]
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue
        if spans(decoded, depth + 1):
            yield match.span("v")


def spans(text: str, depth: int = 0) -> list[tuple[int, int]]:
    """Merged, sorted spans of every secret in ``text``."""
    found = [*vendors.spans(text), *rules.keyword_spans(text), *rules.header_spans(text),
             *rules.secret_object_spans(text), *literals.spans(text, rules.lowered(text)),
             *_encoded(text, depth)]
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def redact(text: str) -> str:
    if len(text) < 8:
        return text
    found = spans(text)
    if not found:
        return text
    out, pos = [], 0
    for start, end in found:
        if text[start:end] == MASK:
            continue
        out.append(text[pos:start])
        out.append(MASK)
        pos = end
    out.append(text[pos:])
    return "".join(out)
