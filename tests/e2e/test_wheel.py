"""The wheel users install carries the alembic environment and its revisions."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_the_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    names = zipfile.ZipFile(next(tmp_path.glob("cps_ledger-*.whl"))).namelist()
    assert "cps_ledger/migrations/env.py" in names
    assert "cps_ledger/migrations/versions/0001_initial.py" in names
    assert "cps_ledger/py.typed" in names
