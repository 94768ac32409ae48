"""An optional Prometheus, read over its HTTP API (``/api/v1/query``, ``/api/v1/query_range``).

Prometheus does not apply Kubernetes RBAC, so the analyses only ever query namespaces the
user's own context allows and workloads they just listed as themselves; queries are built
here from those names (escaped), never from text a person or a model wrote.

Errors map to the tools layer's: a 400 (bad query) is :class:`InvalidArguments`, anything
unreachable or 5xx is :class:`Unavailable`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from tools import errors

Series = list[tuple[float, float]]

CPU = ('sum(rate(container_cpu_usage_seconds_total{{namespace="{ns}",pod=~"{pods}",'
       'container!=""}}[5m]))')
MEMORY = 'sum(container_memory_working_set_bytes{{namespace="{ns}",pod=~"{pods}",container!=""}})'
LATENCY_P95 = ('histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket'
               '{{namespace="{ns}",pod=~"{pods}"}}[5m])))')
ERROR_RATE = ('sum(rate(http_requests_total{{namespace="{ns}",pod=~"{pods}",code=~"5.."}}[5m]))'
              ' / sum(rate(http_requests_total{{namespace="{ns}",pod=~"{pods}"}}[5m]))')


def pod_pattern(kind: str, name: str) -> str:
    """The pods of a workload as a PromQL regex (Deployment: name-<rs>-<id>; StatefulSet:
    name-<ordinal>; a bare pod: itself)."""
    escaped = name.replace(".", "\\\\.")  # DNS names: only the dot is special
    return {"Deployment": f"{escaped}-[a-z0-9]+-[a-z0-9]+",
            "StatefulSet": f"{escaped}-[0-9]+"}.get(kind, escaped)


@dataclass
class Prometheus:
    """``latency_query`` and ``error_query`` may be replaced to fit other metric names; they
    are formatted with ``{ns}`` (namespace) and ``{pods}`` (the workload's pod regex)."""
    url: str
    timeout: float = 5.0
    latency_query: str = LATENCY_P95
    error_query: str = ERROR_RATE

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
                response = await client.get(f"{self.url.rstrip('/')}{path}", params=params)
        except httpx.HTTPError as exc:
            raise errors.Unavailable(f"Prometheus at {self.url} did not answer: "
                                     f"{type(exc).__name__}") from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise errors.Unavailable(f"Prometheus at {self.url} answered HTTP "
                                     f"{response.status_code} without JSON") from exc
        if response.status_code == 400 or body.get("errorType") == "bad_data":
            raise errors.InvalidArguments(f"Prometheus refused the query: {body.get('error')}")
        if response.status_code != 200 or body.get("status") != "success":
            raise errors.Unavailable(f"Prometheus at {self.url}: HTTP {response.status_code} "
                                     f"{body.get('error', '')}".rstrip())
        return body["data"]

    async def value(self, promql: str) -> float | None:
        """The first sample of an instant query (None when it matches nothing or is NaN)."""
        data = await self._get("/api/v1/query", {"query": promql})
        for item in data.get("result") or []:
            value = float(item["value"][1])
            return None if value != value else value  # NaN: no traffic
        return None

    async def series(self, promql: str, minutes: int, points: int = 60) -> Series:
        """The first series of a range query over the last ``minutes``."""
        end = time.time()
        step = max(15, minutes * 60 // points)
        data = await self._get("/api/v1/query_range", {
            "query": promql, "start": f"{end - minutes * 60:.0f}", "end": f"{end:.0f}",
            "step": f"{step}s"})
        for item in data.get("result") or []:
            return [(float(t), float(v)) for t, v in item.get("values") or [] if v != "NaN"]
        return []
