"""Redis persists the same way wherever jitbot runs, and the way SECURITY.md says: an append-only file written to
disk every second and no RDB schedule, in docker-compose.yml, on Azure Managed Redis (redis.bicep) and in the
redis-server the crash tests kill."""

from __future__ import annotations

import re

import redis

from sandbox.redis_server import RedisServer
from tests.deploy.bicep_text import Template
from tests.deploy.test_compose import redis_options
from tests.deploy.wiring import REPO

SECURITY = REPO / "SECURITY.md"


def test_compose_appends_every_write_and_syncs_every_second() -> None:
    options = redis_options()
    assert options["appendonly"] == "yes"
    assert options["appendfsync"] == "everysec"
    assert options["save"] == "", "no RDB schedule: Azure Managed Redis allows AOF or RDB, not both"


def test_azure_managed_redis_appends_every_write_and_syncs_every_second() -> None:
    database = Template.load(REPO / "deploy" / "azure" / "redis.bicep").block("resource database")
    persistence = dict(re.findall(r"^\s*(aofEnabled|aofFrequency|rdbEnabled): (.+)$", database, re.MULTILINE))
    assert persistence == {"aofEnabled": "true", "aofFrequency": "'1s'"}


def test_the_redis_the_crash_tests_kill_persists_the_same_way() -> None:
    with RedisServer(appendonly=True) as server:
        client = redis.Redis.from_url(server.url)
        try:
            config = client.config_get("appendonly") | client.config_get("appendfsync") | client.config_get("save")
        finally:
            client.close()
    assert config == {"appendonly": "yes", "appendfsync": "everysec", "save": ""}


def test_security_md_states_this_persistence_and_what_a_crash_can_lose() -> None:
    text = SECURITY.read_text(encoding="utf-8")
    assert "appendfsync always" not in text
    assert "`appendfsync\neverysec`" in text or "`appendfsync everysec`" in text
    assert "`aofFrequency: '1s'`" in text
    assert "## What a Redis crash can lose" in text
