"""The domain speaks in data, not in Slack's syntax: no ``/jit`` command text in ``jit/`` outside docstrings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SLASH_COMMAND = re.compile(r"(?:^|[\s`'\"(])/jit(?:\s|`|$)")


def _docstrings(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def slack_syntax_in(path: Path) -> list[str]:
    """``file:line`` of every string literal (docstrings aside) in ``path`` that writes a ``/jit`` command."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    return [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and SLASH_COMMAND.search(node.value)
        and id(node) not in docstrings
    ]


def test_the_domain_never_writes_slash_commands() -> None:
    found = [hit for path in sorted((REPO / "jit").rglob("*.py")) for hit in slack_syntax_in(path)]
    assert found == [], "the domain returns hints (jit.hints); bot/blocks/hints.py writes them as /jit commands"


def test_the_check_finds_command_text(tmp_path: Path) -> None:
    sample = REPO / "jit" / "_sample_for_test.py"
    sample.write_text('"""Docs may say /jit."""\nHINT = "try `/jit list`"\n', encoding="utf-8")
    try:
        assert slack_syntax_in(sample) == ["jit/_sample_for_test.py:2"]
    finally:
        sample.unlink()
