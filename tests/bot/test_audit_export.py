"""`jitbot audit export` writes the trail as JSON lines and honours --since."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import redis.asyncio as aioredis

from bot.audit_export import export_audit
from jit.clock import ManualClock
from jit.store.requests import RequestStore
from sandbox.redis_server import RedisServer


async def test_export_writes_json_lines_since(redis_server: RedisServer, redis_client: aioredis.Redis) -> None:
    clock = ManualClock()
    store = RequestStore(redis_client, clock, prefix="exp")
    await store.record("early", actor="U1", request_id=None)
    clock.advance(timedelta(hours=2))
    await store.record("late", actor="U2", request_id="jr-1", detail={"why": "test"})
    out = io.StringIO()

    code = await export_audit(
        since=(clock.now() - timedelta(hours=1)).isoformat(),
        until=None,
        out=out,
        redis_url=redis_server.url,
        prefix="exp",
    )

    assert code == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["event"], r["actor"], r["request_id"], r["detail"]) for r in lines] == [
        ("late", "U2", "jr-1", {"why": "test"})
    ]


async def test_bad_since_is_a_clear_error(redis_server: RedisServer) -> None:
    out = io.StringIO()
    code = await export_audit(since="yesterday", until=None, out=out, redis_url=redis_server.url)
    assert code == 2
    assert out.getvalue() == ""
