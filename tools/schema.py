"""The one SQLAlchemy ``MetaData`` of Hexabot's PostgreSQL schema.

Each table is declared once, against this ``MetaData``, in a module of the layer that uses it
(``sa.Table(name, metadata, …)``); :mod:`app.schema` imports them all, and the Alembic
environment compares that whole schema with the migrations (``alembic check``, run by the
tests), so models and migrations cannot drift apart.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
