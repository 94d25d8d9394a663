"""Settings from the environment: defaults, every validation error at once, .env underneath real variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from jit.model import ApproverRbac, RbacMode
from jit.settings import Settings, SettingsError, load_environment

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
    "SLACK_SIGNING_SECRET": "s3cret-signing",
    "AZURE_SUBSCRIPTION_IDS": "sub-a, sub-b",
    "JITBOT_APPROVAL_CHANNEL": "C123",
    "JITBOT_APPROVERS": "U1,S2",
    "JITBOT_DEFAULT_SOURCE": "203.0.113.10/32",
}


def test_defaults_follow_the_contract() -> None:
    settings = Settings.from_env(GOOD)
    assert settings.azure_subscription_ids == ("sub-a", "sub-b")
    assert settings.approvers == ("U1", "S2")
    assert settings.remind_before == timedelta(minutes=15)
    assert settings.request_ttl == timedelta(minutes=30)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.azure_arm_endpoint == "https://management.azure.com"
    assert (settings.host, settings.port, settings.ops_port) == ("0.0.0.0", 3000, 9100)
    assert settings.admins == ()
    assert settings.oncall_channel is None
    assert not settings.socket_mode
    assert settings.redis_auth == "url"


def test_every_problem_is_reported_at_once() -> None:
    bad = GOOD | {
        "SLACK_BOT_TOKEN": "xoxp-user-token",
        "JITBOT_REMIND_BEFORE": "soon",
        "JITBOT_APPROVERS": "bob",
        "JITBOT_DEFAULT_SOURCE": "0.0.0.0/0",
        "PORT": "http",
        "OPS_PORT": "70000",
        "JITBOT_REDIS_AUTH": "kerberos",
    }
    del bad["JITBOT_APPROVAL_CHANNEL"]
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(bad)
    text = str(caught.value)
    for expected in (
        "xoxb-",
        "JITBOT_REMIND_BEFORE",
        "JITBOT_APPROVERS entry 'bob'",
        "whole internet",
        "PORT='http'",
        "OPS_PORT='70000' is not a TCP port",
        "JITBOT_APPROVAL_CHANNEL is required",
        "JITBOT_REDIS_AUTH",
    ):
        assert expected in text
    assert len(caught.value.problems) == 8


def test_the_operations_port_is_separate_from_the_public_one() -> None:
    assert Settings.from_env(GOOD | {"PORT": "8080", "OPS_PORT": "9200"}).ops_port == 9200
    with pytest.raises(SettingsError, match="OPS_PORT and PORT are both 3000"):
        Settings.from_env(GOOD | {"OPS_PORT": "3000"})
    socket_mode = GOOD | {"SLACK_APP_TOKEN": "xapp-1-A1-xyz", "OPS_PORT": "3000"}
    assert Settings.from_env(socket_mode).ops_port == 3000, "Socket Mode listens on OPS_PORT only"


def test_wide_source_thresholds_and_the_interaction_limit() -> None:
    assert (Settings.from_env(GOOD).wide_prefix_v4, Settings.from_env(GOOD).wide_prefix_v6) == (16, 48)
    assert Settings.from_env(GOOD).interactions_per_minute == 60
    custom = Settings.from_env(
        GOOD | {"JITBOT_WIDE_PREFIX_V4": "/24", "JITBOT_WIDE_PREFIX_V6": "64", "JITBOT_INTERACTIONS_PER_MINUTE": "9"}
    )
    assert (custom.wide_prefix_v4, custom.wide_prefix_v6, custom.interactions_per_minute) == (24, 64, 9)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(GOOD | {"JITBOT_WIDE_PREFIX_V4": "/33", "JITBOT_WIDE_PREFIX_V6": "wide"})
    assert caught.value.problems == [
        "JITBOT_WIDE_PREFIX_V4='/33' must be a prefix length from /0 to /32, like /16",
        "JITBOT_WIDE_PREFIX_V6='wide' must be a prefix length from /0 to /128, like /48",
    ]


def test_the_card_posting_interval_is_slacks_documented_one_unless_set() -> None:
    assert Settings.from_env(GOOD).slack_post_interval == timedelta(seconds=1)
    assert Settings.from_env(GOOD | {"JITBOT_SLACK_POST_INTERVAL": "PT0.1S"}).slack_post_interval == timedelta(
        seconds=0.1
    )
    with pytest.raises(SettingsError, match="JITBOT_SLACK_POST_INTERVAL"):
        Settings.from_env(GOOD | {"JITBOT_SLACK_POST_INTERVAL": "soon"})


def test_socket_mode_needs_no_signing_secret() -> None:
    env = GOOD | {"SLACK_APP_TOKEN": "xapp-1-A1-xyz"}
    del env["SLACK_SIGNING_SECRET"]
    assert Settings.from_env(env).socket_mode


def test_http_mode_needs_a_signing_secret() -> None:
    env = dict(GOOD)
    del env["SLACK_SIGNING_SECRET"]
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        Settings.from_env(env)


def test_repr_never_shows_secrets() -> None:
    text = repr(Settings.from_env(GOOD)) + str(Settings.from_env(GOOD))
    assert "xoxb-1-2-abc" not in text
    assert "s3cret-signing" not in text


def test_real_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('# comment\nexport JITBOT_APPROVAL_CHANNEL="C-from-file"\nPORT=4000\nignored line\n')
    merged = load_environment({"PORT": "5000"}, dotenv)
    assert merged["JITBOT_APPROVAL_CHANNEL"] == "C-from-file"
    assert merged["PORT"] == "5000"


def test_requester_rbac_and_graph_follow_the_contract() -> None:
    settings = Settings.from_env(GOOD)
    assert settings.requester_rbac is RbacMode.WARN
    assert settings.graph_endpoint == "https://graph.microsoft.com"
    assert settings.azure_management_group is None
    chosen = Settings.from_env(
        GOOD | {"JITBOT_REQUESTER_RBAC": "Enforce", "MICROSOFT_GRAPH_ENDPOINT": "https://graph.microsoft.us/"}
    )
    assert chosen.requester_rbac is RbacMode.ENFORCE
    assert chosen.graph_endpoint == "https://graph.microsoft.us"


def test_bad_requester_rbac_and_graph_endpoint_are_named() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(GOOD | {"JITBOT_REQUESTER_RBAC": "strict", "MICROSOFT_GRAPH_ENDPOINT": "http://graph"})
    text = str(caught.value)
    assert "JITBOT_REQUESTER_RBAC='strict' must be off, warn or enforce" in text
    assert "MICROSOFT_GRAPH_ENDPOINT" in text


def test_a_management_group_makes_the_subscription_list_optional() -> None:
    without_list = {k: v for k, v in GOOD.items() if k != "AZURE_SUBSCRIPTION_IDS"}
    with pytest.raises(SettingsError, match="AZURE_SUBSCRIPTION_IDS is required"):
        Settings.from_env(without_list)
    settings = Settings.from_env(without_list | {"AZURE_MANAGEMENT_GROUP": "mg-production"})
    assert settings.azure_management_group == "mg-production"
    assert settings.azure_subscription_ids == ()
    with pytest.raises(SettingsError, match="must be the group's id"):
        Settings.from_env(
            without_list | {"AZURE_MANAGEMENT_GROUP": "/providers/Microsoft.Management/managementGroups/x"}
        )


def test_public_url_and_trusted_proxies_for_the_from_me_page() -> None:
    settings = Settings.from_env(
        GOOD | {"JITBOT_PUBLIC_URL": "https://jitbot.example.com/", "JITBOT_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::1"}
    )
    assert settings.public_url == "https://jitbot.example.com"
    assert settings.trusted_proxies == ("10.0.0.0/8", "2001:db8::1/128")
    assert Settings.from_env(GOOD).public_url is None
    assert Settings.from_env(GOOD).trusted_proxies == ()


def test_bad_public_url_and_trusted_proxies_are_named() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(GOOD | {"JITBOT_PUBLIC_URL": "jitbot.example.com", "JITBOT_TRUSTED_PROXIES": "10.0.0.1/8,x"})
    text = str(raised.value)
    assert "JITBOT_PUBLIC_URL='jitbot.example.com'" in text
    assert "'10.0.0.1/8'" in text and "'x'" in text


def test_approver_rbac_and_identity_map_settings() -> None:
    assert Settings.from_env(GOOD).approver_rbac is ApproverRbac.OFF
    assert Settings.from_env(GOOD).identity_map is None
    chosen = Settings.from_env(GOOD | {"JITBOT_APPROVER_RBAC": "Enforce", "JITBOT_IDENTITY_MAP": "/etc/map.yaml"})
    assert chosen.approver_rbac is ApproverRbac.ENFORCE
    assert chosen.identity_map == Path("/etc/map.yaml")
    with pytest.raises(SettingsError, match="JITBOT_APPROVER_RBAC='warn' must be off or enforce"):
        Settings.from_env(GOOD | {"JITBOT_APPROVER_RBAC": "warn"})
