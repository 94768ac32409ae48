"""Shared scaffolding of the benchmarks that run against a sandbox fixture as its admin."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sandbox.kube.threaded import ThreadedCluster
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
