"""Hexabot's schema files, installed as the package ``hexabot_migrations`` (see ``setup.py``).

``env.py``, ``script.py.mako`` and ``versions/`` are the Alembic revisions of the PostgreSQL
schema (``app/migrate.py``); ``clickhouse/*.sql`` is the audit log's DDL
(``app/audit/clickhouse.py``).  Both are read through :mod:`importlib.resources`, never through
a path relative to the source tree, so the wheel carries them wherever it is installed.
"""
