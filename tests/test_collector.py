"""The long-running processes' garbage collector: what existed at start-up is left out of
later collections, what is made afterwards is still collected, and every pause is timed."""

from __future__ import annotations

import gc
import weakref

from app import collector
from tools import metrics


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> Node:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a


def full_collections() -> float:
    return metrics.REGISTRY.get_sample_value("hexabot_gc_pause_seconds_count",
                                             {"generation": "2"}) or 0.0


def test_frozen_leaves_start_up_alone_and_still_collects_new_garbage() -> None:
    before = gc.get_threshold()
    with collector.frozen():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == collector.THRESHOLDS
        garbage = cycle()
        gone = weakref.ref(garbage)
        del garbage
        gc.collect()
        assert gone() is None, "a cycle made after start-up was not collected"
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_frozen_object_that_becomes_garbage_is_collected_after_the_block() -> None:
    frozen_then = cycle()
    with collector.frozen():
        gone = weakref.ref(frozen_then)
        del frozen_then
        gc.collect()
        assert gone() is not None, "a frozen cycle was walked by the collector"
    gc.collect()
    assert gone() is None


def test_every_collection_is_timed_once() -> None:
    collector.watch()
    collector.watch()
    assert gc.callbacks.count(collector._timed) == 1
    before = full_collections()
    gc.collect()
    assert full_collections() == before + 1
    assert (metrics.REGISTRY.get_sample_value("hexabot_gc_pause_seconds_sum",
                                              {"generation": "2"}) or 0.0) > 0
