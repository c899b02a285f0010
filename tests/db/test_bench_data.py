"""Synthetic closed cases for the reports benchmark, on a throw-away SQLite file (the Python fallback)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa

from core.migrate import upgrade
from tools.bench.data import clear_generated, generate_closed_cases


def test_generates_closed_cases_continues_numbering_and_clears(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    seen: list[int] = []
    assert generate_closed_cases(engine, 300, start=date(2025, 11, 1), days=30, batch=120, progress=seen.append) == 300
    assert seen == [120, 240, 300]
    assert generate_closed_cases(engine, 100, start=date(2025, 11, 1), days=30) == 100
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            'SELECT count(*), count(DISTINCT case_no), max(external_id = \'bench-400\'), min(received_date), '
            "max(received_date), sum(valid_review), sum(status = 'archived'), count(lead_department), "
            'count(DISTINCT category) FROM "case"')).one()
        assert row[0] == row[1] == row[6] == row[7] == 400 and row[2] == 1
        assert "2025-11-01" <= row[3] <= row[4] <= "2025-11-30"
        assert 300 < row[5] < 400 and row[8] > 5
        by_outcome = sa.text('SELECT outcome, count(*) FROM "case" GROUP BY outcome')
        outcomes: dict[str, int] = {k: v for k, v in conn.execute(by_outcome).all()}
        assert set(outcomes) <= {"resolved", "unrated", "finding", "terminated"} and outcomes["resolved"] > 300
        tasks = conn.execute(sa.text("SELECT count(*), count(requested_date) FROM partner_task")).one()
        assert 60 < tasks[0] == tasks[1] < 200
        bad = conn.execute(sa.text('SELECT count(*) FROM "case" WHERE closed_at <= received_at OR '
                                   "replied_at > closed_at OR handling_days < 0.2 OR handling_days > 12")).scalar()
        assert bad == 0
    assert clear_generated(engine) == 400
    with engine.connect() as conn:
        assert conn.execute(sa.text('SELECT count(*) FROM "case"')).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM partner_task")).scalar() == 0
