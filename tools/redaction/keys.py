"""Does a key name a secret, and does its value look like one?

A key such as ``DB_PASSWORD``, ``dbPassword``, ``spring.datasource.password``, ``X-Api-Key``
or ``PGPASSWORD`` names a secret; ``secretName``, ``token_ttl``, ``passwordSecretRef`` or
``max_tokens`` only talk *about* one.  Strong words (password, secret, token…, and the word for
password in the languages our users write config in: ``passwort``, ``mot_de_passe``, ``senha``,
``пароль``…) count anywhere in the name; weak words (``key``, ``pass``, ``auth``, ``sig``,
``session``…) only as its last part, and ``key`` also needs a value shaped like a credential so
``PARTITION_KEY=user_id`` stays readable.

A value that only *points* at a secret is not one: masks (``***``, ``[FILTERED]``), variables
(``$TOKEN``, ``${GITHUB_TOKEN}``), code and Terraform references (``os.environ["API_KEY"]``,
``var.db_password``, ``data.vault_generic_secret.x``), YAML tags (``!vault |``), sizes
(``24 bytes`` in ``kubectl describe secret``) and file paths.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

STRONG = ("password", "passwd", "passphrase", "passcode", "secret", "token", "credential",
          "apikey", "privatekey", "accesskey", "secretkey", "signingkey", "encryptionkey",
          "masterkey", "clientkey", "authkey")
# "Password" (and "secret", "token") in other languages, as it appears in keys: any part.
NATIVE = ("passwort", "kennwort", "motdepasse", "senha", "contrasena", "contraseña",
          "contrasenya", "wachtwoord", "salasana", "losenord", "lösenord", "adgangskode",
          "haslo", "hasło", "heslo", "jelszo", "jelszó", "sifre", "şifre", "parola",
          "palavrapasse", "katasandi", "geheimnis", "пароль", "секрет", "токен", "гасло",
          "パスワード", "密码", "密碼", "비밀번호")
WEAK_LAST = frozenset({"pass", "pwd", "pw", "auth", "creds", "cred", "key", "sig",
                       "signature", "dsn", "psk", "pat", "apikey", "passe", "session",
                       "sessid", "sessionid"})
NEEDS_SHAPE = frozenset({"key", "sig", "signature", "pat", "session", "sessid", "sessionid"})
# Session cookies named after their proxy or framework: ``_oauth2_proxy``, ``connect.sid``.
SESSION_COOKIES = frozenset({"oauth2proxy", "connectsid", "jsessionid", "phpsessid",
                             "aspsessionid"})
# Words that start like a secret word and mean something else.
NOT_SECRET_WORDS = frozenset({"tokenizer", "tokenizers", "tokenize", "tokenized",
                              "tokenization", "tokenizing", "secretary", "secretaries",
                              "passenger", "passengers", "passive", "passthrough", "passing",
                              "passed", "keyboard", "keystroke", "keystrokes", "author",
                              "authors", "authored", "authority", "authorities"})
# Parts that turn a secret word into a reference or a setting about secrets.
ABOUT = frozenset({
    "name", "names", "ref", "refs", "reference", "keyref", "existing", "ttl", "timeout",
    "expiry", "expires", "expire", "expiration", "lifetime", "duration", "age", "path", "paths",
    "file", "files", "dir", "directory", "mount", "type", "types", "kind", "length", "len",
    "min", "max", "size", "count", "limit", "limits", "policy", "policies", "mode", "enabled",
    "enable", "disabled", "disable", "required", "require", "url", "uri", "endpoint", "host",
    "header", "field", "format", "version", "rotation", "provider", "store", "manager",
    "namespace", "label", "selector", "volume", "source", "template", "prefix", "suffix",
    "num", "used", "usage", "budget", "reset", "update", "updated", "changed", "last",
    "strength", "complexity", "hint", "help", "prompt", "description", "regex",
    "pattern", "validation", "validator", "rules", "chars", "hash_algorithm",
    "algorithm", "alg", "method", "scheme", "issuer", "audience", "public", "pub", "id_ref",
    "input", "placeholder", "flag", "generated", "generate", "create", "created", "use",
    "refresh_interval", "interval", "period", "window", "metric", "storage", "class",
    "location", "region", "backend", "engine", "mapping", "index", "keys", "list", "status",
    "state", "phase", "ready", "error", "errors", "exists", "present", "missing", "valid",
    "invalid", "expired", "revoked", "rotated", "sync", "synced", "owner", "annotation",
    "days", "day", "hours", "hour", "minutes", "minute", "seconds", "second", "secs", "sec",
    "ms", "stdin", "env", "from", "retries", "attempts", "strategy", "schedule", "cron",
    "scope", "scopes", "permission", "permissions", "role", "roles", "aud", "claims", "claim",
    "subject", "grant", "grants", "reviewer", "reviewers", "info", "ids",
})
DISQUALIFY = frozenset({"existing", "ref", "keyref", "public", "pub", "publishable", "checksum",
                        "digest", "stdin", "inject"})
# `credentialsSecret: aws-creds`, `tlsSecretName: web-tls` — a camelCase key naming a Secret
# object, with a DNS-label value, is a reference, not the secret.
SECRET_OBJECT_KEY = re.compile(r"^(?:[a-z]+(?:[A-Z][a-z0-9]*)*Secret(?:Name|Ref)?|secret)$")
DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9.\-]{0,251}[a-z0-9])?$")
NOT_PASS = frozenset({"bypass", "compass", "surpass", "overpass", "underpass", "trespass",
                      "encompass", "oldpwd"})
NOT_SECRET_KEYS = frozenset({"oldpwd", "keys", "tokens", "secrets"})
# `vault.hashicorp.com/agent-inject-secret-db`: an annotation asks for a secret, its value is
# a path or a name unless it is itself shaped like a credential.
ANNOTATION = re.compile(r"^[a-z0-9\-]+(?:\.[a-z0-9\-]+)+/")
SHAPE_ALONE = frozenset({"key", "auth", "sig", "signature"})
PLACEHOLDER = re.compile(
    r"(?i)^(?:\$\{.*|\$\(.*|\{\{.*|<.*>|%\(.*|#\{.*|\[redacted\].*|redacted|masked|hidden|"
    r"true|false|yes|no|on|off|null|none|nil|~|undefined|n/?a|tbd|todo|changeme_?later|"
    r"required|optional|[*x•.#_\-]+|env:.*|vault:.*|ref\+.*|secretkeyref.*|valuefrom.*|"
    r"<.*|[{\[].*|enabled|disabled|enable|disable|auto|default|always|never|strict|lax|"
    r"unset|empty|omitted|sensitive|filtered|deleted|"
    r"\$[A-Z_][A-Z0-9_]*|%[A-Z_]+%|.*\*{2,}.*|"
    # (sensitive value), (known after apply) — Terraform plans; 24 bytes — kubectl describe
    r"\((?:sensitive|known after apply|hidden|redacted|masked).*|\d+ bytes?|"
    # !vault |, !secret wifi_password, !Ref DbPassword — YAML tags resolved elsewhere
    r"![A-Za-z].*)$")
# Code that reads the value from somewhere else: an env lookup, a Terraform/HCL reference, a
# config attribute.  A literal fallback after it (`|| 'x'`) is found by ``literals``.
REFERENCE = re.compile(
    r"^(?:os\.environ\b|os\.getenv\(|process\.env\b|ENV\b[\[.]|System\.getenv\(|getenv\(|"
    r"Environment\.GetEnvironmentVariable\(|Deno\.env\.|env\(|"
    r"(?:var|local|data|module|each|self|this|args|opts|options|config|cfg|settings|conf|"
    r"params|secrets|inputs|vars|context|ctx|props|values|Values|random_\w+|aws_\w+|"
    r"azurerm_\w+|google_\w+|vault_\w+|kubernetes_\w+)\.[A-Za-z_])")
PATH = re.compile(r"^(?:~|\.{1,2}|/(?:home|Users|root|etc|var|run|tmp|opt|usr|srv|mnt|data|app|"
                  r"secrets|vault|config|workspace|builds))/(?:[\w.\-]+/)*[\w.\-]+$")
SIZE = re.compile(r"^\d+ bytes?$")
_SPLIT = re.compile(r"[\W_]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def parts(key: str) -> list[str]:
    """``dbPassword`` → [db, password]; ``X-Api-Key`` → [x, api, key]."""
    return [p for p in _SPLIT.split(_CAMEL.sub("_", key).lower()) if p]


@lru_cache(maxsize=4096)
def names_secret(key: str) -> str:
    """'' when ``key`` does not name a secret, else 'strong', 'weak' or 'shape' (needs a
    credential-shaped value)."""
    words = [w for w in parts(key) if w not in NOT_SECRET_WORDS]
    if not words or words[-1] in ABOUT or any(w in DISQUALIFY for w in words):
        return ""
    if len(words) == 1 and words[0] in NOT_SECRET_KEYS:
        return ""
    if len(words) == 1 and words[0] in SHAPE_ALONE:
        return "shape"
    joined = "".join(words)
    if any(word in joined for word in NATIVE):
        return "password"
    if joined.endswith(tuple(SESSION_COOKIES)):
        return "weak"
    if ANNOTATION.match(key):
        return "shape"
    if joined in ("apikey", "accesskey", "secretkey", "privatekey"):
        return "strong"
    last = words[-1]
    if any(word in joined for word in STRONG):
        if last in ("tokens", "keys") or words[0] in ("max", "num", "total", "prompt"):
            return ""
        return "password" if "pass" in joined or "pwd" in joined else "strong"
    if last.endswith(("pass", "pwd", "pw")) and len(last) > 4 and last not in NOT_PASS:
        return "password"                   # storepass, requirepass, rootpwd, rootpw
    if last in WEAK_LAST or (last.endswith("auth") and len(last) > 5):
        return "shape" if last in NEEDS_SHAPE else "weak"
    return ""


def is_placeholder(value: str) -> bool:
    """A mask, a variable, a reference, a size or a path: something that is not the secret."""
    return not value or bool(PLACEHOLDER.match(value) or REFERENCE.match(value)
                             or PATH.match(value))


def unwrap(value: str) -> str:
    """``base64:…``/``hex:…`` (Laravel's APP_KEY) and URL-escaping removed: the payload."""
    head, colon, rest = value.partition(":")
    if colon and head.lower() in ("base64", "b64", "hex", "base32") and rest:
        value = rest
    return unquote(value) if "%" in value else value


TOKEN_CHARS = re.compile(r"^[A-Za-z0-9+/=_\-~.]+$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def credential_shaped(value: str) -> bool:
    """Long enough, no spaces, letters mixed with digits or symbols: not a plain word."""
    value = unwrap(value)
    if len(value) < 12 or UUID.match(value) or not TOKEN_CHARS.match(value) \
            or value.count(".") > 1:
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    has_other = any(c in "+/=_-!@#$%^&*~" for c in value)
    return has_alpha and (has_digit or (has_other and len(value) >= 20))


def value_is_secret(kind: str, value: str, key: str = "") -> bool:
    """Whether ``value`` under a key of this ``kind`` (from :func:`names_secret`) is a secret."""
    value = value.strip()
    if is_placeholder(value):
        return False
    if key.lower() == "pwd" and value.startswith(("/", "~", "\\")):
        return False                        # PWD=/home/app: the shell's working directory
    if kind == "shape":
        return credential_shaped(value)
    if SECRET_OBJECT_KEY.match(key.lstrip("-")) and DNS_LABEL.match(value) and "-" in value \
            and all(part.isalpha() or part.isdigit() for part in value.split("-")):
        return False                        # db-creds, web-tls: the name of a Secret object
    return kind == "password" or not (value.isdigit() and len(value) <= 6)
