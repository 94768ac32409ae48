"""OpenTelemetry spans, request → agent → tool → Kubernetes call.

The layers only ever ask the global tracer for spans; with no tracer provider installed (the
default) every span is a no-op.  ``app.tracing`` installs one exporting over OTLP when
``HEXABOT_OTLP_ENDPOINT`` is set.  The Kubernetes client's blocking calls run in threads;
``asyncio.to_thread`` carries the context over, so their spans nest under the tool's.
"""

from __future__ import annotations

from opentelemetry import trace

NAME = "hexabot"


def tracer() -> trace.Tracer:
    return trace.get_tracer(NAME)
