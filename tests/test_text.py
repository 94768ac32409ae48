"""Relative ages of Kubernetes timestamps: what a listing shows per object."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tools.text import age

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("stamp", "shown"), [
    ("2026-12-02T11:59:20Z", "40s"),
    ("2026-12-02T11:58:00Z", "2m"),            # two minutes before minutes are shown
    ("2026-12-02T11:59:00Z", "60s"),
    ("2026-12-02T09:30:00Z", "2h"),
    ("2026-11-29T12:00:00Z", "3d"),
    ("2026-11-29T12:00:00.123456Z", "3d"),     # fractions as the API server may send
    ("2026-11-29T12:00:00+00:00", "3d"),
    ("2026-12-03T12:00:00Z", "0s"),            # the future (clock skew) is not negative
])
def test_age(stamp: str, shown: str) -> None:
    assert age(stamp, NOW) == shown


@pytest.mark.parametrize("stamp", [None, "", "yesterday", "2026-12-02", "2026-12-02 11:00:00",
                                   "2026-13-02T11:00:00Z", "2026-12-02T25:00:00Z"])
def test_unreadable_times_are_a_dash(stamp: str | None) -> None:
    assert age(stamp, NOW) == "-"
