"""Just enough of Bicep's syntax to check jitbot's templates offline (no Bicep CLI is installable here).

Checks structure (balanced brackets, terminated strings), and pulls out params, resources, modules and the
`{ name: 'X' … }` entries of a block so tests can compare the wiring with the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PAIRS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Param:
    """One `param` declaration: its type, default expression (None when required) and decorators."""

    name: str
    type: str
    default: str | None
    decorators: tuple[str, ...]

    @property
    def secure(self) -> bool:
        """Declared @secure(): never logged or shown in deployment history."""
        return "@secure()" in self.decorators


@dataclass(frozen=True)
class Template:
    """A Bicep file with comments removed."""

    path: Path
    code: str

    @classmethod
    def load(cls, path: Path) -> Template:
        """Read and strip comments, checking brackets and strings on the way."""
        return cls(path, strip_comments_checked(path.read_text(encoding="utf-8")))

    def target_scope(self) -> str:
        """The deployment scope; Bicep's default is resourceGroup."""
        match = re.search(r"^targetScope = '(\w+)'", self.code, re.MULTILINE)
        return match.group(1) if match else "resourceGroup"

    def params(self) -> dict[str, Param]:
        """Every param with the decorators on the lines just above it."""
        found: dict[str, Param] = {}
        lines = self.code.splitlines()
        for index, line in enumerate(lines):
            match = re.match(r"^param (\w+) (\w+)(?: = (.+))?$", line)
            if not match:
                continue
            decorators: list[str] = []
            back = index - 1
            while back >= 0 and (lines[back].startswith(("@", " ", "]")) or lines[back] == ""):
                if lines[back].startswith("@"):
                    decorators.append(lines[back])
                if lines[back] == "":
                    break
                back -= 1
            found[match.group(1)] = Param(match.group(1), match.group(2), match.group(3), tuple(decorators))
        return found

    def resources(self) -> dict[str, tuple[str, str]]:
        """Symbolic name -> (resource type, api version)."""
        pattern = r"^resource (\w+) '([^@']+)@(\d{4}-\d{2}-\d{2}(?:-preview)?)'"
        return {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(pattern, self.code, re.MULTILINE)}

    def modules(self) -> dict[str, Path]:
        """Symbolic name -> the module file it deploys."""
        pattern = r"^module (\w+) '([^']+)'"
        return {m.group(1): self.path.parent / m.group(2) for m in re.finditer(pattern, self.code, re.MULTILINE)}

    def block(self, header: str) -> str:
        """The text from a top-level line starting with `header` to the next top-level declaration."""
        start = self.code.index("\n" + header) + 1
        following = re.search(r"^(resource|module|var|param|output|@)", self.code[start + 1 :], re.MULTILINE)
        end = start + 1 + following.start() if following else len(self.code)
        return self.code[start:end]

    def named_entries(self, header: str) -> dict[str, dict[str, str]]:
        """`{ name: 'X'; key: value … }` objects inside a block: name -> its other single-line properties."""
        entries: dict[str, dict[str, str]] = {}
        for body in re.findall(r"\{\s*\n(\s*name: '[^']+'\s*\n(?:\s*\w+: [^\n{}\[\]]+\n)*)\s*\}", self.block(header)):
            props = dict(re.findall(r"^\s*(\w+): (.+?)\s*$", body, re.MULTILINE))
            entries[props.pop("name").strip("'")] = props
        return entries


def strip_comments_checked(source: str) -> str:
    """Remove // and /* */ comments outside strings; fail on unbalanced brackets or unterminated strings."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    index = 0
    line = 1
    while index < len(source):
        char = source[index]
        if source.startswith("//", index):
            end = source.find("\n", index)
            index = len(source) if end < 0 else end
            continue
        if source.startswith("/*", index):
            end = source.index("*/", index)
            line += source.count("\n", index, end)
            index = end + 2
            continue
        if char == "'":
            end = index + 1
            while end < len(source) and source[end] != "'":
                if source[end] == "\n":
                    raise SyntaxError(f"unterminated string on line {line}")
                end += 2 if source[end] == "\\" else 1
            if end >= len(source):
                raise SyntaxError(f"unterminated string on line {line}")
            out.append(source[index : end + 1])
            index = end + 1
            continue
        if char in PAIRS:
            stack.append((char, line))
        elif char in PAIRS.values():
            if not stack or PAIRS[stack.pop()[0]] != char:
                raise SyntaxError(f"unbalanced {char!r} on line {line}")
        elif char == "\n":
            line += 1
        out.append(char)
        index += 1
    if stack:
        raise SyntaxError(f"unclosed {stack[-1][0]!r} from line {stack[-1][1]}")
    return "\n".join(text.rstrip() for text in "".join(out).splitlines())
