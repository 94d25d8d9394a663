"""The access review: what JIT access looked like over a period, built from the records jitbot already keeps.

``build_review`` is pure: it takes the period, the requests whose lifetime overlaps it (any state), the audit
records of the period and the inventory rows, and returns an ``AccessReview`` for the weekly post and
``/jit report``. The rules:

- A **grant** is a request Azure opened (it has ``starts_at``). It is open from ``starts_at`` until the earliest
  of its ``ends_at`` and, when it was revoked or superseded, the moment that happened (``decided_at``, which both
  transitions set). Only the open time inside the period counts, and a grant is in the review when its open time
  overlaps the period. Open time adds up per grant: two people on one VM for an hour are two hours.
- **Open time per day** is that same time split at midnight UTC, per VM.
- A **break-glass use** is a request made with ``--break-glass`` (``extra["break_glass"] == "true"``) that was
  made in the period or whose grant overlaps it; it is reviewed once someone set ``reviewed_by``.
- **Denied** and **timed-out** requests count when they were decided in the period (``decided_at``).
- A **port opened outside jitbot** is an ``outside_access`` audit record (detail ``vm``, ``port``, ``source``,
  ``start``, ``end``; the actor is Azure's requestor) whose opening overlaps the period. Records that cannot be
  read are counted in ``unreadable_records`` rather than dropped silently.
- A VM **allows any source** when its JIT policy lets some port be opened to ``*`` (or another spelling of every
  address: ``0.0.0.0/0``, ``::/0``, ``Any``, ``Internet``).

VMs are named the way people tell them apart: the name alone when it is unique in the review, else
``resource-group/name``, else ``subscription/resource-group/name``.
"""

from jit.review.build import build_review, vm_labels
from jit.review.model import (
    ANY_SOURCE_SPELLINGS,
    OUTSIDE_ACCESS_EVENT,
    AccessReview,
    AnySourcePolicy,
    BreakGlassUse,
    DayOpenTime,
    Grant,
    OutsideOpening,
    PersonTotal,
    Refusal,
    ReviewPeriod,
    VmTotal,
    allows_any_source,
    hours,
    vm_key,
)

__all__ = [
    "ANY_SOURCE_SPELLINGS",
    "OUTSIDE_ACCESS_EVENT",
    "AccessReview",
    "AnySourcePolicy",
    "BreakGlassUse",
    "DayOpenTime",
    "Grant",
    "OutsideOpening",
    "PersonTotal",
    "Refusal",
    "ReviewPeriod",
    "VmTotal",
    "allows_any_source",
    "build_review",
    "hours",
    "vm_key",
    "vm_labels",
]
