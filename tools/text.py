"""Compact text for a model: aligned columns, relative ages, and a hard size cap.

Tool output is untrusted data and costs tokens: every result is bounded (default 4 KB) and says
what was cut, never silently.
"""

from __future__ import annotations

from datetime import UTC, datetime

DEFAULT_LIMIT = 4096


def age(timestamp: str | None, now: datetime | None = None) -> str:
    if not timestamp:
        return "-"
    try:
        then = datetime.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
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
