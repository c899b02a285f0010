"""Planning activities: evaluate the case's pinned rules version."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.contracts import (
    ACT_CLOCK,
    ACT_DISPATCH,
    ACT_EXTEND,
    ACT_PARTNER_CLOCK,
    ACT_PLAN,
    ACT_REBASE,
    ACT_SHIFT,
    CaseInput,
    ClockPlan,
    ClockRequest,
    ClockState,
    DispatchPlan,
    DispatchRequest,
    ExtendRequest,
    HandlingPlan,
    PartnerClockRequest,
    RebaseRequest,
    RebaseResult,
    ShiftRequest,
)
from core.models import Case
from rules.engine import RulesEngine
from rules.errors import ExtensionNotAllowed, ExtensionTooLong, UnknownReference
from rules.migration import rebase
from services.rules_store import RulesNotFound, load_engine


class PlanningActivities:
    """Rules → plan. Deadlines are computed here, never in workflow code, so replays never diverge."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @activity.defn(name=ACT_PLAN)
    def plan_case(self, case: CaseInput) -> HandlingPlan:
        """Lead department, urgency, priority, screening and every clock's due time for a new case.

        The complaint's text and special groups are read here from the case row: they never enter the workflow.
        """
        rules = self._rules(case.rules_version)
        with Session(self.engine) as session:
            row = session.exec(select(Case.description, Case.special_groups)
                               .where(Case.case_no == case.case_no)).first()
        text, groups = (row[0], list(row[1] or [])) if row else ("", [])
        try:
            return rules.plan(case, text, groups)
        except UnknownReference as exc:
            raise ApplicationError(str(exc), type="UnknownReference", non_retryable=True) from exc

    @activity.defn(name=ACT_CLOCK)
    def start_clock(self, req: ClockRequest) -> ClockPlan:
        """A clock started later in the case (a re-handling round's resolution clock)."""
        rules = self._rules(req.rules_version)
        limit = rules.limit(req.name, req.urgency) if req.name in ("resolution", "review", "progress") else None
        if limit is None:
            raise ApplicationError(f"unknown clock {req.name!r}", non_retryable=True)
        plan = rules.clock(req.name, req.started_at, limit)[0]
        if req.name in ("review", "progress"):
            plan.reminders = []  # the review window only ends (未评价), a progress clock only notifies
        return plan

    @activity.defn(name=ACT_DISPATCH)
    def plan_dispatch(self, req: DispatchRequest) -> DispatchPlan:
        """A re-dispatch (after a return, arbitration or reassignment): new sign-for clock and return window."""
        try:
            return self._rules(req.rules_version).dispatch_to(req.department, req.at, req.urgency, req.restart)
        except UnknownReference as exc:
            raise ApplicationError(str(exc), type="UnknownReference", non_retryable=True) from exc

    @activity.defn(name=ACT_PARTNER_CLOCK)
    def start_partner_clock(self, req: PartnerClockRequest) -> ClockPlan:
        """The partner's reply clock (协办答复, 1 working day by default) with its reminders."""
        rules = self._rules(req.rules_version)
        limit = rules.limit("partner_reply", req.urgency)
        if limit is None:
            raise ApplicationError(f"rules {req.rules_version} set no partner reply limit for {req.urgency.value}",
                                   non_retryable=True)
        return rules.clock("partner_reply", req.started_at, limit)[0]

    @activity.defn(name=ACT_EXTEND)
    def extend_clock(self, req: ExtendRequest) -> ClockState:
        """延期: the resolution clock with its due time N working days later (refused past the maximum, and for an
        urgency the rules allow no extension for)."""
        rules = self._rules(req.rules_version)
        try:
            return rules.extend(req.clock, req.working_days, req.urgency)
        except (ExtensionTooLong, ExtensionNotAllowed) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc

    @activity.defn(name=ACT_SHIFT)
    def shift_clock(self, req: ShiftRequest) -> ClockState:
        """挂起 ended: the clock moved by the paused (working) time."""
        rules = self._rules(req.rules_version)
        return rules.shift(req.clock, req.paused_from, req.paused_to)[0]

    @activity.defn(name=ACT_REBASE)
    def rebase_case(self, req: RebaseRequest) -> RebaseResult:
        """规则迁移: the case re-planned under another rules version (department and deadlines)."""
        return rebase(self._rules(req.to_version), req)

    def _rules(self, version: str) -> RulesEngine:
        try:
            with Session(self.engine) as session:
                return load_engine(session, version)
        except RulesNotFound as exc:
            raise ApplicationError(str(exc), type="RulesNotFound", non_retryable=True) from exc
