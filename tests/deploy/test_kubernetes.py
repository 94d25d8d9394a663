"""The Helm chart and the plain manifests run the bot as the routes, ports, image and settings expect.

deploy/k8s/*.yaml must equal the chart rendered with its default values, so the two cannot drift; both are
validated against the Kubernetes OpenAPI schemas (strict: unknown fields fail) from kubernetes-validate.
Only the Slack port is ever behind a Service or an Ingress; probes and Prometheus use the operations port.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from jit.settings import Settings
from tests.deploy.helm_render import Renderer, TemplateError
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

CHART = REPO / "deploy" / "helm" / "jitbot"
PLAIN = REPO / "deploy" / "k8s"
NAMESPACE = "jitbot"
KUBERNETES_VERSIONS = ("1.29", "1.37")
HTTP_SECRETS = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "REDIS_URL"}
SOCKET_SECRETS = {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "REDIS_URL"}
Doc = dict[str, Any]


def load_docs(paths: list[Path]) -> list[Doc]:
    docs: list[Doc] = []
    for path in paths:
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)
    return docs


def plain_docs() -> list[Doc]:
    return load_docs(sorted(PLAIN.glob("*.yaml")))


def default_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    return values


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        both_maps = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = merged(base[key], value) if both_maps else value
    return out


ALL_OPTIONS_ON: dict[str, Any] = {
    "image": {"tag": "1.2.3", "digest": "sha256:" + "a" * 64},
    "secret": {"create": True, "values": {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "REDIS_URL": "r"}},
    "rules": "rules:\n  - approvers: [U0123456789]\n",
    "serviceAccount": {"azureClientId": "11111111-1111-1111-1111-111111111111", "azureTenantId": "t"},
    "ingress": {"enabled": True, "className": "nginx", "tlsSecretName": "jitbot-tls", "annotations": {"a/b": "c"}},
    "networkPolicy": {"opsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Exists"}],
}
SOCKET_MODE: dict[str, Any] = merged(
    ALL_OPTIONS_ON,
    {
        "slack": {"socketMode": True},
        "secret": {"values": {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "REDIS_URL": "r"}},
    },
)


def rendered(override: dict[str, Any] | None = None, release: str = "jitbot") -> list[Doc]:
    values = merged(default_values(), override or {})
    return Renderer(CHART, values, release_name=release, namespace=NAMESPACE).documents()


def by_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[Doc], kind: str) -> Doc:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container(docs: list[Doc]) -> Doc:
    containers: list[Doc] = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def key(doc: Doc) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def pod_labels(docs: list[Doc]) -> dict[str, str]:
    labels: dict[str, str] = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    return labels


VARIANTS: dict[str, Callable[[], list[Doc]]] = {
    "plain manifests": plain_docs,
    "chart with every option on": lambda: rendered(ALL_OPTIONS_ON),
    "chart in socket mode": lambda: rendered(SOCKET_MODE),
    "chart with one replica": lambda: rendered({"replicaCount": 1}),
}
HTTP_VARIANTS = ("plain manifests", "chart with every option on")


def test_every_chart_and_manifest_file_parses() -> None:
    files = [*CHART.glob("*.yaml"), *PLAIN.rglob("*.yaml")]
    assert len(files) >= 8
    for path in files:
        assert list(yaml.safe_load_all(path.read_text(encoding="utf-8"))), path
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "jitbot"


def test_plain_manifests_are_the_chart_rendered_with_defaults() -> None:
    chart_docs = {key(doc): doc for doc in rendered()}
    plain = {key(doc): doc for doc in plain_docs()}
    assert sorted(plain) == sorted(chart_docs)
    for name, doc in plain.items():
        assert doc == chart_docs[name], f"deploy/k8s differs from the chart for {name}"


def test_example_secret_is_what_the_chart_creates() -> None:
    example = one(load_docs([PLAIN / "examples" / "secret.yaml"]), "Secret")
    chart_secret = one(rendered({"secret": {"create": True, "values": example["stringData"]}}), "Secret")
    assert example == chart_secret
    assert set(example["stringData"]) == HTTP_SECRETS


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_objects_match_the_kubernetes_schema(variant: str, version: str) -> None:
    docs = VARIANTS[variant]()
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_is_in_the_release_namespace(variant: str) -> None:
    assert {doc["metadata"]["namespace"] for doc in VARIANTS[variant]()} == {NAMESPACE}


def test_two_replicas_with_a_disruption_budget_over_the_same_pods() -> None:
    for docs in (plain_docs(), rendered(ALL_OPTIONS_ON)):
        deployment = one(docs, "Deployment")
        assert deployment["spec"]["replicas"] == 2
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels(docs).items()
        pdb = one(docs, "PodDisruptionBudget")
        assert pdb["spec"]["minAvailable"] == 1
        assert "maxUnavailable" not in pdb["spec"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels(docs).items()
        assert one(docs, "Service")["spec"]["selector"].items() <= pod_labels(docs).items()


def test_a_single_replica_gets_no_budget_that_would_block_a_node_drain() -> None:
    assert by_kind(rendered({"replicaCount": 1}), "PodDisruptionBudget") == []
    pdb = one(rendered({"replicaCount": 1, "podDisruptionBudget": {"maxUnavailable": 1}}), "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": pdb["spec"]["selector"]}
    assert one(rendered({"replicaCount": 3}), "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_two_releases_in_one_namespace_share_no_object_and_no_pod() -> None:
    first, second = rendered(ALL_OPTIONS_ON, release="jitbot-a"), rendered(ALL_OPTIONS_ON, release="jitbot-b")
    assert not {key(doc) for doc in first} & {key(doc) for doc in second}
    for docs, other in ((first, second), (second, first)):
        selector = one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
        assert not selector.items() <= pod_labels(other).items(), "a release must not select the other's pods"
        pod = one(docs, "Deployment")["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
        refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container(docs)["env"] if "valueFrom" in e}
        assert refs == {one(docs, "Secret")["metadata"]["name"]}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_probes_and_prometheus_use_the_operations_port(variant: str) -> None:
    docs = VARIANTS[variant]()
    bot = container(docs)
    ports = {port["name"]: port["containerPort"] for port in bot["ports"]}
    assert ports["ops"] == OPS_PORT
    assert {"name": "OPS_PORT", "value": str(OPS_PORT)} in bot["env"]
    assert bot["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": "ops"}
    assert bot["livenessProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": "ops"}
    annotations = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(OPS_PORT)
    assert annotations["prometheus.io/path"] == "/metrics"
    assert bot["args"] == only(final_stage(), "CMD").exec_form()


@pytest.mark.parametrize("variant", HTTP_VARIANTS)
def test_only_the_slack_port_is_behind_the_service(variant: str) -> None:
    docs = VARIANTS[variant]()
    bot = container(docs)
    assert {port["name"]: port["containerPort"] for port in bot["ports"]} == {"http": APP_PORT, "ops": OPS_PORT}
    assert {"name": "PORT", "value": str(APP_PORT)} in bot["env"]
    assert [port["targetPort"] for port in one(docs, "Service")["spec"]["ports"]] == ["http"]


def test_the_default_ports_are_the_settings_defaults() -> None:
    defaults = Settings(slack_bot_token="xoxb-x")
    assert (defaults.port, defaults.ops_port) == (APP_PORT, OPS_PORT)


def test_socket_mode_exposes_nothing_and_needs_no_signing_secret() -> None:
    docs = rendered(SOCKET_MODE)
    assert by_kind(docs, "Service") == []
    assert by_kind(docs, "Ingress") == [], "an Ingress is pointless (and a hole) in Socket Mode, even if enabled"
    assert [port["name"] for port in container(docs)["ports"]] == ["ops"]
    policy = one(docs, "NetworkPolicy")
    assert [[port["port"] for port in rule["ports"]] for rule in policy["spec"]["ingress"]] == [["ops"]]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_resources_have_requests_and_limits(variant: str) -> None:
    resources = container(VARIANTS[variant]())["resources"]
    for bound in ("requests", "limits"):
        assert set(resources[bound]) == {"cpu", "memory"}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_runs_as_the_images_non_root_user_on_a_read_only_root(variant: str) -> None:
    docs = VARIANTS[variant]()
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    image_uid = int(only(final_stage(), "USER").args.split(":")[0])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == image_uid
    bot = container(docs)
    assert bot["securityContext"]["readOnlyRootFilesystem"] is True
    assert bot["securityContext"]["allowPrivilegeEscalation"] is False
    assert bot["securityContext"]["capabilities"]["drop"] == ["ALL"]
    tmp = next(mount for mount in bot["volumeMounts"] if mount["mountPath"] == "/tmp")
    assert {"name": tmp["name"], "emptyDir": {}} in pod["volumes"]


@pytest.mark.parametrize(
    ("variant", "secret_names"),
    [
        ("plain manifests", HTTP_SECRETS),
        ("chart with every option on", HTTP_SECRETS),
        ("chart in socket mode", SOCKET_SECRETS),
    ],
)
def test_env_names_are_settings_secrets_come_from_the_secret_and_required_ones_are_set(
    variant: str, secret_names: set[str]
) -> None:
    docs = VARIANTS[variant]()
    bot = container(docs)
    configmaps = {doc["metadata"]["name"]: doc for doc in by_kind(docs, "ConfigMap")}
    from_configmap = {name for source in bot["envFrom"] for name in configmaps[source["configMapRef"]["name"]]["data"]}
    explicit = {entry["name"] for entry in bot["env"]}
    assert unknown_env_names(explicit | from_configmap) == set()
    assert not explicit & from_configmap, "a name set twice has an unclear winner"
    required = settings_vars(socket_mode="SLACK_APP_TOKEN" in secret_names).required
    assert required - (explicit | from_configmap) == set()
    secret_refs = {entry["name"]: entry["valueFrom"]["secretKeyRef"] for entry in bot["env"] if "valueFrom" in entry}
    assert set(secret_refs) == secret_names
    assert not secret_names & from_configmap, "tokens and REDIS_URL belong in the Secret"
    for name, ref in secret_refs.items():
        assert ref["key"] == name
        assert ref["name"] == "jitbot", "the Secret is named after the release"
        assert "optional" not in ref, f"{name} is required in this mode: a missing key must stop the pod"


def test_every_option_renders_its_objects() -> None:
    docs = rendered(ALL_OPTIONS_ON)
    assert sorted(doc["kind"] for doc in docs) == [
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "Ingress",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "ServiceAccount",
    ]
    assert container(docs)["image"] == "jitbot@sha256:" + "a" * 64, "a digest wins over the tag"
    assert container(rendered({"image": {"tag": "1.2.3"}}))["image"] == "jitbot:1.2.3"
    assert container(rendered())["image"] == "jitbot:0.1.0"


def test_ingress_exposes_only_the_slack_endpoint() -> None:
    ingress = one(rendered(ALL_OPTIONS_ON), "Ingress")
    paths = [path for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert [(path["path"], path["pathType"]) for path in paths] == [("/slack/events", "Exact")]
    assert paths[0]["backend"]["service"] == {"name": "jitbot", "port": {"name": "http"}}
    assert by_kind(rendered(), "Ingress") == []


@pytest.mark.parametrize("variant", HTTP_VARIANTS)
def test_network_policy_admits_slack_traffic_and_keeps_the_operations_port_in_the_cluster(variant: str) -> None:
    docs = VARIANTS[variant]()
    policy = one(docs, "NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels(docs).items()
    assert policy["policyTypes"] == ["Ingress"]
    rules = {rule["ports"][0]["port"]: rule for rule in policy["ingress"]}
    assert set(rules) == {"http", "ops"}
    assert "from" not in rules["http"], "Slack's traffic arrives through whatever ingress the cluster has"
    assert rules["ops"]["from"], "the operations port must name who may reach it"
    assert all("ipBlock" not in peer for peer in rules["ops"]["from"]), "no address outside the cluster"
    assert by_kind(rendered({"networkPolicy": {"enabled": False}}), "NetworkPolicy") == []


def test_rules_file_is_mounted_where_the_setting_points() -> None:
    docs = rendered(ALL_OPTIONS_ON)
    bot = container(docs)
    path = Path(next(entry["value"] for entry in bot["env"] if entry["name"] == "JITBOT_RULES_FILE"))
    mount = next(m for m in bot["volumeMounts"] if m["mountPath"] == str(path.parent))
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    rules = next(doc for doc in by_kind(docs, "ConfigMap") if doc["metadata"]["name"] == volume["configMap"]["name"])
    assert yaml.safe_load(rules["data"][path.name]) == yaml.safe_load(ALL_OPTIONS_ON["rules"])


def test_workload_identity_is_opt_in() -> None:
    on = rendered(ALL_OPTIONS_ON)
    account = one(on, "ServiceAccount")
    assert (
        account["metadata"]["annotations"]["azure.workload.identity/client-id"]
        == (ALL_OPTIONS_ON["serviceAccount"]["azureClientId"])
    )
    assert pod_labels(on)["azure.workload.identity/use"] == "true"
    assert one(on, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    off = rendered()
    assert "annotations" not in one(off, "ServiceAccount")["metadata"]
    assert "azure.workload.identity/use" not in pod_labels(off)


def test_renderer_refuses_what_it_does_not_understand(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("name: x\nversion: 0.1.0\nappVersion: '1'\n")
    (tmp_path / "templates" / "a.yaml").write_text("a: {{ .Values.missing }}\n")
    with pytest.raises(TemplateError, match="does not exist"):
        Renderer(tmp_path, {}, "r").render()
    (tmp_path / "templates" / "a.yaml").write_text("{{ with .Values }}x{{ end }}\n")
    with pytest.raises(TemplateError, match="unsupported"):
        Renderer(tmp_path, {}, "r")
    (tmp_path / "templates" / "a.yaml").write_text("{{ if gt .Values.n 1 }}x{{ end }}\n")
    with pytest.raises(TemplateError, match="incompatible types"):
        Renderer(tmp_path, {"n": 2}, "r").render()  # Helm holds values numbers as float64
    (tmp_path / "templates" / "a.yaml").write_text(
        "a:\n  {{- if and .Values.on (gt (int .Values.n) 1) }}\n  b: {{ .Values.b | quote }}\n  {{- end }}\n"
    )
    assert Renderer(tmp_path, {"on": True, "n": 2, "b": 2}, "r").render()["a.yaml"] == 'a:\n  b: "2"\n'
    assert Renderer(tmp_path, {"on": True, "n": 1, "b": 2}, "r").render()["a.yaml"] == "a:\n"
    assert Renderer(tmp_path, {"on": False, "n": 2, "b": 2}, "r").render()["a.yaml"] == "a:\n"
