"""AccessRequest <-> flat Redis hash, exactly round-tripping, readable with ``redis-cli HGETALL``.

Field names are the dataclass's; the VM is flattened to ``vm.id``, ``vm.name`` …; ``extra`` entries become
``extra.<key>``; None is an absent field. Values: datetimes as UTC ISO 8601, timedeltas as seconds
(decimals for sub-second parts), tuples as JSON arrays, enums by value. The mapping is derived from the
dataclass's type hints, so a field added to AccessRequest with a known type needs no change here.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from jit.model import AccessRequest, RequestState, VmRef

EXTRA_PREFIX = "extra."
VM_PREFIX = "vm."
IMMUTABLE_FIELDS = frozenset({"id", "requester", "state"})


class CodecError(ValueError):
    """A stored hash or a field change that does not fit AccessRequest."""


def encode_datetime(value: datetime) -> str:
    """UTC ISO 8601; naive datetimes are refused because their instant is unknown."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise CodecError(f"naive datetime {value!r}: jitbot stores timezone-aware UTC times only")
    return value.astimezone(UTC).isoformat()


def decode_datetime(text: str) -> datetime:
    """Inverse of encode_datetime."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CodecError(f"{text!r} is not an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise CodecError(f"{text!r} has no timezone")
    return value.astimezone(UTC)


_MICRO = timedelta(microseconds=1)


def encode_timedelta(value: timedelta) -> str:
    """Seconds, with up to six decimals when there is a sub-second part; exact."""
    micros = value // _MICRO
    sign = "-" if micros < 0 else ""
    seconds, fraction = divmod(abs(micros), 1_000_000)
    return f"{sign}{seconds}" if not fraction else f"{sign}{seconds}.{fraction:06d}".rstrip("0")


def decode_timedelta(text: str) -> timedelta:
    """Inverse of encode_timedelta."""
    try:
        micros = Decimal(text) * 1_000_000
        if micros != micros.to_integral_value():
            raise CodecError(f"{text!r} has more than microsecond precision")
        return timedelta(microseconds=int(micros))
    except (ArithmeticError, ValueError) as exc:
        raise CodecError(f"{text!r} is not a number of seconds") from exc


def _decode_json_tuple(item: type) -> Callable[[str], tuple[Any, ...]]:
    def decode(text: str) -> tuple[Any, ...]:
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise CodecError(f"{text!r} is not a JSON array") from exc
        if not isinstance(values, list) or not all(type(v) is item for v in values):
            raise CodecError(f"{text!r} is not a JSON array of {item.__name__}")
        return tuple(values)

    return decode


def _encode_json_tuple(item: type) -> Callable[[Any], str]:
    def encode(value: Any) -> str:
        if not isinstance(value, tuple | list) or not all(type(v) is item for v in value):
            raise CodecError(f"{value!r} is not a tuple of {item.__name__}")
        return json.dumps(list(value), ensure_ascii=False, separators=(",", ":"))

    return encode


def _encode_str(value: Any) -> str:
    if not isinstance(value, str):
        raise CodecError(f"{value!r} is not a string")
    return value


def _encode_state(value: Any) -> str:
    return RequestState(value).value


@dataclass(frozen=True)
class _Kind:
    encode: Callable[[Any], str]
    decode: Callable[[str], Any]


_KINDS: Mapping[Any, _Kind] = {
    str: _Kind(_encode_str, str),
    datetime: _Kind(encode_datetime, decode_datetime),
    timedelta: _Kind(encode_timedelta, decode_timedelta),
    RequestState: _Kind(_encode_state, RequestState),
    tuple[int, ...]: _Kind(_encode_json_tuple(int), _decode_json_tuple(int)),
    tuple[str, ...]: _Kind(_encode_json_tuple(str), _decode_json_tuple(str)),
}


@dataclass(frozen=True)
class _Field:
    name: str
    kind: _Kind
    optional: bool
    has_default: bool


def _describe_fields() -> tuple[dict[str, _Field], list[str]]:
    hints = typing.get_type_hints(AccessRequest)
    scalars: dict[str, _Field] = {}
    special: list[str] = []
    for f in dataclasses.fields(AccessRequest):
        hint = hints[f.name]
        if hint is VmRef or typing.get_origin(hint) is Mapping:
            special.append(f.name)
            continue
        args = typing.get_args(hint)
        optional = isinstance(hint, types.UnionType) and type(None) in args
        base = next(a for a in args if a is not type(None)) if optional else hint
        if base not in _KINDS:
            raise TypeError(f"codec cannot store AccessRequest.{f.name} of type {hint!r}")
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        scalars[f.name] = _Field(f.name, _KINDS[base], optional, has_default)
    return scalars, special


_SCALARS, _SPECIAL = _describe_fields()
_VM_FIELDS = tuple(f.name for f in dataclasses.fields(VmRef))
if set(_SPECIAL) != {"vm", "extra"}:
    raise TypeError(f"codec does not know how to store AccessRequest fields {_SPECIAL}")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def encode_request(request: AccessRequest) -> dict[str, str]:
    """The hash fields of ``request``; None values are left out."""
    out: dict[str, str] = {}
    for name, spec in _SCALARS.items():
        value = getattr(request, name)
        if value is not None:
            out[name] = spec.kind.encode(value)
    for name in _VM_FIELDS:
        out[VM_PREFIX + name] = _encode_str(getattr(request.vm, name))
    for key, value in request.extra.items():
        out[EXTRA_PREFIX + _encode_str(key)] = _encode_str(value)
    return out


def decode_request(
    fields: Mapping[str, str] | Mapping[bytes, bytes] | Mapping[bytes | str, bytes | str],
) -> AccessRequest:
    """Rebuild the AccessRequest from its hash (as redis-py returns it, bytes or str)."""
    raw = {_text(k): _text(v) for k, v in fields.items()}
    kwargs: dict[str, Any] = {}
    for name, spec in _SCALARS.items():
        if name in raw:
            kwargs[name] = spec.kind.decode(raw[name])
        elif not spec.has_default:
            raise CodecError(f"stored request has no {name!r}")
    try:
        kwargs["vm"] = VmRef(**{name: raw[VM_PREFIX + name] for name in _VM_FIELDS})
    except KeyError as exc:
        raise CodecError(f"stored request has no {exc.args[0]!r}") from exc
    kwargs["extra"] = {k.removeprefix(EXTRA_PREFIX): v for k, v in raw.items() if k.startswith(EXTRA_PREFIX)}
    return AccessRequest(**kwargs)


@dataclass(frozen=True)
class FieldChanges:
    """A validated change to a stored request: hash fields to set and to delete."""

    set: Mapping[str, str]
    delete: tuple[str, ...]


def encode_changes(changes: Mapping[str, object]) -> FieldChanges:
    """Validate and encode a change by field name; None deletes an optional field.

    Values may be given typed (a datetime for ``decided_at``) or already encoded (an ISO string); both
    are normalised. ``extra.<key>`` sets one extra entry; ``vm`` takes a VmRef. ``id``, ``requester``
    and ``state`` cannot change this way: the indexes depend on them and state moves go through
    ``RequestStore.transition``.
    """
    to_set: dict[str, str] = {}
    to_delete: list[str] = []
    for name, value in changes.items():
        if name in IMMUTABLE_FIELDS:
            raise CodecError(f"{name!r} cannot be changed by a field update")
        if name.startswith(EXTRA_PREFIX):
            if value is None:
                to_delete.append(name)
            else:
                to_set[name] = _encode_str(value)
        elif name == "vm":
            if not isinstance(value, VmRef):
                raise CodecError("vm must be a VmRef")
            to_set.update({VM_PREFIX + n: _encode_str(getattr(value, n)) for n in _VM_FIELDS})
        elif name in _SCALARS:
            spec = _SCALARS[name]
            if value is None:
                if not spec.optional:
                    raise CodecError(f"{name!r} is required and cannot be deleted")
                to_delete.append(name)
            elif isinstance(value, str) and spec.kind.decode is not str:
                to_set[name] = spec.kind.encode(spec.kind.decode(value))
            else:
                to_set[name] = spec.kind.encode(value)
        else:
            raise CodecError(f"AccessRequest has no field {name!r}")
    return FieldChanges(to_set, tuple(to_delete))


def is_tuple_field(name: str) -> bool:
    """Whether ``name`` is stored as a JSON array (so the store can append to it atomically)."""
    spec = _SCALARS.get(name)
    return spec is not None and spec.kind in (_KINDS[tuple[int, ...]], _KINDS[tuple[str, ...]])
