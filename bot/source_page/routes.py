"""The "from me" page on the public port: ``GET /from-me/<token>`` shows, ``POST /from-me/confirm`` confirms.

A GET only reads (Slack's unfurler, link previews and security scanners fetch links too): it shows whose request
it is, what will open, and the address jitbot sees, with one button. The button POSTs the token in the form
body (never a cookie: a page elsewhere cannot make the browser send it), and only that POST uses the link and
makes the request, from the address the POST came from (``client_address``), with the same checks as a typed
``from <ip>`` (``bot.handlers.requesting.submit_confirmed``). The outcome is shown on the page and posted to the
requester in Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import redis.exceptions
from aiohttp import web

from bot.logs import request_id_var
from bot.runtime import Runtime
from bot.source_page.client_address import IPAddress, TrustedProxies, client_address, kind_of
from bot.source_page.page import (
    SECURITY_HEADERS,
    confirm_page,
    done_page,
    no_address_page,
    not_open_page,
    refused_page,
)
from bot.source_page.paths import CONFIRM_PATH, PAGE_PREFIX, plausible_token
from jit.store.source_links import LinkStatus, PendingSource

log = logging.getLogger(__name__)
# Makes the confirmed request from the address and tells the requester in Slack; returns the refusal, if any.
SubmitConfirmed = Callable[[PendingSource, str], Awaitable[str | None]]
STATUS_OF = {LinkStatus.USED: 410, LinkStatus.EXPIRED: 410, LinkStatus.UNKNOWN: 404}


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS)


def _unavailable() -> web.Response:
    return _html(
        "<!doctype html><title>jitbot</title><p>jitbot is briefly unavailable; try again in a minute.</p>", 503
    )


def add_source_page(app: web.Application, runtime: Runtime, submit: SubmitConfirmed) -> None:
    """Serve the page on ``app`` (the public port's application); ``submit`` makes a confirmed request."""
    proxies = TrustedProxies.of(runtime.settings.trusted_proxies)
    confirmations = runtime.source_confirmations

    def address_of(request: web.Request) -> IPAddress | None:
        return client_address(request.remote, request.headers.getall("X-Forwarded-For", []), proxies)

    async def show(request: web.Request) -> web.StreamResponse:
        request_id_var.set("from-me")
        token = request.match_info["token"]
        if not plausible_token(token):
            return _html(not_open_page(LinkStatus.UNKNOWN), 404)
        try:
            lookup = await confirmations.look(token)
        except (redis.exceptions.RedisError, OSError):
            return _unavailable()
        if lookup.status is not LinkStatus.VALID or lookup.pending is None:
            return _html(not_open_page(lookup.status), STATUS_OF.get(lookup.status, 404))
        address = address_of(request)
        if address is None:
            return _html(no_address_page(), 400)
        return _html(confirm_page(lookup.pending, token, str(address), kind_of(address), "confirm"))

    async def confirm(request: web.Request) -> web.StreamResponse:
        request_id_var.set("from-me")
        form = await request.post()
        token = form.get("token")
        if not isinstance(token, str) or not plausible_token(token):
            return _html(not_open_page(LinkStatus.UNKNOWN), 404)
        address = address_of(request)
        try:
            if address is None:
                looked = await confirmations.look(token)
                if looked.status is not LinkStatus.VALID or looked.pending is None:
                    return _html(not_open_page(looked.status), STATUS_OF.get(looked.status, 404))
                await confirmations.refused(looked.pending, "no_address", None)
                return _html(no_address_page(), 400)
            lookup = await confirmations.confirm(token, str(address))
        except (redis.exceptions.RedisError, OSError):
            return _unavailable()
        if lookup.status is not LinkStatus.VALID or lookup.pending is None:
            return _html(not_open_page(lookup.status), STATUS_OF.get(lookup.status, 404))
        problem = await submit(lookup.pending, str(address))
        if problem is None:
            return _html(done_page(str(address), "Your request is in. Slack tells you what happens next."))
        return _html(refused_page(str(address), problem))

    app.router.add_get(f"{PAGE_PREFIX}/{{token}}", show)
    app.router.add_post(CONFIRM_PATH, confirm)
