"""docker-compose.yml runs the bot against a Redis that keeps its data (AOF on a volume), wired by name, and
publishes only the Slack port beyond the host."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.deploy.test_dockerfile import healthcheck_command
from tests.deploy.wiring import APP_PORT, LIVENESS_PATH, OPS_PORT, REPO, settings_vars, unknown_env_names


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    return document


def service(name: str) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return services[name]


def env_example_values() -> dict[str, str]:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE))


def redis_options() -> dict[str, str]:
    """The redis-server command's ``--name value`` options."""
    command = service("redis")["command"]
    assert command[0] == "redis-server"
    assert len(command) % 2 == 1
    return {command[i].removeprefix("--"): command[i + 1] for i in range(1, len(command), 2)}


def test_redis_is_version_7_with_append_only_file_on_a_named_volume() -> None:
    redis = service("redis")
    assert redis["image"].split(":")[1].split(".")[0] == "7"
    assert redis_options()["appendonly"] == "yes"
    volumes = [v.split(":") for v in redis["volumes"]]
    assert [v for v in volumes if v[1] == "/data" and v[0] in compose()["volumes"]], "AOF must live on a volume"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_bot_waits_for_a_healthy_redis_and_reaches_it_by_service_name() -> None:
    bot = service("jitbot")
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    url = urlsplit(bot["environment"]["REDIS_URL"])
    assert url.scheme == "redis"
    assert url.hostname == "redis"
    assert url.port == 6379


def test_bot_builds_this_repo_and_serves() -> None:
    bot = service("jitbot")
    assert bot["build"] == "."
    assert (REPO / "Dockerfile").is_file()
    assert bot["command"] == ["serve"]


def test_only_the_slack_port_is_published_beyond_the_hosts_loopback() -> None:
    bot = service("jitbot")
    assert bot["environment"]["PORT"] == str(APP_PORT)
    assert bot["environment"]["OPS_PORT"] == str(OPS_PORT)
    published = {p.rsplit(":", 1)[-1]: p.rsplit(":", 1)[0] for p in bot["ports"]}
    assert published == {str(APP_PORT): str(APP_PORT), str(OPS_PORT): f"127.0.0.1:{OPS_PORT}"}
    assert "ports" not in service("redis")


def test_bot_health_check_is_the_images() -> None:
    check = service("jitbot")["healthcheck"]
    assert check["test"][0] == "CMD"
    assert check["test"][1:] == healthcheck_command()
    assert LIVENESS_PATH in check["test"][-1]


def test_env_names_are_settings_and_required_ones_come_from_env_file() -> None:
    bot = service("jitbot")
    assert bot["env_file"] == ".env"
    assert unknown_env_names(set(bot["environment"])) == set()
    documented = env_example_values()
    missing = {name for name in settings_vars().required if name not in bot["environment"] and name not in documented}
    assert missing == set(), "required settings must be set in compose or listed (uncommented) in .env.example"


def test_bot_container_is_locked_down() -> None:
    bot = service("jitbot")
    assert bot["read_only"] is True
    assert bot["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in bot["security_opt"]
    assert bot["init"] is True
