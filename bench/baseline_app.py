"""The reference apps, each run as its own process (``python -m bench.baseline_app --mode peer|floor|cards``).

- ``peer``: a default slack-bolt ``AsyncApp`` whose ``/jit`` listener only acks. Bolt runs the listener in
  the background and polls for ``ack()`` every 10 ms, so this is what a typical Bolt app costs.
- ``floor``: the same with ``process_before_response=True``: the ack is the response, nothing else runs.
  No Bolt app can answer a signed command faster on this machine.
- ``cards``: what any card bot must do per command, and nothing more: ack, then one ``chat.postMessage`` of an
  approval card (Block Kit, built with ``slack_sdk.models``) to ``JITBOT_APPROVAL_CHANNEL`` from a lazy listener.
  The end-to-end peer of jitbot's command → card.

Both are served like jitbot: Bolt's aiohttp adapter on an aiohttp ``AppRunner`` without access log, same
signing secret (``SLACK_SIGNING_SECRET``), bot token and Web API (``SLACK_BOT_TOKEN``, ``SLACK_API_URL``, for
the one ``auth.test`` Bolt makes), plus ``GET /healthz`` so the benchmark knows they are up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

MODES = ("peer", "floor", "cards")


def build_app(mode: str) -> web.Application:
    """The aiohttp application of one reference app."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    bolt = AsyncApp(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        process_before_response=mode == "floor",
    )

    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    async def post_card(body: dict[str, Any], client: AsyncWebClient) -> None:
        text = f"<@{body.get('user_id', '')}> asks: /jit {body.get('text', '')}"
        blocks = [
            SectionBlock(text=MarkdownTextObject(text=text)),
            ActionsBlock(
                elements=[
                    ButtonElement(text="Approve", action_id="jit_approve", value="peer", style="primary"),
                    ButtonElement(text="Deny", action_id="jit_deny", value="peer", style="danger"),
                ]
            ),
        ]
        await client.chat_postMessage(
            channel=os.environ["JITBOT_APPROVAL_CHANNEL"], text=text, blocks=[b.to_dict() for b in blocks]
        )

    if mode == "cards":
        bolt.command("/jit")(ack=only_ack, lazy=[post_card])
    else:
        bolt.command("/jit")(only_ack)
    app = bolt.web_app(path="/slack/events")

    async def healthz(_: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)

    async def close_client(_: web.Application) -> None:
        session = getattr(client, "session", None)
        if session is not None and not session.closed:
            await session.close()

    app.on_cleanup.append(close_client)
    return app


async def serve(mode: str, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    runner = web.AppRunner(build_app(mode), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m bench.baseline_app``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.baseline_app", description="A reference Bolt app that only acks /jit."
    )
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.mode, args.host, args.port))


if __name__ == "__main__":
    main()
