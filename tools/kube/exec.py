"""Running a command in a container: the API server's ``pods/exec`` over WebSocket.

The official client's stream helper keeps one value per header, so (as for every other request,
see :mod:`tools.kube.client`) we open the socket ourselves with the user's credentials and every
``Impersonate-Group`` header.  Protocol ``v4.channel.k8s.io``: each binary frame starts with its
channel (1 stdout, 2 stderr, 3 the final Status as JSON).  Output is cut at ``limit`` bytes per
stream and the command at ``timeout`` seconds; both are reported, never silent.  Blocking: call
it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import websocket

from tools import errors
from tools.kube.client import UserCluster

PROTOCOL = "v4.channel.k8s.io"
STDOUT, STDERR, STATUS = 1, 2, 3


@dataclass(frozen=True)
class ExecResult:
    stdout: str
    stderr: str
    exit_code: int | None        # None: unknown (timed out, or the status did not say)
    message: str                 # the API server's failure message, if any
    truncated: bool
    timed_out: bool


def _headers(cluster: UserCluster) -> list[str]:
    _, _, auth, _, _ = cluster.api.param_serialize("GET", "/", auth_settings=["BearerToken"])
    return [f"{k}: {v}" for k, v in cluster.headers(None, True).items()
            if k != "Accept"] + [f"{k}: {v}" for k, v in auth.items()]


def _sslopt(cluster: UserCluster) -> dict[str, Any]:
    config = cluster.api.configuration
    if not config.verify_ssl:
        return {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED}
    if config.ssl_ca_cert:
        options["ca_certs"] = config.ssl_ca_cert
    if config.cert_file:
        options["certfile"] = config.cert_file
    if config.key_file:
        options["keyfile"] = config.key_file
    return options


def _exit_code(status: dict[str, Any]) -> int | None:
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message"))
            except (TypeError, ValueError):
                return None
    return None


def run(cluster: UserCluster, namespace: str, pod: str, container: str, argv: list[str],
        limit: int, timeout: float) -> ExecResult:
    query = [("command", part) for part in argv] + [
        ("container", container), ("stdout", "true"), ("stderr", "true"), ("stdin", "false"),
        ("tty", "false")]
    base = cluster.host.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    url = f"{base}/api/v1/namespaces/{namespace}/pods/{pod}/exec?{urlencode(query)}"
    what = f"exec in pod {namespace}/{pod}"
    cluster.calls += 1
    try:
        ws = websocket.create_connection(url, header=_headers(cluster), subprotocols=[PROTOCOL],
                                         sslopt=_sslopt(cluster), timeout=timeout,
                                         http_proxy_host=None, http_no_proxy=["*"])
    except websocket.WebSocketBadStatusException as exc:
        body = exc.resp_body if isinstance(exc.resp_body, bytes) else b""
        raise errors.from_status(exc.status_code, body, dict(exc.resp_headers or {}),
                                 what) from exc
    except (OSError, websocket.WebSocketException) as exc:
        raise errors.Unavailable(f"{what}: the API server at {cluster.host} is unreachable "
                                 f"({exc})") from exc
    out, err, status = bytearray(), bytearray(), {}
    truncated = timed_out = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                opcode, data = ws.recv_data()
            except websocket.WebSocketTimeoutException:
                timed_out = True
                break
            except websocket.WebSocketConnectionClosedException:
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE or not data:
                break
            channel, payload = data[0], data[1:]
            if channel == STATUS:
                status = json.loads(payload or b"{}")
                continue
            sink = out if channel == STDOUT else err if channel == STDERR else None
            if sink is None:
                continue
            room = limit - len(sink)
            if len(payload) > room:
                truncated = True
            sink.extend(payload[:max(0, room)])
    finally:
        ws.close()
    return ExecResult(out.decode(errors="replace"), err.decode(errors="replace"),
                      None if timed_out else _exit_code(status),
                      str(status.get("message") or "") if status.get("status") != "Success"
                      else "", truncated, timed_out)
