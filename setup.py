"""The wheel's package list, which ``pyproject.toml`` cannot express on its own.

The repository keeps ``migrations/`` at the top level (Alembic's layout), but a generic
top-level ``migrations`` package must not land in site-packages, so it installs as
``hexabot_migrations``.  Its ``versions/`` (Alembic loads those files by path) and
``clickhouse/`` (the audit DDL, package data) are listed as subpackages without
``__init__.py`` so that setuptools ships them.  Everything else is in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

PACKAGES = ("app", "agents", "tools", "confirmations", "sandbox")

setup(
    packages=[*find_packages(include=[f"{name}{tail}" for name in PACKAGES
                                      for tail in ("", ".*")]),
              "hexabot_migrations", "hexabot_migrations.versions",
              "hexabot_migrations.clickhouse"],
    package_dir={"hexabot_migrations": "migrations"},
)
