"""The Bicep for Azure Container Apps wires the bot the way the code expects: settings names, secrets, the port,
the probe routes, two replicas, a managed identity holding the jitbot role, and Redis over TLS only."""

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
SECRET_SETTINGS = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "REDIS_URL"}


def main() -> Template:
    return Template.load(AZURE / "main.bicep")


def env() -> dict[str, dict[str, str]]:
    return main().named_entries("var env =")


def secrets() -> dict[str, dict[str, str]]:
    return main().named_entries("var secrets =")


def quoted(value: str) -> str:
    assert value.startswith("'"), value
    assert value.endswith("'"), value
    return value[1:-1]


@pytest.mark.parametrize("path", sorted(AZURE.glob("*.bicep")), ids=lambda p: p.name)
def test_templates_are_well_formed(path: Path) -> None:
    template = Template.load(path)
    assert template.code.strip()
    for symbol, (kind, version) in template.resources().items():
        assert re.fullmatch(r"Microsoft\.\w+/\w+(/\w+)*", kind), symbol
        assert version >= "2022-01-01", f"{symbol} uses an old API version"
    for module in template.modules().values():
        assert module.is_file(), module


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


def test_env_names_are_settings_and_required_ones_are_set() -> None:
    names = set(env())
    assert unknown_env_names(names) == set()
    assert settings_vars().required - names == set()


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


def test_port_ingress_and_probes_match_the_image_and_routes() -> None:
    code = main().code
    assert f"var appPort = {APP_PORT}" in code
    assert f"var opsPort = {OPS_PORT}" in code
    assert env()["PORT"] == {"value": "string(appPort)"}
    assert env()["OPS_PORT"] == {"value": "string(opsPort)"}
    ingress = re.search(r"ingress: \{(.*?)\n      \}", code, re.DOTALL)
    assert ingress is not None
    assert "targetPort: appPort" in ingress.group(1)
    assert "external: true" in ingress.group(1)
    assert "allowInsecure: false" in ingress.group(1)
    probes = dict(re.findall(r"type: '(\w+)'\s*\n\s*httpGet: \{\s*\n\s*path: '([^']+)'\s*\n\s*port: opsPort", code))
    assert probes == {"Liveness": LIVENESS_PATH, "Readiness": READINESS_PATH}
    args = re.search(r"args: \[\s*\n\s*'(\w+)'\s*\n\s*\]", code)
    assert args is not None
    assert [args.group(1)] == only(final_stage(), "CMD").exec_form()


def test_at_least_two_replicas_by_default() -> None:
    params = main().params()
    assert params["minReplicas"].default == "2"
    assert "minReplicas: minReplicas" in main().code
    document = json.loads((AZURE / "main.parameters.json").read_text(encoding="utf-8"))
    assert document["parameters"]["minReplicas"]["value"] >= 2


def test_redis_accepts_tls_only_and_the_url_uses_it() -> None:
    template = main()
    assert template.resources()["redis"][0] == "Microsoft.Cache/redis"
    redis = template.block("resource redis")
    assert re.search(r"^\s*enableNonSslPort: false$", redis, re.MULTILINE)
    assert re.search(r"^\s*minimumTlsVersion: '1\.2'$", redis, re.MULTILINE)
    url = re.search(r"^var redisUrl = '(.+)'$", template.code, re.MULTILINE)
    assert url is not None
    assert url.group(1).startswith("rediss://:${uriComponent(redis.listKeys().primaryKey)}@")
    assert url.group(1).endswith(":${redis.properties.sslPort}/0")
    assert secrets()["redis-url"] == {"value": "redisUrl"}


def test_the_app_runs_as_its_user_assigned_identity() -> None:
    template = main()
    assert template.resources()["identity"][0] == "Microsoft.ManagedIdentity/userAssignedIdentities"
    app = template.block("resource app")
    assert "type: 'UserAssigned'" in app
    assert "'${identity.id}': {}" in app
    assert env()["AZURE_CLIENT_ID"] == {"value": "identity.properties.clientId"}


def test_image_is_pulled_with_the_identity_after_it_may_pull() -> None:
    template = main()
    app = template.block("resource app")
    assert re.search(r"registries: empty\(containerRegistryName\)", app)
    assert "identity: identity.id" in app
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
