"""Audit shipping: the Postgres outbox drained in batches into ClickHouse.

Only this package imports ``clickhouse_driver``.
"""
