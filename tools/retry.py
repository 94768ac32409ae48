"""Retrying, one way: bounded tenacity policies, and the ``Retry-After`` header read once.

A caller says what is worth retrying (exception types, or a predicate on the exception), how
long to keep at it (``attempts``, ``patience`` seconds, or both) and how long to wait between
attempts: :func:`backoff` (exponential, between two bounds) or :func:`honour_retry_after`
(what the server asked for, capped).  Anything not worth retrying is raised at once; giving up
raises the last error itself, never tenacity's ``RetryError``.  The sleep is injectable, so a
test can record the waits instead of waiting.

This is the bottom layer: it imports nothing of Hexabot's.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    stop_before_delay,
    wait_exponential,
)
from tenacity.retry import retry_base
from tenacity.stop import stop_base

# The longest wait a Retry-After header can ask of us: an hour.  A server asking for more is
# either wrong or means "not today"; each caller caps its own waits far lower still.
MAX_RETRY_AFTER = 3600.0

RetryOn = type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
Wait = Callable[[RetryCallState], float]
OnRetry = Callable[[RetryCallState], None]


def retry_after(value: str | None, default: float) -> float:
    """The seconds a ``Retry-After`` header asks for (RFC 9110, section 10.2.3).

    Both forms are accepted: delta-seconds (``"120"``; fractions are tolerated) and an
    HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``), counted from now.  A missing, empty or
    unreadable value gives ``default``; a negative number or a date in the past gives 0; more
    than :data:`MAX_RETRY_AFTER` (an hour) gives that cap.
    """
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        if when.tzinfo is None:  # "-0000" (RFC 5322): UTC, as every HTTP-date is
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff(first: float, longest: float) -> Wait:
    """Exponential back-off: ``first`` seconds, then twice as long each time, at most
    ``longest``."""
    return wait_exponential(multiplier=first, max=longest)


def honour_retry_after(cap: float) -> Wait:
    """Wait what the failed attempt's error asked for (its ``retry_after`` seconds, 0 if it
    names none), at most ``cap``."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return min(float(getattr(error, "retry_after", 0.0)), cap)

    return wait


def _retry(retry_on: RetryOn) -> retry_base:
    if isinstance(retry_on, type | tuple):
        return retry_if_exception_type(retry_on)
    return retry_if_exception(retry_on)


def _policy(retry_on: RetryOn, wait: Wait, attempts: int | None, patience: float | None,
            on_retry: OnRetry | None) -> dict[str, Any]:
    """The keyword arguments shared by :func:`retrying` and :func:`async_retrying`."""
    stops: list[stop_base] = []
    if attempts is not None:
        stops.append(stop_after_attempt(attempts))
    if patience is not None:
        stops.append(stop_before_delay(patience))
    if not stops:
        raise ValueError("a retry policy needs attempts, patience or both: it must end")
    return {"retry": _retry(retry_on), "wait": wait, "stop": stop_any(*stops),
            "before_sleep": on_retry, "reraise": True}


def retrying(retry_on: RetryOn, wait: Wait, *, attempts: int | None = None,
             patience: float | None = None, on_retry: OnRetry | None = None,
             sleep: Callable[[float], None] = time.sleep) -> Retrying:
    """A blocking retry policy: ``for attempt in policy: with attempt: ...``, or
    ``policy(fn, *args)``.

    ``retry_on`` errors are retried (the others raised at once) for at most ``attempts``
    attempts and, with ``patience``, never past ``patience`` seconds: the next wait must end
    before then.  ``on_retry`` runs before each wait; giving up raises the last error.
    """
    return Retrying(sleep=sleep, **_policy(retry_on, wait, attempts, patience, on_retry))


def async_retrying(retry_on: RetryOn, wait: Wait, *, attempts: int | None = None,
                   patience: float | None = None, on_retry: OnRetry | None = None,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
                   ) -> AsyncRetrying:
    """:func:`retrying` for coroutines: ``await policy(fn, *args)``; ``sleep`` is awaited.

    ``fn`` must be a coroutine function (``async def``): tenacity calls anything else without
    awaiting what it returns, so a lambda returning a coroutine would never run.
    """
    return AsyncRetrying(sleep=sleep, **_policy(retry_on, wait, attempts, patience, on_retry))
