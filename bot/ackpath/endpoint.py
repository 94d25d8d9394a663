"""The public HTTP endpoint on ``PORT``: ``POST /slack/events`` and a ``GET /healthz`` that calls nothing.

Readiness and metrics are on the operations port (``bot.ops``), never here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.exceptions
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.ackpath.background import BackgroundWork
from bot.ackpath.bolt_body import body_for_bolt
from bot.ackpath.fast_ack import ack_is_empty
from bot.ackpath.lazy_listeners import LazyJob, collected_lazy_jobs
from bot.ackpath.refusals import RefusalRecorder
from bot.ackpath.verify import Refused, RequestVerifier, first_sighting
from bot.blocks.errors import unavailable_message
from bot.logs import request_id_var

log = logging.getLogger(__name__)
# What Bolt reads from the headers once the signature is checked: how to parse the body, and Slack's retries.
BOLT_HEADERS = ("Content-Type", "X-Slack-Retry-Num", "X-Slack-Retry-Reason")


@dataclass(frozen=True)
class SlackRoute:
    """``POST /slack/events``: Bolt behind the verifier, which is the one place Slack's signature is checked."""

    bolt: AsyncApp
    verifier: RequestVerifier
    in_flight: set[asyncio.Task[Any]]
    refusals: RefusalRecorder


def build_public_app(slack: SlackRoute, *, background_work: BackgroundWork | None = None) -> web.Application:
    """The aiohttp application on ``PORT``: Slack's requests, and a liveness answer that touches nothing."""

    async def healthz(_: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/slack/events", slack_events_handler(slack, background_work or BackgroundWork()))
    app.router.add_get("/healthz", healthz)
    return app


def slack_events_handler(
    slack: SlackRoute, background_work: BackgroundWork
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Verify the signature and check for a replay, then answer.

    Requests whose ack is known to be empty (``bot.ackpath.fast_ack``) are answered at once, and Bolt
    dispatches them afterwards as background work. The rest go through Bolt before the answer, while Redis
    checks for a replay alongside: Bolt's ack listeners have no side effects, and its lazy work waits for the
    verdict (``bot.ackpath.lazy_listeners``). Either way a replay is answered 401 and does nothing. Every
    refusal is one short log line and is counted in the audit trail (``bot.ackpath.refusals``), aggregated so
    anonymous traffic cannot grow Redis.
    """
    bolt, verifier = slack.bolt, slack.verifier

    def refuse(request: web.Request, why: Refused) -> web.Response:
        log.info("slack.request_refused", extra={"why": why.value})
        slack.refusals.refused(why, peer=request.remote, path=request.path)
        error = "replayed request" if why is Refused.REPLAYED else "invalid request"
        return web.json_response({"error": error}, status=401)

    async def answer(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        request_id_var.set(f"s-{signature[3:15]}" if signature else "-")
        inauthentic = verifier.refusal(body, timestamp, signature)
        if inauthentic is not None:
            return refuse(request, inauthentic)
        verdict = asyncio.ensure_future(verifier.first_time(signature))
        if ack_is_empty(body, request.content_type):
            refusal = await _refusal(verdict)
            if refusal is not None:
                return refuse(request, refusal) if isinstance(refusal, Refused) else refusal
            headers = {name: request.headers[name] for name in BOLT_HEADERS if name in request.headers}
            task = asyncio.ensure_future(
                dispatch_after_ack(body_for_bolt(body.decode(), request.content_type), request.query_string, headers)
            )
            slack.in_flight.add(task)
            task.add_done_callback(slack.in_flight.discard)
            return web.Response(status=200)
        token = first_sighting.set(verdict)
        try:
            bolt_request = AsyncBoltRequest(
                body=body_for_bolt(body.decode(), request.content_type),
                query=request.query_string,
                headers=dict(request.headers),
            )
            bolt_response = await bolt.async_dispatch(bolt_request)
        except BaseException:
            verdict.cancel()
            raise
        finally:
            first_sighting.reset(token)
        refusal = await _refusal(verdict)
        if isinstance(refusal, Refused):
            return refuse(request, refusal)
        return refusal or await to_aiohttp_response(bolt_response)

    async def dispatch_after_ack(body: str, query: str, headers: dict[str, str]) -> None:
        """Bolt's dispatch and the lazy listeners it starts, as one background job (holding only the body
        while it waits)."""
        async with background_work.run_later():
            jobs: list[LazyJob] = []
            token = collected_lazy_jobs.set(jobs)
            try:
                bolt_headers: Any = headers
                await bolt.async_dispatch(AsyncBoltRequest(body=body, query=query, headers=bolt_headers))
            except Exception:
                log.exception("slack.dispatch_failed")
            finally:
                collected_lazy_jobs.reset(token)
            for job in jobs:
                await job()

    async def slack_events(request: web.Request) -> web.StreamResponse:
        with background_work.answering():
            response = await answer(request)
            await response.prepare(request)  # the ack is on its way before any work starts
            await response.write_eof()
            return response

    return slack_events


async def _refusal(verdict: asyncio.Future[bool]) -> Refused | web.Response | None:
    """``Refused.REPLAYED`` for a replay, the "unavailable" answer when Redis could not tell, None when new."""
    try:
        first = await verdict
    except (redis.exceptions.RedisError, OSError):
        log.warning("slack.redis_unavailable")
        return _unavailable()
    return None if first else Refused.REPLAYED


def _unavailable() -> web.Response:
    """Slack shows a 200 body as the command's reply: say clearly that we are briefly unavailable."""
    message = unavailable_message()
    payload = {"response_type": "ephemeral", "text": message.text, "blocks": message.blocks}
    return web.Response(text=json.dumps(payload), content_type="application/json")
