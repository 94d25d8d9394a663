"""What the use cases are built from: the ports, the shared domain services, and the settings they read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from jit.authorisation import Authorisation
from jit.azure_sync import DEFAULT_INTERVAL as DEFAULT_SYNC_INTERVAL
from jit.clock import Clock
from jit.displacement import Displacement
from jit.granting import Granting
from jit.ports import AzureJit, Directory, LifecycleNotifier, Notifier
from jit.ports.records import RequestRecords, Timetable
from jit.routing import DEFAULT_REVIEW_WITHIN, Router
from jit.sources import WidePrefixes


@dataclass(frozen=True)
class ServiceConfig:
    """Timings and defaults the use cases need (from Settings)."""

    request_ttl: timedelta
    remind_before: timedelta
    default_source: str
    max_pending_per_user: int = 5
    max_duration: timedelta | None = None
    reconcile_after: timedelta = timedelta(minutes=3)
    admins: tuple[str, ...] = ()
    review_within: timedelta = DEFAULT_REVIEW_WITHIN
    max_queue_wait: timedelta = timedelta(hours=24)
    sync_interval: timedelta = DEFAULT_SYNC_INTERVAL
    wide_sources: WidePrefixes = field(default_factory=WidePrefixes)
    reviewers: tuple[str, ...] = ()
    review_channel: str | None = None


@dataclass(frozen=True)
class Deps:
    """Everything a use case may touch. ``wake`` tells the scheduler that something new is due; ``run_now``, when
    the process has a runner, starts one item that is due now (``jit.scheduler.Scheduler.run_now``)."""

    azure: AzureJit
    store: RequestRecords
    schedule: Timetable
    notifier: Notifier
    notices: LifecycleNotifier
    directory: Directory
    router: Router
    clock: Clock
    config: ServiceConfig
    access: Authorisation
    granting: Granting
    displacement: Displacement
    wake: Callable[[], None]
    run_now: Callable[[str], None] | None = None

    def due_now(self, key: str) -> None:
        """``key`` was just scheduled due now: run it in this process at once when a runner is wired, else wake
        the scheduler."""
        if self.run_now is not None:
            self.run_now(key)
        else:
            self.wake()
