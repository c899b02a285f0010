"""Logging for every process, configured in one place: one JSON object per line on stderr (time, level, logger,
message, and the exception when there is one). Nothing here prints settings: secrets (keys, passwords) never reach
a log; database URLs are shown with ``safe_url``."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

import sqlalchemy as sa


class JsonLines(logging.Formatter):
    """A log record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        """time, level, logger, message (+ exc)."""
        out = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the root logger (idempotent: one handler however often it is called)."""
    root = logging.getLogger()
    if any(getattr(h, "jiesu", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    handler.jiesu = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def safe_url(url: str) -> str:
    """A database URL without its password."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable url>"
