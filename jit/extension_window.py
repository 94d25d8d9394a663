"""How far an extension may move a grant's end: its current end plus what was asked, capped by the policy's
(the rule's, the global) maximum counted from now; refused when that leaves less than ``MIN_GAIN``."""

from __future__ import annotations

from datetime import datetime, timedelta

from jit.deps import Deps
from jit.errors import RequestRejected
from jit.hints import Command, command_hint
from jit.model import MIN_ACCESS, AccessRequest
from jit.policy_check import check_against_policy
from jit.routing import Route

MIN_GAIN = timedelta(minutes=1)
"""An extension that would add less than this is refused rather than sent to Azure."""


class ExtensionWindow:
    """The new end of an extended grant, from the policy and rule in force now."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def route(self, grant: AccessRequest) -> Route:
        """The rule that applies to the grant's VM now (from cached reads)."""
        vm = await self.deps.azure.find_vm(f"{grant.vm.subscription_id}/{grant.vm.resource_group}/{grant.vm.name}")
        return self.deps.router.route(vm)

    async def _limit(self, grant: AccessRequest, route: Route) -> datetime:
        """The latest end the policy (and the rule, and the global cap) allow for the grant's ports, from now."""
        deps = self.deps
        policy = await deps.azure.policy_for(grant.vm)
        if policy is None:
            raise RequestRejected(f"Just-in-time access is no longer configured for `{grant.vm.name}`.")
        open_ports = grant.open_ports
        if not open_ports:
            raise RequestRejected(f"Request `{grant.id}` no longer holds any port, so there is nothing to extend.")
        try:
            rules = check_against_policy(
                policy,
                vm_label=grant.vm.name,
                ports=open_ports,
                duration=MIN_ACCESS,
                source=grant.source,
                reason=grant.reason,
            )
        except RequestRejected as exc:
            raise RequestRejected(
                f"{exc.problem} An extension opens the same ports from the same source again, so no length of "
                f"extension can pass: `{grant.id}` stays open until its current end.",
                command_hint(Command.STATUS, grant.id),
            ) from None
        limits = [rule.max_duration for rule in rules]
        limits += [v for v in (deps.config.max_duration, route.max_duration) if v is not None]
        return deps.clock.now() + min(limits)

    async def new_end(self, grant: AccessRequest, route: Route, wanted: timedelta) -> datetime:
        """The grant's current end plus ``wanted``, capped by ``_limit``; refused when nothing can be added."""
        current = grant.ends_at or self.deps.clock.now()
        limit = await self._limit(grant, route)
        if limit <= current + MIN_GAIN:
            raise RequestRejected(
                f"`{grant.vm.name}` may be open at most until {limit:%H:%M} UTC from now, and this access already "
                f"lasts until {current:%H:%M} UTC, so it cannot be extended now. Ask again closer to its end.",
                command_hint(Command.STATUS, grant.id),
            )
        return min(current + wanted, limit)
