"""Resolve what a person calls a thing ("my web app", "the API", "my database") to a real
workload in their namespace — or say it is ambiguous, or that nothing matches."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DATABASE_IMAGES = ("postgres", "mysql", "mariadb", "mongo", "redis", "cockroach")
STOPWORDS = {"my", "the", "a", "an", "is", "are", "it", "our", "can", "you", "please", "how",
             "doing", "status", "of", "for", "up", "down", "to", "me", "show", "set", "keeps",
             "app", "service", "application", "and", "i", "with", "in", "on", "what", "why"}


@dataclass(frozen=True)
class Match:
    found: dict[str, Any] | None
    candidates: tuple[dict[str, Any], ...] = ()

    @property
    def ambiguous(self) -> bool:
        return self.found is None and len(self.candidates) > 1


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _score(workload: dict[str, Any], text: str, tokens: set[str]) -> float:
    name = workload["name"]
    parts = set(name.split("-"))
    score = 0.0
    if name in text.lower() or name.replace("-", " ") in text.lower():
        score += 10
    score += 3 * len(parts & tokens)
    score += sum(1 for t in tokens for p in parts if len(t) >= 3 and p.startswith(t))
    if tokens & {"database", "db", "postgres", "postgresql", "mysql"} and (
            workload["kind"] == "StatefulSet" or any(
                db in image for image in workload["images"] for db in DATABASE_IMAGES)):
        score += 5
    return score


def resolve(text: str, workloads: list[dict[str, Any]], kind: str | None = None,
            prefer_namespace: str | None = None) -> Match:
    """The best match; a same-named workload in ``prefer_namespace`` (the current one) wins
    a tie, any other tie is ambiguous."""
    tokens = set(words(text)) - STOPWORDS
    pool = [w for w in workloads if kind is None or w["kind"] == kind]
    scored = sorted(((_score(w, text, tokens) + (0.5 if w["namespace"] == prefer_namespace
                                                  else 0), w) for w in pool),
                    key=lambda s: -s[0])
    scored = [(s, w) for s, w in scored if s > 0.5]
    if not scored:
        return Match(None, ())
    best = scored[0][0]
    top = [w for s, w in scored if s == best]
    return Match(top[0], ()) if len(top) == 1 else Match(None, tuple(top))
