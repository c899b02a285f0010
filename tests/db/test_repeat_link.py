"""重复投诉 and automatic 并单 follow one rule: a repeat links to the newest earlier case about the same matter and,
when the rules merge automatically, joins that same case if it is still open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
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


@pytest.mark.parametrize(("newest", "phone", "merged"), [
    ("dispatched", "h-merge-a", True),  # open: the repeat joins the case it links to
    ("archived", "h-merge-b", False),  # closed: linked, but never merged into an older open one
])
def test_the_repeat_and_the_merge_follow_one_rule(engine, newest: str, phone: str, merged: bool) -> None:
    base = 1 if merged else 3
    with Session(engine) as session:
        session.add_all([row(base, "handling", 20, phone), row(base + 1, newest, 5, phone)])
        session.commit()
        new = row(base + 7, "received", 0, phone)
        link_repeats(session, new, merging(engine))
    parent = f"Q2024030{base + 1:08d}"
    assert new.repeat_of == parent and new.repeat_count == 3 and new.repeat_flag
    assert new.merge_parent == (parent if merged else None)
