"""Who a rule names, and who belongs to it.

A principal is a Slack user id (``U…``/``W…``), a user-group id (``S…``), or — where several rules apply to one VM
— a conjunction such as ``S0SECURITY&S0DBAS``: a person who is a member of all of them. A list of principals
means "any of these". ``NOBODY`` is the principal no one matches: what the intersection of lists that share no
one comes to (an empty list would mean "everyone" for requesters, so it is never used for that).

Membership is read from the Directory when a decision is made. ``member_of`` reads an unknown group as empty,
which is right where a group *grants* something (nobody gains a right). ``deny_listed`` is for lists that
*take a right away*: a group it cannot read is reported, so the caller can refuse to act automatically.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jit.errors import GroupUnreadable
from jit.ports import Directory

ALL_OF = "&"
NOBODY = "nobody"


def conjuncts(principal: str) -> tuple[str, ...]:
    """The user and group ids a principal requires, all of them (one for a plain id)."""
    return tuple(part for part in principal.split(ALL_OF) if part)


def is_group(atom: str) -> bool:
    """Whether an id names a user group (``S…``)."""
    return atom.startswith("S")


def groups_in(principals: Iterable[str]) -> tuple[str, ...]:
    """Every user-group id named, in order, once."""
    return tuple(dict.fromkeys(atom for p in principals for atom in conjuncts(p) if is_group(atom)))


def intersect(lists: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """The people in every list, as the fewest principals: each pick of one principal per list is a conjunction.

    A conjunction naming two different users can hold for no one and is dropped; one that requires everything
    another requires and more is dropped as redundant. When nothing is left, ``(NOBODY,)``.
    """
    if not lists:
        return ()
    terms: list[frozenset[str]] = []
    for pick in itertools.product(*lists):
        term = frozenset(atom for principal in pick for atom in conjuncts(principal))
        users = [atom for atom in term if not is_group(atom)]
        if NOBODY in term or len(users) > 1 or term in terms:
            continue
        terms.append(term)
    kept = [term for term in terms if not any(other < term for other in terms)]
    return tuple(_spell(term) for term in kept) or (NOBODY,)


def union(lists: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """Every principal of every list, in order, once."""
    return tuple(dict.fromkeys(p for principals in lists for p in principals))


def _spell(term: frozenset[str]) -> str:
    users = sorted(atom for atom in term if not is_group(atom))
    return ALL_OF.join(users + sorted(atom for atom in term if is_group(atom)))


async def member_of(directory: Directory, user: str, principals: Sequence[str]) -> bool:
    """Whether ``user`` is one of ``principals``: the user id itself, or a member of every group a principal
    names (a group Slack does not know has no members)."""
    for principal in principals:
        atoms = conjuncts(principal)
        if NOBODY in atoms or any(not is_group(a) and a != user for a in atoms):
            continue
        if await _in_every_group(directory, user, [a for a in atoms if is_group(a)]):
            return True
    return False


async def people(directory: Directory, principals: Sequence[str]) -> list[str]:
    """Everyone ``principals`` name, as user ids in order (groups expanded, conjunctions intersected)."""
    found: dict[str, None] = {}
    for principal in principals:
        atoms = conjuncts(principal)
        if NOBODY in atoms:
            continue
        users = {a for a in atoms if not is_group(a)}
        members: set[str] | None = set(users) if users else None
        for group in (a for a in atoms if is_group(a)):
            group_members = await directory.group_members(group)
            members = set(group_members) if members is None else members & group_members
        found.update(dict.fromkeys(sorted(members or ())))
    return list(found)


async def _in_every_group(directory: Directory, user: str, groups: Sequence[str]) -> bool:
    for group in groups:
        if user not in await directory.group_members(group):
            return False
    return True


@dataclass(frozen=True)
class DenyCheck:
    """Whether ``user`` is on a deny list, and which of its groups could not be read (then nobody can tell)."""

    listed: bool
    unreadable: tuple[GroupUnreadable, ...] = ()


async def deny_listed(directory: Directory, user: str, principals: Sequence[str]) -> DenyCheck:
    """Check a deny list strictly: every group that might list ``user`` must be readable, or it is reported."""
    unreadable: list[GroupUnreadable] = []
    for principal in principals:
        atoms = conjuncts(principal)
        if NOBODY in atoms or any(not is_group(a) and a != user for a in atoms):
            continue
        holds = True
        for group in (a for a in atoms if is_group(a)):
            try:
                holds = holds and user in await directory.readable_members(group)
            except GroupUnreadable as exc:
                unreadable.append(exc)
                holds = False
        if holds:
            return DenyCheck(True)
    return DenyCheck(False, tuple(unreadable))
