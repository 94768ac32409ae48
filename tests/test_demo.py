"""`hexabot demo` on embedded defaults: runs what exists, names what does not."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def test_demo_runs_on_embedded_defaults_and_reuses_its_data(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    first = run_cli(["demo", "--no-wait"], clean_env, tmp_path, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "PostgreSQL: embedded" in first.stdout
    assert "migrated from empty" in first.stdout
    assert "Sandbox cluster: https://127.0.0.1:" in first.stdout
    assert "bot connected in Socket Mode" in first.stdout
    assert "deployment shop/web-app: 3/3 ready" in first.stdout
    # analysis first, then only the fix it supports (more CPU: the HPA owns the replicas)
    assert "api near its CPU limit (throttling)" in first.stdout
    assert "Because api near its CPU limit" in first.stdout
    assert "Scale deployment shop/web-app from 3 to 2 replicas" in first.stdout
    assert "OOMKilled Deployment shop/checkout-worker" in first.stdout
    assert "raise the memory limit to 1Gi" in first.stdout
    assert "suggestions for shop (headroom 30%" in first.stdout
    assert "workflow debug_pod_issues (succeeded)" in first.stdout, first.stdout[-4000:]
    assert "Refused by policy: 30 replicas for Deployment shop/api-service is above the cap " \
        "of 10 (rule shop-caps)" in first.stdout
    assert "Open http://127.0.0.1:" in first.stdout
    assert "Not built yet" in first.stdout
    second = run_cli(["demo", "--no-wait"], clean_env, tmp_path, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Schema: at head" in second.stdout
    assert "migrated from" not in second.stdout  # the data dir was reused
