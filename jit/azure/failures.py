"""Turning azure-core's exceptions into jitbot's typed errors, so nothing above the gateway sees the SDK."""

from __future__ import annotations

import asyncio
import json
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

from jit.azure.errors import (
    AzureAuthFailed,
    AzureBadRequest,
    AzureConflict,
    AzureForbidden,
    AzureJitError,
    AzureNotFound,
    AzureThrottled,
    AzureTimeout,
    AzureUnavailable,
    NotSubsetOfPolicy,
)

NOT_SUBSET = "is not a subset of policy"
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


def _message_from_body(response: Any) -> str | None:
    if response is None:
        return None
    try:
        body = json.loads(response.text())
    except (ValueError, TypeError, AttributeError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return str(message) if message else None


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
