"""The operations endpoints on ``OPS_PORT``: ``GET /healthz``, ``GET /readyz`` and ``GET /metrics``.

They live on a port of their own because ``/readyz`` can call Slack's ``auth.test`` and ``/metrics`` reads
Redis: neither may be free for anyone on the internet to call. Probes and Prometheus reach this port from
inside the cluster or host; only ``PORT`` (``POST /slack/events`` and a ``/healthz`` that calls nothing) is
meant to be exposed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.metrics import Metrics
from bot.runtime import Runtime

log = logging.getLogger(__name__)
ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def build_ops_app(
    *,
    readiness: ReadinessCheck,
    metrics: Metrics,
    before_metrics: Callable[[], Awaitable[None]] | None = None,
) -> web.Application:
    """The aiohttp application behind ``OPS_PORT``."""

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

    app = web.Application(client_max_size=64 * 1024)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app


def ops_app_of(runtime: Runtime) -> web.Application:
    """The operations application wired to a running bot's Redis, Slack client and metrics."""
    return build_ops_app(
        readiness=readiness_of(runtime), metrics=runtime.metrics, before_metrics=runtime.refresh_gauges
    )


def readiness_of(runtime: Runtime) -> ReadinessCheck:
    """The /readyz check: Redis answers and Slack's auth.test succeeds (cached briefly)."""
    slack_check = CachedCheck(runtime.slack_ok)

    async def check() -> dict[str, bool]:
        return {"redis": await runtime.redis_ok(), "slack": await slack_check()}

    return check


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
