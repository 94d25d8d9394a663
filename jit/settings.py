"""Configuration from the environment (and ``.env``), validated once at start-up with friendly errors."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from jit.durations import DurationError, parse_duration
from jit.model import ApproverRbac, RbacMode


class SettingsError(ValueError):
    """One or more settings are missing or malformed; the message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Configuration problems:\n" + "\n".join(f"  - {p}" for p in problems))


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse ``KEY=value`` lines (``#`` comments, optional quotes); a missing file is empty."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, _, value = stripped.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_environment(environ: Mapping[str, str] | None = None, dotenv: Path = Path(".env")) -> dict[str, str]:
    """The process environment over ``.env``: real environment variables win."""
    merged = read_dotenv(dotenv)
    merged.update(environ if environ is not None else os.environ)
    return merged


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Every setting jitbot reads; names match the contract in DESIGN.md and .env.example."""

    slack_bot_token: str
    slack_signing_secret: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)
    slack_api_url: str = "https://slack.com/api/"
    redis_url: str = "redis://localhost:6379/0"
    redis_auth: str = "url"
    azure_subscription_ids: tuple[str, ...] = ()
    azure_arm_endpoint: str = "https://management.azure.com"
    azure_management_group: str | None = None
    graph_endpoint: str = "https://graph.microsoft.com"
    requester_rbac: RbacMode = RbacMode.WARN
    approver_rbac: ApproverRbac = ApproverRbac.OFF
    identity_map: Path | None = None
    approval_channel: str = ""
    approvers: tuple[str, ...] = ()
    oncall_channel: str | None = None
    review_channel: str | None = None
    remind_before: timedelta = timedelta(minutes=15)
    request_ttl: timedelta = timedelta(minutes=30)
    default_source: str = ""
    admins: tuple[str, ...] = ()
    rules_file: Path | None = None
    break_glass_group: tuple[str, ...] = ()
    max_duration: timedelta | None = None
    max_pending_per_user: int = 5
    commands_per_minute: int = 20
    interactions_per_minute: int = 60
    wide_prefix_v4: int = 16
    wide_prefix_v6: int = 48
    azure_timeout: timedelta = timedelta(seconds=20)
    sync_interval: timedelta = timedelta(minutes=4)
    slack_post_interval: timedelta = timedelta(seconds=1)
    public_url: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    host: str = "0.0.0.0"
    port: int = 3000
    ops_port: int = 9100
    log_level: str = "INFO"

    def __repr__(self) -> str:
        return f"Settings(approval_channel={self.approval_channel!r}, subscriptions={self.azure_subscription_ids!r})"

    @property
    def socket_mode(self) -> bool:
        """Socket Mode is on exactly when an app-level token is configured."""
        return bool(self.slack_app_token)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build and validate settings; raises SettingsError listing every problem at once."""
        problems: list[str] = []

        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                problems.append(f"{name} is required (see .env.example)")
            return value

        def duration(name: str, default: timedelta) -> timedelta:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = parse_duration(raw)
            except DurationError:
                problems.append(f"{name}={raw!r} is not a duration; use forms like 30s, 15m, 2h or PT2H")
                return default
            if value <= timedelta(0):
                problems.append(f"{name} must be positive")
            return value

        def tcp_port(name: str, default: int) -> int:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            if not (raw.isdigit() and 0 < int(raw) < 65536):
                problems.append(f"{name}={raw!r} is not a TCP port")
                return default
            return int(raw)

        def integer(name: str, default: int) -> int:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit() or int(raw) <= 0:
                problems.append(f"{name}={raw!r} must be a positive whole number")
                return default
            return int(raw)

        def prefix(name: str, default: int, longest: int) -> int:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            digits = raw.removeprefix("/")
            if not digits.isascii() or not digits.isdigit() or int(digits) > longest:
                problems.append(f"{name}={raw!r} must be a prefix length from /0 to /{longest}, like /{default}")
                return default
            return int(digits)

        bot_token = required("SLACK_BOT_TOKEN")
        if bot_token and not bot_token.startswith("xoxb-"):
            problems.append("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        app_token = environ.get("SLACK_APP_TOKEN", "").strip()
        if app_token and not app_token.startswith("xapp-"):
            problems.append("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        signing_secret = environ.get("SLACK_SIGNING_SECRET", "").strip()
        if not app_token and not signing_secret:
            problems.append("SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)")
        management_group = environ.get("AZURE_MANAGEMENT_GROUP", "").strip() or None
        if management_group is None:
            subscriptions = _csv(required("AZURE_SUBSCRIPTION_IDS"))
        else:
            subscriptions = _csv(environ.get("AZURE_SUBSCRIPTION_IDS", ""))
            if "/" in management_group:
                problems.append(
                    f"AZURE_MANAGEMENT_GROUP={management_group!r} must be the group's id (its name), "
                    "not a resource path; for example mg-production"
                )
        rbac_raw = (environ.get("JITBOT_REQUESTER_RBAC", "").strip() or RbacMode.WARN.value).lower()
        if rbac_raw not in {mode.value for mode in RbacMode}:
            problems.append(f"JITBOT_REQUESTER_RBAC={rbac_raw!r} must be off, warn or enforce")
            rbac_raw = RbacMode.WARN.value
        approver_raw = (environ.get("JITBOT_APPROVER_RBAC", "").strip() or ApproverRbac.OFF.value).lower()
        if approver_raw not in {mode.value for mode in ApproverRbac}:
            problems.append(f"JITBOT_APPROVER_RBAC={approver_raw!r} must be off or enforce")
            approver_raw = ApproverRbac.OFF.value
        identity_map_raw = environ.get("JITBOT_IDENTITY_MAP", "").strip()
        graph_endpoint = environ.get("MICROSOFT_GRAPH_ENDPOINT", "").strip() or "https://graph.microsoft.com"
        if not graph_endpoint.startswith("https://"):
            problems.append(f"MICROSOFT_GRAPH_ENDPOINT={graph_endpoint!r} must be an https:// URL")
        approval_channel = required("JITBOT_APPROVAL_CHANNEL")
        approvers = _csv(required("JITBOT_APPROVERS"))
        for approver in approvers:
            if approver[:1] not in ("U", "W", "S"):
                problems.append(f"JITBOT_APPROVERS entry {approver!r} is not a user id (U…/W…) or user group id (S…)")
        admins = _csv(environ.get("JITBOT_ADMINS", ""))
        break_glass_group = _csv(environ.get("JITBOT_BREAK_GLASS_GROUP", ""))
        for principal in break_glass_group:
            if principal[:1] not in ("U", "W", "S"):
                problems.append(
                    f"JITBOT_BREAK_GLASS_GROUP entry {principal!r} is not a user id (U…/W…) or user group id (S…)"
                )
        default_source = required("JITBOT_DEFAULT_SOURCE")
        if default_source:
            try:
                network = ipaddress.ip_network(default_source, strict=True)
                if network.prefixlen == 0:
                    problems.append("JITBOT_DEFAULT_SOURCE must not open access to the whole internet")
            except ValueError:
                problems.append(f"JITBOT_DEFAULT_SOURCE={default_source!r} is not an IP address or strict CIDR")
        rules_raw = environ.get("JITBOT_RULES_FILE", "").strip()
        port = tcp_port("PORT", 3000)
        ops_port = tcp_port("OPS_PORT", 9100)
        if ops_port == port and not app_token:
            problems.append(f"OPS_PORT and PORT are both {port}: the operations endpoints need a port of their own")
        max_duration_raw = environ.get("JITBOT_MAX_DURATION", "").strip()
        public_url = _public_url(environ.get("JITBOT_PUBLIC_URL", "").strip(), problems)
        trusted_proxies = _networks("JITBOT_TRUSTED_PROXIES", environ.get("JITBOT_TRUSTED_PROXIES", ""), problems)
        redis_auth = (environ.get("JITBOT_REDIS_AUTH", "").strip() or "url").lower()
        if redis_auth not in ("url", "entra-id"):
            problems.append(f"JITBOT_REDIS_AUTH={redis_auth!r} must be url (password in REDIS_URL) or entra-id")
        settings = cls(
            slack_bot_token=bot_token,
            slack_signing_secret=signing_secret,
            slack_app_token=app_token,
            slack_api_url=environ.get("SLACK_API_URL", "").strip() or "https://slack.com/api/",
            redis_url=environ.get("REDIS_URL", "").strip() or "redis://localhost:6379/0",
            redis_auth=redis_auth,
            azure_subscription_ids=subscriptions,
            azure_arm_endpoint=environ.get("AZURE_ARM_ENDPOINT", "").strip() or "https://management.azure.com",
            azure_management_group=management_group,
            graph_endpoint=graph_endpoint.rstrip("/"),
            requester_rbac=RbacMode(rbac_raw),
            approver_rbac=ApproverRbac(approver_raw),
            identity_map=Path(identity_map_raw) if identity_map_raw else None,
            approval_channel=approval_channel,
            approvers=approvers,
            oncall_channel=environ.get("JITBOT_ONCALL_CHANNEL", "").strip() or None,
            review_channel=environ.get("JITBOT_REVIEW_CHANNEL", "").strip() or None,
            remind_before=duration("JITBOT_REMIND_BEFORE", timedelta(minutes=15)),
            request_ttl=duration("JITBOT_REQUEST_TTL", timedelta(minutes=30)),
            default_source=default_source,
            admins=admins,
            rules_file=Path(rules_raw) if rules_raw else None,
            break_glass_group=break_glass_group,
            max_duration=duration("JITBOT_MAX_DURATION", timedelta(0)) if max_duration_raw else None,
            max_pending_per_user=integer("JITBOT_MAX_PENDING_PER_USER", 5),
            commands_per_minute=integer("JITBOT_COMMANDS_PER_MINUTE", 20),
            interactions_per_minute=integer("JITBOT_INTERACTIONS_PER_MINUTE", 60),
            wide_prefix_v4=prefix("JITBOT_WIDE_PREFIX_V4", 16, 32),
            wide_prefix_v6=prefix("JITBOT_WIDE_PREFIX_V6", 48, 128),
            azure_timeout=duration("JITBOT_AZURE_TIMEOUT", timedelta(seconds=20)),
            sync_interval=duration("JITBOT_SYNC_INTERVAL", timedelta(minutes=4)),
            slack_post_interval=duration("JITBOT_SLACK_POST_INTERVAL", timedelta(seconds=1)),
            public_url=public_url,
            trusted_proxies=trusted_proxies,
            host=environ.get("HOST", "").strip() or "0.0.0.0",
            port=port,
            ops_port=ops_port,
            log_level=(environ.get("LOG_LEVEL", "").strip() or "INFO").upper(),
        )
        if problems:
            raise SettingsError(problems)
        return settings


def _public_url(raw: str, problems: list[str]) -> str | None:
    """``JITBOT_PUBLIC_URL`` without a trailing slash: an absolute http(s) URL with no query or fragment."""
    if not raw:
        return None
    parsed = urlsplit(raw)
    if parsed.scheme not in ("https", "http") or not parsed.hostname or parsed.query or parsed.fragment:
        problems.append(
            f"JITBOT_PUBLIC_URL={raw!r} must be the address Slack users reach jitbot at, like https://jitbot.example.com"
        )
        return None
    return raw.rstrip("/")


def _networks(name: str, raw: str, problems: list[str]) -> tuple[str, ...]:
    """A comma list of IP addresses or CIDR ranges, in canonical form."""
    networks: list[str] = []
    for part in _csv(raw):
        try:
            networks.append(str(ipaddress.ip_network(part, strict=True)))
        except ValueError:
            problems.append(f"{name} entry {part!r} is not an IP address or strict CIDR range, like 10.0.0.0/8")
    return tuple(networks)
