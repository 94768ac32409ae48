"""How long a person waits for the ``hexabot`` command: cold start and a warm call.

Each figure is the median of five runs of the installed entry point in a fresh process, beside
the floor measured in the same run (the interpreter starting and doing nothing), so a slower
machine moves both.  ``version`` shows what start-up alone costs; ``whoami`` is a warm call that
opens every service against a database already at head (embedded PostgreSQL, the static
directory): the target is under 1.5 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Result
from bench.harness import with_postgres
from tests.identity_support import directory, write

RUNS = 5
WARM_TARGET = 1.5


def _median(args: list[str], env: dict[str, str], cwd: Path) -> float:
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=120)
        times.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return statistics.median(times)


async def _measure(admin_url: str, workdir: Path) -> list[Result]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from app import migrate
    from app.database import asyncpg_url, ensure_database

    admin = asyncpg_url(admin_url)
    await ensure_database(admin, "bench_cli")
    url = admin.set(database="bench_cli").render_as_string(hide_password=False)
    engine = create_async_engine(url)
    await migrate.migrate(engine)  # the warm case: the schema is at head already
    await engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXABOT_")}
    env |= {"HEXABOT_DATA_DIR": str(workdir / "data"), "HEXABOT_DATABASE_URL": url,
            "HEXABOT_DIRECTORY_FILE": str(write(workdir, directory(workdir)))}
    hexabot = [sys.executable, "-m", "app"]
    floor = _median([sys.executable, "-c", "pass"], env, workdir)
    version = _median([*hexabot, "version"], env, workdir)
    whoami = _median([*hexabot, "whoami", "--as", "alice"], env, workdir)
    return [
        Result("cli: python start (floor)", f"{floor:.2f} s", "-", True),
        Result("cli: hexabot version (cold start)", f"{version:.2f} s "
               f"({version / floor:.0f}x the floor)", "no heavy imports", True),
        Result("cli: hexabot whoami (warm, database at head)", f"{whoami:.2f} s",
               f"< {WARM_TARGET} s", whoami < WARM_TARGET),
    ]


def run() -> list[Result]:
    return with_postgres(_measure)
