"""The Bicep for Azure Container Apps wires the bot the way the code expects and the way a security review asks:
settings names, secrets from secure parameters, the public port for Slack only and the probes on the operations
port, Socket Mode without ingress or signing secret, a managed identity holding a per-deployment jitbot role, and
Azure Managed Redis reachable only through a private endpoint, over TLS, with Entra ID instead of access keys and
AOF persistence. Every resource's API version is a published one listed with its source in docs/deploy.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.deploy.bicep_text import Template, strip_comments_checked
from tests.deploy.test_dockerfile import final_stage, only
from tests.deploy.wiring import (
    APP_PORT,
    LIVENESS_PATH,
    OPS_PORT,
    READINESS_PATH,
    REPO,
    settings_vars,
    unknown_env_names,
)

AZURE = REPO / "deploy" / "azure"
DEPLOY_DOC = REPO / "docs" / "deploy.md"
SECRET_SETTINGS = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "REDIS_URL"}
ENV_BLOCKS = ("var commonEnv =", "var httpEnv =", "var socketEnv =")
SECRET_BLOCKS = ("var commonSecrets =", "var httpSecrets =", "var socketSecrets =")


def main() -> Template:
    return Template.load(AZURE / "main.bicep")


def redis() -> Template:
    return Template.load(AZURE / "redis.bicep")


def entries(blocks: tuple[str, ...]) -> dict[str, dict[str, str]]:
    template = main()
    found: dict[str, dict[str, str]] = {}
    for header in blocks:
        found |= template.named_entries(header)
    return found


def env(*blocks: str) -> dict[str, dict[str, str]]:
    return entries(blocks or ENV_BLOCKS)


def secrets() -> dict[str, dict[str, str]]:
    return entries(SECRET_BLOCKS)


def quoted(value: str) -> str:
    assert value.startswith("'"), value
    assert value.endswith("'"), value
    return value[1:-1]


def property_of(block: str, name: str) -> str:
    match = re.search(rf"^\s*{name}: (.+)$", block, re.MULTILINE)
    assert match is not None, f"{name} is not set"
    return match.group(1).strip()


@pytest.mark.parametrize("path", sorted(AZURE.glob("*.bicep")), ids=lambda p: p.name)
def test_templates_are_well_formed_and_keep_ternaries_on_one_line(path: Path) -> None:
    template = Template.load(path)
    assert template.code.strip()
    for symbol, (kind, version) in template.resources().items():
        assert re.fullmatch(r"Microsoft\.\w+/\w+(/\w+)*", kind), symbol
        assert not version.endswith("-preview"), f"{symbol} uses a preview API version"
    for module in template.modules().values():
        assert module.is_file(), module
    continued = [line for line in template.code.splitlines() if re.match(r"^\s*[?:] ", line)]
    assert continued == [], "checkov's Bicep parser (pycep) cannot read a ternary split over lines"
    assert not [line for line in template.code.splitlines() if line.rstrip().endswith("(")], "one-line calls"


def test_every_api_version_is_listed_with_its_source_in_the_deploy_guide() -> None:
    listed = dict(re.findall(r"^\| `(Microsoft\.[\w/.]+)` \| `([\d-]+)` \| `specification/[^`]+` \|", doc(), re.M))
    used: dict[str, str] = {}
    for path in AZURE.glob("*.bicep"):
        for symbol, (kind, version) in Template.load(path).resources().items():
            assert used.setdefault(kind, version) == version, f"{path.name}:{symbol} uses another {kind} version"
    assert used == listed, "docs/deploy.md's API version table must list exactly the versions the templates use"


def doc() -> str:
    return DEPLOY_DOC.read_text(encoding="utf-8")


def test_syntax_checker_catches_breakage() -> None:
    with pytest.raises(SyntaxError, match="unclosed"):
        strip_comments_checked("resource x 'a@b' = {\n  name: 'x'\n")
    with pytest.raises(SyntaxError, match="unterminated"):
        strip_comments_checked("var a = 'oops\n")
    assert strip_comments_checked("var a = '//not a comment' // a comment\n") == "var a = '//not a comment'"


def test_every_param_is_used_and_the_example_parameters_fit() -> None:
    template = main()
    params = template.params()
    for name in params:
        uses = re.findall(rf"(?<![.\w]){name}\b(?!:)", template.code)
        assert len(uses) >= 2, f"param {name} is never used"
    document = json.loads((AZURE / "main.parameters.json").read_text(encoding="utf-8"))
    given = set(document["parameters"])
    assert given <= set(params), f"unknown parameters: {given - set(params)}"
    required = {name for name, p in params.items() if p.default is None and not p.secure}
    assert required <= given, "main.parameters.json must show every required non-secret parameter"
    assert not any(params[name].secure for name in given), "secrets go on the command line, not in a file"


def test_env_names_are_settings_and_required_ones_are_set_in_either_mode() -> None:
    assert unknown_env_names(set(env())) == set()
    code = main().code
    assert "var env = concat(commonEnv, socketMode ? socketEnv : httpEnv)" in code
    assert "var socketMode = !empty(slackAppToken)" in code
    http = set(env("var commonEnv =", "var httpEnv ="))
    socket = set(env("var commonEnv =", "var socketEnv ="))
    assert settings_vars().required - http == set()
    assert settings_vars(socket_mode=True).required - socket == set()
    assert "SLACK_SIGNING_SECRET" not in socket, "Socket Mode takes no signing secret"
    assert "SLACK_APP_TOKEN" not in http


def test_tokens_and_redis_url_come_from_container_app_secrets_fed_by_secure_params() -> None:
    variables = env()
    params = main().params()
    for name in SECRET_SETTINGS:
        assert set(variables[name]) == {"secretRef"}, f"{name} must be a secretRef, never a plain value"
    referenced = {quoted(entry["secretRef"]) for entry in variables.values() if "secretRef" in entry}
    assert referenced == set(secrets()), "every secretRef needs a secret and every secret a use"
    for secret in secrets().values():
        source = secret["value"]
        assert source == "redisUrl" or params[source].secure, f"{source} must be a @secure() param"
    assert "var secrets = concat(commonSecrets, socketMode ? socketSecrets : httpSecrets)" in main().code
    assert params["slackSigningSecret"].default == "''", "Socket Mode deploys without a signing secret"


def test_slack_reaches_the_public_port_only_and_probes_use_the_operations_port() -> None:
    code = main().code
    assert f"var appPort = {APP_PORT}" in code
    assert f"var opsPort = {OPS_PORT}" in code
    assert env()["PORT"] == {"value": "string(appPort)"}
    assert env()["OPS_PORT"] == {"value": "string(opsPort)"}
    ingress = main().block("var httpIngress =")
    assert property_of(ingress, "targetPort") == "appPort"
    assert property_of(ingress, "external") == "true"
    assert property_of(ingress, "allowInsecure") == "false"
    assert "opsPort" not in ingress
    assert "additionalPortMappings" not in code, "the operations port gets no ingress of any kind"
    probes = dict(re.findall(r"type: '(\w+)'\s*\n\s*httpGet: \{\s*\n\s*path: '([^']+)'\s*\n\s*port: opsPort", code))
    assert probes == {"Liveness": LIVENESS_PATH, "Readiness": READINESS_PATH}
    args = re.search(r"args: \[\s*\n\s*'(\w+)'\s*\n\s*\]", code)
    assert args is not None
    assert [args.group(1)] == only(final_stage(), "CMD").exec_form()


def test_socket_mode_has_no_ingress_and_an_internal_environment() -> None:
    template = main()
    assert property_of(template.block("resource app"), "ingress") == "socketMode ? null : httpIngress"
    assert property_of(template.block("resource containerEnv"), "internal") == "socketMode"
    assert re.search(r"^output slackRequestUrl string = socketMode \? '' : ", template.code, re.MULTILINE)


def test_the_container_apps_environment_runs_in_the_virtual_network() -> None:
    template = main()
    environment = template.block("resource containerEnv")
    assert property_of(environment, "infrastructureSubnetId") == "'${vnet.id}/subnets/${appsSubnetName}'"
    assert "workloadProfileType: 'Consumption'" in environment
    assert property_of(template.block("resource app"), "workloadProfileName") == "workloadProfileName"
    subnets = template.block("resource vnet")
    assert "name: appsSubnetName" in subnets
    assert "serviceName: 'Microsoft.App/environments'" in subnets
    assert "name: endpointsSubnetName" in subnets


def test_at_least_two_replicas_by_default() -> None:
    params = main().params()
    assert params["minReplicas"].default == "2"
    assert "minReplicas: minReplicas" in main().code
    document = json.loads((AZURE / "main.parameters.json").read_text(encoding="utf-8"))
    assert document["parameters"]["minReplicas"]["value"] >= 2


def test_azure_managed_redis_is_private_tls_only_keyless_and_persistent() -> None:
    template = redis()
    kinds = {kind for kind, _ in template.resources().values()}
    assert "Microsoft.Cache/redis" not in kinds, "Azure Cache for Redis is being retired"
    cluster = template.block("resource redis")
    assert template.resources()["redis"][0] == "Microsoft.Cache/redisEnterprise"
    assert property_of(cluster, "publicNetworkAccess") == "'Disabled'"
    assert property_of(cluster, "minimumTlsVersion") == "'1.2'"
    assert property_of(cluster, "highAvailability") == "'Enabled'"
    database = template.block("resource database")
    assert property_of(database, "clientProtocol") == "'Encrypted'"
    assert property_of(database, "accessKeysAuthentication") == "'Disabled'"
    assert property_of(database, "aofEnabled") == "true"
    assert property_of(database, "aofFrequency") == "'1s'"
    assert property_of(database, "evictionPolicy") == "'NoEviction'", "jitbot's state must never be evicted"
    assert property_of(database, "clusteringPolicy") == "'EnterpriseCluster'", "one endpoint: plain rediss://"
    assert "listKeys" not in template.code, "no access key ever leaves the cache"
    assert re.search(
        r"^output url string = 'rediss://\$\{redis\.properties\.hostName\}:\$\{port\}/0'$", template.code, re.M
    )


def test_the_bots_identity_is_the_caches_only_user() -> None:
    template = redis()
    user = template.block("resource botUser")
    assert template.resources()["botUser"][0] == "Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments"
    assert property_of(user, "accessPolicyName") == "'default'"
    assert property_of(user, "objectId") == "principalId"
    module = main().block("module managedRedis")
    assert "if (createRedis)" in module
    assert property_of(module, "principalId") == "identity.properties.principalId"
    assert "var redisAuth = createRedis ? 'entra-id' : existingRedisAuth" in main().code
    assert env()["JITBOT_REDIS_AUTH"] == {"value": "redisAuth"}
    assert env()["AZURE_CLIENT_ID"] == {"value": "identity.properties.clientId"}


def test_redis_resolves_to_a_private_endpoint_in_the_virtual_network() -> None:
    template = redis()
    endpoint = template.block("resource endpoint")
    assert property_of(endpoint, "privateLinkServiceId") == "redis.id"
    assert "'redisEnterprise'" in endpoint
    assert property_of(endpoint, "id") == "endpointSubnetId"
    assert property_of(template.block("resource dnsZone"), "name") == "'privatelink.redis.azure.net'"
    assert property_of(template.block("resource dnsLink"), "id") == "virtualNetworkId"
    assert property_of(template.block("resource endpointDns"), "privateDnsZoneId") == "dnsZone.id"
    module = main().block("module managedRedis")
    assert property_of(module, "endpointSubnetId") == "'${vnet.id}/subnets/${endpointsSubnetName}'"
    assert property_of(module, "virtualNetworkId") == "vnet.id"


def test_an_existing_redis_can_replace_the_managed_one() -> None:
    params = main().params()
    assert params["existingRedisUrl"].secure
    assert params["existingRedisUrl"].default == "''"
    assert "var createRedis = empty(existingRedisUrl)" in main().code
    assert "var redisUrl = createRedis ? managedRedis!.outputs.url : existingRedisUrl" in main().code
    assert secrets()["redis-url"] == {"value": "redisUrl"}


def test_the_app_runs_as_its_user_assigned_identity() -> None:
    template = main()
    assert template.resources()["identity"][0] == "Microsoft.ManagedIdentity/userAssignedIdentities"
    app = template.block("resource app")
    assert "type: 'UserAssigned'" in app
    assert "'${identity.id}': {}" in app


def test_image_is_pulled_with_the_identity_after_it_may_pull() -> None:
    template = main()
    app = template.block("resource app")
    assert property_of(app, "registries") == "empty(containerRegistryName) ? [] : registries"
    assert "identity: identity.id" in template.block("var registries =")
    assert re.search(r"dependsOn: \[\s*acrPull\s*\]", app)
    acr = template.block("module acrPull")
    assert "if (!empty(containerRegistryName))" in acr
    assert "principalId: identity.properties.principalId" in acr
    pull = Template.load(template.modules()["acrPull"])
    assert "'7f951dda-4ed3-4680-a7ca-43fe172d538d'" in pull.code, "the built-in AcrPull role"
    assert "scope: registry" in pull.block("resource pull")


def test_logs_go_to_log_analytics() -> None:
    template = main()
    assert template.resources()["logs"][0] == "Microsoft.OperationalInsights/workspaces"
    environment = template.block("resource containerEnv")
    assert "destination: 'log-analytics'" in environment
    assert "customerId: logs.properties.customerId" in environment
    assert "managedEnvironmentId: containerEnv.id" in template.block("resource app")


def test_role_is_defined_from_the_role_files_and_assigned_in_every_subscription() -> None:
    template = main()
    modules = template.modules()
    role = Template.load(modules["role"])
    assignment = Template.load(modules["roleAssignments"])
    assert role.target_scope() == assignment.target_scope() == "subscription"
    loaded = set(re.findall(r"loadJsonContent\('([^']+)'\)", role.code))
    assert loaded == {"jitbot-role.json", "jitbot-admin-role.json"}
    assert all((AZURE / name).is_file() for name in loaded)
    definition = role.block("resource definition")
    assert role.resources()["definition"][0] == "Microsoft.Authorization/roleDefinitions"
    for field in ("Actions", "NotActions", "DataActions", "NotDataActions"):
        assert f"{field[0].lower()}{field[1:]}: role.{field}" in definition
    assert "type: 'CustomRole'" in definition
    assert "'/subscriptions/${id}'" in definition
    assert assignment.resources()["assignment"][0] == "Microsoft.Authorization/roleAssignments"
    assert "principalType: 'ServicePrincipal'" in assignment.code
    loop = template.block("module roleAssignments")
    assert "for subscriptionId in subscriptionIds" in loop
    assert "scope: subscription(subscriptionId)" in loop
    assert "principalId: identity.properties.principalId" in loop
    assert "roleDefinitionName: role.outputs.roleDefinitionName" in loop
    assert "output roleDefinitionName string" in role.code
    assert "admin: grantAdminRole" in template.block("module role")


def test_the_role_is_unique_to_each_deployment() -> None:
    role = Template.load(AZURE / "role.bicep")
    definition = role.block("resource definition")
    assert property_of(definition, "name") == "guid(deploymentScope, instance, role.Name)"
    assert property_of(definition, "roleName") == "roleName"
    assert "var roleName = '${role.Name} (${instance} ${uniqueString(deploymentScope)})'" in role.code
    module = main().block("module role")
    assert property_of(module, "deploymentScope") == "resourceGroup().id"
    assert property_of(module, "instance") == "name"
