"""Cluster access acting as one user: a cached client per identity and workspace.

:class:`ClusterClients` hands out a :class:`UserCluster` for a SecurityContext — built from the
user's own kubeconfig context, or from the bot's with impersonation — cached for a while and
never shared between identities (there is no process-wide default client).  Requests go through
the official client's configuration and connection pool but are sent by us, because the official
client keeps one value per header name: each ``Impersonate-Group`` must be its own header.
Responses are parsed as plain JSON (no model round-trip), errors mapped once
(``tools.errors``), and every blocking call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException
from opentelemetry.trace import SpanKind, StatusCode
from urllib3 import HTTPHeaderDict, Retry
from urllib3.exceptions import HTTPError

from tools import errors, metrics, retry, tracing
from tools.security import Credentials, ImpersonationCredentials, SecurityContext

CACHE_SECONDS = 300.0
TIMEOUT_SECONDS = 30.0
READ_RETRIES = 3
MAX_RETRY_WAIT = 10.0

Query = list[tuple[str, Any]]
JSON = "application/json"
# A list of objects' metadata only (names, times, managedFields; never a Secret's data), with
# the full list as the fallback of a server that does not offer it.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, " + JSON


class ClusterUnreachable(errors.HexabotError):
    """The API server could not be reached or the kubeconfig is unusable."""

    code = "cluster_unreachable"
    dependency = "kubernetes"


def api_client(credentials: Credentials) -> client.ApiClient:
    if isinstance(credentials, ImpersonationCredentials):
        document, context = credentials.bot_kubeconfig, credentials.bot_context
    else:
        document, context = credentials.kubeconfig, credentials.context
    configuration = type.__call__(client.Configuration)
    # Connection errors retry in urllib3; HTTP statuses (429's Retry-After) are ours to handle,
    # with a cap on the wait, so urllib3 must not retry or sleep on them itself.
    configuration.retries = Retry(total=2, connect=2, read=0, redirect=0, status=0,
                                  other=0, respect_retry_after_header=False)
    try:
        return config.new_client_from_config_dict(document, context=context,
                                                  persist_config=False,
                                                  client_configuration=configuration)
    except ConfigException as exc:
        raise ClusterUnreachable(f"unusable kubeconfig ({credentials.source}): {exc}") from exc


@dataclass
class UserCluster:
    """One identity's view of one cluster.  ``calls`` counts API requests (benchmarks)."""
    api: client.ApiClient
    credentials: Credentials
    calls: int = 0
    seconds: float = 0.0  # time spent waiting for the API server (benchmarks)
    sleep: Callable[[float], Any] = field(default=time.sleep, repr=False)

    @property
    def host(self) -> str:
        return str(self.api.configuration.host)

    def headers(self, content_type: str | None, impersonate: bool,
                accept: str = JSON) -> HTTPHeaderDict:
        headers = HTTPHeaderDict({"Accept": accept})
        if content_type:
            headers["Content-Type"] = content_type
        if impersonate and isinstance(self.credentials, ImpersonationCredentials):
            headers["Impersonate-User"] = self.credentials.user
            for group in self.credentials.groups:
                headers.add("Impersonate-Group", group)
        return headers

    def _send(self, method: str, path: str, query: Query | None, body: Any,
              content_type: str | None, what: str, impersonate: bool,
              accept: str = JSON) -> tuple[bytes, str]:
        """One request; a read the API server rate-limits is retried after its Retry-After
        (at most ``MAX_RETRY_WAIT`` seconds), ``READ_RETRIES`` attempts in all."""
        policy = retry.retrying(errors.RateLimited, retry.honour_retry_after(MAX_RETRY_WAIT),
                                attempts=READ_RETRIES if method == "GET" else 1,
                                sleep=self.sleep)
        for attempt in policy:
            with attempt:
                return self._attempt(method, path, query, body, content_type, what,
                                     impersonate, accept, attempt.retry_state.attempt_number)
        raise AssertionError("unreachable")

    def _attempt(self, method: str, path: str, query: Query | None, body: Any,
                 content_type: str | None, what: str, impersonate: bool, accept: str,
                 number: int) -> tuple[bytes, str]:
        m, url, auth_headers, payload, _ = self.api.param_serialize(
            method, path, query_params=query or [], header_params={}, body=body,
            auth_settings=["BearerToken"])
        headers = self.headers(content_type, impersonate, accept)
        for key, value in auth_headers.items():
            headers[key] = value
        self.calls += 1
        began = time.perf_counter()
        with tracing.tracer().start_as_current_span(
                f"kubernetes {method}", kind=SpanKind.CLIENT,
                attributes={"http.request.method": method, "url.path": path,
                            "hexabot.attempt": number}) as span:
            try:
                response = self.api.rest_client.request(
                    m, url, headers=headers, body=payload, _request_timeout=TIMEOUT_SECONDS)
                data = response.read()
            except (HTTPError, OSError) as exc:
                metrics.KUBE_ERRORS.labels("unreachable").inc()
                span.set_status(StatusCode.ERROR, "unreachable")
                raise errors.Unavailable(f"{what}: the API server at {self.host} is "
                                         f"unreachable ({exc})") from exc
            finally:
                self.seconds += time.perf_counter() - began
            span.set_attribute("http.response.status_code", response.status)
        if response.status < 400:
            return data, str(response.getheader("Content-Type") or "")
        metrics.KUBE_ERRORS.labels(str(response.status)).inc()
        raise errors.from_status(response.status, data, dict(response.getheaders()), what)

    def request(self, method: str, path: str, *, query: Query | None = None,
                body: Any = None, content_type: str | None = None,
                what: str = "", impersonate: bool = True, accept: str = JSON) -> Any:
        """Blocking request; JSON answers are parsed, text answers returned as str.

        ``impersonate=False`` sends as the bot itself: only for SubjectAccessReviews.
        ``accept=METADATA_ONLY`` lists only the objects' metadata.
        """
        data, kind = self._send(method, path, query, body, content_type, what or path,
                                impersonate, accept)
        if kind.startswith("application/json"):
            return orjson.loads(data) if data else None
        return data.decode(errors="replace")

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        """:meth:`request`, off the event loop."""
        return await asyncio.to_thread(self.request, method, path, **kw)

    def close(self) -> None:
        self.api.close()


