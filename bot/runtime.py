"""The composition root: builds every part from Settings and owns their lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import aiohttp
from redis.credentials import CredentialProvider
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.ackpath.background import BackgroundWork
from bot.directory import SlackDirectory
from bot.home import HomeParts, HomePublisher, HomeRefreshingNotifier
from bot.lifecycle_notifier import SlackLifecycleNotifier
from bot.logs import request_id_var
from bot.metrics import Metrics
from bot.people import SlackPeople
from bot.review_post import SlackReviewPoster
from jit.admin import AdminService
from jit.approver_access import ApproverScreen
from jit.authorisation import Authorisation
from jit.checks import Check
from jit.clock import Clock, SystemClock
from jit.granting import Granting
from jit.identity_map import load_identity_map
from jit.instrumented import InstrumentedAzure
from jit.model import ApproverRbac, RbacMode
from jit.ports import AzureJit, RequesterPermissions
from jit.redis_connect import RedisClient, connect_redis, drop_idle_connections
from jit.requester_access import RequesterScreen
from jit.routing import Router
from jit.rules import rbac_modes, router_for
from jit.scheduler import Scheduler
from jit.service import JitService, ServiceConfig
from jit.settings import Settings, SettingsError
from jit.source_confirmations import SourceConfirmations
from jit.sources import WidePrefixes
from jit.store.audit import AuditLog
from jit.store.limits import RateLimiter
from jit.store.locks import Locks
from jit.store.policy_denials import PolicyDenials
from jit.store.refusals import RefusalTally
from jit.store.requests import RequestStore
from jit.store.schedule import DueItem, Schedule
from jit.store.source_links import SourceLinks

if TYPE_CHECKING:
    from jit.azure.redis_auth import EntraIdCredentials

log = logging.getLogger(__name__)


def slack_retry_handlers() -> list[AsyncRetryHandler]:
    """Retry Slack's 429 (honouring Retry-After), 5xx and dropped connections a few times."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


def build_slack_client(settings: Settings) -> AsyncWebClient:
    """The Web API client every part shares, on one HTTP session so connections to Slack are reused.

    Without a session slack_sdk opens a new connection (a TLS handshake with Slack) for every call. Call it
    inside the event loop; whoever builds it closes ``client.session``.
    """
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    client = AsyncWebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10, session=session
    )
    for handler in slack_retry_handlers():
        client.retry_handlers.append(handler)
    return client


def default_router(settings: Settings) -> Router:
    """Env-only configuration is one route for every VM; ``JITBOT_RULES_FILE`` adds per-scope rules before it.

    Raises RulesError (a SettingsError) naming each bad line, so a broken rules file stops the start.
    """
    return router_for(settings)


@dataclass
class Runtime:
    """Every long-lived part of a running bot."""

    settings: Settings
    clock: Clock
    redis: RedisClient
    slack: AsyncWebClient
    azure: AzureJit
    store: RequestStore
    schedule: Schedule
    audit: AuditLog
    limiter: RateLimiter
    service: JitService
    scheduler: Scheduler
    metrics: Metrics
    directory: SlackDirectory
    router: Router
    background_work: BackgroundWork
    locks: Locks
    admin: AdminService
    home: HomePublisher
    source_confirmations: SourceConfirmations
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start_background(self) -> None:
        """Start the scheduler loop, with the periodic sync with Azure and the weekly review on its schedule."""
        await self.service.sync.start()
        await self.service.reporting.start()
        self.tasks.append(asyncio.create_task(self.scheduler.run(self.stopping), name="jitbot-scheduler"))

    async def stop_background(self) -> None:
        """Stop taking scheduled work, let in-flight items finish, release leases."""
        self.stopping.set()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()

    async def refresh_gauges(self) -> None:
        """Point-in-time metrics read at scrape time: background work waiting, the scheduler's due backlog and the
        items it holds for their turn."""
        self.metrics.background_waiting.set(self.background_work.waiting)
        self.metrics.scheduler_backlog.set(await self.schedule.overdue(self.clock.now()))
        self.metrics.scheduler_parked.set(self.scheduler.parked)

    async def redis_ok(self) -> bool:
        """Redis answers PING."""
        try:
            return bool(await self.redis.ping())
        except Exception:
            return False

    async def slack_ok(self) -> bool:
        """The bot token is valid (auth.test)."""
        response = await self.slack.auth_test()
        return bool(response.get("ok"))


