"""Redaction: how many secrets ``tools.redact`` hides, how many harmless
look-alikes it leaves alone, and how fast it is.

Rates on the three corpora of ``tests/security/corpus``: ours (``dev_*``) and the two held-out
ones written by others (``heldout_*``; ``heldout2_*``, written blind to the redactor).  A secret
counts as found when neither it nor its JSON-escaped form is left in the output; a harmless line
counts as a false positive when the output differs at all.  Speed on realistic tool output (pod
lists, a Deployment in YAML, a Pod in JSON, events, logs with a few planted secrets): the median
of 200 redactions of one 4 KB message, and MB/s over 1 MB of the same kind of text.  The bars
are ours: the issue sets none.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from bench.common import Result
from tools.redact import redact

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "security" / "corpus"
DETECTION_BAR, FALSE_POSITIVE_BAR, LATENCY_BAR_MS = 0.95, 0.03, 2.0


def _secrets(name: str) -> list[tuple[str, str]]:
    rows = []
    for line in (CORPUS / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            secret, text = line.split("\t", 1)
            rows.append((secret, text))
    return rows


def _harmless(name: str) -> list[str]:
    return [line for line in (CORPUS / name).read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _rates(prefix: str) -> list[Result]:
    if not (CORPUS / f"{prefix}_secrets.txt").exists():
        return [Result(f"redaction, {prefix} corpus", "missing", "—", True)]
    secrets, harmless = _secrets(f"{prefix}_secrets.txt"), _harmless(f"{prefix}_harmless.txt")
    found = 0
    for secret, text in secrets:
        out = redact(text)
        found += secret not in out and json.dumps(secret)[1:-1] not in out
    touched = sum(redact(text) != text for text in harmless)
    detection, false_positives = found / len(secrets), touched / len(harmless)
    return [
        Result(f"redaction detection, {prefix} corpus ({len(secrets)} secrets)",
               f"{detection:.1%} ({found}/{len(secrets)})", f">= {DETECTION_BAR:.0%} (ours)",
               detection >= DETECTION_BAR),
        Result(f"redaction false positives, {prefix} corpus ({len(harmless)} look-alikes)",
               f"{false_positives:.1%} ({touched}/{len(harmless)})",
               f"<= {FALSE_POSITIVE_BAR:.0%} (ours)", false_positives <= FALSE_POSITIVE_BAR),
    ]


def realistic(size: int) -> str:
    """Tool output as the agent sees it, repeated to ``size`` characters."""
    pods = "\n".join(f"web-app-7c9d8f6b5d-x2k{i:02d}   1/1   Running   {i % 3}   3d   "
                     f"10.244.1.{i}   node-{i % 4}" for i in range(12))
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-app\n  namespace: shop\n"
        "  uid: 550e8400-e29b-41d4-a716-446655440000\n  resourceVersion: \"884213\"\n"
        "  annotations:\n    checksum/config: " + "3b1f6a2c9d8e7f6a" * 4 + "\nspec:\n"
        "  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: web\n"
        "        image: registry.example.com/shop/web@sha256:" + "9f86d081884c7d65" * 4 + "\n"
        "        env:\n        - name: DB_HOST\n          value: postgres.shop.svc\n"
        "        - name: DB_PASSWORD\n          valueFrom:\n"
        "            secretKeyRef: {name: db-creds, key: password}\n"
        "        - name: SMTP_PASSWORD\n          value: pl4nted-Secret-1\n")
    pod = json.dumps({"kind": "Pod", "metadata": {"name": "web", "labels": {
        "app": "web", "pod-template-hash": "7c9d8f6b5d"}}, "status": {"containerStatuses": [{
            "containerID": "containerd://" + "ab" * 32, "imageID": "sha256:" + "cd" * 32,
            "ready": True, "restartCount": 0}]}}, indent=2)
    events = ("  Normal   Scheduled  3m  default-scheduler  Successfully assigned shop/web to "
              "node-1\n  Warning  BackOff    1m  kubelet  Back-off restarting failed container")
    logs = "\n".join([
        '2026-12-02T10:00:00Z level=info msg="GET /api/orders 200" duration=12ms user=alice',
        "2026-12-02T10:00:01Z connecting to postgres://orders:pl4nted-Secret-2@pg:5432/orders",
        "2026-12-02T10:00:02Z level=debug Authorization: Bearer pl4ntedToken0123456789abcdef",
        '2026-12-02T10:00:03Z level=warn msg="slow query" table=orders ms=812'])
    block = "\n".join([pods, deployment, pod, events, logs]) + "\n"
    return (block * (size // len(block) + 1))[:size]


def _speed() -> list[Result]:
    message = realistic(4096)
    redact(message)
    timings = []
    for _ in range(200):
        began = time.perf_counter()
        redact(message)
        timings.append((time.perf_counter() - began) * 1000)
    median = statistics.median(timings)
    big = realistic(1 << 20)
    began = time.perf_counter()
    redact(big)
    rate = len(big.encode()) / (1 << 20) / (time.perf_counter() - began)
    return [Result("redact one 4 KB tool output (median of 200)", f"{median:.2f} ms",
                   f"< {LATENCY_BAR_MS:.0f} ms (ours)", median < LATENCY_BAR_MS),
            Result("redaction throughput, 1 MB of realistic tool output", f"{rate:.1f} MB/s",
                   "—", True)]


def run() -> list[Result]:
    return [*_rates("dev"), *_rates("heldout"), *_rates("heldout2"), *_speed()]
