"""Structured JSON logs: one event name plus fields, the request id on every line, secrets never printed."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("jitbot_request_id", default="-")

_SECRET_PATTERNS = (
    re.compile(r"xox[abposr]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"v0=[0-9a-f]{16,}"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(client_secret|signing_secret|access_token|password)([\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class Redactor:
    """Removes tokens, signatures and the configured secret values from any text."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets = tuple(sorted((s for s in secrets if s and len(s) >= 6), key=len, reverse=True))

    def __call__(self, text: str) -> str:
        """The text with every secret replaced by ``[redacted]``."""
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        for pattern in _SECRET_PATTERNS:
            if pattern.groups >= 2:
                text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
            else:
                text = pattern.sub("[redacted]", text)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, request id and any ``extra`` fields."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as redacted JSON."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "request_id":
                payload[key] = value if isinstance(value, int | float | bool | type(None)) else str(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return self.redactor(json.dumps(payload, ensure_ascii=False, default=str))


def configure_logging(level: str, secrets: Iterable[str], stream: Any = None) -> None:
    """Send every logger (ours, Bolt's, the SDKs') through the redacting JSON formatter."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(Redactor(secrets)))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    if level != "DEBUG":
        logging.getLogger("azure").setLevel(logging.WARNING)