async def _recycle_redis_connections(redis: RedisClient, stop: asyncio.Event) -> None:
    """Entra ID tokens expire and Azure then drops the connection: reconnect idle ones with fresh tokens."""
    from jit.azure.redis_auth import ENTRA_RECYCLE_SECONDS

    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ENTRA_RECYCLE_SECONDS)
        if not stop.is_set():
            await drop_idle_connections(redis)


def _requester_permissions(
    gateway: Any, people: SlackPeople, clock: Clock, identity_map: Mapping[str, str]
) -> RequesterPermissions:
    """The Azure RBAC check of requesters and approvers on the gateway's credential and HTTP session (Graph +
    Microsoft.Authorization), with the identity map's exceptions."""
    from jit.azure.authorization import AuthorizationReader
    from jit.azure.graph import GraphUsers
    from jit.azure.requester_permissions import AzureRequesterPermissions

    clients = gateway.clients
    return AzureRequesterPermissions(
        people, GraphUsers(clients), AuthorizationReader(clients), clock, identity_map=identity_map
    )


def _router_or_default(settings: Settings) -> Router:
    """The router for doctor's Azure checks; a broken rules file (reported by its own checks) counts as none."""
    try:
        return router_for(settings)
    except SettingsError:
        return router_for(replace(settings, rules_file=None))


def _identity_map_or_empty(settings: Settings) -> Mapping[str, str]:
    """The identity map for doctor's Graph checks; a broken file (reported by its own checks) maps nobody."""
    try:
        return load_identity_map(settings.identity_map)
    except SettingsError:
        return {}


def rbac_checks_needed(settings: Settings, router: Router) -> bool:
    """Whether any person's own Azure RBAC is ever checked: JITBOT_REQUESTER_RBAC or a rule's ``requester_rbac``
    other than off, or JITBOT_APPROVER_RBAC=enforce."""
    in_use = rbac_modes(router) | {settings.requester_rbac}
    return bool(in_use - {RbacMode.OFF}) or settings.approver_rbac is ApproverRbac.ENFORCE


def _entra_credentials(settings: Settings) -> EntraIdCredentials | None:
    """Redis sign-in with Microsoft Entra ID tokens when JITBOT_REDIS_AUTH=entra-id; None for a password or none."""
    if settings.redis_auth != "entra-id":
        return None
    from jit.azure.redis_auth import default_entra_credentials

    return default_entra_credentials()


@contextlib.asynccontextmanager
async def redis_credentials(settings: Settings) -> AsyncIterator[CredentialProvider | None]:
    """The credentials the bot signs in to Redis with (``jitbot doctor`` uses the same), closed after use."""
    entra = _entra_credentials(settings)
    try:
        yield entra
    finally:
        if entra is not None:
            await entra.credential.close()


