"""Passwords on command lines, where the flag alone says nothing and the *tool* decides.

``-p`` is a password to ``mysql``, ``cqlsh`` and ``docker login`` but a port to ``psql`` and
``ssh``; ``-w`` is the bind password of the ``ldap*`` tools; ``-K`` the raw key of ``openssl
enc``; ``user/password@db`` the login of Oracle's ``sqlplus``, ``expdp`` and ``rman``.  So each
rule names its tools and their flags, and is tried only when one of its needles (lower case)
is in the text.  A secret piped into ``--password-stdin`` (``echo 'pw' | docker login …``) is
the same class: the tool reads it, the shell history keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tools.redaction.keys import is_placeholder

Span = tuple[int, int]
# A flag's value, bare or quoted (the quotes stay); ``-p 'pw'`` and ``-ppw`` both work.
_VALUE = r"(?:'(?P<sq>[^'\n]{1,256})'|\"(?P<dq>[^\"\n]{1,256})\"|(?P<v>[^\s\-'\"]\S{0,4095}))"
_LINE = r"\b[^\n]{0,300}?[ \t]"
URL_PASSWORD = re.compile(r"://[^\s:/?#@\"'<>]{0,256}:(?P<v>[^\s@/?#\"'<>]{1,256})@")
URL_TOKEN = re.compile(r"://(?P<v>[A-Za-z0-9_\-.~%]{20,256})@")
PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----(?P<v>[A-Za-z0-9+/=\s\\:,.\-]*?)"
    r"(?:-----END [A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----|(?![A-Za-z0-9+/=\s\\:,.\-]))")
GATED: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (("://",), URL_PASSWORD), (("://",), URL_TOKEN), (("private key",), PEM),
    (("mysql", "mariadb", "7z"), re.compile(
        r"(?:mysql\w*|mariadb\w*|7za?)\b[^\n]{0,300}?[ \t]-p(?P<v>[^\s\-][^\s]*)")),
    # -p is the password (not the port) for these
    (("sshpass", "login", "mongo", "cqlsh", "rabbitmqadmin", "nodetool", "influx"), re.compile(
        r"(?:sshpass|login|mongo\w*|cqlsh|rabbitmqadmin|nodetool|influx)" + _LINE
        + r"-(?:p|pw|password)[ \t]+" + _VALUE)),
    # -P is the password (-p something else) for these
    (("zip", "rar", "sqlcmd", "bcp", "isql", "osql", "mosquitto"), re.compile(
        r"(?:(?:un|7)?zip|rar|sqlcmd|bcp|isql|osql|mosquitto_\w+)" + _LINE + r"-P[ \t]*" + _VALUE)),
    (("ldap",), re.compile(r"ldap\w+" + _LINE + r"-w[ \t]+" + _VALUE)),
    (("openssl",), re.compile(r"openssl" + _LINE + r"-(?:K|k|pass)[ \t]+" + _VALUE)),
    (("smbclient", "rpcclient", "smbmap", "net "), re.compile(
        r"(?:smbclient|rpcclient|smbmap|net)" + _LINE
        + r"(?:-U|--user(?:name)?[ =])[ \t]*[\"']?[^\s%\"']{1,100}%(?P<v>[^\s\"']+)")),
    (("htpasswd",), re.compile(r"htpasswd\b[ \t]+-[a-zA-Z]*b[a-zA-Z]*(?:[ \t]+-\S+)*"
                               r"[ \t]+\S+[ \t]+\S+[ \t]+(?P<v>[^\s\-]\S*)")),
    (("redis-cli",), re.compile(r"redis-cli" + _LINE + r"-a[ \t]+" + _VALUE)),
    (("curl", "wget"), re.compile(
        r"(?:curl|wget)\b[^\n]{0,300}?[ \t](?:-u[ \t]*|--user[ =]|--proxy-user[ =])"
        r"[\"']?[^\s:\"']{1,100}:(?P<v>[^\s\"']+)")),
    (("-pass",), re.compile(r"-pass(?:in|out)[ \t]+pass:(?P<v>\S+)")),
    # vault operator unseal <key> · vault login <token>
    (("vault",), re.compile(r"vault[ \t]+(?:operator[ \t]+unseal|login)(?:[ \t]+-\S+)*[ \t]+"
                            r"(?P<v>[A-Za-z0-9+/=._\-]{16,4096})")),
    # echo 'pw' | docker login --password-stdin · printf '%s' "$X" | … · echo u:pw | chpasswd
    (("stdin", "chpasswd", "passphrase-fd"), re.compile(
        r"(?:echo|printf)[ \t]+(?:-[neE]{1,3}[ \t]+)?(?:'%s(?:\\n)?'[ \t]+)?" + _VALUE
        + r"[ \t]*\|[^|\n]{0,200}?(?:--password-stdin|passwd[^|\n]{0,60}--stdin|chpasswd|"
        r"--passphrase-fd)")),
    (("<<<",), re.compile(r"--password-stdin[^\n]{0,200}?<<<[ \t]*" + _VALUE)),
)
# Oracle: sqlplus system/pw@//host:1521/svc · expdp user/pw@db · jdbc:oracle:thin:u/pw@h —
# searched from the `/…@` (a literal the engine skips to), then the tool is read backwards.
ORACLE_TOOLS = ("sqlplus", "sqlldr", "expdp", "impdp", "rman", "dgmgrl", "conn", "thin:")
SLASH_AT = re.compile(r"/(?P<v>[^\s@/\"']{1,256})@")
ORACLE_HEAD = re.compile(
    r"(?:(?:sqlplus|sqlldr|expdp|impdp|rman|dgmgrl|conn(?:ect)?)[ \t]+(?:-\S+[ \t]+)*"
    r"(?:target[ \t]+|userid=)?|thin:)[\"']?[A-Za-z_][\w$#.]{0,60}$")


def _value(match: re.Match[str]) -> Span | None:
    for group in ("v", "sq", "dq"):
        if group in match.re.groupindex and match.group(group) is not None:
            value = match.group(group)
            if is_placeholder(value) or value.startswith(("$", "[REDACTED]")):
                return None
            return match.span(group)
    return None


def _oracle(text: str) -> Iterator[Span]:
    for match in SLASH_AT.finditer(text):
        head = ORACLE_HEAD.search(text, max(0, match.start() - 200), match.start())
        if head and not is_placeholder(match.group("v")):
            yield match.span("v")


def spans(text: str, lower: str) -> Iterator[Span]:
    """Passwords given to a command line, in URLs and in PEM blocks."""
    if any(tool in lower for tool in ORACLE_TOOLS):
        yield from _oracle(text)
    for needles, pattern in GATED:
        if any(needle in lower for needle in needles):
            for match in pattern.finditer(text):
                span = _value(match)
                if span and span[1] > span[0]:
                    yield span
