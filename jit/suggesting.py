"""The command a refusal suggests is one the checks accept: it is run through them before anyone sees it.

A check that refuses says what would pass *that* check (``jit.hints.RequestHint``); the suggestion is followed
through every check a request meets before approval (may ask, break-glass group, JIT configured, reason and
ticket, the policy's ports/duration/source, wide sources), each refusal's own hint taken in turn, until one
passes them all. A VM name that matched nothing moves to the VM the person most likely meant. When no request
passes within a few steps, there is no suggestion, and the reason why is given instead. Nothing here audits or
changes anything: it only reads (cached) Azure state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from jit.deps import Deps
from jit.errors import NotAllowed, RequestRejected
from jit.hints import RequestHint
from jit.model import JitPolicy, VirtualMachine
from jit.policy_check import check_against_policy, tightest
from jit.ports.azure_errors import AzureJitError, VmNotFound
from jit.reason_check import check_reason
from jit.sources import wide_source_refusal

MAX_STEPS = 6
"""Each check fixes its own part, so a suggestion settles within one step per check (and one for the VM)."""
NOTHING_PASSES = "No request I could suggest would pass the checks for it."
_USUAL_PORT = {"windows": 3389, "linux": 22}


@dataclass(frozen=True)
class Suggestion:
    """The request to suggest, or None with ``why_none``: the refusal that left nothing to suggest."""

    hint: RequestHint | None
    why_none: str = ""


class Suggesting:
    """``nearest``: the accepted request nearest to what was asked; ``checked``: a refusal whose hint passes."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def nearest(self, requester: str, asked: RequestHint) -> Suggestion:
        """Follow the checks' hints from ``asked`` until a request passes every one (or give up, saying why)."""
        hint = asked
        seen = {hint}
        for _ in range(MAX_STEPS):
            try:
                await self._check(requester, hint)
            except RequestRejected as exc:
                if not isinstance(exc.hint, RequestHint) or exc.hint in seen:
                    return Suggestion(None, exc.problem)
                hint = exc.hint
            except VmNotFound as exc:
                nearest = replace(hint, vm=exc.nearest[0]) if exc.nearest else None
                if nearest is None or nearest in seen:
                    return Suggestion(None, exc.user_message)
                hint = nearest
            except NotAllowed as exc:
                return Suggestion(None, exc.problem)
            except AzureJitError as exc:
                return Suggestion(None, exc.user_message)
            else:
                return Suggestion(hint)
            seen.add(hint)
        return Suggestion(None, NOTHING_PASSES)

    async def checked(self, refusal: RequestRejected, requester: str) -> RequestRejected:
        """``refusal`` with a hint the checks accept, or without one and saying that nothing would pass."""
        if not isinstance(refusal.hint, RequestHint):
            return refusal
        found = await self.nearest(requester, refusal.hint)
        if found.hint is None:
            return RequestRejected(f"{refusal.problem} {NOTHING_PASSES}")
        return RequestRejected(refusal.problem, found.hint)

    async def _check(self, requester: str, hint: RequestHint) -> None:
        """The checks a request meets before approval, without auditing: raise the first refusal."""
        deps = self.deps
        vm = await deps.azure.find_vm(hint.vm)
        route = deps.router.route(vm)
        if not await deps.access.may_request(requester, route):
            raise NotAllowed(f"You are not allowed to request access to `{hint.vm}` (rule `{route.name}`).")
        if hint.break_glass and not (route.break_glass and await deps.access.is_member(requester, route.break_glass)):
            raise NotAllowed(f"You are not in the break-glass group for `{hint.vm}` (rule `{route.name}`).")
        policy = await deps.azure.policy_for(vm.ref)
        if policy is None:
            raise RequestRejected(f"Just-in-time access is not configured for `{hint.vm}`.")
        check_reason(route, hint.vm, hint)
        if not hint.ports:
            raise RequestRejected("No ports were named.", replace(hint, ports=usual_ports(vm, policy)))
        source = hint.source or deps.config.default_source
        check_against_policy(
            policy,
            vm_label=hint.vm,
            ports=hint.ports,
            duration=hint.duration,
            source=source,
            reason=hint.reason,
            extra_max=tightest(deps.config.max_duration, route.max_duration),
            typed_source=hint.source,
            break_glass=hint.break_glass,
        )
        refusal = wide_source_refusal(
            deps.config.wide_sources,
            route,
            vm_label=hint.vm,
            source=source,
            asked=hint,
            suggestion=deps.config.default_source,
        )
        if refusal is not None:
            raise refusal


def usual_ports(vm: VirtualMachine, policy: JitPolicy) -> tuple[int, ...]:
    """The port people usually mean on ``vm`` (RDP on Windows, SSH on Linux) when its policy covers it, else the
    policy's first port."""
    usual = _USUAL_PORT.get((vm.os_type or "").lower())
    covered = sorted(p.number for p in policy.ports)
    if usual in covered:
        return (usual,) if usual is not None else ()
    return tuple(covered[:1])