async def diagnose_azure(settings: Settings, connection_verify: str | None) -> list[Check]:
    """``jitbot doctor``'s Azure checks: the credential gets a token; each subscription's VMs and JIT policies are
    readable; Defender is on; and, unless JITBOT_REQUESTER_RBAC is off, Microsoft Graph lets jitbot look people
    up. Here because this module is the one place the Slack face reaches the Azure adapter."""
    from jit.azure.diagnostics import graph_checks
    from jit.azure.gateway import build_gateway

    gateway = build_gateway(settings, SystemClock(), connection_verify=connection_verify)
    async with gateway:
        checks = await gateway.diagnose()
        if rbac_checks_needed(settings, _router_or_default(settings)):
            checks += await graph_checks(gateway.clients, _identity_map_or_empty(settings))
        return checks


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    azure: AzureJit | None = None,
    connection_verify: str | None = None,
    key_prefix: str = "jitbot",
) -> AsyncIterator[Runtime]:
    """Build the runtime; closes Redis, the Slack client session and the Azure clients on exit."""
    router = default_router(settings)
    identity_map = load_identity_map(settings.identity_map)
    clock = clock or SystemClock()
    metrics = Metrics()
    entra = _entra_credentials(settings)
    redis = connect_redis(settings.redis_url, credential_provider=entra)
    slack = build_slack_client(settings)
    directory = SlackDirectory(slack)
    store = RequestStore(redis, clock, prefix=key_prefix)
    schedule = Schedule(redis, prefix=key_prefix)
    audit = AuditLog(redis, prefix=key_prefix)
    limiter = RateLimiter(redis, clock, prefix=key_prefix)
    locks = Locks(redis, prefix=key_prefix)
    permissions: RequesterPermissions | None = None
    async with contextlib.AsyncExitStack() as stack:
        if azure is None:
            from jit.azure.gateway import build_gateway

            gateway = build_gateway(settings, clock, connection_verify=connection_verify)
            azure = await stack.enter_async_context(gateway)
            if rbac_checks_needed(settings, router):
                permissions = _requester_permissions(gateway, SlackPeople(slack), clock, identity_map)
        azure = InstrumentedAzure(azure, metrics.observe_azure)
        access = Authorisation(directory, router, settings.admins, store.record)
        granting = Granting(azure, store, clock, locks)
        denials = PolicyDenials(redis, clock, prefix=key_prefix)
        admin = AdminService(
            azure=azure,
            store=store,
            directory=directory,
            admins=settings.admins,
            clock=clock,
            denials=denials,
            locks=locks,
        )
        home = HomePublisher(
            HomeParts(
                slack=slack,
                redis=redis,
                seen_key=store.keys.home_seen,
                store=store,
                clock=clock,
                directory=directory,
                router=router,
                access=access,
                granting=granting,
                admin=admin,
            )
        )
        notifier = HomeRefreshingNotifier(
            SlackLifecycleNotifier(slack, settings=settings, clock=clock, metrics=metrics), home
        )
        holder: dict[str, Scheduler] = {}
        service = JitService(
            azure=azure,
            store=store,
            schedule=schedule,
            notifier=notifier,
            directory=directory,
            router=router,
            clock=clock,
            config=ServiceConfig(
                request_ttl=settings.request_ttl,
                remind_before=settings.remind_before,
                default_source=settings.default_source,
                max_pending_per_user=settings.max_pending_per_user,
                max_duration=settings.max_duration,
                admins=settings.admins,
                sync_interval=settings.sync_interval,
                wide_sources=WidePrefixes(settings.wide_prefix_v4, settings.wide_prefix_v6),
                reviewers=settings.approvers,
                review_channel=settings.review_channel,
            ),
            notices=notifier,
            access=access,
            granting=granting,
            trail=audit,
            reviews=SlackReviewPoster(slack),
            policy_refusals=denials,
            wake=lambda: holder["scheduler"].wake() if "scheduler" in holder else None,
            run_now=lambda key: holder["scheduler"].run_now(key) if "scheduler" in holder else None,
            requester_screen=RequesterScreen(permissions, settings.requester_rbac, store.record),
            approver_screen=ApproverScreen(permissions, settings.approver_rbac, store.record),
        )

        async def handle(item: DueItem) -> None:
            request_id_var.set(item.subject)
            lag = (clock.now() - item.due).total_seconds()
            metrics.scheduler_lag.observe(max(0.0, lag))
            await service.handle_due(item.key)

        background_work = BackgroundWork(on_deferred=metrics.background_deferred.inc)
        scheduler = Scheduler(schedule, handle, clock, turn=background_work.run_later)
        holder["scheduler"] = scheduler
        runtime = Runtime(
            settings=settings,
            clock=clock,
            redis=redis,
            slack=slack,
            azure=azure,
            store=store,
            schedule=schedule,
            audit=audit,
            limiter=limiter,
            service=service,
            scheduler=scheduler,
            metrics=metrics,
            directory=directory,
            router=router,
            background_work=background_work,
            locks=locks,
            admin=admin,
            home=home,
            source_confirmations=SourceConfirmations(
                SourceLinks(redis, prefix=key_prefix),
                store.record,
                RefusalTally(redis, clock, prefix=key_prefix),
                clock,
            ),
        )
        if entra is not None:
            runtime.tasks.append(asyncio.create_task(_recycle_redis_connections(redis, runtime.stopping)))
        try:
            yield runtime
        finally:
            await runtime.stop_background()
            await redis.aclose()
            if entra is not None:
                await entra.credential.close()
            session = getattr(slack, "session", None)
            if session is not None and not session.closed:
                await session.close()
