"""Install the OTLP trace exporter when ``HEXABOT_OTLP_ENDPOINT`` is set (off by default).

Spans go out in batches over OTLP/HTTP (protobuf) to ``{endpoint}/v1/traces``, as service
``hexabot``; nothing is sent, and nothing costs anything, when the setting is empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.settings import Settings

if TYPE_CHECKING:  # the SDK and exporter are imported only when tracing is on
    from opentelemetry.sdk.trace import TracerProvider


def configure(settings: Settings) -> TracerProvider | None:
    """The installed provider (call ``shutdown()`` on it to flush), or None when off."""
    if not settings.otlp_endpoint:
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "hexabot"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=f"{settings.otlp_endpoint.rstrip('/')}/v1/traces", timeout=5)))
    trace.set_tracer_provider(provider)
    return provider
