"""One small world for the use-case tests: a VM with a JIT policy, a rule, people, and every port as a double.

``World`` wires the doubles the way ``bot.runtime`` wires the real adapters (``Authorisation``, ``Granting``,
``JitService``), so a use case runs exactly as in production, only without Redis, HTTP or emulators.
``run_due`` plays the scheduler: it runs what the timetable says is due at the clock's time, through the same
``Dispatch`` the bot uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jit.authorisation import Authorisation
from jit.clock import ManualClock
from jit.deps import Deps, ServiceConfig
from jit.displacement import Displacement
from jit.granting import Granting
from jit.model import AccessRequest, PolicyPort, RequestState, VirtualMachine, VmRef
from jit.results import RequestDraft
from jit.routing import Route
from jit.schedule_items import Kind, item
from jit.service import JitService
from tests.jit.doubles.azure import FakeAzure
from tests.jit.doubles.notify import RecordingNotifier, RecordingReviewPoster
from tests.jit.doubles.people import GroupDirectory
from tests.jit.doubles.records import InMemoryRecords, InMemoryTimetable, RememberedRefusals
from tests.jit.doubles.turns import InMemoryTurns

REQUESTER = "UREQUESTER"
APPROVER = "UAPPROVER1"
APPROVER_2 = "UAPPROVER2"
APPROVER_3 = "UAPPROVER3"
ADMIN = "UADMIN"
OUTSIDER = "UOUTSIDER"
COLLEAGUE = "UCOLLEAGUE"
ESCALATION_GROUP = "SESCALATE"
ESCALATION_APPROVER = "UESCALATE"
GLASS_GROUP = "SGLASS"
SOURCE = "203.0.113.7"
OTHER_SOURCE = "198.51.100.9"
CHANNEL = "CAPPROVALS"

VM_REF = VmRef(
    id="/subscriptions/sub-1/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/web-01",
    subscription_id="sub-1",
    resource_group="rg-app",
    name="web-01",
    location="westeurope",
)
VM = VirtualMachine(VM_REF, os_type="Linux", private_ips=("10.0.0.4",))
MAX_ACCESS = timedelta(hours=3)
POLICY_PORTS = (PolicyPort(22, max_duration=MAX_ACCESS), PolicyPort(3389, max_duration=MAX_ACCESS))


def settings(**changes: object) -> ServiceConfig:
    """The service's settings: requests wait an hour, reminders come 10 minutes before the end."""
    fields: dict[str, object] = {
        "request_ttl": timedelta(hours=1),
        "remind_before": timedelta(minutes=10),
        "default_source": SOURCE,
        "admins": (ADMIN,),
    }
    fields.update(changes)
    return ServiceConfig(**fields)  # type: ignore[arg-type]


def rule(**changes: object) -> Route:
    """The rule of the world's VM: two approvers decide in ``CAPPROVALS``; ``changes`` override any field."""
    fields: dict[str, object] = {"name": "default", "approvers": (APPROVER, APPROVER_2), "approval_channel": CHANNEL}
    fields.update(changes)
    return Route(**fields)  # type: ignore[arg-type]


@dataclass
class SettableRouter:
    """A router whose one rule a test can change mid-way (as an edit of the rules file would)."""

    rule: Route

    def route(self, vm: VirtualMachine) -> Route:
        """The current rule, whatever the VM."""
        return self.rule


@dataclass
class Ran:
    """What one ``run_due`` ran, and which items failed (they are scheduled again, like the scheduler's retry)."""

    keys: list[str] = field(default_factory=list)
    failed: dict[str, Exception] = field(default_factory=dict)


RETRY_AFTER = timedelta(seconds=30)
LOCK_WAIT = timedelta(seconds=2)
"""Nothing in the doubles waits for I/O, so a lock still taken after this is held by the waiter's own caller: a
deadlock shows as VmBusy within seconds instead of after the 90 the Redis locks wait."""


