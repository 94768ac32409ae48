"""A loopback stand-in for Prometheus' HTTP API (``/api/v1/query``, ``/api/v1/query_range``)
with scripted per-workload data, answering in Prometheus' JSON shapes and recording every
query.  It picks the metric from the query's metric name and the workload by matching the
query's ``pod=~"…"`` regex against each workload's real pod names — so a wrong regex or a
wrong namespace gets no data, as it would from a real Prometheus."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from tests.services import serve_app

METRICS = {"container_cpu_usage_seconds_total": "cpu",
           "container_memory_working_set_bytes": "memory",
           "http_request_duration_seconds_bucket": "latency",
           "http_requests_total": "errors"}


@dataclass
class Workload:
    namespace: str
    pods: list[str]
    cpu: list[float] = field(default_factory=list)       # one value per step
    memory: list[float] = field(default_factory=list)
    latency: float | None = None                         # seconds (p95)
    errors: float | None = None                          # ratio


@dataclass
class PrometheusStub:
    workloads: dict[str, Workload]
    queries: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def _match(self, query: str) -> tuple[str, Workload] | None:
        metric = next((kind for name, kind in METRICS.items() if name in query), None)
        namespace = re.search(r'namespace="([^"]+)"', query)
        pods = re.search(r'pod=~"([^"]+)"', query)
        if metric is None or namespace is None or pods is None:
            return None
        pattern = re.compile(pods[1].replace("\\\\", "\\"))
        for workload in self.workloads.values():
            if workload.namespace == namespace[1] and workload.pods and all(
                    pattern.fullmatch(p) for p in workload.pods):
                return metric, workload
        return None

    async def query(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        self.queries.append(params)
        if not params.get("query"):
            return web.json_response({"status": "error", "errorType": "bad_data",
                                      "error": "parse error: no query"}, status=400)
        found = self._match(params["query"])
        result = []
        if found is not None:
            value = getattr(found[1], found[0])
            if value is not None and not isinstance(value, list):
                result = [{"metric": {}, "value": [1700000000.0, str(value)]}]
        return web.json_response({"status": "success",
                                  "data": {"resultType": "vector", "result": result}})

    async def query_range(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        self.queries.append(params)
        try:
            start, step = float(params["start"]), float(params["step"].rstrip("s"))
            float(params["end"])
        except (KeyError, ValueError):
            return web.json_response({"status": "error", "errorType": "bad_data",
                                      "error": "invalid start/end/step"}, status=400)
        found = self._match(params.get("query", ""))
        result = []
        if found is not None and isinstance(getattr(found[1], found[0]), list):
            values = getattr(found[1], found[0])
            result = [{"metric": {}, "values": [[start + i * step, str(v)]
                                                for i, v in enumerate(values)]}]
        return web.json_response({"status": "success",
                                  "data": {"resultType": "matrix", "result": result}})


@contextlib.asynccontextmanager
async def serve(stub: PrometheusStub) -> AsyncIterator[PrometheusStub]:
    app = web.Application()
    app.router.add_get("/api/v1/query", stub.query)
    app.router.add_get("/api/v1/query_range", stub.query_range)
    async with serve_app(app) as url:
        stub.url = url
        yield stub
