"""Shared scaffolding of the benchmarks: a sandbox fixture as its admin, or a PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sandbox.kube.threaded import ThreadedCluster
from tests.services import postgres_admin_url
from tools.kube.client import UserCluster, api_client
from tools.security import KubeconfigCredentials, SecurityContext
from tools.spec import ToolEnv

T = TypeVar("T")


def admin_env(document: dict[str, Any], namespace: str, limit: int = 4096) -> ToolEnv:
    """A ToolEnv acting as the fixture's ``admin`` user (see ``common.admin_fixture``)."""
    creds = KubeconfigCredentials(document, "admin", "bench")
    ctx = SecurityContext(slack_id="UBENCH", hexabase_user="bench", name="admin", groups=(),
                          workspace="bench", namespaces=(namespace,), namespace=namespace,
                          two_person_namespaces=(), sensitive=False, credentials=creds)
    return ToolEnv(ctx, UserCluster(api_client(creds), creds), limit=limit)


def on_fixture(write: Callable[[Path], None],
               measure: Callable[[dict[str, Any]], Awaitable[T]]) -> T:
    """Write a fixture, serve it in a thread, run ``measure(kubeconfig)``, stop."""
    with tempfile.TemporaryDirectory() as tmp:
        fixture = Path(tmp) / "fixture.yaml"
        write(fixture)
        cluster = ThreadedCluster(fixture)
        sc = cluster.start()
        try:
            return asyncio.run(measure(yaml.safe_load(sc.kubeconfig.read_text())))
        finally:
            cluster.stop()


async def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the graceful shutdown takes longer than three minutes (a bot
    drains the work queued behind a slow cluster first)."""
    process.terminate()
    try:
        await asyncio.to_thread(process.wait, 180)
    except subprocess.TimeoutExpired:
        process.kill()
        await asyncio.to_thread(process.wait, 30)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time used so far by every PostgreSQL process on the machine (its backends come and
    go with connections; the benchmarks run alone)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            if text.split(" (", 1)[1].startswith("postgres)"):
                total += cpu_seconds(int(stat.parent.name))
    return total


@dataclass
class SandboxProcess:
    kubeconfig: Path
    process: subprocess.Popen[bytes]


@contextlib.asynccontextmanager
async def sandbox_process(workdir: Path, *options: str) -> AsyncIterator[SandboxProcess]:
    """``hexabot sandbox serve *options`` in its own process, so that a benchmark's clients
    share their event loop with nothing else."""
    kubeconfig = workdir / "sandbox-kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    cluster = subprocess.Popen(  # noqa: ASYNC220 (starting it is instant; nothing blocks)
        [sys.executable, "-m", "app", "sandbox", "serve", *options,
         "--kubeconfig-out", str(kubeconfig)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if kubeconfig.exists():
                break
            if cluster.poll() is not None:
                raise RuntimeError(f"the sandbox cluster exited with {cluster.returncode}")
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the sandbox cluster did not start within a minute")
        yield SandboxProcess(kubeconfig, cluster)
    finally:
        await stop_process(cluster)


def with_postgres(measure: Callable[[str, Path], Awaitable[T]]) -> T:
    """Run ``measure(admin_url, workdir)`` with a PostgreSQL (embedded, or the test one) and a
    scratch directory, both gone afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        admin_url, server = postgres_admin_url(workdir)
        try:
            return asyncio.run(measure(admin_url, workdir))
        finally:
            if server is not None:
                server.cleanup()  # type: ignore[attr-defined]
