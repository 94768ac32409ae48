"""Audit shipping: the Postgres outbox drained in batches into ClickHouse (issue #6).

Only this package imports ``clickhouse_driver``.
"""
