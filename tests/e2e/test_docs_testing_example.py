"""The audit test printed in docs/testing.md runs, as a user would run it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOC = Path(__file__).parents[2] / "docs" / "testing.md"
MARKER = "<!-- example: test_our_books.py -->"


def example_code() -> str:
    text = DOC.read_text(encoding="utf-8")
    after = text.split(MARKER, 1)[1]
    return after.split("```python\n", 1)[1].split("\n```", 1)[0]


def test_the_documented_example_is_about_twenty_lines() -> None:
    code = [line for line in example_code().splitlines() if line.strip()]
    assert len(code) <= 30


def test_the_documented_audit_test_passes_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_our_books=example_code())
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
