"""考核 formulas: counts of one department and period → the measures the hotline is judged by. Pure, no IO.

Definitions (README "Reports"): the cohort is the cases *received* in the period (by local day) and dispatched to
a department; a valid review (有效回访) is a review the complainant answered (satisfaction not 未评价).
响应率 counts the complainant's answer to 是否联系, over the valid reviews that asked it (a review without the
question is left out).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

from rules.schema import KpiRules


@dataclass
class Counts:
    """What one group (department × period) adds up to; every measure is a ratio of these."""

    cases: int = 0  # received and dispatched
    closed: int = 0
    valid_reviews: int = 0
    contact_asked: int = 0  # among valid reviews: the complainant was asked 是否联系 and answered
    contacted: int = 0  # among those: the complainant says they were contacted (their word, not the handler's)
    resolved: int = 0  # among valid reviews: 解决
    satisfied: int = 0  # among valid reviews: 满意
    basically_satisfied: int = 0  # among valid reviews: 基本满意
    good: int = 0  # among valid reviews: 解决 and (基本)满意
    bad: int = 0  # among valid reviews: not 解决 and 不满意
    late_sign_for: int = 0  # among closed cases, each clock ever past its due time
    late_first_contact: int = 0
    late_resolution: int = 0
    replied: int = 0
    handling_days: float = 0.0  # sum over replied cases
    first_time: int = 0  # closed resolved in round 1 (among valid reviews)
    rework: int = 0  # replied cases that needed another round
    first_dispatch_ok: int = 0  # never returned (also not into arbitration), never re-dispatched
    repeat: int = 0  # 重复投诉 flagged
    dispatch_hours: float = 0.0  # 派单时长: hours from receipt to the latest dispatch, summed
    partner_tasks: int = 0  # as the partner (协办) department
    partner_replied: int = 0
    partner_hours: float = 0.0  # office hours from request to reply, summed
    partner_late: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*[a + b for a, b in zip(_values(self), _values(other), strict=True)])


_values = attrgetter(*(f.name for f in fields(Counts)))  # every field, in order (a report adds thousands)


def ratio(part: float, whole: float) -> float | None:
    """part ÷ whole rounded to 4 places; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


def measures(c: Counts, kpi: KpiRules) -> dict[str, Any]:
    """Every measure of one group (rates are fractions 0–1; None where the denominator is 0)."""
    v = c.valid_reviews
    response, resolution = ratio(c.contacted, c.contact_asked), ratio(c.resolved, v)
    satisfaction = ratio(c.satisfied + kpi.basically_satisfied * c.basically_satisfied, v)
    w = kpi.weights
    rates = {"response": response, "resolution": resolution, "satisfaction": satisfaction}
    known = {k: r for k, r in rates.items() if r is not None}  # 响应率 unknown when no review asked 是否联系:
    weight = sum(w[k] for k in known)  # the composite weighs the rates it has (weights re-normalised)
    composite = None if v == 0 or not weight else round(sum(w[k] * r for k, r in known.items()) / weight, 4)
    points = kpi.unit_score
    one_bad = v - c.good - c.bad
    unit = points.get("resolved_and_satisfied", 1) * c.good + points.get("unresolved_and_dissatisfied", -1) * c.bad \
        + points.get("one_of_two", -0.5) * one_bad
    return {
        "response_rate": response, "resolution_rate": resolution, "satisfaction_rate": satisfaction,
        "composite": composite,
        "on_time_rate": {name: None if not c.closed else round(1 - getattr(c, f"late_{name}") / c.closed, 4)
                         for name in ("sign_for", "first_contact", "resolution")},
        "avg_handling_days": None if not c.replied else round(c.handling_days / c.replied, 3),
        "first_time_resolution_rate": ratio(c.first_time, v), "rework_rate": ratio(c.rework, c.replied),
        "first_dispatch_accuracy": ratio(c.first_dispatch_ok, c.cases), "repeat_rate": ratio(c.repeat, c.cases),
        "avg_dispatch_delay_hours": None if not c.cases else round(c.dispatch_hours / c.cases, 3),
        "partner_avg_reply_hours": None if not c.partner_replied else round(c.partner_hours / c.partner_replied, 3),
        "partner_on_time_rate": None if not c.partner_tasks else round(1 - c.partner_late / c.partner_tasks, 4),
        "unit_score": round(unit, 2), "unit_score_per_review": None if not v else round(unit / v, 4),
    }
