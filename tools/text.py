"""Compact text for a model: aligned columns, relative ages, and a hard size cap.

Tool output is untrusted data and costs tokens: every result is bounded (default 4 KB) and says
what was cut, never silently.  What is cut is chosen by severity, not position: listings put the
failing and hottest objects first and name every one of them, counting the healthy rest in a
line (:func:`fit`), so a 1,000-pod namespace still shows its six crash-looping pods.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

DEFAULT_LIMIT = 4096


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """How long ago an RFC 3339 time was (``3d``, ``5h``, ``12m``, ``40s``); ``-`` if unreadable.
    (``fromisoformat``, not ``strptime``: a 1,000-pod listing calls this per pod.)"""
    if not timestamp or len(timestamp) < 19 or timestamp[10] != "T":
        return "-"
    try:
        then = datetime.fromisoformat(timestamp[:19]).replace(tzinfo=UTC)
    except ValueError:
        return "-"
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "d" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def columns(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows,
                                                                       strict=False)]
    lines = [header, *rows]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in
                               zip(line, widths, strict=False)).rstrip() for line in lines)


def bound(text: str, limit: int = DEFAULT_LIMIT, keep: str = "head") -> tuple[str, bool]:
    """Cut ``text`` to at most ``limit`` bytes on a line boundary, saying what was cut.

    ``keep="tail"`` keeps the end (logs: the latest lines matter most).
    """
    data = text.encode()
    if len(data) <= limit:
        return text, False
    lines = text.splitlines()
    budget = limit - 120  # room for the note
    kept: list[str] = []
    used = 0
    for line in (reversed(lines) if keep == "tail" else lines):
        size = len(line.encode()) + 1
        if used + size > budget:
            if not kept:  # one enormous line: keep a slice of it
                piece = line.encode()[-budget:] if keep == "tail" else line.encode()[:budget]
                kept.append(piece.decode(errors="ignore"))
            break
        kept.append(line)
        used += size
    cut = len(lines) - len(kept)
    note = (f"[… {cut} of {len(lines)} lines ({len(data) - used:,} bytes) cut to stay under "
            f"{limit:,} bytes; ask for fewer lines or a narrower selection]")
    if keep == "tail":
        return "\n".join([note, *reversed(kept)]), True
    return "\n".join([*kept, note]), True


# -- Answers bounded by severity, not position ------------------------------------------------
# A read tool sorts what it found worst first and offers several layouts, from complete (a row
# for every object) to compact (every unhealthy object named, the healthy ones counted in one
# line).  :func:`fit` sends the first layout that fits the limit; only when even the most
# compact one does not fit are names cut, from the healthiest end, saying how many.

Body = list[tuple[str, int]]  # (line, how many objects it names)


@dataclass(frozen=True)
class Layout:
    head: list[str]                 # always kept
    body: Body                      # cut from the end, as the last resort
    tail: list[str] = field(default_factory=list)  # always kept (the healthy summary)
    complete: bool = True           # every object has a row of its own


def fit(layouts: list[Layout], limit: int, what: str, hint: str) -> tuple[str, bool]:
    """(text, whether any object lost its row): the first of ``layouts`` that fits in ``limit``
    bytes; else the last with its body cut from the end, saying how many ``what`` it left
    unnamed and ``hint`` (how to ask for them)."""
    for layout in layouts:
        text = "\n".join([*layout.head, *(line for line, _ in layout.body), *layout.tail])
        if len(text.encode()) <= limit:
            return text, not layout.complete
    last = layouts[-1]
    kept_text = "\n".join([*last.head, *last.tail])
    budget = limit - len(kept_text.encode()) - 160  # the note
    kept: list[str] = []
    for line, _ in last.body:
        budget -= len(line.encode()) + 1
        if budget < 0:
            break
        kept.append(line)
    left = sum(count for _, count in last.body[len(kept):])
    note = (f"[… {left:,} more {what} not named, to stay under {limit:,} bytes; {hint}]"
            if left else f"[… cut to stay under {limit:,} bytes; {hint}]")
    text = "\n".join([*last.head, *kept, note, *last.tail])
    return bound(text, limit)[0], True


def rows(header: list[str], cells: list[list[str]]) -> Body:
    """An aligned table as body lines, one object per row (nothing for no rows)."""
    if not cells:
        return []
    first, *rest = columns(header, cells).splitlines()
    return [(first, 0), *((line, 1) for line in rest)]


def tally(names: Iterable[str], width: int = 320) -> str:
    """``web-app ×120, api ×60``: most common first, the rest counted after ``width`` chars."""
    ordered = sorted(Counter(names).items(), key=lambda item: (-item[1], item[0]))
    parts: list[str] = []
    used = 0
    for index, (name, count) in enumerate(ordered):
        part = f"{name} ×{count}"
        if parts and used + len(part) > width:
            parts.append(f"… {len(ordered) - index} more")
            break
        parts.append(part)
        used += len(part) + 2
    return ", ".join(parts)


def listing(names: list[str], width: int = 320) -> str:
    """``a, b, c, … 12 more``: names in order, the rest counted after ``width`` characters."""
    parts: list[str] = []
    used = 0
    for index, name in enumerate(names):
        if parts and used + len(name) > width:
            parts.append(f"… {len(names) - index} more")
            break
        parts.append(name)
        used += len(name) + 2
    return ", ".join(parts)


def detailed(head: list[str], full: list[Body], rest: Callable[[int], Body], tail: list[str],
             most: int) -> list[Layout]:
    """Layouts that give the first k items in ``full`` (k = ``most`` down to 0) and name the
    others briefly with ``rest(k)``: for items too long to all fit in full.  One item alone is
    never reduced to its name (cut, it still says more)."""
    layouts = []
    for k in range(min(most, len(full)), -1 if len(full) > 1 else len(full) - 1, -1):
        body = [line for item in full[:k] for line in item] + rest(k)
        layouts.append(Layout(head, body, tail, complete=k == len(full)))
    return layouts


def grouped(label: str, pairs: list[tuple[str, str]]) -> Body:
    """``label``, then each group (in the order first seen) as ``  key ×n:`` and its names
    wrapped under it; nothing when there are no pairs."""
    groups: dict[str, list[str]] = {}
    for key, name in pairs:
        groups.setdefault(key, []).append(name)
    lines: Body = [(label, 0)] if groups else []
    for key, names in groups.items():
        lines.append((f"  {key} ×{len(names)}:", 0))
        lines += wrap([(name, 1) for name in names], indent="    ")
    return lines


def squeeze(names: list[str]) -> list[tuple[str, int]]:
    """Names that differ only after their last ``-`` written once: ``web-7c9d-{x2k9p,m4n7q}``
    (each with how many names it stands for), in the order first seen."""
    groups: dict[str, list[str]] = {}
    for name in names:
        prefix, dash, rest = name.rpartition("-")
        groups.setdefault(prefix if dash else name, []).append(rest if dash else "")
    squeezed: list[tuple[str, int]] = []
    for prefix, rests in groups.items():
        if len(rests) > 1 and all(rests):
            squeezed.append((f"{prefix}-{{{','.join(rests)}}}", len(rests)))
        else:
            squeezed += [(f"{prefix}-{rest}" if rest else prefix, 1) for rest in rests]
    return squeezed


def wrap(items: list[tuple[str, int]], indent: str = "  ", width: int = 100) -> Body:
    """Comma-separated items on lines of about ``width`` characters, each line with how many
    objects its items name."""
    lines: Body = []
    line, count = "", 0
    for item, named in items:
        if line and len(line) + len(item) + 2 > width:
            lines.append((f"{indent}{line},", count))
            line, count = "", 0
        line, count = f"{line}, {item}" if line else item, count + named
    if line:
        lines.append((f"{indent}{line}", count))
    return lines
