"""The ARM operations the emulator answers: URL patterns, operation names, api-versions and handlers.

Operation names are part of the emulator's contract (the call log, fault injection and the role test in
``deploy/azure/operations.json`` use them). Handlers are plain synchronous functions over the inventory:
every state change happens in one step, so a fault injected "after commit" sees the change done.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from jit.clock import Clock
from sandbox import arm_context, arm_graph, arm_rbac
from sandbox import arm_resources as shapes
from sandbox.arm_errors import ArmError, bad_request, not_found
from sandbox.arm_inventory import Inventory, NetworkSecurityGroup, Subscription, VirtualMachine
from sandbox.arm_jit import JitEngine

JIT_VERSIONS = ("2015-06-01-preview", "2020-01-01")
PRICING_VERSIONS = ("2017-08-01-preview", "2018-06-01", "2022-03-01", "2023-01-01", "2024-01-01")
LOCATION_VERSIONS = ("2015-06-01-preview",)
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha)?$")


@dataclass
class ArmState:
    """What the handlers read and change; owned by the emulator."""

    inventory: Inventory
    jit: JitEngine
    clock: Clock
    base_url: str = ""
    page_size: int = 50
    lro_retry_after: int = 1
    operations: dict[str, str] = field(default_factory=dict)
    graph_table: arm_graph.ResourceTable = field(default_factory=arm_graph.ResourceTable)
    graph_quota: arm_graph.GraphQuota = field(default_factory=arm_graph.GraphQuota)
    graph_denied: bool = False


@dataclass(frozen=True)
class ArmRequest:
    """One parsed HTTP request as the handlers see it."""

    method: str
    path: str
    query: dict[str, str]
    params: dict[str, str]
    body: Any
    remote: str
    principal: str


@dataclass
class ArmReply:
    """A handler's answer; ``body`` None means no content."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ArmState, ArmRequest], ArmReply]


@dataclass(frozen=True)
class Route:
    """One operation: method, path pattern, name, accepted api-versions (None: any dated one), handler."""

    method: str
    pattern: re.Pattern[str]
    operation: str
    versions: tuple[str, ...] | None
    handler: Handler
    query: bool = False

    @property
    def is_write(self) -> bool:
        """PUT, PATCH, POST and DELETE change Azure, except a POST that only queries (Resource Graph)."""
        return self.method in {"PUT", "PATCH", "POST", "DELETE"} and not self.query


_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)"
_SEC = "/providers/Microsoft.Security"
_NET = "/providers/Microsoft.Network"
_CMP = "/providers/Microsoft.Compute"


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(f"^{text}/?$", re.IGNORECASE)


def _known_subscription(state: ArmState, req: ArmRequest) -> Subscription:
    sub = req.params["sub"]
    found = next((s for s in state.inventory.subscriptions if s.id.lower() == sub.lower()), None)
    if found is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
    return found


def _known_group(state: ArmState, req: ArmRequest) -> tuple[Subscription, str]:
    subscription = _known_subscription(state, req)
    rg = req.params["rg"]
    if rg.lower() not in state.inventory.resource_groups(subscription.id):
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
    return subscription, rg


def _in_sub(item_sub: str, subscription: Subscription) -> bool:
    return item_sub.lower() == subscription.id.lower()


def _page(state: ArmState, req: ArmRequest, items: list[dict[str, Any]]) -> ArmReply:
    try:
        skip = max(0, int(req.query.get("$skiptoken", "0")))
    except ValueError as exc:
        raise bad_request("InvalidSkipToken", "The $skiptoken is not valid.") from exc
    size = max(1, state.page_size)
    body: dict[str, Any] = {"value": items[skip : skip + size]}
    if skip + size < len(items):
        query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = str(skip + size)
        body["nextLink"] = f"{state.base_url}{req.path}?{urlencode(query, quote_via=quote, safe='$')}"
    return ArmReply(200, body)


def _arm_vms(state: ArmState, subscription: Subscription, rg: str | None = None) -> list[VirtualMachine]:
    return [vm for vm in state.inventory.in_group(subscription.id, rg) if not vm.classic]


def _vm(state: ArmState, req: ArmRequest, name: str) -> VirtualMachine:
    subscription, rg = _known_group(state, req)
    for vm in _arm_vms(state, subscription, rg):
        if vm.name.lower() == name.lower():
            return vm
    raise not_found("Microsoft.Compute/virtualMachines", name, rg)


