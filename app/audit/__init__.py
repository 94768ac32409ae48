"""Audit shipping: the Postgres outbox drained in batches into ClickHouse, the background
anchoring of the chain, and reading both back (docs/audit-chain.md).

Only this package imports ``clickhouse_driver``.
"""