@dataclass
class _Entry:
    cluster: UserCluster
    expires: float


class ClusterClients:
    """The factory: one cached :class:`UserCluster` per (identity, workspace)."""

    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._cache: dict[tuple[str, str, str], _Entry] = {}

    def for_context(self, ctx: SecurityContext) -> UserCluster:
        key = (ctx.slack_id, ctx.hexabase_user, ctx.workspace)
        entry = self._cache.get(key)
        now = time.monotonic()
        if entry is not None and entry.expires > now \
                and entry.cluster.credentials == ctx.credentials:
            return entry.cluster
        if entry is not None:
            entry.cluster.close()
        cluster = UserCluster(api_client(ctx.credentials), ctx.credentials)
        self._cache[key] = _Entry(cluster, now + self.ttl)
        return cluster

    def forget(self, slack_id: str) -> None:
        for key in [k for k in self._cache if k[0] == slack_id]:
            self._cache.pop(key).cluster.close()

    def close(self) -> None:
        for entry in self._cache.values():
            entry.cluster.close()
        self._cache.clear()


def _server_version(credentials: Credentials) -> tuple[str, str]:
    cluster = UserCluster(api_client(credentials), credentials)
    try:
        info = cluster.request("GET", "/version", what="server version")
    except errors.ToolError as exc:
        raise ClusterUnreachable(f"{cluster.host}: {exc.message}") from exc
    finally:
        cluster.close()
    return cluster.host, str(info.get("gitVersion"))


async def server_version(credentials: Credentials) -> tuple[str, str]:
    """(API server URL, its gitVersion), or :class:`ClusterUnreachable`."""
    return await asyncio.to_thread(_server_version, credentials)
