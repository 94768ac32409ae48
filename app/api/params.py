"""The chat API's path and query parameters, declared once so every id is checked the same way
before it reaches Postgres or ClickHouse as text.

Ids are short ASCII: action ids are uuid4 hex; session ids are ``api:<hex>``, ``dm:U…``,
``thread:C…:<ts>:U…``, ``slash:C…:U…`` or ``cli:U…``.  Anything else — a NUL byte (which
asyncpg refuses mid-query: a 500), other control characters, non-ASCII, over 128 characters —
is a 400 naming the parameter.  ``since`` is bounded so the moment it names exists in every
store (an unbounded count of days overflows the date).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9:._-]*$"
MAX_ID_LENGTH = 128
SINCE_PATTERN = r"^([0-9]{1,8}s|[0-9]{1,6}m|[0-9]{1,5}h|[0-9]{1,4}d)$"


def _id(what: str) -> Any:
    return Path(pattern=ID_PATTERN, min_length=1, max_length=MAX_ID_LENGTH,
                description=f"{what}: ASCII letters, digits and `:._-`, at most "
                            f"{MAX_ID_LENGTH} characters")


ActionId = Annotated[str, _id("a pending action's id")]
SessionId = Annotated[str, _id("one of the caller's sessions")]
Since = Annotated[str | None, Query(
    pattern=SINCE_PATTERN, description="events since this long ago: 30m, 1h, 2d (at most "
                                       "99999999s, 999999m, 99999h or 9999d)")]
