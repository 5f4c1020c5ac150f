"""Every example in README.md and docs/*.md runs, so the docs cannot drift from the code.

Per document, blocks run in file order in one fresh directory:

- a fenced block preceded by ``<!-- file: NAME -->`` is written to ``NAME`` (book files,
  event files) for the commands that follow;
- ```` ```bash ```` blocks: each line is a command (a trailing ``\\`` continues it), run by
  bash with the virtualenv's ``bin`` first on ``PATH``; it must exit 0, or the code named
  by a trailing ``# exit N`` comment;
- ```` ```console ```` blocks: each line starting with ``$ `` is a command, as above; the
  other lines are sample output and are not compared;
- ```` ```python ```` blocks are executed, sharing one namespace per document;
- a block preceded by ``<!-- not-run: REASON -->`` is skipped (``make demo``/``make test``,
  which this suite cannot call, and set-ups that need a database server).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[2]
DOCUMENTS: Final = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES: Final = frozenset({"bash", "console"})
RUNNABLE: Final = SHELL_LANGUAGES | {"python"}
COMMAND_TIMEOUT_S: Final = 300
_FENCE = re.compile(r"^```([\w+-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*(not-run|file):\s*(.*?)\s*-->$")
_EXPECTED_EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Block:
    """A fenced block: its language, first line number, text and the marker before it."""

    language: str
    line: int
    text: str
    marker: str | None = None
    argument: str = ""


def blocks_of(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, each with the HTML-comment marker just before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{path.name}:{start + 1}: unclosed code fence")
        i += 1
        previous = next((ln.strip() for ln in reversed(lines[:start]) if ln.strip()), "")
        marker = _MARKER.match(previous)
        found.append(
            Block(
                language=fence.group(1),
                line=start + 2,
                text="\n".join(body) + "\n",
                marker=marker.group(1) if marker else None,
                argument=marker.group(2) if marker else "",
            )
        )
    return found


def commands_of(block: Block) -> list[tuple[int, str, int]]:
    """(line number, command, expected exit code) for each command of a shell block."""
    commands: list[tuple[int, str, int]] = []
    pending = ""
    pending_line = 0
    for offset, raw in enumerate(block.text.splitlines()):
        line = raw.strip()
        if block.language == "console" and not pending:
            if not line.startswith("$ "):
                continue  # sample output
            line = line[2:]
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            pending_line = block.line + offset
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        command = pending + line
        pending = ""
        expected = _EXPECTED_EXIT.search(command)
        code = int(expected.group(1)) if expected else 0
        commands.append((pending_line, command, code))
    return commands


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CPS_LEDGER_DATABASE_URL", None)  # examples use the documented default
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "120"
    return env


def _run_shell(path: Path, block: Block, cwd: Path) -> None:
    env = _environment()
    for line, command, expected in commands_of(block):
        done = subprocess.run(
            command,
            shell=True,
            executable="/bin/bash",
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == expected, (
            f"{path.name}:{line}: `{command}` exited {done.returncode}, expected {expected}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )


def _run_python(path: Path, block: Block, namespace: dict[str, Any]) -> None:
    # Blank lines pad the code so tracebacks point at the Markdown line.
    source = "\n" * (block.line - 1) + block.text
    exec(compile(source, str(path), "exec"), namespace)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_example_of_the_document_runs(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # Python examples that call the command see the same environment as shell examples.
    for name, value in _environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CPS_LEDGER_DATABASE_URL", raising=False)
    # A registered module, so that examples defining dataclasses find their module.
    module = types.ModuleType(f"docs_example_{path.stem.lower()}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace: dict[str, Any] = module.__dict__
    for block in blocks_of(path):
        if block.marker == "not-run":
            assert block.argument, f"{path.name}:{block.line}: not-run without a reason"
            continue
        if block.marker == "file":
            target = tmp_path / block.argument
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text, encoding="utf-8")
            continue
        if block.language in SHELL_LANGUAGES:
            _run_shell(path, block, tmp_path)
        elif block.language == "python":
            _run_python(path, block, namespace)


def test_the_docs_have_examples_and_every_skipped_block_says_why() -> None:
    runnable = 0
    for path in DOCUMENTS:
        for block in blocks_of(path):
            if block.marker == "not-run":
                assert block.argument, f"{path.name}:{block.line}: not-run needs a reason"
            elif block.language in RUNNABLE and block.marker is None:
                runnable += 1
    assert runnable >= 10


def test_the_readme_skips_only_the_make_commands_and_runs_its_quickstarts() -> None:
    blocks = blocks_of(ROOT / "README.md")
    skipped = [b.text for b in blocks if b.marker == "not-run"]
    assert all(re.fullmatch(r"(make (demo|test)\n)+", text) for text in skipped), skipped
    languages = {b.language for b in blocks if b.marker is None}
    assert {"python"} <= languages
    assert languages & SHELL_LANGUAGES


def test_a_console_block_runs_only_its_dollar_lines_and_reads_expected_exits() -> None:
    block = Block(
        "console", 10, "$ cps-ledger audit --book b  # exit 2\nerror: x\n$ echo a \\\n  b\n"
    )
    assert commands_of(block) == [
        (10, "cps-ledger audit --book b  # exit 2", 2),
        (12, "echo a b", 0),
    ]
