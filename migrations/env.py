"""Alembic environment: URL from settings (or the caller's config), metadata from the table modules of core."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import core.admin_models  # noqa: F401  (registers the administration tables)
import core.console_models  # noqa: F401  (registers the console tables)
import core.models  # noqa: F401  (registers the tables)
import core.rollup_models  # noqa: F401  (registers the report rollup)
from core.columns import UTCDateTime
from core.db import engine_for, normalise_url
from core.settings import get_settings

config = context.config
url = normalise_url(config.get_main_option("sqlalchemy.url") or get_settings().db_url)
target_metadata = SQLModel.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render the UTCDateTime decorator as a plain timezone-aware DateTime (migrations never import models)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_offline() -> None:
    """Emit SQL without a connection."""
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True,
                      render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate over a live connection (batch mode so SQLite can alter tables)."""
    with engine_for(url).connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          render_item=render_item)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
