"""Secrets found by their context: the key, flag, header or URL part that carries them.

Each rule yields the span of the *value* only, so ``DB_PASSWORD=hunter2`` keeps its key.  Every
pattern is anchored on a literal or a word start and bounded, so scanning stays linear in the
length of the text whatever it holds; values are then read by hand (quotes, escapes, YAML block
scalars), which no single regex does well.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tools.redaction import commands
from tools.redaction.keys import (
    DNS_LABEL,
    credential_shaped,
    is_placeholder,
    names_secret,
    value_is_secret,
)

Span = tuple[int, int]
MAX_VALUE = 4096
LINE_HEAD = re.compile(r"[ \t]*(?:[-+~#][ \t]*|export[ \t]+|set[ \t]+|ENV[ \t]+|declare -x[ \t]+)?"
                       r"[\"']?$")
BLOCK = re.compile(r"[|>][-+0-9]?")

# A secret word somewhere in a key; the key around it is then read by hand.
# (Grouped by first letter: the engine then skips to a possible first character and tries
# only that letter's words.)
HIT = re.compile(r"p(?:ass|wd?|sk|at|hrase|arola)|s(?:ecret|ig|ess|id|alasan|enha|ifre)|token|"
                 r"c(?:red|ontras)|k(?:ey|ennw|atasandi)|a(?:uth|dgangs)|dsn|oauth2|wachtw|"
                 r"h(?:asl|asł|eslo)|jelsz|l(?:osen|ösen)|geheim|şifre|пароль|секрет|токен|гасло|"
                 r"パスワード|密[码碼]|비밀번호")
KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/")
# KEY = value · KEY: value · "key": "value" · --key=value · ?key=value · key => value
KEY_AT = re.compile(r"(?P<k>-{0,2}[^\W\d][\w.\-/]{0,80})(?P<kq>\\?[\"']\]?|\])?"
                    r"(?P<sep>:(?!=)|[ \t]*(?::=|=>|=))(?!//)[ \t]*")
# define('DB_PASSWORD', '…') · setenv("API_TOKEN", "…"): a quoted key, a comma, a quoted value
CALL_HEAD = re.compile(r"(?P<open>[(\[,]|\s)[ \t]*[\"']$")
CALL_AT = re.compile(r"(?P<k>[^\W\d][\w.\-]{0,80})[\"'][ \t]*,[ \t]*(?=[\"'])")
# requirepass "…" · aws_secret_access_key zRLT… · -storepass …: a key, a space, a value
SPACED_AT = re.compile(r"(?P<k>-{0,2}[^\W\d][\w.\-]{0,80})[ \t]+(?=[^\s\-])")
# {"name": "SMTP_PASSWORD", "value": "…"} in JSON, YAML (block or flow), flattened paths or XML
PAIR_HEAD = re.compile(r"(?i)(?:name|key|variable|var)\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?$")
PAIR_TAIL = re.compile(
    r"(?i)(?P<kq>)\\?[\"']?[ \t]*[,;]?[ \t]*(?:(?:\r?\n|\\n)[ \t]*(?:-[ \t]+)?)?"
    r"(?:[\w\[\]\-]+\.)*"
    r"\\?[\"']?value\\?[\"']?[ \t]*[:=][ \t]*")
PAIR_REVERSED = re.compile(
    r"(?i)\bvalue[\"']?[ \t]*[:=][ \t]*(?:\"(?P<dq>(?:[^\"\\\n]|\\.){1,1000})\"|"
    r"'(?P<sq>[^'\n]{1,1000})'|(?P<bare>[^\s,;}\"']{1,1000}))"
    r"[ \t]*,?[ \t]*(?:\r?\n[ \t]*)?[\"']?name[\"']?[ \t]*[:=][ \t]*[\"']?$")
XML = re.compile(r"<(?P<k>[A-Za-z_][\w:.\-]{0,60})>(?P<v>[^<\n]{1,1000})</(?P=k)>")
# These three are searched in the lower-cased text (same offsets) so the engine can skip ahead
# by their literal head.
AUTHORIZATION = re.compile(
    r"authori[sz]ation(?P<kq>\\?[\"'])?[ \t]*[:=][ \t]*(?P<oq>\\?[\"'])?"
    r"(?:(?:bearer|basic|token|digest|api-?key|aws4-hmac-sha256|aws|negotiate|ntlm|oauth|"
    r"key|ssws|geniekey|splunk|hmac|signature|jwt|mac|hawk|dpop|sharedkey|"
    r"sharedaccesssignature|klaviyo-api-key|zoho-oauthtoken)[ \t]+)?(?=\S)")
LOOSE_SCHEME = re.compile(r"b(?:earer|asic)[ \t]+(?P<v>(?=[a-z0-9._~+/\-]{0,300}"
                          r"[0-9+/=])[a-z0-9._~+/\-]{8,4096}=*)")
# "secret": {"inline_string": "…"} (Envoy SDS), password: {value: …}: the value one level down
INLINE = re.compile(r"\{[ \t]*\\?[\"']?(?:inline_string|inline_bytes|value|plaintext|plain_text|"
                    r"string|raw)\\?[\"']?[ \t]*:[ \t]*")
# Unseal Key 1: … · Initial Root Token: … · AWS Secret Access Key [None]: … — a label of words
LABELLED = re.compile(
    r"(?:unseal|recovery|root|secret|private|master|encryption|decryption|signing|shared|"
    r"access|admin) (?:access )?(?P<label>key|token|password)(?: \d{1,2})?(?: \[[^\]\n]{0,40}\])?"
    r"[ \t]*:[ \t]+(?P<v>[^\s\"']{8,4096})")
LABEL_NEEDLES = (" key", " token", " password")
# "keyName": "key1", "permissions": "FULL", "value": "…" — `az … keys list`
KEY_LISTING = re.compile(r"\\?\"keyname\\?\"[ \t]*:[ \t]*\\?\"[^\"\n]{0,100}\"[^{}\n]{0,300}?"
                         r"\\?\"value\\?\"[ \t]*:[ \t]*\\?\"(?P<v>[^\"\\\n]{1,4096})")
COOKIE = re.compile(r"cookie\\?[\"']?[ \t]*:[ \t]*\\?[\"']?(?P<v>[^\n\"'\\]{1,4096})")
# .pgpass: host:port:database:user:password
PGPASS = re.compile(r"(?m):(?:\d{1,5}|\*):[^\s:]+:[^\s:]+:(?P<v>[^\s:]\S*)$")
PGPASS_HOST = re.compile(r"[^\s:#]+")
SECRET_KIND = re.compile(r"kind\\?[\"']?[ \t]*:[ \t]*\\?[\"']?Secret\b")
DATA_JSON = re.compile(r"\\?\"(?:data|stringData)\\?\"[ \t]*:[ \t]*\{(?P<v>[^{}]{0,65536})\}")
DATA_JSON_VALUE = re.compile(r":[ \t]*\\?\"(?P<v>(?:[^\"\\]|\\[^\"]){1,65536})\\?\"")
DATA_YAML = re.compile(r"(?m)^(?P<i>[ \t]*)(?:data|stringData):[ \t]*$")


_BODY = {'"': re.compile(r'(?:[^"\\\n]|\\.){0,4096}'), "'": re.compile(r"[^'\n]{0,4096}"),
         "`": re.compile(r"[^`\n]{0,4096}"), '\\"': re.compile(r'(?:[^\\\n]|\\(?!")){0,4096}')}
# `password: long pass phrase 42` inside a log line: the words after the first, up to the next
# key (`user=bob`), punctuation or the end of the line.
WORDS = re.compile(r"(?: [^\s,;}\]\"'=:<>\\]+(?=\s|$|[,;}\]\"']))*")
BARE = re.compile(r"(?:[^ \t\r\n\"'`,;&<>)}\]|\\]|\\(?![nr\"])){0,4096}")


def lowered(text: str) -> str:
    """``text.lower()`` with the same offsets (a character whose lower case is longer stays)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _close(text: str, start: int, quote: str) -> int:
    """Index of the quote ending a value opened just before ``start`` (or -1)."""
    end = _BODY[quote].match(text, start).end()  # type: ignore[union-attr]
    return end if text.startswith(quote, end) else -1


