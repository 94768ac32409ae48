"""The container image's recipe.  No Docker engine runs on this machine, so `docker build` is
not exercised here; what the Dockerfile relies on is: the wheel of the project carries its data
(workflow templates, the demo fixture, the console), the migrations copied beside the
installed packages are found by `hexabot migrate`, and the recipe runs as a non-root user from
a pinned base."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from app import migrate
from tests.conftest import REPO


def test_an_install_like_the_image_finds_its_data_and_migrations(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "--wheel-dir", str(tmp_path), str(REPO)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("hexabot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"agents/workflows/scale_application.yaml", "sandbox/kube/demo.yaml",
            "sandbox/slack/console.html", "app/cli.py"} <= names
    site = tmp_path / "site-packages"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                                "--target", str(site), str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    subprocess.run(["cp", "-r", str(REPO / "migrations"), str(site / "migrations")], check=True)
    probe = ("from app import migrate; from agents.orchestrator.workflow import load_all; "
             "from agents.orchestrator.specialists import default_agents; "
             "print(migrate.MIGRATIONS_DIR, migrate.head_revision(), "
             "sorted(load_all(default_agents())))")
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                         timeout=120)
    assert ran.returncode == 0, ran.stderr
    where, head, workflows = ran.stdout.split(" ", 2)
    assert where == str(site / "migrations") and head == migrate.head_revision()
    assert "scale_application" in workflows


def test_the_recipe_is_pinned_and_unprivileged() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", dockerfile, re.M)
    assert "latest" not in dockerfile
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    assert re.search(r"^COPY migrations /opt/hexabot/lib/python3\.11/site-packages/migrations$",
                     dockerfile, re.M)
    values = yaml.safe_load((REPO / "helm" / "values.yaml").read_text())
    assert f"EXPOSE {values['http']['port']}" in dockerfile
    assert values["podSecurityContext"]["runAsUser"] == 10001
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*" and "!tests/" not in ignored and "!.venv/" not in ignored
