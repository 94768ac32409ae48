"""Kubernetes resource quantities: CPU in cores, memory in bytes, and how to print them."""

from __future__ import annotations

import math

from kubernetes.utils.quantity import parse_quantity


def parse(value: str | int | float | None) -> float | None:
    """A quantity in base units (cores or bytes); None when absent or unreadable.  Parsed by
    the Kubernetes client's own ``parse_quantity`` (binary and decimal suffixes, exponents)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        parsed = float(parse_quantity(str(value).strip()))
    except ValueError:  # "1.2.3", "Mi", "": unreadable, like any other malformed quantity
        return None
    return parsed if math.isfinite(parsed) else None  # "inf", "1e999999": no real quantity


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
