"""Before understanding: the noise taken out (mentions, ``kubectl``/``k``, Slack emoji codes,
flags that change nothing, "sloooow"), typos of the words that matter spelled right, and — for
what to do — negated clauses and what a correction replaced left out."""

from __future__ import annotations

import re

from agents.understand.intents import KEEP, VOCABULARY
from agents.understand.names import KIND_WORDS, Inventory
from agents.understand.words import close

# Words values hang on (beyond the intents' cues): a typo here would lose the value.
SLOT_WORDS = ("crashed", "previous", "remove", "delete", "enable", "disable", "revision",
              "replicas", "lines", "staging", "production", "container", "sidecar", "minutes",
              "hours", "restart", "rollback", "configmap", "deployment", "namespace", "logs",
              "healthy", "analysis", "money", "unset", "change", "update", "happen", "happens",
              "would", "should")
WORD = re.compile(r"(?<![\w./'-])[A-Za-z]{4,}(?![\w./'-])")  # a whole word, not TIMEOUT_MS

NEGATED = re.compile(r"\b(?:don'?t|do not|dont|never|no need to|without|stop|"
                     r"not (?:asking|trying|going|wanting|looking|here) to)\s+[^,;.!?]*?"
                     r"(?=[,;.!?]|\bjust\b|\bbut\b|\bonly\b|\binstead\b|$)",
                     re.I)
CORRECTED = re.compile(r"^.*\b(?:no wait|wait no|actually|scratch that|never ?mind|nvm|"
                       r"on second thought)\b[,.!]?", re.I)
HYPOTHETICAL = re.compile(r"\b(?:what (?:would |will )?happens? if|what if|should (?:we|i)|"
                          r"if (?:i|we|you) (?:scaled|restarted|deleted|rolled|removed|changed)|"
                          r"would it (?:help|be)|is it (?:safe|ok|okay) to|do (?:we|i) need to|"
                          r"shall (?:we|i)|would you recommend|safely|safe to)\b", re.I)


def clean(text: str) -> str:
    text = re.sub(r"([A-Za-z])\1{2,}", r"\1", text)  # "sloooow"
    text = re.sub(r"<@[A-Za-z0-9]+>|^\s*/?hexabot\b[:,]?|\bkubectl\b|^\s*k\s+|\bk8s\b|"
                  r":[a-z0-9_+-]+:|(?:^|\s)-(?:f|it|i|t|w)\b|\s-o\s+\w+", " ", text)
    return text.strip()


def cues(text: str) -> str:
    """The words that may say what to do: a negated clause ("don't restart anything") says
    nothing, and after "no wait" / "actually" only the correction counts."""
    text = CORRECTED.sub(" ", text)
    return NEGATED.sub(" ", text)


def spell(text: str, inventory: Inventory) -> str:
    """Words one typo away from a word that matters, spelled right — never a name (or a part
    of one, a container, a ConfigMap key) the person can see."""
    names = {part for o in inventory.objects
             for part in (o.name, *o.name.split("-"), *o.containers, *o.keys)}
    names = {n.lower() for n in names} | set(inventory.namespaces)
    known = sorted(set(VOCABULARY) | set(SLOT_WORDS))

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        lower = word.lower()
        if lower in names or lower in KEEP or lower in known or lower in KIND_WORDS:
            return word
        return next((k for k in known if close(lower, k)), word)

    return WORD.sub(fix, text)
