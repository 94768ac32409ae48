"""Hexabot's whole PostgreSQL schema as SQLAlchemy sees it: every table module imported, so
:data:`metadata` holds every table (the Alembic environment's ``target_metadata``)."""

from __future__ import annotations

from agents import tables
from app.api import ratelimit
from app.identity import store
from app.slack import dedupe
from confirmations import outbox
from confirmations import store as confirmation_store
from tools.schema import metadata

TABLE_MODULES = (tables, ratelimit, store, dedupe, outbox, confirmation_store)

__all__ = ["TABLE_MODULES", "metadata"]
