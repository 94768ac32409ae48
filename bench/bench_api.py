"""Chat API under load: 200 concurrent chat requests in command mode.

The API runs as `hexabot serve-api` in its own process (embedded PostgreSQL, platform tokens from
a key made here) against a sandbox cluster in a process of its own serving a 200-pod namespace
(bench_tools' fixture); 200 clients each POST one `pods` question at the same moment over their
own connection, each starting a session of its own — against one API process, then against
two (replicas sharing the database; the clients split evenly).  The floor first: the same
burst of `help`, which touches no cluster.  Reported: p50/p99 latency from send to full answer,
every answer that was not 200, and each process's CPU time during the burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.bench_tools import PODS, pods_fixture
from bench.common import Result
from bench.harness import (
    cpu_seconds,
    postgres_cpu_seconds,
    sandbox_process,
    stop_process,
    with_postgres,
)
from sandbox.net import free_port

CLIENTS = 200
API_PORTS = (free_port(), free_port())


def _token(key: ec.EllipticCurvePrivateKey) -> str:
    now = int(time.time())
    return jwt.encode({"iss": "hexabase", "aud": "hexabot-ai", "sub": "hxb-alice",
                       "slack_id": "U0ALICE", "iat": now, "exp": now + 600,
                       "workspace": "shop", "namespaces": ["load"]}, key, algorithm="ES256",
                      headers={"kid": "platform"})


@contextlib.asynccontextmanager
async def _replicas(count: int,
                    env: dict[str, str]) -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``hexabot serve-api`` processes on ports API_PORTS[:count], one database."""
    started = [subprocess.Popen(  # noqa: ASYNC220 (starting it is instant; nothing blocks)
        [sys.executable, "-m", "app", "serve-api"], env={**env, "HEXABOT_API_PORT": str(port)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for port in API_PORTS[:count]]
    try:
        yield started
    finally:
        await asyncio.gather(*(stop_process(api) for api in started))


async def _burst(message: str, replicas: int, env: dict[str, str], headers: dict[str, str],
                 sandbox_pid: int) -> Result:
    """CLIENTS chat requests at once, spread evenly over ``replicas`` API processes."""
    urls = [f"http://127.0.0.1:{port}/api/v1/ai/chat" for port in API_PORTS[:replicas]]
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with _replicas(replicas, env) as apis, httpx.AsyncClient(
            trust_env=False, timeout=120, limits=limits) as http:
        for url in urls:
            for _ in range(300):
                try:
                    if (await http.post(url, json={"message": "help"},
                                        headers=headers)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"the API at {url} did not start")

        async def one(url: str) -> tuple[float, int]:
            began = time.perf_counter()
            try:
                code = (await http.post(url, json={"message": message},
                                        headers=headers)).status_code
            except httpx.HTTPError:
                code = 0
            return (time.perf_counter() - began) * 1000, code

        cpu = [cpu_seconds(api.pid) for api in apis], cpu_seconds(sandbox_pid)
        others = postgres_cpu_seconds(), time.process_time()
        began = time.perf_counter()
        results = await asyncio.gather(*(one(urls[i % replicas]) for i in range(CLIENTS)))
        wall = time.perf_counter() - began
        api_cpu = [cpu_seconds(api.pid) - before for api, before in zip(apis, cpu[0],
                                                                        strict=True)]
        sandbox_cpu = cpu_seconds(sandbox_pid) - cpu[1]
        postgres_cpu = postgres_cpu_seconds() - others[0]
        clients_cpu = time.process_time() - others[1]
    latencies = sorted(ms for ms, _ in results)
    errors = sum(1 for _, code in results if code != 200)
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
    shown = " + ".join(f"{seconds:.1f}" for seconds in api_cpu)
    what = ("(the floor: no cluster call)" if message == "help" else
            f"(command mode, `{message}` in a {PODS}-pod namespace)")
    return Result(f"chat API: {CLIENTS} concurrent `{message}` requests {what}, {replicas} API "
                  f"process{'es' if replicas > 1 else ''}",
                  f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, {errors} errors, all in {wall:.1f} s; "
                  f"CPU: API {shown} s, sandbox {sandbox_cpu:.1f} s, PostgreSQL "
                  f"{postgres_cpu:.1f} s, clients {clients_cpu:.1f} s",
                  "errors 0" if message == "help" else "errors 0; p99 < 2 s",
                  errors == 0 and (message == "help" or p99 < 2000))


async def _measure(admin_url: str, workdir: Path) -> list[Result]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = workdir / "platform.pem"
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    fixture = workdir / "pods.yaml"
    pods_fixture(fixture, PODS)
    async with sandbox_process(workdir, "--fixture", str(fixture)) as sandbox:
        directory = workdir / "directory.yaml"
        directory.write_text(yaml.safe_dump({"users": [{
            "slack_id": "U0ALICE", "name": "alice", "hexabase_user": "hxb-alice",
            "workspaces": [{"name": "shop", "kubeconfig": str(sandbox.kubeconfig),
                            "context": "admin", "namespaces": ["load"]}]}]}))
        env = {**os.environ, "HTTP_PROXY": "", "HTTPS_PROXY": "", "http_proxy": "",
               "https_proxy": "", "HEXABOT_DATABASE_URL": admin_url,
               "HEXABOT_DIRECTORY_FILE": str(directory), "HEXABOT_LLM": "off",
               "HEXABOT_API_TOKEN_PUBLIC_KEY_FILE": str(public),
               "HEXABOT_API_HOST": "127.0.0.1", "HEXABOT_API_RATE_PER_MINUTE": "10000"}
        headers = {"Authorization": f"Bearer {_token(key)}"}
        return [await _burst(message, replicas, env, headers, sandbox.process.pid)
                for message, replicas in (("help", 1), ("pods", 1), ("pods", 2))]


def run() -> list[Result]:
    return with_postgres(_measure)
