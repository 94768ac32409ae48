"""Shared scaffolding of the benchmarks: a sandbox fixture as its admin, or a PostgreSQL."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
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
