"""Faults to inject into the Slack emulator: rate limits, API errors, server errors, slow answers.

A test says what should go wrong for which method and how many times; the emulator asks ``take`` before
answering each call and applies the first matching fault. ``"*"`` matches every method,
``"response_url"`` matches posts to response URLs and ``"upload_url"`` posts to file upload URLs (which answer a
failure with its HTTP status, 500 for an API error, since the upload server speaks no JSON).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Fault:
    """One planned failure; ``times=None`` means until cleared."""

    method: str
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    times: int | None = 1
    hits: int = 0

    def matches(self, method: str) -> bool:
        """Whether this fault applies to ``method`` and has uses left."""
        return (self.method in ("*", method)) and (self.times is None or self.hits < self.times)

    def body(self) -> dict[str, object]:
        """The JSON body Slack sends with this failure (``ratelimited`` for 429)."""
        if self.status == 429:
            return {"ok": False, "error": self.error or "ratelimited"}
        if self.error is not None:
            return {"ok": False, "error": self.error}
        if self.status >= 400:
            return {"ok": False, "error": "internal_error" if self.status >= 500 else "invalid_request"}
        return {"ok": True}

    @property
    def fails(self) -> bool:
        """False for a pure delay: the call is slowed down, then answered normally."""
        return self.status != 200 or self.error is not None


class Faults:
    """The emulator's fault plan."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int | None = 1,
    ) -> Fault:
        """Plan a failure for ``method``.

        ``status=429`` answers HTTP 429 ``ratelimited`` with ``Retry-After: retry_after`` (default 1);
        ``error="internal_error"`` answers HTTP 200 with ``ok: false`` like Slack's API errors;
        ``status=500``/``503`` answers that status; ``delay`` seconds are waited first (alone it only slows
        the call down). ``times=None`` keeps failing until ``clear``.
        """
        if status is None:
            status = 429 if retry_after is not None else 200
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(method, status=status, error=error, retry_after=retry_after, delay=delay, times=times)
        self._faults.append(fault)
        return fault

    def take(self, method: str) -> Fault | None:
        """The first fault that applies to this call, counting it as used."""
        for fault in self._faults:
            if fault.matches(method):
                fault.hits += 1
                return fault
        return None

    def clear(self) -> None:
        """Forget every planned fault."""
        self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        """Faults that still have uses left."""
        return [f for f in self._faults if f.times is None or f.hits < f.times]
