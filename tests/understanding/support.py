"""The corpus's cluster in the sandbox, its inventory read as alice, and the scoring of one
understanding against an entry (tests/understanding/CORPUS.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agents.understand import Inventory, Understanding, inventory
from tests.confirm_support import rig
from tests.sandbox_support import ThreadedSandbox

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent.parent / "sandbox" / "kube" / "demo.yaml"
KEPT = {"User", "Namespace", "Node", "NodeMetrics", "ClusterRole", "ClusterRoleBinding",
        "RoleBinding", "Role", "IngressClass"}


def corpus(split: str) -> list[dict[str, Any]]:
    entries = yaml.safe_load((HERE / f"{split}.yaml").read_text())
    assert isinstance(entries, list) and entries, f"{split}.yaml holds no entries"
    return entries


def fixture(workdir: Path) -> Path:
    """The demo's people, namespaces, nodes and RBAC plus the corpus's own objects."""
    kept = [d for d in yaml.safe_load_all(DEMO.read_text()) if d and d.get("kind") in KEPT]
    ours = [d for d in yaml.safe_load_all((HERE / "fixture.yaml").read_text()) if d]
    path = workdir / "understanding.yaml"
    path.write_text(yaml.safe_dump_all(kept + ours))
    return path


@asynccontextmanager
async def corpus_inventory(database_url: str, workdir: Path) -> AsyncIterator[Inventory]:
    sandbox = ThreadedSandbox(fixture(workdir), workdir, pod_start_delay=0.0).start()
    try:
        sandbox.settle(0.3)
        async with rig(database_url, sandbox, workdir) as r:
            ctx = await r.identity.context("U0ALICE", namespace="shop")
            yield await inventory(r.envs.for_context(ctx), ctx)
    finally:
        sandbox.stop()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    misread_write: bool  # a write proposed from a request that meant something else
    got: str


def judge(entry: dict[str, Any], found: Understanding) -> Verdict:
    expected, args = entry["intent"], entry.get("args") or {}
    got = f"{found.intent} {found.args}" if found.intent != "ask" else f"ask: {found.question}"
    if found.intent != expected:
        return Verdict(False, found.write, got)
    wrong = [k for k, v in args.items() if found.args.get(k) != v]
    return Verdict(not wrong, found.write and bool(wrong), got)
