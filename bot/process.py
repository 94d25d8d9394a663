"""The bot's process, ``jitbot serve``: start up, listen, and drain the work in flight on SIGTERM.

Slack reaches the bot over HTTP (``bot.ackpath``), or over Socket Mode when SLACK_APP_TOKEN is set. In HTTP mode
the public port also serves the "from me" page (``bot.source_page``). Either way
the operations endpoints (``bot.ops``) listen on ``OPS_PORT`` from start-up until the work in
flight has drained. ``PORT`` is opened in HTTP mode only: Socket Mode needs nothing from the outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import signal

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from bot.ackpath.endpoint import SlackRoute, build_public_app
from bot.ackpath.lazy_listeners import wait_for_tasks
from bot.ackpath.refusals import RefusalRecorder
from bot.ackpath.verify import RequestVerifier
from bot.app import build_bolt_app
from bot.handlers.requesting import submit_confirmed
from bot.logs import configure_logging
from bot.ops import ops_app_of
from bot.runtime import Runtime, open_runtime
from bot.source_page.routes import add_source_page
from jit.clock import SystemClock
from jit.file_clock import clock_from_environment
from jit.settings import Settings, SettingsError, load_environment
from jit.store.refusals import RefusalTally

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0


def freeze_startup_heap() -> None:
    """Keep what start-up loaded (SDKs, specs, Bolt, the app) out of the garbage collector's full passes.

    Those objects live as long as the process, so scanning them finds nothing, while a full pass over them
    pauses the event loop and every request in flight with it.
    """
    gc.collect()
    gc.freeze()
    log.info("jitbot.heap_frozen", extra={"objects": gc.get_freeze_count()})


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def serve(host: str | None = None, port: int | None = None, settings: Settings | None = None) -> int:
    """Run the bot until SIGTERM/SIGINT; returns the process exit code."""
    environment = load_environment()
    settings = settings or Settings.from_env(environment)
    host = host or settings.host
    port = port or settings.port
    if not settings.socket_mode and port == settings.ops_port:
        raise SettingsError([f"--port {port} is OPS_PORT too: the operations endpoints need a port of their own"])
    configure_logging(settings.log_level, _secrets(settings))
    stop = asyncio.Event()
    _stop_on_signals(stop)
    clock = clock_from_environment(environment)
    if not isinstance(clock, SystemClock):
        log.warning("jitbot.test_clock_active", extra={"why": "JITBOT_TEST_CLOCK_FILE is set; never in production"})
    async with open_runtime(settings, clock=clock) as runtime:
        await runtime.start_background()
        freeze_startup_heap()
        ops, _ = await start_ops(runtime, host, settings.ops_port)
        try:
            if settings.socket_mode:
                await _run_socket_mode(runtime, stop)
            else:
                await run_http(runtime, host, port, stop)
        finally:
            await ops.cleanup()
    log.info("jitbot.stopped")
    return 0


async def start_http(runtime: Runtime, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving Slack on the public port; returns the runner and the port it listens on."""
    prefix = runtime.store.keys.prefix
    verifier = RequestVerifier(runtime.redis, runtime.settings.slack_signing_secret, prefix=prefix)
    tally = RefusalTally(runtime.redis, runtime.clock, prefix=prefix)
    refusals = RefusalRecorder(tally, runtime.metrics, runtime.in_flight)
    slack = SlackRoute(build_bolt_app(runtime), verifier, runtime.in_flight, refusals)
    app = build_public_app(slack, background_work=runtime.background_work)
    add_source_page(app, runtime, functools.partial(submit_confirmed, runtime))
    runner, bound = await _listen(app, host, port)
    log.info("jitbot.listening", extra={"host": host, "port": bound, "mode": "http"})
    return runner, bound


async def start_ops(runtime: Runtime, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start the operations endpoints (``bot.ops``); returns the runner and the port they listen on."""
    runner, bound = await _listen(ops_app_of(runtime), host, port)
    log.info("jitbot.ops_listening", extra={"host": host, "port": bound})
    return runner, bound


async def _listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0 picks a free port) and return the runner and the bound port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = port
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    if sockets:
        bound = int(sockets[0].getsockname()[1])
    return runner, bound


async def run_http(runtime: Runtime, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve over HTTP until ``stop`` is set, then stop taking work and drain what is in flight."""
    runner, _ = await start_http(runtime, host, port)
    await stop.wait()
    log.info("jitbot.draining")
    await runner.cleanup()
    await drain_in_flight(runtime)
    await runtime.stop_background()


async def drain_in_flight(runtime: Runtime, seconds: float = DRAIN_SECONDS) -> None:
    """Let work already acked (lazy listeners) finish before the runtime closes."""
    running = await wait_for_tasks(runtime.in_flight, seconds)
    if running:
        log.info("jitbot.waited_for_in_flight", extra={"tasks": running})


async def start_socket_mode(runtime: Runtime) -> AsyncSocketModeHandler:
    """Connect to Slack over Socket Mode (Slack pushes events down a websocket; no public URL needed)."""
    handler = AsyncSocketModeHandler(build_bolt_app(runtime), runtime.settings.slack_app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    return handler


async def _run_socket_mode(runtime: Runtime, stop: asyncio.Event) -> None:
    handler = await start_socket_mode(runtime)
    log.info("jitbot.listening", extra={"mode": "socket"})
    await stop.wait()
    log.info("jitbot.draining")
    await handler.close_async()  # type: ignore[no-untyped-call]
    await drain_in_flight(runtime)
    await runtime.stop_background()


def _secrets(settings: Settings) -> list[str]:
    return [
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        os.environ.get("AZURE_CLIENT_SECRET", ""),
        os.environ.get("IDENTITY_HEADER", ""),
    ]
