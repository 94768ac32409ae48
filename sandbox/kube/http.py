"""The HTTP face of the sandbox cluster: paths, verbs, content types, watch streams.

Every request is authenticated, impersonation is resolved, the path is parsed into (kind,
namespace, name, subresource) and the verb is authorised by RBAC *before* anything changes; a
refusal is a real ``Status`` body.  Responses are JSON (or server-side ``Table`` when kubectl
asks), ``text/plain`` for logs, newline-delimited events for watches, and carry an
``Audit-Id`` header like kube-apiserver's.  Authorised resource requests then pass the fault
knobs (:mod:`sandbox.kube.faults`); ``GET /sandbox/faults`` reports them and
``POST /sandbox/faults/release`` lets held writes through (any fixture user may call both).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.kube import errors, execs, managed, openapi
from sandbox.kube.access import authenticate, impersonate, review
from sandbox.kube.cluster import Cluster, decode_body
from sandbox.kube.errors import ApiError
from sandbox.kube.faults import Faults
from sandbox.kube.rbac import Attributes, Authorizer, UserInfo
from sandbox.kube.resources import Kind
from sandbox.kube.selectors import field_matcher, label_matcher
from sandbox.kube.store import Change
from sandbox.kube.tables import partial_metadata, table

log = logging.getLogger("hexabot.sandbox.kube")
VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0-hexabot-sandbox",
           "gitCommit": "sandbox", "gitTreeState": "clean", "buildDate": "2026-11-01T00:00:00Z",
           "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}
TRUE = ("1", "true", "True")
MAX_WATCH_SECONDS = 1800


@dataclass(frozen=True)
class Target:
    kind: Kind
    namespace: str | None
    name: str | None
    subresource: str


def _not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


class KubeHttp:
    def __init__(self, cluster: Cluster, latency: float = 0.0,
                 faults: Faults | None = None) -> None:
        self.cluster = cluster
        self.latency = latency  # seconds added to every request (benchmarks of slow clusters)
        self.faults = faults if faults is not None else Faults()
        self.authorizer = Authorizer(cluster.store, cluster.registry)
        self.closing = asyncio.Event()
        self.app = web.Application(client_max_size=16 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    # -- entry ---------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        audit_id = str(uuid.uuid4())
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            response = await self._dispatch(request)
        except ApiError as exc:
            response = web.json_response(exc.status(), status=exc.code)
        except Exception as exc:  # the sandbox's one error boundary: a bug becomes a 500 Status
            log.exception("sandbox API server failed on %s %s", request.method, request.path)
            status = ApiError(500, "InternalError", f"sandbox internal error: {exc!r}").status()
            response = web.json_response(status, status=500)
        if not response.prepared:
            response.headers["Audit-Id"] = audit_id
        return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        caller = authenticate(self.cluster.users, request.headers)
        user = impersonate(self.authorizer, caller, request.headers)
        parts = [p for p in request.path.split("/") if p]
        if parts[:2] == ["sandbox", "faults"]:
            if parts[2:] == ["release"] and request.method == "POST":
                return web.json_response({"released": self.faults.release()})
            if len(parts) == 2 and request.method == "GET":
                return web.json_response(self.faults.summary())
            raise _not_found_path()
        discovery = self._discovery(parts, request)
        if discovery is not None:
            return discovery
        target = self._target(parts)
        query = dict(request.query)
        verb = self._verb(request.method, target, query)
        if not target.kind.create_only:
            self._authorize(user, verb, target)
        if self.faults:
            if request.can_read_body:  # a write held or delayed was received whole: the
                await request.read()  # server commits it even if its client is gone
            resource = target.kind.plural + (f"/{target.subresource}" if target.subresource
                                             else "")
            await self.faults.apply(verb, resource, target.namespace, target.name, self.closing)
        return await self._serve(request, user, verb, target, query)

    # -- parsing -------------------------------------------------------------------------
    def _discovery(self, parts: list[str], request: web.Request) -> web.Response | None:
        registry = self.cluster.registry
        if request.method != "GET":
            return None
        if parts == ["version"]:
            return web.json_response(VERSION)
        if parts == ["api"]:
            return web.json_response({"kind": "APIVersions", "versions": ["v1"],
                                      "serverAddressByClientCIDRs": [{
                                          "clientCIDR": "0.0.0.0/0",
                                          "serverAddress": request.host}]})
        if parts == ["apis"]:
            return web.json_response(registry.group_list())
        if parts == ["openapi", "v3"]:
            return web.json_response(openapi.root(registry))
        if parts[:2] == ["openapi", "v3"]:
            rest = parts[2:]
            gv = ("", rest[1]) if rest[:1] == ["api"] and len(rest) == 2 else (
                (rest[1], rest[2]) if rest[:1] == ["apis"] and len(rest) == 3 else None)
            document = openapi.group_version(registry, *gv) if gv else None
            if document is None:
                raise _not_found_path()
            return web.json_response(document)
        if parts[:1] == ["openapi"]:
            raise ApiError(404, "NotFound", "the Hexabot sandbox serves only the OpenAPI v3 "
                           "index (no schemas); kubectl validates on the server")
        if len(parts) == 2 and parts[0] == "apis":
            group = next((g for g in registry.group_list()["groups"]  # type: ignore[attr-defined]
                          if g["name"] == parts[1]), None)
            if group is None:
                raise _not_found_path()
            return web.json_response({"kind": "APIGroup", "apiVersion": "v1", **group})
        if parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            document = registry.resource_list(group, version)
            if document is None:
                raise _not_found_path()
            return web.json_response(document)
        return None

    def _target(self, parts: list[str]) -> Target:
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise _not_found_path()
        namespace = None
        if (len(rest) >= 3 and rest[0] == "namespaces"
                and not (len(rest) == 3 and rest[2] in ("status", "finalize"))):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise _not_found_path()
        kind = self.cluster.registry.by_path(group, version, rest[0])
        if kind is None or (namespace is not None and not kind.namespaced):
            raise _not_found_path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in kind.subresources:
            raise _not_found_path()
        if kind.namespaced and name is not None and namespace is None:
            raise _not_found_path()
        return Target(kind, namespace, name, sub)

    @staticmethod
    def _verb(method: str, target: Target, query: dict[str, str]) -> str:
        collection = target.name is None
        if target.subresource == "exec" and method in ("GET", "POST"):
            return "create"  # as kube-apiserver authorises exec over WebSocket since 1.31
        verbs = {
            "GET": ("watch" if query.get("watch") in TRUE else "list") if collection else "get",
            "POST": "create" if collection else "",
            "PUT": "" if collection else "update",
            "PATCH": "" if collection else "patch",
            "DELETE": "deletecollection" if collection else "delete",
        }
        verb = verbs.get(method, "")
        allowed = target.kind.verbs if not target.subresource else ("get", "update", "patch")
        if not verb or verb not in allowed:
            raise errors.method_not_allowed(method, target.kind.plural)
        return verb

    def _authorize(self, user: UserInfo, verb: str, target: Target) -> None:
        kind = target.kind
        attrs = Attributes(verb=verb, group=kind.group, resource=kind.plural,
                           subresource=target.subresource, namespace=target.namespace,
                           name=target.name)
        if not self.authorizer.authorize(user, attrs).allowed:
            raise errors.forbidden(user.name, verb, attrs.full_resource, kind.group,
                                   target.namespace, target.name)

    # -- serving -------------------------------------------------------------------------
    async def _serve(self, request: web.Request, user: UserInfo, verb: str, target: Target,
                     query: dict[str, str]) -> web.StreamResponse:
        cluster, kind, ns, name = self.cluster, target.kind, target.namespace, target.name
        dry_run = query.get("dryRun") == "All"
        content_type = request.headers.get("Content-Type", "application/json").split(";")[0]
        manager = managed.manager_of(query.get("fieldManager"), request.headers.get("User-Agent"))
        if verb == "watch":
            return await self._watch(request, target, query)
        if verb == "list":
            if ns is not None:
                cluster.require_namespace(ns)
            return self._render(request, kind, cluster.list_objects(kind, ns, query), many=True)
        if verb == "deletecollection":
            return web.json_response(self._delete_collection(kind, ns, query, dry_run))
        assert name is not None or verb == "create"
        if kind.create_only:
            return await self._review(request, user, kind, content_type)
        if target.subresource == "exec":
            return await execs.serve(request, cluster.get(kind, ns, str(name)))
        if target.subresource == "log":
            text = cluster.pod_log(str(ns), str(name), query)
            return web.Response(text=text, content_type="text/plain")
        if target.subresource == "scale":
            if verb == "get":
                return web.json_response(cluster.get_scale(kind, ns, str(name)))
            raw = await request.read()
            if verb == "update":
                scale = cluster.set_scale(kind, ns, str(name), decode_body(raw, content_type),
                                          dry_run, manager)
            else:
                scale = cluster.patch_scale(kind, ns, str(name), content_type, raw, dry_run,
                                            manager)
            return web.json_response(scale)
        if verb == "get":
            return self._render(request, kind, cluster.get(kind, ns, str(name)), many=False)
        raw = await request.read()
        if verb == "create":
            obj = cluster.create(kind, ns, decode_body(raw, content_type), dry_run, manager)
            return web.json_response(obj, status=201)
        if verb == "update":
            obj = cluster.update(kind, ns, str(name), decode_body(raw, content_type),
                                 target.subresource, dry_run, manager)
            return web.json_response(obj)
        if verb == "patch":
            if "protobuf" in content_type:
                raise errors.unsupported_media(content_type)
            existed = cluster.store.peek(kind, ns, str(name)) is not None
            if not existed and content_type == "application/apply-patch+yaml":
                self._authorize(user, "create", Target(kind, ns, None, ""))
            obj = cluster.patch(kind, ns, str(name), content_type, raw, target.subresource,
                                dry_run, manager)
            return web.json_response(obj, status=200 if existed else 201)
        body = decode_body(raw, content_type) if raw else None
        deleted = cluster.delete(kind, ns, str(name), dry_run, body)
        if kind.kind == "Pod":
            return web.json_response(deleted)
        details = {"name": name, "kind": kind.plural, "uid": deleted["metadata"]["uid"]}
        if kind.group:
            details["group"] = kind.group
        return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Success", "details": details})

    async def _review(self, request: web.Request, user: UserInfo, kind: Kind,
                      content_type: str) -> web.Response:
        if kind.kind == "SubjectAccessReview":
            self._authorize(user, "create", Target(kind, None, None, ""))
        body = decode_body(await request.read(), content_type)
        return web.json_response(review(self.authorizer, user, kind.kind, body), status=201)

    def _delete_collection(self, kind: Kind, ns: str | None, query: dict[str, str],
                           dry_run: bool) -> dict[str, Any]:
        listing = self.cluster.list_objects(kind, ns, {k: v for k, v in query.items()
                                                if k in ("labelSelector", "fieldSelector")})
        for obj in listing["items"]:
            self.cluster.delete(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                                dry_run)
        return listing

    @staticmethod
    def _wants_table(request: web.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    def _render(self, request: web.Request, kind: Kind, body: dict[str, Any],
                many: bool) -> web.Response:
        if "as=PartialObjectMetadata" in request.headers.get("Accept", ""):
            return web.json_response(partial_metadata(body, many))
        if not self._wants_table(request):
            return web.json_response(body)
        include = request.query.get("includeObject", "Metadata")
        objects = body["items"] if many else [body]
        meta = body["metadata"] if many else {
            "resourceVersion": body["metadata"].get("resourceVersion")}
        return web.json_response(table(kind.kind, objects, meta, include))

    # -- watch ---------------------------------------------------------------------------
    async def _watch(self, request: web.Request, target: Target,
                     query: dict[str, str]) -> web.StreamResponse:
        kind, ns = target.kind, target.namespace
        labels = label_matcher(query.get("labelSelector"))
        fields = field_matcher(query.get("fieldSelector"), kind.kind)
        timeout = min(errors.int_param(query, "timeoutSeconds") or MAX_WATCH_SECONDS,
                      MAX_WATCH_SECONDS)
        since = query.get("resourceVersion")
        since_version = errors.int_param(query, "resourceVersion") if since != "0" else 0
        as_table = self._wants_table(request)
        store = self.cluster.store
        watcher = store.watch(kind, ns)
        response = web.StreamResponse(headers={"Content-Type": "application/json",
                                               "Audit-Id": str(uuid.uuid4())})
        await response.prepare(request)

        async def send(event_type: str, obj: dict[str, Any]) -> None:
            if as_table and event_type != "BOOKMARK":
                obj = table(kind.kind, [obj], {"resourceVersion": obj["metadata"].get(
                    "resourceVersion")})
            line = json.dumps({"type": event_type, "object": obj}) + "\n"
            await response.write(line.encode())

        def visible(change: Change) -> bool:
            return labels(change.obj) and fields(change.obj)

        initial = query.get("sendInitialEvents") in TRUE
        try:
            if not since_version or initial:
                for obj in list(store.iter(kind, ns)):
                    if labels(obj) and fields(obj):
                        await send("ADDED", obj)
                if initial:  # WatchList (kubectl >= 1.32): the end of the initial state
                    await send("BOOKMARK", {
                        "kind": kind.kind, "apiVersion": kind.api_version, "metadata": {
                            "resourceVersion": str(store.revision),
                            "annotations": {"k8s.io/initial-events-end": "true"}}})
            else:
                backlog = store.history_since(since_version)
                if backlog is None:
                    gone = ApiError(410, "Expired", f"too old resource version: {since} "
                                    f"({store.revision})").status()
                    await send("ERROR", gone)
                    return response
                for change in backlog:
                    if change.kind == kind and visible(change) and (
                            ns is None or change.obj["metadata"].get("namespace") == ns):
                        await send(change.type, change.obj)
            deadline = asyncio.get_running_loop().time() + timeout
            while not self.closing.is_set():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    change = await asyncio.wait_for(watcher.queue.get(), min(remaining, 0.5))
                except TimeoutError:
                    continue
                if visible(change):
                    await send(change.type, change.obj)
        except ConnectionResetError:
            log.debug("watch client went away")
        finally:
            store.unwatch(watcher)
        return response
