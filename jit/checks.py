"""One line of `jitbot doctor`: what was checked, whether it passed, and how to fix it when not."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    """PASS and WARN keep the exit code at 0; FAIL makes it non-zero."""

    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """The result of one check."""

    area: str
    name: str
    verdict: Verdict
    detail: str = ""
    fix: str = ""

    @classmethod
    def passed(cls, area: str, name: str, detail: str = "") -> Check:
        """A passing check."""
        return cls(area, name, Verdict.PASS, detail)

    @classmethod
    def failed(cls, area: str, name: str, detail: str, fix: str) -> Check:
        """A failing check with how to fix it."""
        return cls(area, name, Verdict.FAIL, detail, fix)

    @classmethod
    def warned(cls, area: str, name: str, detail: str, fix: str) -> Check:
        """Not broken, but worth fixing."""
        return cls(area, name, Verdict.WARN, detail, fix)
