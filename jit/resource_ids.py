"""Reading Azure resource ids and timestamps, which Azure treats case-insensitively and writes loosely."""

from __future__ import annotations

from datetime import UTC, datetime


def id_segments(resource_id: str) -> dict[str, str]:
    """``/subscriptions/s/resourceGroups/rg/...`` as ``{"subscriptions": "s", "resourcegroups": "rg", ...}``.

    Keys are lower-cased (Azure ids are case-insensitive); values keep Azure's casing. When a key repeats
    (``providers``), the last value wins, which is the one that names the resource itself.
    """
    parts = [part for part in resource_id.strip("/").split("/")]
    return {parts[i].lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def same_id(left: str | None, right: str | None) -> bool:
    """Resource ids compare case-insensitively and ignore a trailing slash."""
    if left is None or right is None:
        return False
    return left.rstrip("/").lower() == right.rstrip("/").lower()


def parent_id(resource_id: str, levels: int = 1) -> str:
    """The id with its last ``levels`` type/name pairs removed (a subnet's VNet, a rule's NSG)."""
    parts = resource_id.rstrip("/").split("/")
    return "/".join(parts[: len(parts) - 2 * levels])


def parse_time(value: str | None) -> datetime | None:
    """Azure's UTC timestamps (``2018-05-17T09:06:45.5691611Z``) as aware datetimes; None when absent or bad."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """The UTC form Azure expects in request bodies (``2026-12-01T09:00:00.000000Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
