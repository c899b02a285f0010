"""诉求激增预警: compare each category's count of a day (city-wide and per district) with its average over the
window before; a spike raises one warning row and one supervisor notice, later days of the same spike only update it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.admin_models import SpikeWarning
from core.models import Case, Notice
from rules.engine import RulesEngine

C: Any = Case.__table__.c  # type: ignore[attr-defined]

ALL = "*"  # district of a city-wide warning


def place_name(rules: RulesEngine, district: str) -> str:
    """Where a spike is: 全市 for the city-wide count, else the district's name."""
    return "全市" if district == ALL else rules.district_name(district)


def day_counts(session: Session, day: date, first: date, per_district: bool) -> dict[tuple[str, str], dict[date, int]]:
    """(category, district or *) → day → count, for the days from ``first`` to ``day``."""
    out: dict[tuple[str, str], dict[date, int]] = {}
    rows = session.execute(sa.select(C.category, C.district, C.received_date, sa.func.count()).where(
        C.received_date >= first, C.received_date <= day, C.screening.is_(None))
        .group_by(C.category, C.district, C.received_date)).all()
    for category, district, d, n in rows:
        places = (ALL, district) if per_district else (ALL,)
        for place in places:
            days = out.setdefault((category, place), {})
            days[d] = days.get(d, 0) + n
    return out


def detect(session: Session, day: date, rules: RulesEngine) -> list[SpikeWarning]:
    """Warn about every category (and district) whose count on ``day`` is a spike; returns the new warnings."""
    cfg = rules.rules.spike
    if cfg is None:
        return []
    first = day - timedelta(days=cfg.window_days)
    new: list[SpikeWarning] = []
    for (category, district), days in day_counts(session, day, first, cfg.per_district).items():
        count = days.get(day, 0)
        baseline = sum(n for d, n in days.items() if d < day) / cfg.window_days
        if count < cfg.min_count or count < cfg.factor * baseline:
            continue
        ongoing = session.exec(select(SpikeWarning).where(
            SpikeWarning.category == category, SpikeWarning.district == district,
            SpikeWarning.last_day >= day - timedelta(days=1))).first()
        if ongoing is not None:  # the same spike, another day: no new warning
            ongoing.last_day, ongoing.peak = max(ongoing.last_day, day), max(ongoing.peak, count)
            session.add(ongoing)
            continue
        new.append(_warn(session, rules, category, district, day, count, baseline))
    session.flush()
    return new


def _warn(session: Session, rules: RulesEngine, category: str, district: str, day: date, count: int,
          baseline: float) -> SpikeWarning:
    """Store the warning and queue its supervisor notice (on the spike's latest case)."""
    q = select(C.case_no).where(C.category == category, C.received_date == day,
                                   C.case_no.is_not(None))
    if district != ALL:
        q = q.where(C.district == district)
    case_no = session.exec(q.order_by(C.id.desc())).first()
    warning = SpikeWarning(category=category, district=district, first_day=day, last_day=day, count=count,
                           baseline=round(baseline, 2), peak=count, case_no=case_no, rules_version=rules.version)
    session.add(warning)
    if case_no:
        body = rules.render("spike", {
            "day": day.isoformat(), "category_name": rules.category_name(category),
            "district_name": place_name(rules, district),
            "count": count, "window_days": rules.rules.spike.window_days if rules.rules.spike else 0,
            "baseline": round(baseline, 1), "ratio": round(count / baseline, 1) if baseline else "∞"})
        session.add(Notice(case_no=case_no, key=f"spike-{category}-{district}-{day.isoformat()}"[:64],
                           template="spike", recipient="supervisor", channel="worklist", body=body))
    return warning
