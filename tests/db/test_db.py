"""Migrations: an empty database upgrades to head, and the models match the migrations (no missing revision)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import core.models  # noqa: F401
from core.migrate import alembic_config, upgrade

TABLES = {"case", "case_event", "notice", "rule_version", "api_key", "case_archive", "alembic_version"}


def head() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def test_empty_sqlite_upgrades_to_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    assert TABLES <= set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head()


def test_session_database_is_at_head_and_matches_models(db_url: str) -> None:
    """On PostgreSQL in CI: the migrated schema equals what the SQLModel tables declare."""
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == head()
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == [], f"models and migrations differ, add a revision: {diff}"


def test_jiesu_migrate_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = dict(os.environ, JIESU_DATABASE_URL=url, JIESU_DATA_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "cli", "migrate"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "up to date" in out.stdout
    assert TABLES <= set(sa.inspect(sa.create_engine(url)).get_table_names())