@dataclass
class World:
    """Every double, the rule in force, and the service built from them."""

    clock: ManualClock = field(default_factory=ManualClock)
    timetable: InMemoryTimetable = field(default_factory=InMemoryTimetable)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    reviews: RecordingReviewPoster = field(default_factory=RecordingReviewPoster)
    directory: GroupDirectory = field(
        default_factory=lambda: GroupDirectory({ESCALATION_GROUP: {ESCALATION_APPROVER}, GLASS_GROUP: {REQUESTER}})
    )
    router: SettableRouter = field(default_factory=lambda: SettableRouter(rule()))
    config: ServiceConfig = field(default_factory=settings)
    wakes: int = 0
    ran_now: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.records = InMemoryRecords(self.clock, self.timetable)
        self.turns = InMemoryTurns(default_wait=LOCK_WAIT)
        self.azure = FakeAzure(self.clock)
        policy = self.azure.add_vm(VM, POLICY_PORTS)
        assert policy is not None
        self.policy = policy
        self.access = Authorisation(self.directory, self.router, self.config.admins, self.records.record)
        self.granting = Granting(self.azure, self.records, self.clock, self.turns)
        self.policy_refusals = RememberedRefusals()
        self.service = JitService(
            azure=self.azure,
            store=self.records,
            schedule=self.timetable,
            notifier=self.notifier,
            directory=self.directory,
            router=self.router,
            clock=self.clock,
            config=self.config,
            notices=self.notifier,
            access=self.access,
            granting=self.granting,
            trail=self.records,
            reviews=self.reviews,
            policy_refusals=self.policy_refusals,
            wake=self._wake,
            run_now=self.ran_now.append,
        )

    def _wake(self) -> None:
        self.wakes += 1

    def deps(self) -> Deps:
        """The same ports as ``Deps``, for building one use case on its own."""
        return Deps(
            azure=self.azure,
            store=self.records,
            schedule=self.timetable,
            notifier=self.notifier,
            notices=self.notifier,
            directory=self.directory,
            router=self.router,
            clock=self.clock,
            config=self.config,
            access=self.access,
            granting=self.granting,
            displacement=Displacement(self.records, self.clock, self._wake),
            wake=self._wake,
        )

    # -- arranging ------------------------------------------------------------------------------------------

    def draft(self, **changes: object) -> RequestDraft:
        """SSH to web-01 for two hours from the default source, by ``REQUESTER``; ``changes`` override."""
        fields: dict[str, object] = {
            "requester": REQUESTER,
            "vm": "web-01",
            "ports": (22,),
            "duration": timedelta(hours=2),
            "source": None,
            "reason": "INC-1 fixing deploy",
        }
        fields.update(changes)
        return RequestDraft(**fields)  # type: ignore[arg-type]

    async def pending(self, **changes: object) -> AccessRequest:
        """A new pending request (see ``draft``)."""
        submitted = await self.service.submit(self.draft(**changes))
        assert submitted.created and submitted.request.state is RequestState.PENDING, submitted
        return submitted.request

    async def active(self, **changes: object) -> AccessRequest:
        """A request approved by ``APPROVER`` and open in Azure."""
        request = await self.pending(**changes)
        decision = await self.service.approve(request.id, APPROVER)
        assert decision.request.state is RequestState.ACTIVE, decision.request
        return decision.request

    async def current(self, request_id: str) -> AccessRequest:
        """The request as stored now."""
        return await self.records.require(request_id)

    def due_at(self, kind: Kind, request_id: str) -> datetime | None:
        """When the item ``kind`` of the request is due; None when not scheduled."""
        return self.timetable.scheduled().get(item(kind, request_id))

    # -- the scheduler --------------------------------------------------------------------------------------

    async def run_due(self, *, limit: int = 200) -> Ran:
        """Run every item due at the clock's time (and what they make due), earliest first, like scheduler passes.

        An item is taken off before its handler runs; a handler that schedules it again keeps it. A failing item
        is scheduled ``RETRY_AFTER`` later and reported in ``failed``.
        """
        ran = Ran()
        for _ in range(limit):
            due = [key for key in self.timetable.due(self.clock.now()) if key not in ran.failed]
            if not due:
                return ran
            key = due[0]
            self.timetable.take(key)
            try:
                await self.service.handle_due(key)
            except Exception as exc:
                ran.failed[key] = exc
                await self.timetable.ensure(key, self.clock.now() + RETRY_AFTER)
            ran.keys.append(key)
        raise AssertionError(f"still items due after {limit} runs: {self.timetable.due(self.clock.now())}")

    async def later(self, by: timedelta) -> Ran:
        """Move the clock on by ``by`` and run what fell due."""
        self.clock.advance(by)
        return await self.run_due()