def _nsg(state: ArmState, req: ArmRequest) -> NetworkSecurityGroup:
    subscription, rg = _known_group(state, req)
    nsg = state.inventory.nsg(subscription.id, rg, req.params["nsg"])
    if nsg is None:
        raise not_found("Microsoft.Network/networkSecurityGroups", req.params["nsg"], rg)
    return nsg


# --- JIT ---------------------------------------------------------------------------------------------------


def _jit_list(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    rg = req.params.get("rg")
    if rg is not None:
        _known_group(state, req)
    location = req.params.get("loc")
    policies = [
        p
        for p in state.inventory.policies
        if _in_sub(p.subscription_id, subscription)
        and (rg is None or p.resource_group.lower() == rg.lower())
        and (location is None or p.location.lower() == location.lower())
    ]
    return _page(state, req, [state.jit.view(p) for p in policies])


def _jit_get(state: ArmState, req: ArmRequest) -> ArmReply:
    _, rg = _known_group(state, req)
    policy = state.jit.get(req.params["sub"], rg, req.params["loc"], req.params["name"])
    return ArmReply(200, state.jit.view(policy))


def _jit_put(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription, rg = _known_group(state, req)
    policy, _created = state.jit.put(subscription.id, rg, req.params["loc"], req.params["name"], req.body)
    return ArmReply(200, state.jit.view(policy))


def _jit_delete(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription, rg = _known_group(state, req)
    existed = state.jit.delete(subscription.id, rg, req.params["loc"], req.params["name"])
    return ArmReply(200 if existed else 204)


def _jit_initiate(state: ArmState, req: ArmRequest) -> ArmReply:
    _, rg = _known_group(state, req)
    policy = state.jit.get(req.params["sub"], rg, req.params["loc"], req.params["name"])
    return ArmReply(202, state.jit.initiate(policy, req.body, state.clock.now(), req.remote, req.principal))


# --- Security: pricing and locations ---------------------------------------------------------------------


def _pricing_list(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    names = list(shapes.PRICING_NAMES)
    wanted = _filter_names(req.query.get("$filter"))
    if wanted is not None:
        names = [n for n in names if n.lower() in wanted]
    return ArmReply(200, {"value": [shapes.pricing(subscription, n) for n in names]})


def _filter_names(text: str | None) -> set[str] | None:
    if not text:
        return None
    match = re.fullmatch(r"\s*name\s+in\s*\((?P<names>[^)]*)\)\s*", text, re.IGNORECASE)
    if match is None:
        raise bad_request("InvalidFilter", f"The $filter '{text}' is not supported; use \"name in (A,B)\".")
    return {n.strip().lower() for n in match["names"].split(",") if n.strip()}


def _pricing_get(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    name = next((n for n in shapes.PRICING_NAMES if n.lower() == req.params["name"].lower()), None)
    if name is None:
        raise ArmError(404, "PricingNotFound", f"Pricing '{req.params['name']}' was not found.")
    return ArmReply(200, shapes.pricing(subscription, name))


def home_region(state: ArmState, subscription: Subscription) -> str:
    """Defender's home region of a subscription: where its first VM lives (``centralus`` when it has none)."""
    vms = state.inventory.in_group(subscription.id)
    return min(vms, key=lambda v: v.id).location.lower() if vms else "centralus"


def _locations_list(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    return ArmReply(200, {"value": [shapes.asc_location(subscription.id, home_region(state, subscription))]})


def _locations_get(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    region = home_region(state, subscription)
    if req.params["loc"].lower() != region:
        raise ArmError(404, "LocationNotFound", f"Location '{req.params['loc']}' was not found.")
    return ArmReply(200, shapes.asc_location(subscription.id, region))


# --- Compute ---------------------------------------------------------------------------------------------


def _vm_list_all(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    return _page(state, req, [shapes.virtual_machine(vm) for vm in _arm_vms(state, subscription)])


def _vm_list(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription, rg = _known_group(state, req)
    return _page(state, req, [shapes.virtual_machine(vm) for vm in _arm_vms(state, subscription, rg)])


def _vm_get(state: ArmState, req: ArmRequest) -> ArmReply:
    return ArmReply(200, shapes.virtual_machine(_vm(state, req, req.params["name"])))


def _classic_list(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    classic = [vm for vm in state.inventory.in_group(subscription.id) if vm.classic]
    return _page(state, req, [shapes.classic_virtual_machine(vm) for vm in classic])


# --- Security context: Defender assessments and alerts, the VM instance view -------------------------------


def _scope(state: ArmState, req: ArmRequest) -> str:
    """The subscription, resource group or VM a scoped list is about, after checking that it exists."""
    subscription = _known_subscription(state, req)
    if "rg" not in req.params:
        return f"/subscriptions/{subscription.id}"
    if "name" not in req.params:
        _, rg = _known_group(state, req)
        return f"/subscriptions/{subscription.id}/resourceGroups/{rg}"
    return _vm(state, req, req.params["name"]).id


def _assessment_list(state: ArmState, req: ArmRequest) -> ArmReply:
    found = arm_context.assessments_under(state.inventory, _scope(state, req))
    return _page(state, req, [arm_context.assessment_json(a) for a in found])


def _assessment_get(state: ArmState, req: ArmRequest) -> ArmReply:
    vm = _vm(state, req, req.params["name"])
    expand = req.query.get("$expand")
    if expand is not None and expand.lower() not in arm_context.ASSESSMENT_EXPANDS:
        raise bad_request(
            "InvalidExpand", f"The $expand value '{expand}' is not supported; use one of: links, metadata."
        )
    assessment = arm_context.assessment_on(state.inventory, vm.id, req.params["key"])
    if assessment is None:
        raise ArmError(404, "AssessmentNotFound", f"Assessment '{req.params['key']}' was not found on the resource.")
    return ArmReply(200, arm_context.assessment_json(assessment, expand.lower() if expand else None))


def _alert_list(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    rg = _known_group(state, req)[1] if "rg" in req.params else None
    found = arm_context.alerts_in(state.inventory, subscription.id, rg)
    return _page(state, req, [arm_context.alert_json(alert) for alert in found])


def _vm_instance_view(state: ArmState, req: ArmRequest) -> ArmReply:
    return ArmReply(200, arm_context.instance_view(_vm(state, req, req.params["name"])))


# --- Network ---------------------------------------------------------------------------------------------


def _nic_get(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription, rg = _known_group(state, req)
    for vm in _arm_vms(state, subscription, rg):
        if vm.nic_name.lower() == req.params["nic"].lower():
            return ArmReply(200, shapes.network_interface(vm))
    raise not_found("Microsoft.Network/networkInterfaces", req.params["nic"], rg)


def _nic_list_all(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    return _page(state, req, [shapes.network_interface(vm) for vm in _arm_vms(state, subscription)])


def _nsg_get(state: ArmState, req: ArmRequest) -> ArmReply:
    return ArmReply(200, shapes.network_security_group(state.inventory, _nsg(state, req)))


def _nsg_list_all(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    nsgs = [n for n in state.inventory.nsgs if _in_sub(n.subscription_id, subscription)]
    return _page(state, req, [shapes.network_security_group(state.inventory, n) for n in nsgs])


def _subnet_get(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription, rg = _known_group(state, req)
    vnet, name = req.params["vnet"], req.params["subnet"]
    members = shapes.subnet_members(state.inventory, subscription.id, rg, vnet, name)
    if not members:
        if not any(shapes.vnet_name(vm).lower() == vnet.lower() for vm in _arm_vms(state, subscription, rg)):
            raise not_found("Microsoft.Network/virtualNetworks", vnet, rg)
        raise not_found("Microsoft.Network/virtualNetworks/subnets", f"{vnet}/{name}", rg)
    return ArmReply(200, shapes.subnet(state.inventory, members))


def _vnet_list_all(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    groups: dict[str, list[VirtualMachine]] = {}
    for vm in _arm_vms(state, subscription):
        groups.setdefault(vm.resource_group.lower(), []).append(vm)
    return _page(
        state, req, [shapes.virtual_network(state.inventory, members) for _, members in sorted(groups.items())]
    )


def _public_ip_get(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription, rg = _known_group(state, req)
    for vm in _arm_vms(state, subscription, rg):
        if vm.public_ip and shapes.public_ip_name(vm).lower() == req.params["ip"].lower():
            return ArmReply(200, shapes.public_ip_address(vm))
    raise not_found("Microsoft.Network/publicIPAddresses", req.params["ip"], rg)


def _public_ip_list_all(state: ArmState, req: ArmRequest) -> ArmReply:
    subscription = _known_subscription(state, req)
    vms = [vm for vm in _arm_vms(state, subscription) if vm.public_ip]
    return _page(state, req, [shapes.public_ip_address(vm) for vm in vms])


def _rule_get(state: ArmState, req: ArmRequest) -> ArmReply:
    nsg = _nsg(state, req)
    for rule in nsg.rules:
        if str(rule.get("name", "")).lower() == req.params["rule"].lower():
            return ArmReply(200, shapes.security_rule(nsg, rule))
    raise not_found(
        "Microsoft.Network/networkSecurityGroups/securityRules", f"{nsg.name}/{req.params['rule']}", nsg.resource_group
    )


def _rule_delete(state: ArmState, req: ArmRequest) -> ArmReply:
    nsg = _nsg(state, req)
    before = len(nsg.rules)
    nsg.rules[:] = [r for r in nsg.rules if str(r.get("name", "")).lower() != req.params["rule"].lower()]
    if len(nsg.rules) == before:
        return ArmReply(204)
    operation_id = str(uuid.uuid4())
    state.operations[operation_id] = "Succeeded"
    base = f"{state.base_url}/subscriptions/{nsg.subscription_id}{_NET}/locations/{nsg.location}"
    version = req.query["api-version"]
    return ArmReply(
        202,
        None,
        {
            "Azure-AsyncOperation": f"{base}/operations/{operation_id}?api-version={version}",
            "Location": f"{base}/operationResults/{operation_id}?api-version={version}",
            "Retry-After": str(state.lro_retry_after),
        },
    )


def _operation_status(state: ArmState, req: ArmRequest) -> ArmReply:
    _known_subscription(state, req)
    status = state.operations.get(req.params["op"])
    if status is None:
        raise ArmError(404, "OperationNotFound", f"Operation '{req.params['op']}' was not found.")
    return ArmReply(200, {"status": status})


def _operation_result(state: ArmState, req: ArmRequest) -> ArmReply:
    _operation_status(state, req)
    return ArmReply(204)


# --- Resource Graph --------------------------------------------------------------------------------------


def _resource_graph(state: ArmState, req: ArmRequest) -> ArmReply:
    if state.graph_denied:
        raise ArmError(
            403,
            "AuthorizationFailed",
            f"The client '{req.principal}' with object id '{req.principal}' does not have authorization to perform "
            f"action '{arm_graph.GRAPH_ACTION}' over scope '/providers/Microsoft.ResourceGraph' or the scope is "
            "invalid. If access was recently granted, please refresh your credentials.",
        )
    headers = state.graph_quota.take(req.principal)
    return ArmReply(200, arm_graph.answer(state.inventory, state.graph_table, req.body), headers)


# --- Authorization and management groups ------------------------------------------------------------------


def _role_assignments(state: ArmState, req: ArmRequest) -> ArmReply:
    scope = req.params.get("scope") or "/"
    arm_rbac.check_scope(state.inventory, scope)
    query = arm_rbac.parse_filter(req.query.get("$filter"))
    found = arm_rbac.assignments_at(state.inventory, scope, query)
    return _page(state, req, [arm_rbac.role_assignment_json(a, scope) for a in found])


def _deny_assignments(state: ArmState, req: ArmRequest) -> ArmReply:
    scope = req.params.get("scope") or "/"
    arm_rbac.check_scope(state.inventory, scope)
    query = arm_rbac.parse_filter(req.query.get("$filter"))
    found = arm_rbac.deny_assignments_at(state.inventory, scope, query)
    return _page(state, req, [arm_rbac.deny_assignment_json(d) for d in found])


def _role_definition(state: ArmState, req: ArmRequest) -> ArmReply:
    scope = req.params.get("scope") or "/"
    arm_rbac.check_scope(state.inventory, scope)
    definition = arm_rbac.find_definition(state.inventory, req.params["role"])
    return ArmReply(200, arm_rbac.role_definition_json(definition, req.path))


def _descendants(state: ArmState, req: ArmRequest) -> ArmReply:
    return _page(state, req, arm_rbac.descendants(state.inventory, req.params["group"]))


_AUTH = r"(?P<scope>(?:/.+?)?)/providers/Microsoft\.Authorization"
_JIT_POLICIES = r"/locations/(?P<loc>[^/]+)/jitNetworkAccessPolicies"
_ONE_POLICY = _RG + _SEC + _JIT_POLICIES + r"/(?P<name>[^/]+)"
_ONE_NSG = _RG + _NET + r"/networkSecurityGroups/(?P<nsg>[^/]+)"
_ONE_VM = _RG + _CMP + r"/virtualMachines/(?P<name>[^/]+)"
_ASSESSMENT_SCOPE = _SUB + r"(?:/resourceGroups/(?P<rg>[^/]+)(?:" + _CMP + r"/virtualMachines/(?P<name>[^/]+))?)?"

ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        _pattern(r"/providers/Microsoft\.ResourceGraph/resources"),
        "resourcegraph.resources",
        arm_graph.GRAPH_VERSIONS,
        _resource_graph,
        query=True,
    ),
    Route(
        "GET",
        _pattern(_AUTH + "/roleAssignments"),
        "authorization.role_assignments.list",
        arm_rbac.AUTHORIZATION_VERSIONS,
        _role_assignments,
    ),
    Route(
        "GET",
        _pattern(_AUTH + "/denyAssignments"),
        "authorization.deny_assignments.list",
        arm_rbac.DENY_ASSIGNMENT_VERSIONS,
        _deny_assignments,
    ),
    Route(
        "GET",
        _pattern(_AUTH + r"/roleDefinitions/(?P<role>[^/]+)"),
        "authorization.role_definitions.get",
        arm_rbac.AUTHORIZATION_VERSIONS,
        _role_definition,
    ),
    Route(
        "GET",
        _pattern(r"/providers/Microsoft\.Management/managementGroups/(?P<group>[^/]+)/descendants"),
        "management.descendants",
        arm_rbac.MANAGEMENT_VERSIONS,
        _descendants,
    ),
    Route("GET", _pattern(_SUB + _SEC + "/jitNetworkAccessPolicies"), "jit.list_subscription", JIT_VERSIONS, _jit_list),
    Route("GET", _pattern(_SUB + _SEC + _JIT_POLICIES), "jit.list_location", JIT_VERSIONS, _jit_list),
    Route(
        "GET", _pattern(_RG + _SEC + "/jitNetworkAccessPolicies"), "jit.list_resource_group", JIT_VERSIONS, _jit_list
    ),
    Route("GET", _pattern(_RG + _SEC + _JIT_POLICIES), "jit.list_resource_group_location", JIT_VERSIONS, _jit_list),
    Route("GET", _pattern(_ONE_POLICY), "jit.get", JIT_VERSIONS, _jit_get),
    Route("PUT", _pattern(_ONE_POLICY), "jit.put", JIT_VERSIONS, _jit_put),
    Route("DELETE", _pattern(_ONE_POLICY), "jit.delete", JIT_VERSIONS, _jit_delete),
    Route("POST", _pattern(_ONE_POLICY + "/initiate"), "jit.initiate", JIT_VERSIONS, _jit_initiate),
    Route("GET", _pattern(_SUB + _SEC + "/pricings"), "security.pricing.list", PRICING_VERSIONS, _pricing_list),
    Route(
        "GET",
        _pattern(_SUB + _SEC + r"/pricings/(?P<name>[^/]+)"),
        "security.pricing.get",
        PRICING_VERSIONS,
        _pricing_get,
    ),
    Route("GET", _pattern(_SUB + _SEC + "/locations"), "security.locations.list", LOCATION_VERSIONS, _locations_list),
    Route(
        "GET",
        _pattern(_SUB + _SEC + r"/locations/(?P<loc>[^/]+)"),
        "security.locations.get",
        LOCATION_VERSIONS,
        _locations_get,
    ),
    Route(
        "GET",
        _pattern(_ASSESSMENT_SCOPE + _SEC + "/assessments"),
        "security.assessments.list",
        arm_context.ASSESSMENT_VERSIONS,
        _assessment_list,
    ),
    Route(
        "GET",
        _pattern(_ONE_VM + _SEC + r"/assessments/(?P<key>[^/]+)"),
        "security.assessments.get",
        arm_context.ASSESSMENT_VERSIONS,
        _assessment_get,
    ),
    Route("GET", _pattern(_SUB + _SEC + "/alerts"), "security.alerts.list", arm_context.ALERT_VERSIONS, _alert_list),
    Route(
        "GET",
        _pattern(_RG + _SEC + "/alerts"),
        "security.alerts.list_resource_group",
        arm_context.ALERT_VERSIONS,
        _alert_list,
    ),
    Route("GET", _pattern(_SUB + _CMP + "/virtualMachines"), "compute.vm.list_all", None, _vm_list_all),
    Route("GET", _pattern(_RG + _CMP + "/virtualMachines"), "compute.vm.list", None, _vm_list),
    Route("GET", _pattern(_ONE_VM), "compute.vm.get", None, _vm_get),
    Route("GET", _pattern(_ONE_VM + "/instanceView"), "compute.vm.instance_view", None, _vm_instance_view),
    Route(
        "GET",
        _pattern(_SUB + "/providers/Microsoft.ClassicCompute/virtualMachines"),
        "classic.vm.list",
        None,
        _classic_list,
    ),
    Route("GET", _pattern(_RG + _NET + r"/networkInterfaces/(?P<nic>[^/]+)"), "network.nic.get", None, _nic_get),
    Route("GET", _pattern(_SUB + _NET + "/networkInterfaces"), "network.nic.list_all", None, _nic_list_all),
    Route("GET", _pattern(_ONE_NSG), "network.nsg.get", None, _nsg_get),
    Route("GET", _pattern(_SUB + _NET + "/networkSecurityGroups"), "network.nsg.list_all", None, _nsg_list_all),
    Route(
        "GET",
        _pattern(_RG + _NET + r"/virtualNetworks/(?P<vnet>[^/]+)/subnets/(?P<subnet>[^/]+)"),
        "network.subnet.get",
        None,
        _subnet_get,
    ),
    Route("GET", _pattern(_SUB + _NET + "/virtualNetworks"), "network.vnet.list_all", None, _vnet_list_all),
    Route(
        "GET", _pattern(_RG + _NET + r"/publicIPAddresses/(?P<ip>[^/]+)"), "network.public_ip.get", None, _public_ip_get
    ),
    Route("GET", _pattern(_SUB + _NET + "/publicIPAddresses"), "network.public_ip.list_all", None, _public_ip_list_all),
    Route("GET", _pattern(_ONE_NSG + r"/securityRules/(?P<rule>[^/]+)"), "network.nsg.rule.get", None, _rule_get),
    Route(
        "DELETE", _pattern(_ONE_NSG + r"/securityRules/(?P<rule>[^/]+)"), "network.nsg.rule.delete", None, _rule_delete
    ),
    Route(
        "GET",
        _pattern(_SUB + _NET + r"/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)"),
        "network.operation.get",
        None,
        _operation_status,
    ),
    Route(
        "GET",
        _pattern(_SUB + _NET + r"/locations/(?P<loc>[^/]+)/operationResults/(?P<op>[^/]+)"),
        "network.operation.get",
        None,
        _operation_result,
    ),
)

_PROVIDER_PATH = re.compile(r"/providers/(?P<ns>[^/]+)/(?P<type>[^/]+)", re.IGNORECASE)


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
    """The route for ``method path`` and its path parameters; else None and the methods the path allows."""
    allowed: list[str] = []
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, {k: v for k, v in found.groupdict().items() if v is not None}, []
        allowed.append(route.method)
    return None, {}, allowed


def unknown_path(method: str, path: str, api_version: str, allowed: list[str]) -> ArmError:
    """ARM's answer for a path the emulator does not serve."""
    if allowed:
        return ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")
    provider = _PROVIDER_PATH.search(path)
    if provider is not None:
        return ArmError(
            404,
            "InvalidResourceType",
            f"The resource type '{provider['type']}' could not be found in the namespace '{provider['ns']}' "
            f"for api version '{api_version}'.",
        )
    return ArmError(404, "ResourceNotFound", f"The requested resource '{path}' was not found.")


def check_api_version(route: Route, version: str) -> None:
    """ARM's 400 for a malformed api-version or one the resource provider does not offer."""
    if not API_VERSION.match(version):
        raise bad_request("InvalidApiVersionParameter", f"The api-version '{version}' is invalid.")
    if route.versions is not None and version not in route.versions:
        raise bad_request(
            "NoRegisteredProviderFound",
            f"No registered resource provider found for API version '{version}' and operation "
            f"'{route.operation}'. The supported api-versions are '{', '.join(route.versions)}'.",
        )
