"""ConfigMap edits as people say them: ``KEY=VALUE``, "set log level to debug", "change
TIMEOUT_MS to 5000", "turn on new_checkout" (→ "true"), "disable dark_mode" (→ "false"),
"remove dark_mode from feature-flags".  A key is one the person's ConfigMaps have (matched
loosely: "log level" is LOG_LEVEL) or one that looks like a key (``NEW_KEY``, ``a.b``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agents.understand import slots as s
from agents.understand.names import KIND_WORDS, Inventory

VALUE = r"(\"[^\"]*\"|'[^']*'|[^\s,;]+)"
KEY = r"([a-z_][\w.-]*(?: [a-z_][\w.-]*)?)"
SET = (rf"\b(?:set|change|update|bump|make|switch|put|raise|lower)\s+(?:the\s+)?{KEY}\s+"
       rf"(?:value\s+)?(?:to|=|as)\s+{VALUE}")
ON = rf"\b(?:turn|switch|flip)\s+on\s+(?:the\s+)?{KEY}|\b(?:enable|activate)\s+(?:the\s+)?{KEY}"
OFF = (rf"\b(?:turn|switch|flip)\s+off\s+(?:the\s+)?{KEY}|\b(?:disable|deactivate)\s+"
       rf"(?:the\s+)?{KEY}")
REMOVE = (rf"\b(?:remove|delete|drop|unset|clear)\s+(?:the\s+)?(?:key\s+)?{KEY}(?:\s+key)?"
          r"\s+(?:from|in|of|out of)\b")


NOT_KEYS = {"replicas", "replica", "tail", "lines", "revision", "namespace", "container", "n"}


@dataclass
class Edit:
    set: dict[str, str] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)
    valueless: list[str] = field(default_factory=list)  # keys named with no value to set


def _norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _key(typed: str, inventory: Inventory) -> str | None:
    """The ConfigMap key ``typed`` means, or ``typed`` itself when it looks like a key."""
    known = {_norm(k): k for cm in inventory.of("ConfigMap") for k in cm.keys}
    if _norm(typed) in known:
        return known[_norm(typed)]
    names = {o.name for o in inventory.objects}
    if " " in typed or typed.lower() in names or typed.lower() in KIND_WORDS:
        return None
    return typed if ("_" in typed or "." in typed or typed.isupper()) else None


def extract(text: s.Text, inventory: Inventory, found: s.Slots) -> Edit | None:
    edit = Edit()
    s.pairs(text, found)
    for typed, given in found.pairs.items():
        if typed.lower() in NOT_KEYS:
            continue
        edit.set[_key(typed, inventory) or typed] = given
    forms: tuple[tuple[str, str | None], ...] = ((SET, None), (ON, "true"), (OFF, "false"),
                                                  (REMOVE, ""))
    for pattern, value in forms:
        for match in list(re.finditer(pattern, text.lower)):
            group = next(i for i in range(1, (match.lastindex or 1) + 1) if match.group(i))
            typed = text.raw(match, group)
            key = _key(typed, inventory)
            key_end = match.end(group)
            if key is None and " " in typed and pattern is not SET:
                key = _key(typed.split()[0], inventory)
                key_end = match.start(group) + len(typed.split()[0])
            if key is None:
                continue
            if pattern is REMOVE:
                edit.remove.append(key)
            else:
                raw = value if value is not None else text.raw(match, group + 1)
                edit.set[key] = raw.strip("'\"")
                if value is not None:  # "enable dark_mode and new_checkout"
                    more = re.match(r"\s*(?:,|and|&)\s*([a-z_][\w.-]*)", text.lower[key_end:])
                    other = _key(text.original[key_end + more.start(1):key_end + more.end(1)],
                                 inventory) if more else None
                    if more and other:
                        edit.set[other] = value
                        text.take(key_end, key_end + more.end())
            start, end = match.span()
            if pattern is REMOVE:  # keep "from NAME" for the ConfigMap
                end = match.start() + match.group(0).rfind(" ")
            text.take(start, end)
    if not edit.set and not edit.remove:
        keys = {k.lower(): k for cm in inventory.of("ConfigMap") for k in cm.keys}
        for match in re.finditer(r"\b(?:set|change|update|edit|modify|bump|tweak)\s+(?:the\s+)?"
                                 r"([a-z_][\w.-]*)", text.lower):
            if match.group(1) in keys:
                edit.valueless.append(keys[match.group(1)])
    return edit if edit.set or edit.remove or edit.valueless else None
