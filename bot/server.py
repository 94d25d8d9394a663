"""The HTTP face: ``POST /slack/events``, ``GET /healthz``, ``GET /readyz``, ``GET /metrics`` on aiohttp."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable

import redis.exceptions
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.blocks.errors import unavailable_message
from bot.foreground import Foreground
from bot.logs import request_id_var
from bot.metrics import Metrics
from bot.replay import ReplayGuard

log = logging.getLogger(__name__)
ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def build_web_app(
    bolt: AsyncApp | None,
    *,
    replay_guard: ReplayGuard | None,
    readiness: ReadinessCheck,
    metrics: Metrics,
    foreground: Foreground | None = None,
    before_metrics: Callable[[], Awaitable[None]] | None = None,
) -> web.Application:
    """The aiohttp application serving Slack (when ``bolt`` is given) and the operational endpoints."""

    foreground = foreground or Foreground()

    async def slack_events(request: web.Request) -> web.StreamResponse:
        with foreground.answering():
            return await answer_slack(request)

    async def answer_slack(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        request_id_var.set(f"s-{signature[3:15]}" if signature else "-")
        if replay_guard is not None:
            if not replay_guard.authentic(body, timestamp, signature):
                log.info("slack.signature_rejected")
                return web.json_response({"error": "invalid request"}, status=401)
            try:
                first = await replay_guard.first_time(signature)
            except (redis.exceptions.RedisError, OSError):
                log.warning("slack.redis_unavailable")
                return _unavailable()
            if not first:
                log.info("slack.replay_rejected")
                return web.json_response({"error": "replayed request"}, status=401)
        assert bolt is not None
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.StreamResponse:
        checks = await readiness()
        status = 200 if all(checks.values()) else 503
        return web.json_response({"ready": status == 200, "checks": checks}, status=status)

    async def metrics_endpoint(_: web.Request) -> web.StreamResponse:
        if before_metrics is not None:
            try:
                await before_metrics()
            except Exception:  # a scrape must answer even when Redis does not
                log.warning("metrics.refresh_failed", exc_info=True)
        return web.Response(body=metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4"})

    app = web.Application(client_max_size=1024 * 1024)
    if bolt is not None:
        app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app


def _unavailable() -> web.Response:
    """Slack shows a 200 body as the command's reply: say clearly that we are briefly unavailable."""
    message = unavailable_message()
    payload = {"response_type": "ephemeral", "text": message.text, "blocks": message.blocks}
    return web.Response(text=json.dumps(payload), content_type="application/json")


class CachedCheck:
    """Remembers a slow health check's result briefly so probes don't hammer Slack."""

    def __init__(self, check: Callable[[], Awaitable[bool]], ttl_seconds: float = 30.0):
        self.check = check
        self.ttl_seconds = ttl_seconds
        self._at = 0.0
        self._value = False

    async def __call__(self) -> bool:
        """The cached result, refreshed when stale (failures are not cached)."""
        now = time.monotonic()
        if self._value and now - self._at < self.ttl_seconds:
            return True
        try:
            self._value = await self.check()
        except Exception:  # a probe must answer, whatever the dependency did
            log.warning("readiness.check_failed", exc_info=True)
            self._value = False
        self._at = now
        return self._value
