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

import core.admin_models  # noqa: F401
import core.console_models  # noqa: F401
import core.models  # noqa: F401
import core.rollup_models  # noqa: F401
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


def test_an_old_database_migrates_reviews_to_not_asked_and_dispatches_from_the_timeline(tmp_path: Path) -> None:
    """A database at the revision before this wave, with a reviewed case: after `upgrade` its review says "not
    asked" (NULL), and its latest dispatch and dispatch delay come from its timeline."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "20261121_projected_task")
    engine = sa.create_engine(url)
    received = "2026-11-02 02:00:00.000000"
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO \"case\" (case_no, external_id, tracking_code, kind, channel, category, district, address,"
            " description, name_enc, phone_enc, phone_hash, name_masked, phone_masked, intake_hash, status,"
            " rules_version, round, due, contacted, clocks, overdue, escalation_level, paused, dispatch_count,"
            " return_count, repeat_count, repeat_flag, special_groups, received_at, workflow_started, last_seq,"
            " created_at, updated_at, resolution, satisfaction, valid_review)"
            " VALUES ('2026110200000001', 'old-1', 'OLD0000001', '投诉', 'hotline', 'CXJS01', 'xicheng', 'x', 'x',"
            " 'x', 'x', 'h', 'x', 'x', '', 'archived', '2026.2', 1, '{}', 1, '{}', 0, 0, 0, 2, 1, 1, 0, '[]',"
            f" '{received}', 1, 3, '{received}', '{received}', '解决', '满意', 1)"))
        for seq, type_, at in ((1, "dispatched", "2026-11-02 02:00:05.000000"),
                               (2, "returned", "2026-11-02 05:00:00.000000"),
                               (3, "redispatched", "2026-11-02 06:00:00.000000")):
            conn.execute(sa.text(
                "INSERT INTO case_event (case_no, seq, type, at, recorded_at, data, prev_hash, hash)"
                f" VALUES ('2026110200000001', {seq}, '{type_}', '{at}', '{at}', '{{}}', 'p', 'h{seq}')"))
    upgrade(url)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT review_contacted, dispatch_hours, dispatched_at, calendar_gaps, valid_review"
                                   " FROM \"case\" WHERE case_no = '2026110200000001'")).one()
    assert row[0] is None  # not asked: 响应率 leaves it out
    assert row[1] == 4.0 and str(row[2]).startswith("2026-11-02 06:00")  # receipt → the re-dispatch
    assert row[3] == "[]" and row[4] == 1
