"""Turning azure-core's exceptions into jitbot's typed errors, so nothing above the gateway sees the SDK."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from jit.ports.azure_errors import (
    AzureAuthFailed,
    AzureBadRequest,
    AzureConflict,
    AzureForbidden,
    AzureJitError,
    AzureNotFound,
    AzureThrottled,
    AzureTimeout,
    AzureUnavailable,
    JitDeniedByPolicy,
    NotSubsetOfPolicy,
)

NOT_SUBSET = "is not a subset of policy"
DISALLOWED_BY_POLICY = "RequestDisallowedByPolicy"
_IDENTIFIERS = re.compile(r"Policy identifiers: '(?P<ids>\[.*\])'", re.DOTALL)
_MESSAGE_LIMIT = 400


def response_json(response: Any) -> Any:
    """The JSON body of an SDK transport response (old- and new-style responses alike); {} when empty."""
    text = response.text()
    return json.loads(text) if text and text.strip() else {}


def azure_message(exc: BaseException) -> str:
    """Azure's own explanation (the ARM error body's ``message``), or the exception text."""
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None)
    if not message:
        message = _message_from_body(getattr(exc, "response", None))
    if not message:
        message = getattr(exc, "message", None) or str(exc)
    text = " ".join(str(message).split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _error_from_body(response: Any) -> dict[str, Any] | None:
    if response is None:
        return None
    try:
        body = json.loads(response.text())
    except (ValueError, TypeError, AttributeError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _message_from_body(response: Any) -> str | None:
    error = _error_from_body(response)
    message = error.get("message") if error is not None else None
    return str(message) if message else None


def policy_denial(exc: BaseException) -> JitDeniedByPolicy | None:
    """The typed error for ARM's 403 ``RequestDisallowedByPolicy`` carried by ``exc``; None for any other error."""
    error = _error_from_body(getattr(exc, "response", None))
    return denial_from_error(error, azure_message(exc)) if error is not None else None


def denial_from_error(error: dict[str, Any], detail: str) -> JitDeniedByPolicy | None:
    """``RequestDisallowedByPolicy`` from an ARM error body's ``error`` object, naming the policy assignment.

    The assignment comes from the ``PolicyViolation`` additional info when Azure sends it, else from the
    "Policy identifiers" JSON embedded in the message; Azure sometimes names none (``Policy identifiers: ''``).
    """
    if error.get("code") != DISALLOWED_BY_POLICY:
        return None
    for item in error.get("additionalInfo") or []:
        info = item.get("info") if isinstance(item, dict) and item.get("type") == "PolicyViolation" else None
        if isinstance(info, dict):
            name = info.get("policyAssignmentDisplayName") or info.get("policyAssignmentName")
            if name:
                assignment_id = info.get("policyAssignmentId")
                return JitDeniedByPolicy(str(name), assignment_id=_text_or_none(assignment_id), detail=detail)
    for identifier in _identifiers(str(error.get("message") or "")):
        assignment = identifier.get("policyAssignment") if isinstance(identifier, dict) else None
        if isinstance(assignment, dict) and assignment.get("name"):
            return JitDeniedByPolicy(
                str(assignment["name"]), assignment_id=_text_or_none(assignment.get("id")), detail=detail
            )
    return JitDeniedByPolicy("", detail=detail)


def _identifiers(message: str) -> list[Any]:
    match = _IDENTIFIERS.search(message)
    if match is None:
        return []
    try:
        parsed = json.loads(match["ids"])
    except ValueError:
        return []
    return parsed if isinstance(parsed, list) else []


def _text_or_none(value: Any) -> str | None:
    return str(value) if value else None


def status_error(status: int, message: str) -> AzureJitError:
    """The typed error for an HTTP status from ARM, keeping Azure's message as ``detail``."""
    if status == 400 and NOT_SUBSET in message.lower():
        return NotSubsetOfPolicy(
            f"{NotSubsetOfPolicy.default_message} Azure said: {message}", detail=message, status=400
        )
    if status == 401:
        return AzureAuthFailed(detail=message, status=status)
    if status == 403:
        return AzureForbidden(detail=message, status=status)
    if status == 404:
        return AzureNotFound(detail=message, status=status)
    if status == 409:
        return AzureConflict(detail=message, status=status)
    if status == 429:
        return AzureThrottled(detail=message, status=status)
    if status >= 500:
        return AzureUnavailable(detail=message, status=status)
    return AzureBadRequest(f"{AzureBadRequest.default_message} Azure said: {message}", detail=message, status=status)


def translate(exc: BaseException) -> AzureJitError | None:
    """The typed error for an SDK or transport failure; None for anything that is not Azure's doing."""
    if isinstance(exc, AzureJitError):
        return exc
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        if exc.status_code == 403 and (denied := policy_denial(exc)) is not None:
            return denied
        return status_error(int(exc.status_code), azure_message(exc))
    if isinstance(exc, ClientAuthenticationError):
        return AzureAuthFailed(detail=azure_message(exc))
    if isinstance(exc, ServiceRequestError | ServiceResponseError | TimeoutError | asyncio.TimeoutError):
        return AzureTimeout(detail=azure_message(exc) or "timed out")
    if isinstance(exc, AzureError):
        return AzureUnavailable(detail=azure_message(exc))
    return None


@contextmanager
def azure_errors() -> Iterator[None]:
    """Re-raise anything Azure threw inside the block as the matching typed error."""
    try:
        yield
    except (AzureError, TimeoutError) as exc:
        mapped = translate(exc)
        if mapped is None:
            raise
        raise mapped from exc
