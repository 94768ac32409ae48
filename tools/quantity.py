"""Kubernetes resource quantities: CPU in cores, memory in bytes, and how to print them."""

from __future__ import annotations

import re

_SUFFIX = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "P": 1e15, "E": 1e18,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def parse(value: str | int | float | None) -> float | None:
    """A quantity in base units (cores or bytes); None when absent or unreadable."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIX:
        return None
    try:
        return float(match.group(1)) * _SUFFIX[match.group(2)]
    except ValueError:  # "1.2.3": unreadable, like any other malformed quantity
        return None


def cpu(cores: float | None) -> str:
    if cores is None:
        return "-"
    return f"{cores * 1000:.0f}m" if cores < 10 else f"{cores:.1f}"


def memory(num_bytes: float | None) -> str:
    if num_bytes is None:
        return "-"
    for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if num_bytes >= size:
            return f"{num_bytes / size:.0f}{unit}" if unit != "Gi" else \
                f"{num_bytes / size:.1f}{unit}".replace(".0Gi", "Gi")
    return f"{num_bytes:.0f}"


def percent(part: float | None, whole: float | None) -> str:
    if part is None or not whole:
        return "-"
    return f"{100 * part / whole:.0f}%"
