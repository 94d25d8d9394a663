"""``jitbot audit export``: the audit trail as JSON lines, for SIEMs and auditors."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TextIO

from jit.redis_connect import connect_redis
from jit.settings import load_environment
from jit.store.audit import AuditLog


class ExportError(ValueError):
    """A bad ``--since``/``--until`` value."""


def parse_time(text: str | None, flag: str) -> datetime | None:
    """ISO 8601 (a date alone means midnight UTC); naive times are taken as UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(f"{flag} {text!r} is not an ISO 8601 time like 2026-12-01T09:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def export_audit(
    *, since: str | None, until: str | None, out: TextIO, redis_url: str | None = None, prefix: str = "jitbot"
) -> int:
    """Write every audit record in the window to ``out``, one JSON object per line; returns the exit code."""
    try:
        start, end = parse_time(since, "--since"), parse_time(until, "--until")
    except ExportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    url = redis_url or load_environment().get("REDIS_URL") or "redis://localhost:6379/0"
    redis = connect_redis(url, socket_timeout=10)
    try:
        async for record in AuditLog(redis, prefix=prefix).entries(start, end):
            out.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    finally:
        await redis.aclose()
    return 0
