"""How answers become Slack blocks: prose stays prose, only aligned tables become code, and
Slack's limits hold for any size."""

from __future__ import annotations

from app.slack import render

ANSWER = """[critical] OOMKilled Deployment shop/checkout-worker: killed over its 512Mi limit
  fix: raise the memory limit to 1Gi
  evidence: limits.memory=512Mi
POD                               CONTAINER  CPU   LIMIT
checkout-worker-6b8f9d7c4e-h5j2k  worker     412m  500m
Proposed fix: Apply 1 object(s) — awaiting approval #abc."""


def texts(blocks: render.Blocks) -> list[str]:
    return [b["text"]["text"] for b in blocks]


def test_only_aligned_columns_are_code() -> None:
    shown = texts(render.text_blocks(ANSWER))
    assert shown == [
        "[critical] OOMKilled Deployment shop/checkout-worker: killed over its 512Mi limit\n"
        "  fix: raise the memory limit to 1Gi\n  evidence: limits.memory=512Mi",
        "```POD                               CONTAINER  CPU   LIMIT\n"
        "checkout-worker-6b8f9d7c4e-h5j2k  worker     412m  500m```",
        "Proposed fix: Apply 1 object(s) — awaiting approval #abc."]


def test_limits_hold_for_huge_answers() -> None:
    rows = "\n".join(f"pod-{i:05d}  Running  {'x' * 80}" for i in range(2000))
    prose = "word " * 5000  # one enormous line
    blocks = render.validate(render.text_blocks(f"{prose}\n{rows}"))
    assert len(blocks) <= 41 and blocks[-1]["type"] == "context"
    assert all(len(t) <= render.SECTION_LIMIT for t in texts(blocks[:-1]))


def test_code_is_cut_to_one_section_saying_so() -> None:
    block = render.code("x" * 10_000, "diff", "*Title*\n")
    text = block["text"]["text"]
    assert len(text) <= render.SECTION_LIMIT and text.endswith("\n… (diff cut)```")
    assert render.code("short", "diff")["text"]["text"] == "```short```"
    render.validate([block])