def _block(text: str, line_start: int, after: int) -> Span | None:
    """The lines of a YAML block scalar (``key: |``) indented deeper than its key."""
    indent = len(text[line_start:after]) - len(text[line_start:after].lstrip(" \t-"))
    end = text.find("\n", after)
    if end < 0:
        return None
    start, pos = end + 1, end + 1
    while pos < len(text):
        nl = text.find("\n", pos)
        line = text[pos:] if nl < 0 else text[pos:nl]
        if line.strip() and len(line) - len(line.lstrip(" \t")) <= indent:
            break
        pos = len(text) if nl < 0 else nl + 1
    stop = pos - 1 if pos <= len(text) and text[pos - 1:pos] == "\n" else pos
    return (start, stop) if stop > start else None


def value_span(text: str, pos: int, line_start: int, anchored: bool) -> Span | None:
    """The value starting at ``pos``: quoted, a YAML block, the rest of its line, or a word."""
    if text.startswith('\\"', pos):
        end = _close(text, pos + 2, '\\"')
        return (pos + 2, end) if end > pos + 2 else None
    if pos < len(text) and text[pos] in "\"'`":
        end = _close(text, pos + 1, text[pos])
        return (pos + 1, end) if end > pos + 1 else None
    if anchored:
        nl = text.find("\n", pos, pos + MAX_VALUE)
        end = min(len(text), pos + MAX_VALUE) if nl < 0 else nl
        line = text[pos:end]
        if BLOCK.fullmatch(line.strip()):
            return _block(text, line_start, pos)
        comment = line.find(" #")
        if comment >= 0:
            line = line[:comment]
        line = line.rstrip(" \t\r,")
        return (pos, pos + len(line)) if line else None
    end = BARE.match(text, pos).end()  # type: ignore[union-attr]
    return (pos, end) if end > pos else None


