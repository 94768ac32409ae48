"""``pods/exec`` for the sandbox cluster, over WebSocket (``v4.channel.k8s.io``).

Sandbox pods have no containers of their own, so the command runs as a local process: argv as
given (no shell), in an empty working directory, with only the container's declared ``env``
values plus ``HOSTNAME`` (the pod's name) and ``PATH`` — what `env` in a real container roughly
shows.  Commands such as ``df -h`` or ``cat /proc/meminfo`` therefore describe the machine the
sandbox runs on.  This is a local stand-in: never expose the sandbox beyond localhost.  Frames
and the final Status follow kube-apiserver: channel 1 stdout, 2 stderr, 3 the Status JSON
(``NonZeroExitCode`` with an ``ExitCode`` cause when the command fails).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from typing import Any

from aiohttp import web

from sandbox.kube import errors

PROTOCOLS = ("v4.channel.k8s.io", "v5.channel.k8s.io")
TIMEOUT_SECONDS = 30.0


def _status(code: int | None, message: str = "") -> bytes:
    if code == 0:
        body: dict[str, Any] = {"metadata": {}, "status": "Success"}
    elif code is None:
        body = {"metadata": {}, "status": "Failure", "reason": "InternalError",
                "message": message}
    else:
        body = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                "message": f"command terminated with non-zero exit code: error executing "
                           f"command, exit status {code}",
                "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
    return bytes([3]) + json.dumps(body).encode()


def _environment(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    values = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
              "HOSTNAME": pod["metadata"]["name"]}
    for item in container.get("env") or []:
        if isinstance(item, dict) and "value" in item:
            values[str(item["name"])] = str(item["value"])
    return values


def check(pod: dict[str, Any], query: dict[str, list[str]]) -> tuple[list[str], dict[str, Any]]:
    """(argv, container) of a valid exec request, or the API server's error."""
    argv = query.get("command") or []
    if not argv:
        raise errors.ApiError(400, "BadRequest", "you must specify at least one command for "
                                                 "the container")
    containers = (pod.get("spec") or {}).get("containers") or []
    wanted = (query.get("container") or [""])[0] or (containers[0]["name"] if containers
                                                     else "")
    found = next((c for c in containers if c.get("name") == wanted), None)
    if found is None:
        raise errors.ApiError(400, "BadRequest", f"container {wanted} is not valid for pod "
                                                 f"{pod['metadata']['name']}")
    if (pod.get("status") or {}).get("phase") != "Running":
        raise errors.ApiError(400, "BadRequest", f"pod {pod['metadata']['name']} is not "
                                                 "running; cannot exec into it")
    return argv, found


async def serve(request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
    query: dict[str, list[str]] = {}
    for key, value in request.query.items():
        query.setdefault(key, []).append(value)
    argv, container = check(pod, query)
    ws = web.WebSocketResponse(protocols=PROTOCOLS)
    if not ws.can_prepare(request).ok:
        raise errors.ApiError(400, "BadRequest", "exec needs a WebSocket upgrade "
                                                 f"({', '.join(PROTOCOLS)})")
    await ws.prepare(request)
    workdir = tempfile.mkdtemp(prefix="sandbox-exec-")
    try:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, cwd=workdir, env=_environment(pod, container),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
        except OSError:
            await ws.send_bytes(_status(None, f'exec: "{argv[0]}": executable file not found '
                                              "in $PATH"))
            return ws
        try:
            out, err = await asyncio.wait_for(process.communicate(), TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            out, err = await process.communicate()
        if out:
            await ws.send_bytes(bytes([1]) + out)
        if err:
            await ws.send_bytes(bytes([2]) + err)
        await ws.send_bytes(_status(process.returncode))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        await ws.close()
    return ws
