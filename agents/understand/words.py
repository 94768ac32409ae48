"""Words as people type them: tokens, typo-tolerant comparison, numbers written out.

Everything here is pure and small; :mod:`agents.understand.parse` builds on it.
"""

from __future__ import annotations

import re
from functools import lru_cache

NUMBERS = {"zero": 0, "one": 1, "a": 1, "an": 1, "single": 1, "two": 2, "three": 3, "four": 4,
           "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
           "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50,
           "hundred": 100}
TOKEN = re.compile(r"[a-z0-9][a-z0-9_.\-/]*[a-z0-9]|[a-z0-9]")


def tokens(text: str) -> list[str]:
    """Lower-case words; names keep their dashes (``checkout-api``), a possessive 's and
    trailing punctuation go."""
    found = TOKEN.findall(text.lower().replace("\u2019", "'").replace("'s ", " ")
                          .replace("'s?", " "))
    return [t[:-2] if t.endswith("'s") else t for t in found]


@lru_cache(maxsize=4096)
def distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions):
    ``lsit``/``list`` and ``restrat``/``restart`` are 1 and 2 edits apart."""
    if a == b:
        return 0
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def tolerance(word: str) -> int:
    """How many edits a word of this length may carry and still be recognised."""
    return 0 if len(word) < 4 else 1 if len(word) < 8 else 2


def close(typed: str, known: str) -> bool:
    """``typed`` is ``known`` with at most a typo or two (none for short words); same first
    letter unless it is a swap of the first two; a letter dropped or added only in longer
    words."""
    if typed == known:
        return True
    allowed = tolerance(known)
    if not allowed or abs(len(typed) - len(known)) > allowed:
        return False
    if typed[0] != known[0] and typed[:2] != known[1::-1]:
        return False
    if len(known) < 6 and sorted(typed) != sorted(known):  # short words: only a swap
        return False                                        # ("lgos"; "want" is not "wast")
    return distance(typed, known) <= allowed


def number(word: str) -> int | None:
    """``4``, ``four`` → 4; anything else None."""
    if word.isdigit():
        return int(word)
    return NUMBERS.get(word) if word not in ("a", "an") else None
