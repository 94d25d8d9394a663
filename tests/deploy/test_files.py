"""Every deployment file parses, and none carries something that looks like a real credential."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.wiring import REPO

DEPLOY = REPO / "deploy"
TEMPLATES = DEPLOY / "helm" / "jitbot" / "templates"
DATA_FILES = sorted(
    path
    for path in [*DEPLOY.rglob("*.json"), *DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml"), REPO / "docker-compose.yml"]
    if TEMPLATES not in path.parents
)
DEPLOY_TEXT = sorted(
    path for path in [*DEPLOY.rglob("*"), REPO / "Dockerfile", REPO / "docker-compose.yml"] if path.is_file()
)
REAL_LOOKING_SECRETS = {
    "Slack token": re.compile(r"xox[abpr]-\d+-"),
    "Slack app token": re.compile(r"xapp-\d-"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "Azure storage key": re.compile(r"AccountKey=[A-Za-z0-9+/]{40,}"),
}


def test_there_are_files_to_check() -> None:
    names = {path.name for path in DATA_FILES}
    assert {"jitbot-role.json", "operations.json", "docker-compose.yml", "values.yaml", "deployment.yaml"} <= names


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_data_file_parses(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    documents = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    assert [doc for doc in documents if doc], f"{path} is empty"


@pytest.mark.parametrize("path", DEPLOY_TEXT, ids=lambda p: str(p.relative_to(REPO)))
def test_no_real_looking_credentials(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [what for what, pattern in REAL_LOOKING_SECRETS.items() if pattern.search(text)]
    assert found == [], f"{path} looks like it holds a {found}"


def test_credential_patterns_catch_real_shapes() -> None:
    assert REAL_LOOKING_SECRETS["Slack token"].search("xoxb-1234567890-abc")
    assert not REAL_LOOKING_SECRETS["Slack token"].search("xoxb-replace-me")
