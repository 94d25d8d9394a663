"""JSON Schema validators built from the vendored Azure swagger, so the emulator refuses what Azure refuses.

Swagger 2.0 definitions are (almost) JSON Schema draft 4; the ``x-ms-*`` extensions are ignored by the
validator and the relative ``$ref``s (``../../../common/v1/types.json#/...``) resolve through a registry of
the vendored files.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPECS = Path(__file__).resolve().parent / "specs"
SECURITY = SPECS / "security"
JIT_SWAGGER = SECURITY / "Microsoft.Security/stable/2020-01-01/jitNetworkAccessPolicies.json"
PRICING_SWAGGER = SECURITY / "Microsoft.Security/stable/2024-01-01/pricings.json"
COMMON_TYPES = SECURITY / "common/v1/types.json"
AUTHORIZATION = SPECS / "authorization/Microsoft.Authorization/stable/2022-04-01"
ROLE_ASSIGNMENTS_SWAGGER = AUTHORIZATION / "authorization-RoleAssignmentsCalls.json"
ROLE_DEFINITIONS_SWAGGER = AUTHORIZATION / "authorization-RoleDefinitionsCalls.json"
RESOURCE_GRAPH = SPECS / "resourcegraph/Microsoft.ResourceGraph"
RESOURCE_GRAPH_SWAGGER = RESOURCE_GRAPH / "stable/2021-03-01/resourcegraph.json"
ASSESSMENTS_SWAGGER = SECURITY / "Microsoft.Security/stable/2021-06-01/assessments.json"
ASSESSMENT_METADATA_SWAGGER = SECURITY / "Microsoft.Security/stable/2021-06-01/assessmentMetadata.json"
ALERTS_SWAGGER = SECURITY / "Microsoft.Security/stable/2022-01-01/alerts.json"
DENY_ASSIGNMENTS_SWAGGER = AUTHORIZATION / "authorization-DenyAssignmentCalls.json"
AUTHORIZATION_COMMON = AUTHORIZATION / "common-types.json"


@cache
def _registry() -> Registry[Any]:
    resources = [
        (path.as_uri(), Resource.from_contents(json.loads(path.read_text(encoding="utf-8")), DRAFT4))
        for path in (
            JIT_SWAGGER,
            PRICING_SWAGGER,
            COMMON_TYPES,
            ROLE_ASSIGNMENTS_SWAGGER,
            ROLE_DEFINITIONS_SWAGGER,
            RESOURCE_GRAPH_SWAGGER,
            ASSESSMENTS_SWAGGER,
            ASSESSMENT_METADATA_SWAGGER,
            ALERTS_SWAGGER,
            DENY_ASSIGNMENTS_SWAGGER,
            AUTHORIZATION_COMMON,
        )
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    return registry


@cache
def validator(swagger: Path, definition: str) -> Draft4Validator:
    """A validator for ``#/definitions/<definition>`` of one of the vendored swagger files."""
    schema = {"$ref": f"{swagger.as_uri()}#/definitions/{definition}"}
    return Draft4Validator(schema, registry=_registry())


def problems(swagger: Path, definition: str, document: Any) -> list[str]:
    """Every schema violation of ``document``, as ``path: message`` lines (empty when valid)."""
    found = sorted(validator(swagger, definition).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{_path(error.absolute_path)}: {error.message}" for error in found]


def _path(parts: Any) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    return text.lstrip(".") or "(body)"
