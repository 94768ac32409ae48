"""Run the sandbox cluster: an async context manager for tests and the demo, and the CLI loop.

``async with sandbox_cluster(fixture_path) as sc:`` serves on a free loopback port; ``sc.url``,
``sc.kubeconfig`` (a file with one context per fixture user, bearer-token auth) and
``sc.cluster`` (the live objects, for assertions) are ready inside the block.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from sandbox.kube import fixture as fixture_mod
from sandbox.kube.cluster import Cluster
from sandbox.kube.controller import Controllers
from sandbox.kube.cronjobs import CronJobs
from sandbox.kube.faults import Faults, FaultSpecError
from sandbox.kube.fixture import FixtureError
from sandbox.kube.http import KubeHttp
from sandbox.kube.tls import make_serving_cert
from sandbox.net import free_port

CLUSTER_NAME = "hexabot-sandbox"
__all__ = ["FaultSpecError", "Faults", "FixtureError", "SandboxCluster", "sandbox_cluster",
           "serve_forever"]


def demo_fixture_path() -> Path:
    """The demo fixture shipped in the package (used by `hexabot demo`)."""
    return Path(str(resources.files("sandbox.kube").joinpath("demo.yaml")))


def kubeconfig(url: str, ca_data: str, users: list[fixture_mod.FixtureUser]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": CLUSTER_NAME, "cluster": {
            "server": url, "certificate-authority-data": ca_data}}],
        "users": [{"name": u.name, "user": {"token": u.token}} for u in users],
        "contexts": [{"name": u.name, "context": {"cluster": CLUSTER_NAME, "user": u.name,
                                                  "namespace": "default"}} for u in users],
        "current-context": users[0].name if users else "",
    }


@dataclass
class SandboxCluster:
    url: str
    kubeconfig: Path
    cluster: Cluster
    controllers: Controllers
    fixture: fixture_mod.Fixture
    ca_pem: bytes
    cronjobs: CronJobs
    faults: Faults

    def token(self, user: str) -> str:
        return next(u.token for u in self.fixture.users if u.name == user)


@contextlib.asynccontextmanager
async def sandbox_cluster(fixture_path: Path | None = None, *, host: str = "127.0.0.1",
                          port: int = 0, kubeconfig_out: Path | None = None,
                          pod_start_delay: float = 1.0, job_run_seconds: float = 2.0,
                          latency: float = 0.0,
                          faults: Faults | None = None) -> AsyncIterator[SandboxCluster]:
    """Serve a fixture's cluster; raises FixtureError before listening when it is bad.
    ``faults`` (:mod:`sandbox.kube.faults`) makes chosen requests slow, failing or silent."""
    path = fixture_path or demo_fixture_path()
    cluster = Cluster()
    loaded = fixture_mod.load(path, cluster.registry)
    cluster.seed(loaded)
    controllers = Controllers(cluster, pod_start_delay, job_run_seconds)
    cronjobs = CronJobs(cluster, controllers.event)
    faults = faults if faults is not None else Faults()
    api = KubeHttp(cluster, latency, faults)
    runner = web.AppRunner(api.app, access_log=None, shutdown_timeout=2)
    cert = make_serving_cert(host)
    port = port or free_port(host)
    url = f"https://{host}:{port}"
    await runner.setup()
    controllers.start()
    cronjobs.start()
    try:
        await web.TCPSite(runner, host, port, ssl_context=cert.ssl_context()).start()
        with tempfile.TemporaryDirectory(prefix="hexabot-sandbox-") as tmp:
            config_path = kubeconfig_out or Path(tmp) / "kubeconfig"
            document = kubeconfig(url, cert.ca_data, loaded.users)
            config_path.write_text(yaml.safe_dump(document, sort_keys=False))
            config_path.chmod(0o600)
            yield SandboxCluster(url, config_path, cluster, controllers, loaded, cert.ca_pem,
                                 cronjobs, faults)
    finally:
        api.closing.set()
        await cronjobs.stop()
        await controllers.stop()
        await runner.cleanup()


async def serve_forever(fixture_path: Path, host: str, port: int, kubeconfig_out: Path | None,
                        announce: Callable[[SandboxCluster], None],
                        faults: Faults | None = None) -> None:
    """The `hexabot sandbox serve` loop: run until SIGINT/SIGTERM, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with sandbox_cluster(fixture_path, host=host, port=port,
                               kubeconfig_out=kubeconfig_out, faults=faults) as sc:
        announce(sc)
        await stop.wait()
