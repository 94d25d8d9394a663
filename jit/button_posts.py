"""The posts that carry a grant's Extend / Close buttons: remembered when sent, stripped once access has ended.

A button that can only be refused is worse than none. Every DM and on-call post with the buttons is recorded in
the request's extras (``Extra.BUTTON_POSTS``, one compare-and-set per addition so concurrent senders never drop
one), and once the grant has left ``active`` every recorded post is re-rendered without them. A post recorded
after the end (a reminder racing the expiry) is stripped at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from jit.deps import Deps
from jit.model import AccessRequest, RequestState
from jit.request_extras import Extra, csv, extra_field, extras_of

ENDED = frozenset({RequestState.EXPIRED, RequestState.REVOKED, RequestState.SUPERSEDED})
"""The states after ``active``: nothing is open, so Extend and Close can only be refused."""

_ATTEMPTS = 5


async def remember_posts(deps: Deps, request: AccessRequest, references: Sequence[str]) -> None:
    """Add ``references`` to the request's button posts; strip them at once if access has ended meanwhile."""
    if not references:
        return
    current = await add_references(deps, request, Extra.BUTTON_POSTS, references, "button_posts_recorded")
    await retire_buttons(deps, current)


async def add_references(
    deps: Deps, request: AccessRequest, extra: Extra, references: Sequence[str], event: str
) -> AccessRequest:
    """Add post references to the list ``extra`` holds, with one compare-and-set per attempt so that concurrent
    senders never drop one another's; returns the request as it now is."""
    field = extra_field(extra)
    current = request
    for _ in range(_ATTEMPTS):
        known = csv(current.extra.get(extra.value, ""))
        result = await deps.store.update_fields(
            current.id,
            {field: ",".join(dict.fromkeys((*known, *references)))},
            actor="jitbot",
            event=event,
            expect_fields={field: ",".join(known) or None},
        )
        current = result.request
        if result.ok:
            break
    return current


async def retire_buttons(deps: Deps, request: AccessRequest) -> None:
    """Once access has ended, re-render every recorded post for the request's state, without buttons.

    Safe to repeat: each post is rendered from the current state."""
    posts = extras_of(request).button_posts
    if posts and request.state in ENDED:
        await deps.notifier.retire_buttons(request, posts)
