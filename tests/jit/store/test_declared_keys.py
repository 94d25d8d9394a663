"""Every Lua step touches only keys it received in KEYS, as Redis requires for Cluster, watched with MONITOR."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from jit.clock import ManualClock
from jit.model import RequestState
from jit.ports.records import TooManyPending
from jit.store import lua
from jit.store.limits import RateLimiter
from jit.store.refusals import RefusalTally
from jit.store.requests import RequestStore
from jit.store.schedule import Schedule
from jit.store.source_links import SourceLinks
from sandbox.redis_server import RedisServer
from tests.jit.store.conftest import make_request, pending_source

S = RequestState
SCRIPTS = {
    hashlib.sha1(text.encode()).hexdigest(): name  # noqa: S324 (how Redis names scripts)
    for name, text in vars(lua).items()
    if name.isupper() and name != "COMMON"
}
END = "end-of-scenario"


async def _every_step(client: aioredis.Redis, clock: ManualClock) -> None:
    """Each script down each of its paths, one call at a time so MONITOR shows them in order."""
    store = RequestStore(client, clock, prefix="keys", retention=timedelta(days=1))
    first = make_request(clock, "U1")
    await store.create(first, dedupe_key="ssh", max_pending_per_user=2, schedule={f"timeout:{first.id}": clock.now()})
    await store.create(make_request(clock, "U1"), dedupe_key="ssh", max_pending_per_user=2)
    await store.update_fields(first.id, {"card_ts": "1.2"}, actor="bot", event="card", append={"approvals": "A"})
    await store.update_fields(first.id, {}, actor="bot", event="card", append={"approvals": "A"})
    await store.update_fields(first.id, {}, actor="bot", event="x", expect_states={S.ACTIVE})
    cold = RequestStore(client, clock, prefix="keys", retention=timedelta(days=1))
    await cold.transition(first.id, S.APPROVED, actor="A", unschedule=[f"timeout:{first.id}"])
    await cold.transition(first.id, S.DENIED, actor="B")
    await store.transition(first.id, S.ACTIVE, actor="bot", schedule={f"expire:{first.id}": clock.now()})
    clock.advance(timedelta(days=2))
    await store.transition(first.id, S.EXPIRED, actor="bot")
    again = make_request(clock, "U1")
    await store.create(again, dedupe_key="ssh", max_pending_per_user=2)
    await store.create(make_request(clock, "U1"), dedupe_key="rdp", max_pending_per_user=2)
    with pytest.raises(TooManyPending):
        await store.create(make_request(clock, "U1"), dedupe_key="other", max_pending_per_user=2)
    await store.transition(again.id, S.CANCELLED, actor="U1")
    await store.record("click_refused", actor="U9", request_id=again.id)

    schedule = Schedule(client, prefix="keys")
    await schedule.update({"remind:a": clock.now(), "remind:b": clock.now()}, remove=["remind:gone"])
    claimed = await schedule.claim(clock.now(), lease=timedelta(minutes=1), limit=5)
    await schedule.complete_many(claimed[:1])
    await schedule.retry(claimed[1], clock.now())
    [back] = await schedule.claim(clock.now(), lease=timedelta(minutes=1), limit=5)
    await schedule.hold(back, clock.now() + timedelta(minutes=2))
    await schedule.release(back)
    await schedule.add("card:a", clock.now())
    one = await schedule.claim_one("card:a", clock.now(), lease=timedelta(minutes=1))
    assert one is not None
    assert await schedule.claim_one("card:a", clock.now(), lease=timedelta(minutes=1)) is None
    await schedule.hold(back, clock.now() + timedelta(minutes=2))

    limiter = RateLimiter(client, clock, "keys")
    await limiter.hit("U1", 1)
    await limiter.hit("U1", 1)

    tally = RefusalTally(client, clock, prefix="keys")
    await tally.count("bad_signature", 1, {"peer": "192.0.2.1"})
    await tally.count("bad_signature", 2, {"peer": "192.0.2.1"})

    links = SourceLinks(client, prefix="keys")
    await links.save("token", pending_source(clock), clock.now())
    await links.use("token", clock.now(), "198.51.100.7")
    await links.use("token", clock.now(), "198.51.100.7")
    await links.use("other", clock.now(), "198.51.100.7")


async def test_no_script_touches_a_key_it_was_not_given(
    redis_server: RedisServer, redis_client: aioredis.Redis, clock: ManualClock
) -> None:
    watcher = aioredis.Redis.from_url(redis_server.url)
    declared: list[str] = []
    current = ""
    ran: set[str] = set()
    undeclared: list[tuple[str, str]] = []
    async with watcher.monitor() as monitor:
        await _every_step(redis_client, clock)
        await redis_client.echo(END)
        while True:
            seen = await monitor.next_command()
            words = seen["command"].split(" ")
            if seen["client_type"] != "lua":
                if words == ["ECHO", END]:
                    break
                if words[0] == "EVALSHA":
                    current = SCRIPTS[words[1]]
                    declared = words[3 : 3 + int(words[2])]
                    ran.add(current)
                continue
            if words[1] not in declared:
                undeclared.append((current, seen["command"][:120]))
    await watcher.aclose()
    assert undeclared == []
    assert ran == set(SCRIPTS.values())
