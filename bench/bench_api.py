"""Chat API under load: 200 concurrent chat requests in command mode.

The API runs as `hexabot serve-api` in its own process (embedded PostgreSQL, the demo sandbox
cluster in this process, platform tokens from a key made here); 200 clients each POST one
`pods` question at the same moment over their own connection.  Reported: p50/p99 latency from
send to full answer, and every answer that was not 200.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.common import Result
from bench.harness import with_postgres
from sandbox.kube.serve import sandbox_cluster
from sandbox.net import free_port

CLIENTS = 200


def _token(key: ec.EllipticCurvePrivateKey) -> str:
    now = int(time.time())
    return jwt.encode({"iss": "hexabase", "aud": "hexabot-ai", "sub": "hxb-alice",
                       "slack_id": "U0ALICE", "iat": now, "exp": now + 600,
                       "workspace": "shop", "namespaces": ["shop"]}, key, algorithm="ES256",
                      headers={"kid": "platform"})


async def _measure(admin_url: str, workdir: Path) -> list[Result]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = workdir / "platform.pem"
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    async with sandbox_cluster() as sc:
        directory = workdir / "directory.yaml"
        directory.write_text(yaml.safe_dump({"users": [{
            "slack_id": "U0ALICE", "name": "alice", "hexabase_user": "hxb-alice",
            "workspaces": [{"name": "shop", "kubeconfig": str(sc.kubeconfig),
                            "context": "carol", "namespaces": ["shop"]}]}]}))
        port = free_port()
        env = {**os.environ, "HTTP_PROXY": "", "HTTPS_PROXY": "", "http_proxy": "",
               "https_proxy": "", "HEXABOT_DATABASE_URL": admin_url,
               "HEXABOT_DIRECTORY_FILE": str(directory), "HEXABOT_LLM": "off",
               "HEXABOT_API_TOKEN_PUBLIC_KEY_FILE": str(public), "HEXABOT_API_PORT": str(port),
               "HEXABOT_API_HOST": "127.0.0.1", "HEXABOT_API_RATE_PER_MINUTE": "10000"}
        api = subprocess.Popen(  # noqa: ASYNC220 (starting it is instant; nothing blocks)
            [sys.executable, "-m", "app", "serve-api"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/api/v1/ai/chat"
        headers = {"Authorization": f"Bearer {_token(key)}"}
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        try:
            async with httpx.AsyncClient(trust_env=False, timeout=120, limits=limits) as http:
                for _ in range(300):
                    try:
                        if (await http.post(url, json={"message": "help"},
                                            headers=headers)).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("the API did not start")

                async def one() -> tuple[float, int]:
                    began = time.perf_counter()
                    try:
                        answer = await http.post(url, json={"message": "pods"},
                                                 headers=headers)
                        code = answer.status_code
                    except httpx.HTTPError:
                        code = 0
                    return (time.perf_counter() - began) * 1000, code

                began = time.perf_counter()
                results = await asyncio.gather(*(one() for _ in range(CLIENTS)))
                wall = time.perf_counter() - began
        finally:
            api.terminate()
            await asyncio.to_thread(api.wait, 60)
    latencies = sorted(ms for ms, _ in results)
    errors = sum(1 for _, code in results if code != 200)
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
    return [Result(f"chat API: {CLIENTS} concurrent chat requests (command mode, `pods`)",
                   f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, {errors} errors, all in {wall:.1f} s",
                   "errors 0; p99 reported", errors == 0)]


def run() -> list[Result]:
    return with_postgres(_measure)
