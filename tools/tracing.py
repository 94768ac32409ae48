"""OpenTelemetry spans, request → agent → tool → Kubernetes call.

The layers only ever ask the global tracer for spans; with no tracer provider installed (the
default) every span is a no-op.  ``app.tracing`` installs one exporting over OTLP when
``HEXABOT_OTLP_ENDPOINT`` is set.  The Kubernetes client's blocking calls run in threads;
``asyncio.to_thread`` carries the context over, so their spans nest under the tool's.

A function that is one span from call to return says so with :func:`traced` rather than
opening the span itself and handing over to a private twin.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, TypeVar, cast

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import Attributes

NAME = "hexabot"

F = TypeVar("F", bound=Callable[..., Any])
Arguments = Mapping[str, Any]  # a call's arguments by parameter name, defaults applied


def tracer() -> trace.Tracer:
    return trace.get_tracer(NAME)


def traced(name: str | Callable[[Arguments], str], *, kind: SpanKind = SpanKind.INTERNAL,
           attributes: Callable[[Arguments], Attributes] | None = None,
           result: Callable[[Any], Attributes] | None = None) -> Callable[[F], F]:
    """Run each call of the decorated function (async or not) in a span of its own.

    ``name`` and ``attributes`` may be computed from the call's arguments: callables given
    them by parameter name (``self`` included, defaults applied), e.g.
    ``attributes=lambda a: {"hexabot.session_id": a["ask"].session_id}``.  ``result`` adds
    attributes from what the call returned.  An exception is recorded on the span, which
    ends with status ERROR, and propagates unchanged.  The decorated function keeps its
    signature (``functools.wraps``), so Bolt still injects its arguments by name.
    """

    def decorate(func: F) -> F:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(f"traced: {func.__qualname__} is a generator; a span would end "
                            "before its body runs")
        signature = inspect.signature(func)
        computed = callable(name) or attributes is not None

        def opened(args: tuple[Any, ...], kwargs: dict[str, Any]
                   ) -> AbstractContextManager[trace.Span]:
            arguments: Arguments = {}
            if computed:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                arguments = bound.arguments
            return tracer().start_as_current_span(
                name(arguments) if callable(name) else name, kind=kind,
                attributes=attributes(arguments) if attributes is not None else None)

        def returned(span: trace.Span, value: Any) -> None:
            if result is not None:
                span.set_attributes(result(value) or {})

        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with opened(args, kwargs) as span:
                    value = await func(*args, **kwargs)
                    returned(span, value)
                    return value

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with opened(args, kwargs) as span:
                value = func(*args, **kwargs)
                returned(span, value)
                return value

        return cast(F, run)

    return decorate
