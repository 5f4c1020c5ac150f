"""Run the installed ``cps-ledger`` in a subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

CPS_LEDGER = Path(sys.executable).parent / "cps-ledger"
SUBPROCESS_TIMEOUT_S = 120


@dataclass(frozen=True)
class Result:
    """What one run of the command printed and returned."""

    code: int
    stdout: str
    stderr: str

    @property
    def document(self) -> Any:
        """The one JSON document printed on stdout."""
        return json.loads(self.stdout)


@dataclass(frozen=True)
class Cli:
    """The installed command bound to one database URL."""

    url: str

    def __call__(self, *args: str, stdin: str | None = None, json_output: bool = True) -> Result:
        """Run ``cps-ledger --database-url URL [--json] ARGS``."""
        argv = [str(CPS_LEDGER), "--database-url", self.url]
        argv += ["--json"] if json_output else []
        return run_cli(*argv[1:], *args, stdin=stdin)


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run the installed command with ``args`` and no database URL from the environment."""
    environment = {k: v for k, v in os.environ.items() if k != "CPS_LEDGER_DATABASE_URL"}
    environment.update(env or {})
    done = subprocess.run(
        [str(CPS_LEDGER), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session", autouse=True)
def _installed() -> None:
    if not CPS_LEDGER.exists():
        pytest.fail(f"{CPS_LEDGER} is not installed: run `make test`", pytrace=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def cli(request: pytest.FixtureRequest, database_url_for: dict[str, URL]) -> Cli:
    """The command on the suite's migrated database of each backend (isolate by book)."""
    url = database_url_for[str(request.param)]
    return Cli(url.render_as_string(hide_password=False))


@pytest.fixture
def sqlite_cli(database_url_for: dict[str, URL]) -> Cli:
    """The command on the suite's migrated SQLite database."""
    return Cli(database_url_for["sqlite"].render_as_string(hide_password=False))
