"""``tools.tracing.traced``: one span per call, named and attributed from the call's arguments,
recorded by a real OpenTelemetry SDK tracer provider into memory."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tools import tracing


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    [span] = exporter.get_finished_spans()
    return span


class Greeter:
    greeting = "hello"

    @tracing.traced(lambda a: f"greet {a['who']}", kind=SpanKind.SERVER,
                    attributes=lambda a: {"who": a["who"], "loud": a["loud"],
                                          "greeting": a["self"].greeting},
                    result=lambda text: {"length": len(text)})
    async def greet(self, who: str, loud: bool = False) -> str:
        text = f"{self.greeting} {who}"
        return text.upper() if loud else text


async def test_an_async_method_gets_a_span_named_and_attributed_from_its_arguments(
        recorded_spans: InMemorySpanExporter) -> None:
    assert await Greeter().greet(who="ada") == "hello ada"
    span = only(recorded_spans)
    assert span.name == "greet ada" and span.kind is SpanKind.SERVER
    assert dict(span.attributes or {}) == {"who": "ada", "loud": False,  # default applied
                                           "greeting": "hello", "length": 9}
    assert span.status.status_code is StatusCode.UNSET


@tracing.traced("sum")
def add(a: int, b: int) -> int:
    return a + b


def test_a_plain_function_too(recorded_spans: InMemorySpanExporter) -> None:
    assert add(2, 3) == 5
    span = only(recorded_spans)
    assert span.name == "sum" and span.kind is SpanKind.INTERNAL
    assert not span.attributes


@tracing.traced("fails", attributes=lambda a: {"n": a["n"]},
                result=lambda _: {"never": True})
async def fails(n: int) -> None:
    raise LookupError(f"no {n}")


async def test_an_exception_is_recorded_and_propagates_unchanged(
        recorded_spans: InMemorySpanExporter) -> None:
    with pytest.raises(LookupError, match="no 7"):
        await fails(7)
    span = only(recorded_spans)
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert (span.events[0].attributes or {})["exception.type"] == "LookupError"
    assert dict(span.attributes or {}) == {"n": 7}  # no result attributes without a result


@tracing.traced("outer")
async def outer() -> int:
    return add(1, 1)


async def test_calls_nest(recorded_spans: InMemorySpanExporter) -> None:
    await outer()
    inner, parent = recorded_spans.get_finished_spans()
    assert (inner.name, parent.name) == ("sum", "outer")
    assert inner.parent is not None and parent.context is not None
    assert inner.parent.span_id == parent.context.span_id


async def listener(ack: Any, body: dict[str, Any], services: Any) -> None:
    """Stands for a Bolt listener."""


def test_the_signature_bolt_injects_by_is_kept() -> None:
    traced = tracing.traced("x")(listener)
    assert inspect.iscoroutinefunction(traced)
    assert inspect.getfullargspec(inspect.unwrap(traced)).args == ["ack", "body", "services"]
    assert traced.__doc__ == listener.__doc__


def test_generators_are_refused() -> None:
    def numbers() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="generator"):
        tracing.traced("numbers")(numbers)