def _line_start(text: str, pos: int) -> int:
    """Start of the line holding ``pos``, looking back no further than MAX_VALUE."""
    floor = max(0, pos - MAX_VALUE)
    found = text.rfind("\n", floor, pos)
    return found + 1 if found >= 0 else floor


def _in_key(char: str) -> bool:
    """ASCII letters, digits and ``_.-/``, or any other letter (``пароль``, ``contraseña``)."""
    return char in KEY_CHARS or (char > "\x7f" and char.isalnum())


def _key_around(text: str, hit: int) -> tuple[int, int]:
    start = hit
    while start > 0 and hit - start < 80 and _in_key(text[start - 1]):
        start -= 1
    end = hit
    while end < len(text) and end - start < 100 and _in_key(text[end]):
        end += 1
    return start, end


def _prose(key: str, kq: str, value: str) -> bool:
    """``invalid token: signature expired`` — lowercase words after a lowercase key's colon."""
    words = value.split(" ")
    return not kq and key.isalpha() and key.islower() and all(
        w.isalpha() and w.islower() for w in words)


def _spaced_secret(kind: str, key: str, text: str, span: Span) -> bool:
    """A value after only a space counts if quoted or credential-like — never a prose word."""
    value = text[span[0]:span[1]]
    if not value_is_secret(kind, value, key) or (value.isalpha() and value.islower()):
        return False
    if key.lower() in ("secret", "secrets") and DNS_LABEL.match(value):
        return False    # secret "sh.helm.release.v1.redis.v3" already exists: an object's name
    quoted = span[0] > 0 and text[span[0] - 1] in "\"'"
    if key.startswith("-") or quoted:
        return True
    return kind in ("password", "strong", "weak") and len(value) >= 8 and any(
        c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _keyed_value(text: str, start: int, end: int, kind: str) -> tuple[Span | None, int]:
    """The value after the key at [start, end), and where scanning may resume."""
    line_start = _line_start(text, start)
    match = KEY_AT.match(text, start)
    if match and match.end("k") == end:
        if text.startswith("${", start - 2):
            return None, end    # ${API_KEY:?must be set}: a shell expansion names a variable
        if start > 0 and text[start - 1] == ":" and match.group("sep") == ":" \
                and not text.startswith((" ", "\"", "'"), match.end("sep")):
            return None, end    # arn:aws:secretsmanager:…, a:b:c — an identifier, not a key
        anchored = bool(LINE_HEAD.match(text, line_start, start))
        inline = INLINE.match(text, match.end())
        if inline:
            span = value_span(text, inline.end(), line_start, False)
            if span and value_is_secret(kind, text[span[0]:span[1]]):
                return span, span[1]
        span = value_span(text, match.end(), line_start, anchored)
        if span is None:
            return None, match.end()
        if anchored and kind == "shape" and not value_is_secret(kind, text[span[0]:span[1]]):
            span = value_span(text, match.end(), line_start, False)  # sessionid=…; Path=/
            if span is None:
                return None, match.end()
        if not value_is_secret(kind, text[span[0]:span[1]], match.group("k")):
            return None, match.end()        # the value may itself hold a key: read on
        if not anchored and match.group("sep") == ":" and text[span[0] - 1] not in "\"'`":
            span = (span[0], WORDS.match(text, span[1]).end())  # type: ignore[union-attr]
            if _prose(match.group("k"), match.group("kq") or "", text[span[0]:span[1]]):
                return None, match.end()
        return span, span[1]
    if PAIR_HEAD.search(text, max(0, start - 40), start):
        return _pair_value(text, start, end, kind)
    match = CALL_AT.match(text, start)
    head = CALL_HEAD.search(text, max(0, start - 40), start) if match else None
    if match and head and match.end("k") == end:
        span = value_span(text, match.end(), line_start, False)
        if span and value_is_secret(kind, text[span[0]:span[1]], match.group("k")) and (
                head.group("open") == "(" or credential_shaped(text[span[0]:span[1]])):
            return span, span[1]            # setenv("K", "v") · 'x-api-key', 'v' (a header)
        return None, end
    match = SPACED_AT.match(text, start)
    if match and match.end("k") == end:
        span = value_span(text, match.end(), line_start, False)
        if span and _spaced_secret(kind, match.group("k"), text, span):
            return span, span[1]
    return None, end


def _pair_value(text: str, start: int, end: int, kind: str) -> tuple[Span | None, int]:
    """``name: KEY`` followed (or preceded) by its ``value``."""
    match = PAIR_TAIL.match(text, end)
    if match:
        pair_line = _line_start(text, match.end())
        span = value_span(text, match.end(), pair_line, pair_line > end)
        if span and value_is_secret(kind, text[span[0]:span[1]]):
            return span, span[1]
        return None, match.end()
    head = max(0, start - 300)
    if "value" in text[head:start].lower():
        back = PAIR_REVERSED.search(text, head, start)
        if back:
            group = next(g for g in ("dq", "sq", "bare") if back.group(g) is not None)
            if value_is_secret(kind, back.group(group)):
                return back.span(group), end
    return None, end


def keyword_spans(text: str) -> Iterator[Span]:
    """Values of keys, flags and env entries that name a secret."""
    lower = lowered(text)
    resume = 0
    for hit in HIT.finditer(lower):
        if hit.start() < resume:
            continue
        start, end = _key_around(text, hit.start())
        if start < resume:
            continue
        kind = names_secret(text[start:end])
        if not kind:
            resume = end
            continue
        span, resume = _keyed_value(text, start, end, kind)
        if span:
            yield span
    if "keyname" in lower:
        for match in KEY_LISTING.finditer(lower):
            if value_is_secret("shape", text[match.start("v"):match.end("v")]):
                yield match.span("v")
    if any(needle in lower for needle in LABEL_NEEDLES):
        for match in LABELLED.finditer(lower):
            value = text[match.start("v"):match.end("v")]
            if value_is_secret("password" if match.group("label") == "password" else "shape",
                               value):
                yield match.span("v")
    if "</" in text:
        for match in XML.finditer(text):
            kind = names_secret(match.group("k"))
            if kind and value_is_secret(kind, match.group("v")):
                yield match.span("v")


def header_spans(text: str) -> Iterator[Span]:
    """Authorization and Cookie headers, loose Bearer/Basic, URLs, PEM keys, command lines."""
    lower = lowered(text)
    if "uthori" in lower:
        yield from _authorization(text, lower)
    for pattern in (LOOSE_SCHEME, COOKIE):
        for match in pattern.finditer(lower):
            value = text[match.start("v"):match.end("v")]
            if not value.startswith(("$", "[REDACTED]")) and not is_placeholder(value.strip()):
                yield match.span("v")
    yield from _pgpass(text)
    yield from commands.spans(text, lower)


def _pgpass(text: str) -> Iterator[Span]:
    for match in PGPASS.finditer(text):
        line_start = _line_start(text, match.start())
        host = PGPASS_HOST.match(text, line_start)
        if host and host.end() == match.start():
            yield match.span("v")


def _authorization(text: str, lower: str) -> Iterator[Span]:
    resume = 0
    while match := AUTHORIZATION.search(lower, resume):
        opener = match.group("oq") or ""
        head = match.start() - 6 if lower.startswith("proxy-", match.start() - 6) \
            else match.start()
        if not opener and head > 0 and text[head - 1] in "\"'":
            opener = text[head - 1]                 # -H "Authorization: Token …"
        pos = match.end()
        end = _close(text, pos, opener) if opener else text.find("\n", pos, pos + MAX_VALUE)
        end = min(len(text), pos + MAX_VALUE) if end < 0 else end
        value = text[pos:end].rstrip(" \t\r,")
        resume = max(pos, pos + len(value))
        if value and not is_placeholder(value) and not (value.isalpha() and value.islower()):
            yield pos, pos + len(value)


def secret_object_spans(text: str) -> Iterator[Span]:
    """Every value under ``data``/``stringData`` of a Kubernetes Secret, whatever its key."""
    if not SECRET_KIND.search(text):
        return
    for match in DATA_JSON.finditer(text):
        base = match.start("v")
        for value in DATA_JSON_VALUE.finditer(match.group("v")):
            yield base + value.start("v"), base + value.end("v")
    for match in DATA_YAML.finditer(text):
        indent = len(match.group("i"))
        pos = match.end() + 1
        while pos < len(text):
            nl = text.find("\n", pos)
            end = len(text) if nl < 0 else nl
            line = text[pos:end]
            if line.strip() and len(line) - len(line.lstrip(" \t")) <= indent:
                break
            colon = line.find(": ")
            if colon > 0 and line[colon + 2:].strip():
                yield pos + colon + 2, end
            pos = end + 1
