"""Resource quantities as the API server writes them, and what is not one."""

from __future__ import annotations

import pytest

from tools import quantity


@pytest.mark.parametrize(("text", "expected"), [
    ("100m", 0.1), ("1.5", 1.5), ("2", 2.0), ("250n", 250e-9), ("512Mi", 512 * 2**20),
    ("2Gi", 2 * 2**30), ("1k", 1000.0), ("1M", 1e6), ("1e3", 1000.0), ("0.5Gi", 2**29),
    (" 1Gi ", 2**30),
])
def test_quantities_in_base_units(text: str, expected: float) -> None:
    assert quantity.parse(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "Mi", "1.2.3", "1Zi", "abc", "--1", "1e", "inf",
                                  "1e999999999", "nan"])
def test_what_is_not_a_quantity_is_none(text: str) -> None:
    assert quantity.parse(text) is None


def test_numbers_and_absence() -> None:
    assert quantity.parse(3) == 3.0 and quantity.parse(0.25) == 0.25
    assert quantity.parse(None) is None


def test_printing() -> None:
    assert (quantity.cpu(0.25), quantity.cpu(12.0), quantity.cpu(None)) == ("250m", "12.0", "-")
    assert (quantity.memory(512 * 2**20), quantity.memory(2 * 2**30)) == ("512Mi", "2Gi")
    assert quantity.percent(1, 4) == "25%" and quantity.percent(1, 0) == "-"
