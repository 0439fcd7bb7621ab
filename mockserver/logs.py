"""Logging set-up for `serve`: one access line per request (text or JSON), or none with --quiet.

Every line is masked: a configured credential or the control token never reaches the log,
wherever a client put it (a path, a parameter) and whatever logged it (a traceback too).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson
from aiohttp.http_exceptions import HttpProcessingError

from .security import SecretMask, checked_secrets
from .settings import Settings
from .vocabulary import Identity

_FIELDS = ("http", "api", "operation")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the access fields when present."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            if hasattr(record, name):
                payload[name] = getattr(record, name)
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        return orjson.dumps(payload).decode()


class MaskingFormatter(logging.Formatter):
    """Another formatter's lines with every known secret replaced by `<redacted>`."""

    def __init__(self, inner: logging.Formatter, mask: SecretMask) -> None:
        super().__init__()
        self.inner = inner
        self.mask = mask

    def format(self, record: logging.LogRecord) -> str:
        return self.mask.text(self.inner.format(record))


def configured_secrets(settings: Settings) -> SecretMask:
    """The control token and every configured credential (the bundled sandbox ones are public).
    SettingsError for one too short to be masked: refused before any server or worker starts."""
    apis = (
        (name, [Identity.from_config(raw, index) for index, raw in enumerate(entries) if isinstance(raw, dict)], ())
        for name, entries in settings.credentials.items()
    )
    return SecretMask(checked_secrets(settings.control_token, apis))


def _is_not_a_client_error(record: logging.LogRecord) -> bool:
    """Malformed HTTP is answered with a 400 already; its log record would quote the raw
    header bytes, which may carry a credential, so it is dropped."""
    return not (record.exc_info and isinstance(record.exc_info[1], HttpProcessingError))


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if settings.log_format == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(MaskingFormatter(formatter, configured_secrets(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("mockserver.access").setLevel(logging.WARNING if settings.quiet else logging.INFO)
    logging.getLogger("aiohttp.server").addFilter(_is_not_a_client_error)
    logging.getLogger("python_multipart").setLevel(logging.ERROR)  # it warns about every malformed client body
