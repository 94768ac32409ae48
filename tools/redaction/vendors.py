"""Credentials recognisable by their own shape, wherever they appear (no key needed).

The maintained part comes from Yelp's detect-secrets: the ``denylist`` regexes of its vendor
plugins (Stripe, Slack, GitHub, GitLab, OpenAI, PyPI, SendGrid, Twilio, npm, Discord, …) are
used as they ship.  Our own list adds formats it lacks or matches too narrowly (newer Stripe,
Anthropic and OpenAI project keys, fine-grained GitHub PATs, Google, DigitalOcean, Vault,
Hugging Face, Grafana, Azure AD…).  A match is widened to the end of the token, since several
upstream patterns fix a length and would otherwise leave a tail of a longer key behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

# Whole match is the secret; the needle (lower-cased text) gates patterns that cannot be
# searched by a literal prefix.
UPSTREAM: tuple[tuple[type, str], ...] = (
    (StripeDetector, "k_live_"), (SlackDetector, ""), (GitHubTokenDetector, "gh"),
    (GitLabTokenDetector, "gl"),
    (PypiTokenDetector, ""), (SendGridDetector, ""), (TwilioKeyDetector, ""),
    (MailchimpDetector, "-us"), (SquareOAuthDetector, ""), (DiscordBotTokenDetector, "."),
)
# (Its Telegram pattern ``\d{8,10}:[…]{35}`` is searched from the colon instead — same shape,
# a tenth of the cost on text full of digits; the bot id before the colon is not secret.)
# (Its OpenAI pattern is left out: ``sk-[…]*[…]{20}T3BlbkFJ`` backtracks quadratically on a
# long run of ``sk-sk-…``; our own ``sk-`` rule covers those keys.)

OWN: tuple[tuple[str, str], ...] = (
    ("k_live_", r"[sr]k_live_[0-9a-zA-Z]{10,}"), ("k_test_", r"[sr]k_test_[0-9a-zA-Z]{10,}"),
    ("", r"whsec_[A-Za-z0-9+/=]{20,}"),
    ("", r"xox[abposre]-[A-Za-z0-9-]{10,}"), ("", r"xoxe\.xox[bp]-[A-Za-z0-9-]{10,}"),
    ("", r"xapp-\d-[A-Za-z0-9-]{10,}"),
    ("", r"gh[pousr]_[A-Za-z0-9]{30,}"), ("", r"github_pat_[A-Za-z0-9_]{22,}"),
    ("", r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas|sa)-[A-Za-z0-9_\-]{20,}"),
    ("", r"sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?[A-Za-z0-9_\-]{20,}"),
    ("", r"A(?:3T[A-Z0-9]|KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA|PKA)[A-Z0-9]{16}\b"),
    ("", r"AIza[0-9A-Za-z_\-]{35}"), ("", r"GOCSPX-[A-Za-z0-9_\-]{20,}"),
    ("", r"ya29\.[0-9A-Za-z_\-]{20,}"), ("", r"1//0[0-9A-Za-z_\-]{30,}"),
    ("", r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"), ("", r"npm_[A-Za-z0-9]{36}"),
    ("", r"pypi-AgE[A-Za-z0-9_\-]{50,}"), ("", r"do[opr]_v1_[a-f0-9]{64}"),
    ("", r"AC[a-f0-9]{32}\b"), ("", r"SK[a-f0-9]{32}\b"), ("", r"key-[0-9a-f]{32}\b"),
    ("-us", r"[0-9a-f]{32}-us\d{1,2}\b"),
    ("", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"), ("", r"ATATT3[A-Za-z0-9_\-=]{20,}"),
    ("", r"hv[sbr]\.[A-Za-z0-9_\-]{20,}"),
    (".atlasv1.", r"[a-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{40,}"),
    ("", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{30,}"),
    ("", r"lin_(?:api|oauth)_[A-Za-z0-9]{30,}"),
    ("", r"ntn_[A-Za-z0-9]{40,}"), ("", r"secret_[A-Za-z0-9]{43}\b"),
    ("", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),
    ("", r"hf_[A-Za-z0-9]{30,}"), ("", r"glsa_[A-Za-z0-9]{32}_[a-fA-F0-9]{8}"),
    ("", r"glc_[A-Za-z0-9+/]{32,}"), ("", r"NRAK-[A-Z0-9]{27}"), ("", r"NRII-[A-Za-z0-9_\-]{32}"),
    ("", r"dapi[a-f0-9]{32}"), ("", r"sntry[su]_[A-Za-z0-9+/=_]{40,}"),
    ("", r"sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,}"),
    ("", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-=.]{32,}"), ("", r"pul-[a-f0-9]{40}"),
    ("", r"AGE-SECRET-KEY-1[0-9A-Z]{58}"), ("q~", r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,40}"),
    ("", r"r8_[A-Za-z0-9]{37}"), ("", r"gsk_[A-Za-z0-9]{48,}"), ("", r"xai-[A-Za-z0-9]{60,}"),
    ("", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}"), ("", r"EAA[CG][A-Za-z0-9]{60,}"),
    ("", r"dt0[a-zA-Z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64}"), ("", r"rubygems_[a-f0-9]{48}"),
    ("", r"oy2[a-z0-9]{43}"), ("", r"FLWSECK(?:_TEST)?-[a-h0-9]{32}-X"),
    ("", r":(?<=\d{8}:)[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"),
    ("", r"ops_eyJ[A-Za-z0-9+/=_\-]{40,}"),
    ("", r"tskey-(?:auth|api|client|scim|webhook)-[A-Za-z0-9_\-]{10,}"),
    ("", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]+"),
    ("discord", r"https://discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]+"),
    ("", r"\.webhook\.office\.com/webhookb2/[A-Za-z0-9@/\-]+"),
    ("", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"),
)



def _needle(pattern: re.Pattern[str], fallback: str) -> str:
    """'' when the regex engine can search by its literal head, else a lower-case needle."""
    head = re.match(r"[A-Za-z0-9_:/]{2,}", pattern.pattern)
    if head:
        return head.group().lower() if pattern.flags & re.IGNORECASE else ""
    return fallback


PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    *((_needle(p, needle), p) for detector, needle in UPSTREAM
      for p in detector.denylist),  # type: ignore[attr-defined]
    *((needle, re.compile(p)) for needle, p in OWN),
)
# Any other vendor's prefixed token: ``dckr_pat_…``, ``pcsk_…``, ``sbp_…`` — a short lower-case
# prefix, an underscore, then 24+ characters mixing upper case, lower case and digits — unless
# the prefix is one of an object id (``ch_…``, ``cus_…``, ``req_…``).
GENERIC = re.compile(r"_(?:[a-z]{2,6}_)?(?P<body>[A-Za-z0-9\-_]{24,256})(?![A-Za-z0-9\-_])")
_PREFIX = re.compile(r"(?<![A-Za-z0-9_\-])[a-z][a-z0-9]{1,9}$")
# Prefixes of object *ids*, not credentials: Stripe charges, customers, intents, events…,
# API request/message/file ids of the model providers.
ID_PREFIXES = frozenset({
    "ch", "cus", "pi", "pm", "py", "in", "ii", "il", "sub", "si", "price", "prod", "evt", "txn",
    "re", "po", "src", "card", "ba", "acct", "seti", "cs", "pyr", "dp", "du", "tr", "trr",
    "cn", "cbtxn", "req", "msg", "msgbatch", "file", "asst", "thread", "run", "step", "batch",
    "call", "toolu", "chatcmpl", "resp", "vs", "ftjob", "ft", "org", "proj", "user", "usr"})
_TAIL = re.compile(r"(?:[A-Za-z0-9_\-]|\.(?=[A-Za-z0-9_\-]))*")
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def spans(text: str) -> Iterator[tuple[int, int]]:
    """Each vendor token, from its first character to the end of the token."""
    lower = text.lower()
    for needle, pattern in PATTERNS:
        if needle and needle not in lower:
            continue
        pos = 0
        while match := pattern.search(text, pos):
            start, end = match.span()
            pos = max(end, start + 1)
            if start > 0 and text[start - 1] in _WORD and text[start] in _WORD:
                continue        # inside a longer word: not where a token starts
            if match.group().startswith(("https://", ".webhook")):
                path = match.group().find("/", match.group().find(".") + 1)
                yield start + path, end     # webhook URL: keep the host, hide the path
                continue
            pos = _TAIL.match(text, end).end()  # type: ignore[union-attr]
            yield start + (text[start] == ":"), pos     # a Telegram id stays, not its colon
    yield from _generic(text)


def _random(body: str) -> bool:
    """Mixed like a random token (upper and lower case about even, a digit), not CamelCase."""
    letters = [c for c in body if c.isalpha()]
    upper = sum(c.isupper() for c in letters)
    return bool(letters) and 0.25 <= upper / len(letters) <= 0.75 and any(
        c.isdigit() for c in body)


def _generic(text: str) -> Iterator[tuple[int, int]]:
    for match in GENERIC.finditer(text):
        prefix = _PREFIX.search(text, max(0, match.start() - 11), match.start())
        if prefix and prefix.group() not in ID_PREFIXES and _random(match.group("body")):
            yield prefix.start(), match.end()
