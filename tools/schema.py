"""The one SQLAlchemy ``MetaData`` of Hexabot's PostgreSQL schema.

Every module that owns a table declares it here (``sa.Table(name, metadata, …)``), in the
layer that uses it; :mod:`app.schema` imports them all, and the Alembic environment compares
that whole schema with the migrations (``alembic check``, run by the tests), so models and
migrations cannot drift apart.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
