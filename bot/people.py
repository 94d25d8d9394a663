"""People's email addresses from Slack (``users.info``), cached, for matching them to their Entra ID accounts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from jit.errors import IdentityUnavailable

_SCOPE_ERRORS = frozenset({"missing_scope", "not_allowed_token_type", "no_permission"})


class SlackPeople:
    """Implements ``jit.ports.PeopleEmails`` with ``users.info`` (scopes ``users:read`` and ``users:read.email``).

    Emails are cached for ``ttl_seconds``; concurrent cold lookups of one person share a single call. Failures are
    not cached.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl_seconds: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.ttl_seconds = ttl_seconds
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, str]] = {}
        self._loading: dict[str, asyncio.Task[str]] = {}

    async def email_of(self, user: str) -> str:
        """The email on ``user``'s Slack profile; IdentityUnavailable says why there is none."""
        cached = self._cache.get(user)
        if cached and self._monotonic() - cached[0] < self.ttl_seconds:
            return cached[1]
        loading = self._loading.get(user)
        if loading is None:
            loading = asyncio.ensure_future(self._load(user))
            self._loading[user] = loading
            loading.add_done_callback(lambda _: self._loading.pop(user, None))
        return await asyncio.shield(loading)

    async def _load(self, user: str) -> str:
        started = self._monotonic()
        try:
            response = await self.client.users_info(user=user)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown"))
            if error in _SCOPE_ERRORS:
                raise IdentityUnavailable(
                    f"Slack refused to show jitbot people's profiles ({error}): the app needs the users:read and "
                    "users:read.email scopes (reinstall it from deploy/slack-app-manifest.yaml)."
                ) from None
            raise IdentityUnavailable(f"Slack could not look the requester up ({error}).") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise IdentityUnavailable(f"Slack did not answer the profile lookup ({type(exc).__name__}).") from None
        profile = (response.get("user") or {}).get("profile") or {}
        email = str(profile.get("email") or "").strip()
        if not email:
            raise IdentityUnavailable(
                "the requester's Slack profile shows jitbot no email address, so their Entra ID account is unknown "
                "(a bot or guest without an email, or the app lacks users:read.email)."
            )
        self._cache[user] = (started, email)
        return email
