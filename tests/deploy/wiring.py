"""What the deployment files must agree with, read from the code itself: env var names, ports, routes."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jit.settings import Settings, SettingsError

REPO = Path(__file__).resolve().parents[2]
APP_PORT = 3000
OPS_PORT = 9100
LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name looked up, so the settings model tells us what it reads."""

    def __init__(self, values: Mapping[str, str]):
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclass(frozen=True)
class SettingsVars:
    """Names Settings.from_env reads, and the ones it refuses to start without (in HTTP or Socket Mode)."""

    read: frozenset[str]
    required: frozenset[str]


@cache
def settings_vars(socket_mode: bool = False) -> SettingsVars:
    """Ask the settings model itself: run it on an empty environment (with only an app-level token in Socket
    Mode) and record lookups and complaints."""
    env = RecordingEnv({"SLACK_APP_TOKEN": "xapp-1-A1-x"} if socket_mode else {})
    try:
        Settings.from_env(env)
    except SettingsError as error:
        required = {m.group(1) for p in error.problems if (m := re.match(r"([A-Z][A-Z0-9_]*) is required", p))}
    else:
        raise AssertionError("Settings.from_env accepted an empty environment")
    return SettingsVars(read=frozenset(env.read), required=frozenset(required))


@cache
def env_example_names() -> frozenset[str]:
    """Every KEY documented in .env.example, including commented-out credential examples."""
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def known_env_names() -> frozenset[str]:
    """Names a deployment may set: the settings model's plus the documented Azure credential variables."""
    return settings_vars().read | env_example_names()


def unknown_env_names(names: set[str]) -> set[str]:
    """The names nothing reads: a typo in a deployment file shows up here."""
    return names - known_env_names()


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its stage index (0 = first FROM)."""

    keyword: str
    args: str
    stage: int

    def exec_form(self) -> list[str]:
        """The JSON array form (ENTRYPOINT/CMD/HEALTHCHECK CMD); fails the test if it is shell form."""
        value = json.loads(self.args)
        assert isinstance(value, list), self.args
        assert all(isinstance(v, str) for v in value), self.args
        return [str(v) for v in value]

    def flags_and_rest(self) -> tuple[dict[str, str], list[str]]:
        """`--flag=value` options and the remaining shell words (COPY, HEALTHCHECK)."""
        words = shlex.split(self.args)
        flags: dict[str, str] = {}
        rest: list[str] = []
        for word in words:
            if word.startswith("--") and not rest:
                key, _, value = word[2:].partition("=")
                flags[key] = value
            else:
                rest.append(word)
        return flags, rest


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    instructions: list[Instruction] = []
    stage = -1
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    return instructions


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Whether `path` (relative to the build context) is left out, following .dockerignore's last-match rule."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        variants = {pattern, pattern.replace("**/", "")}
        if any(fnmatch.fnmatchcase(c, v) for c in candidates for v in variants):
            excluded = not negate
    return excluded


def dockerignore_patterns() -> list[str]:
    """Non-comment lines of .dockerignore."""
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
