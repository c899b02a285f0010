"""Re-planning an open case under another rules version (规则迁移). Pure: the API's dry run and the workflow's
migration activity call the same function, so what the dry run shows is what the migration does.

What changes:
- a case nobody has signed for yet, still with its first dispatch, goes to the new route's lead department
  (after sign-for the department owns the case to the end: 首接负责);
- every running clock gets the new version's limit, counted from the clock's own start, with the extensions
  already granted and the time spent paused; unfired reminders are re-placed, fired ones never repeat;
- a provisional due time (computed with the fallback calendar for a year without holiday data) is re-computed
  with the new version's calendar: a case whose provisional years the new version covers is listed (``settled``)
  even when no due time moves, so publishing the year's notice shows every provisional case in the dry run.
"""

from __future__ import annotations

from datetime import datetime

from core.contracts import (
    OPEN_STATUSES,
    WORKING_DAY_UNIT,
    CaseStatus,
    ClockChange,
    ClockState,
    RebaseRequest,
    RebaseResult,
    Reminder,
)
from rules.engine import RulesEngine
from rules.errors import UnknownReference
from rules.schema import Limit


def rebase(rules: RulesEngine, req: RebaseRequest) -> RebaseResult:
    """What moving the case to ``rules`` would change (nothing is applied here)."""
    case = req.case
    result = RebaseResult(case_no=case.case_no, from_version=case.rules_version, to_version=rules.version)
    if case.rules_version == rules.version:
        return result.model_copy(update={"skipped": f"already on rules {rules.version}"})
    if req.status not in OPEN_STATUSES:
        return result.model_copy(update={"skipped": f"the case is {req.status.value}, not open"})
    try:
        rules.check_place(case.category, case.district, case.street)
    except UnknownReference as exc:
        return result.model_copy(update={"skipped": f"rules {rules.version}: {exc}"})
    route = rules.route(case.category, case.district, case.street)
    if req.status is CaseStatus.DISPATCHED and req.dispatch_count == 1 and route and route.lead != req.lead:
        result.old_department = req.lead
        result.dispatch = rules.dispatch_to(route.lead, req.at, req.urgency)
    for name, clock in req.clocks.items():
        if clock.stopped_at is not None or (name == "sign_for" and result.dispatch):
            continue
        limit = rules.limit(name, req.urgency)
        if limit is None:
            continue
        moved = recompute(rules, clock, limit, req.at)
        due_moved = abs((moved.due_at - clock.due_at).total_seconds()) >= 1
        if due_moved:
            result.clock_changes.append(ClockChange(name=name, round=clock.round, old_due=clock.due_at,
                                                    new_due=moved.due_at))
        if due_moved or moved.calendar_gaps != clock.calendar_gaps:
            result.clocks[name] = moved
    before = {y for c in req.clocks.values() if c.stopped_at is None for y in c.calendar_gaps}
    after = {y for name, c in req.clocks.items() if c.stopped_at is None
             for y in (result.clocks[name] if name in result.clocks else c).calendar_gaps}
    if result.dispatch:
        after |= set(result.dispatch.calendar_gaps)
    result.settled, result.calendar_gaps = sorted(before - after), sorted(after)
    return result


def recompute(rules: RulesEngine, clock: ClockState, limit: Limit, now: datetime) -> ClockState:
    """The clock under a new limit: same start, granted extensions and paused time kept, reminders re-placed."""
    due = rules.deadline(clock.started_at, limit)
    label = limit.label()
    if clock.extended_days:
        due = rules.calendar.extend_due(due, clock.extended_days)[0].astimezone(due.tzinfo)
        label += f"，延期 {clock.extended_days} {WORKING_DAY_UNIT}"
    reminders = [] if clock.name == "review" else rules.reminders(clock.started_at, due, limit.working)
    if clock.paused_seconds:  # time spent paused moves the due time and the reminders (as on resume)
        paused = clock.paused_seconds
        due = rules.moved(due, paused, limit.working, deadline=limit.working_days is not None)
        reminders = [Reminder(threshold=r.threshold, at=rules.moved(r.at, paused, limit.working)) for r in reminders]
    reminders = [r for r in reminders if r.threshold not in clock.fired]
    reminders += [r for r in clock.reminders if r.threshold in clock.fired]
    breached = clock.breached_at if due <= now else None
    gaps = rules.calendar.gap_years(clock.started_at, due) if limit.working else set()
    return clock.model_copy(update={"due_at": due, "limit": label, "working": limit.working,
                                    "reminders": sorted(reminders, key=lambda r: r.threshold),
                                    "breached_at": breached, "calendar_gaps": sorted(gaps)})
