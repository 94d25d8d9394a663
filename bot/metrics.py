"""Prometheus metrics, on a registry owned by the runtime (no global singletons)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Every metric jitbot exports, served at ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "jitbot_requests_total", "Access requests by outcome", ["outcome"], registry=self.registry
        )
        self.commands = Counter(
            "jitbot_commands_total", "Slash commands by subcommand", ["command"], registry=self.registry
        )
        self.approval_wait = Histogram(
            "jitbot_approval_wait_seconds",
            "Time from request to approval or denial",
            buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600),
            registry=self.registry,
        )
        self.azure_latency = Histogram(
            "jitbot_azure_call_seconds", "Azure gateway call latency", ["operation"], registry=self.registry
        )
        self.azure_errors = Counter(
            "jitbot_azure_errors_total", "Azure gateway errors", ["operation", "error"], registry=self.registry
        )
        self.slack_errors = Counter(
            "jitbot_slack_api_errors_total", "Slack Web API errors", ["method", "error"], registry=self.registry
        )
        self.scheduler_lag = Histogram(
            "jitbot_scheduler_lag_seconds",
            "How late scheduled items ran",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60),
            registry=self.registry,
        )
        self.scheduler_backlog = Gauge(
            "jitbot_scheduler_backlog", "Scheduled items that are already due", registry=self.registry
        )
        self.scheduler_parked = Gauge(
            "jitbot_scheduler_parked",
            "Scheduled items this process holds until their turn in a paced Slack channel",
            registry=self.registry,
        )
        self.slack_refused = Counter(
            "jitbot_slack_requests_refused_total",
            "Requests to /slack/events answered 401 (forged, unsigned, stale or replayed), by reason",
            ["why"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "jitbot_rate_limited_total",
            "Commands, clicks and modal submissions refused by the per-user rate limit",
            ["kind"],
            registry=self.registry,
        )
        self.background_deferred = Counter(
            "jitbot_background_deferred_total",
            "Background jobs that waited for Slack acks in progress before starting",
            registry=self.registry,
        )
        self.background_waiting = Gauge(
            "jitbot_background_waiting", "Background jobs waiting for Slack acks in progress", registry=self.registry
        )

    def observe_azure(self, operation: str, seconds: float, error: BaseException | None) -> None:
        """Record one Azure gateway call (latency, and its error type when it failed)."""
        self.azure_latency.labels(operation=operation).observe(seconds)
        if error is not None:
            self.azure_errors.labels(operation=operation, error=type(error).__name__).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
