"""Azure Resource Manager's error answers (the CloudError shape) as an exception the handlers raise.

The SDK clients parse ``{"error": {"code", "message"}}`` into ``HttpResponseError.error``; keeping every
refusal in that one shape is what lets the gateway map codes and messages the way it will in Azure.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

DENY_JIT_DEFINITION = "Deny just-in-time network access"


class ArmError(Exception):
    """An HTTP error answer with an Azure CloudError body (``target`` and ``additionalInfo`` when Azure sends them)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        target: str | None = None,
        additional_info: list[dict[str, Any]] | None = None,
    ):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.target = target
        self.additional_info = list(additional_info or [])

    def body(self) -> dict[str, Any]:
        """The JSON Azure sends for this error."""
        error: dict[str, Any] = {"code": self.code}
        if self.target is not None:
            error["target"] = self.target
        error["message"] = self.message
        if self.additional_info:
            error["additionalInfo"] = self.additional_info
        return {"error": error}


def not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    """ARM's 404 for a resource that does not exist in an existing resource group."""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def bad_request(code: str, message: str) -> ArmError:
    """A 400 with the given code."""
    return ArmError(400, code, message)


def disallowed_by_policy(resource_name: str, assignment: str, scope: str, resource_type: str) -> ArmError:
    """ARM's 403 when a deny-effect Azure Policy assignment at ``scope`` refuses a write.

    The shape is Azure's: code ``RequestDisallowedByPolicy``, the resource name as ``target``, a message listing
    the "Policy identifiers" as embedded JSON (assignment and definition by display name and id), and one
    ``additionalInfo`` entry of type ``PolicyViolation`` with the assignment's and definition's details.
    """
    subscription = "/".join(scope.split("/")[:3])
    assignment_name = hashlib.sha256(f"{scope}\0{assignment}".encode()).hexdigest()[:24]
    assignment_id = f"{scope}/providers/Microsoft.Authorization/policyAssignments/{assignment_name}"
    definition_name = "deny-jit-network-access"
    definition_id = f"{subscription}/providers/Microsoft.Authorization/policyDefinitions/{definition_name}"
    identifiers = [
        {
            "policyAssignment": {"name": assignment, "id": assignment_id},
            "policyDefinition": {"name": DENY_JIT_DEFINITION, "id": definition_id, "version": "1.0.0"},
        }
    ]
    info = {
        "evaluationDetails": {
            "evaluatedExpressions": [
                {
                    "result": "True",
                    "expressionKind": "Field",
                    "expression": "type",
                    "path": "type",
                    "expressionValue": resource_type,
                    "targetValue": resource_type,
                    "operator": "Equals",
                }
            ]
        },
        "policyDefinitionId": definition_id,
        "policyDefinitionName": definition_name,
        "policyDefinitionDisplayName": DENY_JIT_DEFINITION,
        "policyDefinitionVersion": "1.0.0",
        "policyDefinitionEffect": "Deny",
        "policyAssignmentId": assignment_id,
        "policyAssignmentName": assignment_name,
        "policyAssignmentDisplayName": assignment,
        "policyAssignmentScope": scope,
        "policyAssignmentParameters": {},
    }
    return ArmError(
        403,
        "RequestDisallowedByPolicy",
        f"Resource '{resource_name}' was disallowed by policy. "
        f"Policy identifiers: '{json.dumps(identifiers, separators=(',', ':'))}'.",
        target=resource_name,
        additional_info=[{"type": "PolicyViolation", "info": info}],
    )


def throttled(retry_after: float | None) -> ArmError:
    """ARM's 429; ``Retry-After`` is what well-behaved clients wait before trying again."""
    headers = {} if retry_after is None else {"Retry-After": _seconds(retry_after)}
    return ArmError(
        429,
        "TooManyRequests",
        "The request is being throttled as the limit has been reached for operation type. "
        "Please retry after the time in the Retry-After header.",
        headers=headers,
    )


def injected(status: int, retry_after: float | None) -> ArmError:
    """The error a test asked the emulator to answer with."""
    if status == 429:
        return throttled(retry_after)
    headers = {} if retry_after is None else {"Retry-After": _seconds(retry_after)}
    codes = {
        400: "BadRequest",
        401: "AuthenticationFailed",
        403: "AuthorizationFailed",
        404: "ResourceNotFound",
        409: "Conflict",
        500: "InternalServerError",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "GatewayTimeout",
    }
    messages = {
        403: "The client does not have authorization to perform this action.",
        409: "Another operation is in progress on the resource.",
        500: "Encountered internal server error. Diagnostic information: timestamp '', tracking id ''.",
        503: "The service is temporarily unavailable. Please retry later.",
    }
    return ArmError(
        status,
        codes.get(status, "Error"),
        messages.get(status, f"Injected failure with status {status}."),
        headers=headers,
    )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
