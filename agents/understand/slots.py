"""Slots: the values in a request that are not names — namespaces, amounts, log options, time
windows, revisions, ConfigMap edits, a command to run.  Each extractor consumes what it
understood (blanks it out), so what is left is names and the words that say what to do."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agents.understand.words import NUMBERS, close, number

ENVIRONMENTS = ("prod", "production", "prd", "dev", "development", "qa", "test", "testing",
                "uat", "preprod", "stage", "staging", "stg", "sandbox", "live")
NUM = r"(\d+|" + "|".join(sorted(set(NUMBERS) - {"a", "an"}, key=len, reverse=True)) + r")"
# "a few", "a bit", "some": no amount at all (asked back); "an hour", "a day": one.
ONE = r"(\d+|an?|one|" + "|".join(sorted(set(NUMBERS) - {"a", "an"}, key=len, reverse=True)) + r")"
UNITS = {"m": 1, "min": 1, "mins": 1, "minute": 1, "minutes": 1, "h": 60, "hr": 60, "hrs": 60,
         "hour": 60, "hours": 60, "d": 1440, "day": 1440, "days": 1440, "week": 10080,
         "weeks": 10080}
UNIT = r"(m|mins?|minutes?|h|hrs?|hours?|d|days?|weeks?)"
QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


@dataclass
class Text:
    """The request twice: as typed (values keep their case) and lower-cased, same length."""
    original: str
    lower: str = ""

    def __post_init__(self) -> None:
        self.original = self.original.translate(QUOTES)
        lowered = self.original.lower()
        self.lower = lowered if len(lowered) == len(self.original) else self.original

    def take(self, start: int, end: int) -> None:
        blank = " " * (end - start)
        self.original = self.original[:start] + blank + self.original[end:]
        self.lower = self.lower[:start] + blank + self.lower[end:]

    def consume(self, pattern: str, flags: int = 0) -> re.Match[str] | None:
        """The first match of ``pattern`` in the lower-cased text, blanked out."""
        match = re.search(pattern, self.lower, flags)
        if match:
            self.take(*match.span())
        return match

    def raw(self, match: re.Match[str], group: int | str) -> str:
        """A group of a match as typed."""
        start, end = match.span(group)
        return self.original[start:end]


@dataclass
class Slots:
    namespace: str | None = None
    unknown_namespace: str | None = None
    since_minutes: int | None = None
    tail_lines: int | None = None
    previous: bool = False
    container: str | None = None
    sidecar: bool = False
    revision: int | None = None
    replicas: int | None = None          # an absolute amount ("to 5", "--replicas=3")
    counted: bool = False                # ... said to be replicas ("6 replicas", --replicas)
    delta: int | None = None             # a relative one ("by 2", "one more", "-1")
    factor: float | None = None          # "double", "halve"
    command: str | None = None
    pvc: str | None = None
    kind: str | None = None
    numbers: list[int] = field(default_factory=list)  # bare numbers left among the words
    words: list[str] = field(default_factory=list)    # every word left, names included
    pairs: dict[str, str] = field(default_factory=dict)


def _int(text: str) -> int:
    found = number(text)
    return found if found is not None else NUMBERS.get(text, 0)


def namespace(text: Text, namespaces: tuple[str, ...], slots: Slots) -> None:
    """``-n X``, ``namespace=X``, ``in (the) namespace X``, ``X/NAME``, ``in/on/under (the)
    X (namespace|ns|env)``, ``X namespace``, a namespace's full name alone, an environment
    word alone ("scale staging web-app"): X a namespace of the user's, or a part of exactly
    one ("staging" → shop-staging), typos forgiven.  A named environment that is none of
    theirs ("in prod") is kept as unknown: the request is asked back, not guessed."""
    def known(word: str) -> str | None:
        if word in namespaces:
            return word
        parts = [n for n in namespaces if word in n.split("-") or
                 (word == "stage" and "staging" in n.split("-"))]
        if not parts:  # "shop-stagin", "stagign"
            parts = [n for n in namespaces if close(word, n) or
                     any(close(word, p) for p in n.split("-") if len(p) >= 5)]
        return parts[0] if len(parts) == 1 else None

    def settle(word: str, span: tuple[int, int]) -> None:
        text.take(*span)
        slots.namespace = known(word)
        if slots.namespace is None:
            slots.unknown_namespace = word

    explicit = re.search(r"(?:^|\s)(?:-n|--namespace)[ =]([a-z0-9][a-z0-9-]*)|"
                         r"\b(?:namespace|ns)\s*[=:]\s*([a-z0-9][a-z0-9-]*)|"
                         r"\b(?:namespace|ns)\s+([a-z0-9][a-z0-9-]*)", text.lower)
    if explicit:
        word = next(g for g in explicit.groups() if g)
        if explicit.group(1) or explicit.group(2) or known(word) or word in ENVIRONMENTS:
            settle(word, explicit.span())
            return
    slash = re.search(r"\b([a-z0-9][a-z0-9-]*)/[a-z0-9]", text.lower)
    if slash and slash.group(1) in namespaces:  # shop-staging/web-app: keep the name
        settle(slash.group(1), (slash.start(1), slash.end(1) + 1))
        return
    for pattern in (r"\b(?:in|on|from|for|of|under)\s+(?:the\s+)?([a-z0-9][a-z0-9-]*)\s+"
                    r"(?:namespace|ns|env|environment|cluster)\b",
                    r"\b([a-z0-9][a-z0-9-]*)\s+(?:namespace|ns)\b",
                    r"\b(?:in|on|from|under)\s+(?:the\s+)?([a-z0-9][a-z0-9-]*)\b"):
        for match in re.finditer(pattern, text.lower):
            word = match.group(1)
            if known(word) or word in ENVIRONMENTS:
                settle(word, match.span())
                return
    for match in re.finditer(r"(?<![\w/-])([a-z0-9][a-z0-9-]*)(?![\w/-])", text.lower):
        word = match.group(1)  # a namespace's dashed full name, or an environment, alone
        if ("-" in word and word in namespaces) or word in ENVIRONMENTS:
            settle(word, match.span())
            return


def window(text: Text, slots: Slots) -> None:
    """"the last hour", "last 45 mins", "since 30 minutes ago", "past 2 hours", "24h"."""
    match = text.consume(rf"\b(?:in\s+the\s+|over\s+the\s+|during\s+the\s+|within\s+the\s+)?"
                         rf"(?:last|past|previous|since)\s+(?:{ONE}\s*)?{UNIT}\b(?:\s+ago)?")
    if match is None:
        match = text.consume(rf"\b{ONE}\s*{UNIT}\s+ago\b")
    if match is None:
        return
    amount = _int(match.group(1)) if match.group(1) else 1
    slots.since_minutes = max(1, amount * UNITS[match.group(2)])


def log_options(text: Text, slots: Slots) -> None:
    match = text.consume(rf"(?:--tail[= ]|\blast\s+|\btail\s+|\bfirst\s+){NUM}"
                         r"(?:\s+(?:log\s+)?lines?)?(?:\s+of)?\b")
    if match is None:
        match = text.consume(rf"\b{NUM}\s+(?:log\s+)?lines?\b(?:\s+of)?")
    if match is not None:
        slots.tail_lines = _int(match.group(1))
    if text.consume(r"(?:^|\s)(?:--previous|-p)\b") or re.search(
            r"\b(previous|prior|crashed|before it (?:crashed|died)|last crash|"
            r"before the crash|from the crash|old container)\b", text.lower):
        slots.previous = True
    match = text.consume(r"(?:^|\s)(?:-c|--container)[ =]([a-z0-9][a-z0-9-]*)")
    if match:
        slots.container = match.group(1)
    if re.search(r"\b(sidecar|istio|envoy|linkerd|mesh proxy)\b", text.lower) and not re.search(
            r"\bnot (?:the |from the |in the )?(?:sidecar|istio|envoy|linkerd|proxy)", text.lower):
        slots.sidecar = True


def revision(text: Text, slots: Slots) -> None:
    match = text.consume(r"(?:--to-revision[= ]|\brevision\s*#?|\brev\.?\s*#?|\bversion\s+#?|"
                         r"\brevision\s+number\s+)(\d+)\b")
    if match:
        slots.revision = int(match.group(1))


def amounts(text: Text, slots: Slots) -> None:
    """Replica amounts: ``--replicas=3``, ``to 5``, ``by 2``, ``one more``, ``+1``,
    ``double``, ``halve``.  A bare number is left for the caller (it may be a count of
    replicas after a name, or lines of a log)."""
    if match := text.consume(r"(?:--replicas[= ]|\breplicas?\s*(?:=|->|=>|\u2192|:)\s*)(\d+)"):
        slots.replicas, slots.counted = int(match.group(1)), True
        return
    down = re.search(r"\b(down|reduce|decrease|lower|less|fewer|remove|shrink|cut|drop)\b",
                     text.lower) is not None
    if match := text.consume(rf"\bby\s+{NUM}\b(?:\s+(?:more\s+)?(?:replicas?|pods?|"
                             r"instances?))?"):
        slots.delta = -_int(match.group(1)) if down else _int(match.group(1))
    elif match := text.consume(rf"\b(?:add|another|plus)\s+{NUM}(?:\s+more)?\b|\b{NUM}\s+more\b"
                               r"|\banother\b|(?:^|\s)\+(\d+)\b"):
        value = next((g for g in match.groups() if g), "1")
        slots.delta = _int(value)
    elif match := text.consume(rf"\b{NUM}\s+(?:less|fewer)\b|(?:^|\s)-(\d+)\b"):
        value = next((g for g in match.groups() if g), "1")
        slots.delta = -_int(value)
    elif match := text.consume(rf"\b(?:to|=)\s*{NUM}\b(\s+(?:replicas?|pods?|instances?))?"):
        slots.replicas, slots.counted = _int(match.group(1)), bool(match.group(2))
    elif match := text.consume(rf"\b{NUM}\s+(?:replicas?|pods?|instances?|copies)\b"):
        slots.replicas, slots.counted = _int(match.group(1)), True
    if re.search(r"\b(double|twice|x2)\b", text.lower):
        slots.factor = 2.0
    elif re.search(r"\b(halve|half|cut in half)\b", text.lower):
        slots.factor = 0.5
    elif re.search(r"\btriple\b", text.lower):
        slots.factor = 3.0


def exec_command(text: Text, slots: Slots, names: set[str]) -> None:
    """The command to run, as typed: "run X in NAME", after ``--``, in backticks or quotes, or
    what follows ``exec NAME`` (a name in ``names``); a trailing "please" or ", then …" is not
    part of it.  A command given twice (quoted and after ``--``) is left unclear."""
    def keep(match: re.Match[str], group: int) -> None:
        command = re.sub(r"(?:,\s*(?:then|and|so)\b.*|\s+(?:please|pls|plz|thanks|thx))$", "",
                         text.raw(match, group).strip(), flags=re.I)
        command = command.strip()
        if len(command) > 1 and command[0] == command[-1] and command[0] in "`'\"":
            command = command[1:-1].strip()
        slots.command = command
        text.take(*match.span(group))

    ran = re.search(r"\b(?:run|execute)\s+(.+?)\s+(?:in|on|inside|within)\s+(?:the\s+)?"
                    r"(?:pod\s+)?([a-z0-9][a-z0-9.-]*)", text.lower)
    if ran and any(close(ran.group(2), n) for n in names) and not re.match(
            r"(?:a|the|one|some|it)\b", ran.group(1)):
        keep(ran, 1)
        return
    dashed = re.search(r"(?:^|\s)--\s+(\S.*)$", text.lower)
    quoted = re.search(r"`([^`]+)`|'([^']+)'|\"([^\"]+)\"", text.lower)
    if dashed and quoted and quoted.start() < dashed.start():
        slots.command = ""  # two commands: neither is run
        return
    if dashed:
        keep(dashed, 1)
        return
    if quoted:
        keep(quoted, next(i for i in (1, 2, 3) if quoted.group(i)))
        return
    match = re.search(r"\bexec(?:ute)?\s+(?:into\s+|in\s+)?(?:the\s+)?(?:pod\s+)?"
                      r"(?:[a-z]+/)?([a-z0-9][a-z0-9.-]*)\s+(?:and\s+(?:run|execute)\s+)?"
                      r"(?:-c\s+[a-z0-9-]+\s+)?(\S.*)$", text.lower)
    if match and match.group(1) in names:
        keep(match, 2)


def pvc(text: Text, slots: Slots) -> None:
    match = text.consume(r"(?:--to[= ]|\b(?:to|into|in|onto)\s+(?:the\s+)?(?:pvc|volume|"
                         r"persistent ?volume ?claim)\s+(?:called\s+|named\s+)?|(?<![\w-])pvc\s+"
                         r"(?:called\s+|named\s+)?)([a-z0-9][a-z0-9.-]*)")
    if match is None:
        match = text.consume(r"\b(?:to|into|onto)\s+(?:the\s+)?([a-z0-9][a-z0-9.-]*-"
                             r"(?:pvc|backups?|dumps?|vol|volume|storage))\b|"
                             r"\b(?:into|onto)\s+(?:the\s+)?([a-z0-9][a-z0-9.]*-[a-z0-9.-]+)")
    if match:
        slots.pvc = next(g for g in match.groups() if g)


def pairs(text: Text, slots: Slots) -> None:
    """``KEY=VALUE`` pairs, as typed (flags like ``--tail=5`` are not pairs)."""
    for match in list(re.finditer(r"(?<![\w-])([a-z_][\w.]*)\s*(?:=|->|=>|\u2192)\s*"
                                  r"(\"[^\"]*\"|'[^']*'|\S+)",
                                  text.lower)):
        key, value = text.raw(match, 1), text.raw(match, 2).strip("'\"")
        slots.pairs[key] = value
        text.take(*match.span())
