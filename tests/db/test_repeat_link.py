"""重复投诉 and automatic 并单 follow one rule: a repeat links to the newest earlier case about the same matter and,
when the rules merge automatically, joins that same case if it is still open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session

import rules
from core.models import Case
from rules.engine import RulesEngine
from rules.parse import parse_rules
from services.intake import link_repeats

RECEIVED = datetime(2024, 3, 4, 2, tzinfo=UTC)  # a year no other test uses


def row(n: int, status: str, days_before: int, phone: str) -> Case:
    values: dict[str, Any] = dict(
        case_no=f"Q2024030{n:08d}", external_id=f"repeat-link-{phone}-{n}", tracking_code=f"RPL{phone[-4:]}{n}",
        kind="投诉", channel="hotline", category="CXJS01", district="xicheng", address="x", description="x",
        name_enc="x", phone_enc="x", phone_hash=phone, name_masked="王*", phone_masked="138****0000",
        status=status, rules_version="2026.3", received_at=RECEIVED - timedelta(days=days_before))
    return Case(**values)


def merging(engine) -> RulesEngine:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load((Path(rules.__file__).parent / "versions" / "2026.3.yaml").read_text(encoding="utf-8"))
    doc["repeat"]["auto_merge"] = True
    return RulesEngine(parse_rules(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)))


def test_the_repeat_and_the_merge_name_the_same_newest_case(engine) -> None:
    engine_rules = merging(engine)
    with Session(engine) as session:
        session.add_all([row(1, "handling", 20, "h-merge-a"), row(2, "dispatched", 5, "h-merge-a")])
        session.commit()
        new = row(9, "received", 0, "h-merge-a")
        link_repeats(session, new, engine_rules)
    assert new.repeat_of == "Q202403000000002" and new.merge_parent == "Q202403000000002"
    assert new.repeat_count == 3 and new.repeat_flag


def test_a_closed_newest_case_is_linked_but_not_merged_into_an_older_open_one(engine) -> None:
    engine_rules = merging(engine)
    with Session(engine) as session:
        session.add_all([row(3, "handling", 20, "h-merge-b"), row(4, "archived", 5, "h-merge-b")])
        session.commit()
        new = row(8, "received", 0, "h-merge-b")
        link_repeats(session, new, engine_rules)
    assert new.repeat_of == "Q202403000000004" and new.merge_parent is None
