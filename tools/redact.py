"""Compatibility entry point: ``from tools.redact import MASK, redact`` (see tools.redaction)."""

from __future__ import annotations

from tools.redaction import MASK, redact

__all__ = ["MASK", "redact"]
