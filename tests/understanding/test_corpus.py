"""Command mode understands requests as people type them (issue 20): each corpus entry's
intent and arguments, resolved against the corpus's cluster read live from the sandbox as alice.
Targets: ≥ 95 % on the tuning splits, ≥ 90 % on the held-out ones (never tuned on), and no
write ever proposed from a misread — on any split."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agents.understand import Inventory, understand
from tests.understanding.support import corpus, corpus_inventory, judge

SPLITS = {"tuning": 0.95, "tuning2": 0.95, "heldout": 0.90, "heldout2": 0.90,
          "adversarial": 0.80}  # a red team's set: the bar that matters there is 0 writes


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seen(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
               ) -> AsyncIterator[Inventory]:
    from app.database import asyncpg_url, drop_database, ensure_database

    admin = asyncpg_url(pg_admin_url)
    await ensure_database(admin, "understanding")
    workdir: Path = tmp_path_factory.mktemp("understanding")
    try:
        async with corpus_inventory(admin.set(database="understanding").render_as_string(
                hide_password=False), workdir) as found:
            yield found
    finally:
        await drop_database(admin, "understanding")


def test_the_inventory_is_what_alice_can_see(seen: Inventory) -> None:
    assert seen.current == "shop" and set(seen.namespaces) == {"shop", "shop-staging", "data"}
    checkout = next(o for o in seen.of("Deployment") if o.name == "checkout-api")
    assert checkout.containers == ("checkout-api", "istio-proxy") and checkout.replicas == 2
    flags = next(o for o in seen.of("ConfigMap") if o.name == "feature-flags")
    assert flags.keys == ("dark_mode", "new_checkout")
    assert [o.name for o in seen.of("StatefulSet") if o.database] == ["user-db"]
    assert any(p.owner == "ledger" for p in seen.of("Pod"))


@pytest.mark.parametrize("split", sorted(SPLITS))
def test_accuracy_and_no_misread_writes(seen: Inventory, split: str) -> None:
    entries = corpus(split)
    verdicts = [(e, judge(e, understand(e["text"], seen))) for e in entries]
    wrong = [(e["text"], e["intent"], v.got) for e, v in verdicts if not v.ok]
    misread = [(e["text"], v.got) for e, v in verdicts if v.misread_write]
    accuracy = 1 - len(wrong) / len(entries)
    assert not misread, f"writes proposed from a misread: {misread}"
    assert accuracy >= SPLITS[split], (f"{split}: {accuracy:.1%} < {SPLITS[split]:.0%}; "
                                       f"{len(wrong)} wrong: {wrong[:20]}")


def test_the_corpus_is_big_and_covers_every_intent() -> None:
    entries = [e for split in SPLITS for e in corpus(split)]
    texts = [e["text"] for e in entries]
    assert len(set(texts)) >= 400
    intents = {e["intent"] for e in entries}
    assert {"list_pods", "get_deployment_status", "view_logs", "get_resource_usage",
            "list_services", "get_events", "recent_changes", "troubleshoot_issues",
            "analyze_performance", "suggest_optimizations", "scale_deployment", "restart",
            "rollback_deployment", "update_configmap", "delete_resource", "exec_command",
            "create_backup_job", "create_backup_cronjob", "generate_backup_strategy", "ask",
            "unknown", "help"} <= intents
