"""CaseWorkflow: one complaint from intake to archive (受理—派单—签收—办理—答复—回访—办结—归档).

Clocks (签收, 首次联系, 办理) run inside the workflow: reminders (催办) at the rules' thresholds, breach → overdue,
督办 notice and a higher escalation level. Extension and pause (case_clocks), co-handling (case_partners), dispatch
disputes (case_dispatch), screening and rules migration (case_rules) are mixins; shared state is in case_base.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        ACT_ARCHIVE,
        ACT_CLOCK,
        ACT_PLAN,
        ArchiveInput,
        ArchiveResult,
        CaseInput,
        CaseStatus,
        CaseView,
        ClockPlan,
        ClockRequest,
        ClockState,
        ContactInput,
        HandlingPlan,
        Outcome,
        ReplyInput,
        ReviewInput,
        Role,
        Satisfaction,
        SignForInput,
    )
    from workflows.case_base import CaseState, conflict, forbidden, needs_rehandling
    from workflows.case_clocks import ClockActions
    from workflows.case_dispatch import DispatchActions
    from workflows.case_rules import PATCH_SCREENING, RulesActions
    from workflows.clocks import next_alarm, start_clock


@workflow.defn
class CaseWorkflow(RulesActions, DispatchActions, ClockActions):
    """One complaint. Department, review and supervisor actions are Updates so a misfit gets a clear refusal."""

    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        # State exists before the first handler runs: Updates may arrive in the very first workflow task.
        self.s = CaseState(case)
        self._lock = asyncio.Lock()
        self._wake = False
        self._dispatch_projected = False
        self._children = {}
        self._merged = []

    @workflow.run
    async def run(self, case: CaseInput) -> CaseView:
        """Plan, dispatch, run the clocks until the case closes, archive."""
        s = self.s
        plan = await self._activity(ACT_PLAN, case, HandlingPlan)
        async with self._lock:
            await self._record("accepted", None, {
                "kind": case.kind.value, "channel": case.channel.value, "category": case.category,
                "district": case.district, "street": case.street, "rules_version": case.rules_version,
                "repeat_of": case.repeat_of, "repeat_count": case.repeat_count,
            })
            if plan.screening is not None and workflow.patched(PATCH_SCREENING):
                await self._screen(plan)  # 即时转 / 法定途径 / 不予受理: routed away, not handled
            elif case.merge_into:  # rules: repeat.auto_merge — the duplicate joins its open parent at once
                s.plan, s.status = plan, CaseStatus.DISPATCHED
                self._dispatch_projected = True
                try:
                    await self._merge_into(case.merge_into, None)
                except ApplicationError:
                    await self._record("merge_skipped", None, {"parent": case.merge_into, "why": "parent not open"})
            if s.status is not CaseStatus.CLOSED:
                await self._dispatch_new(plan)
        await self._run_clocks()
        await self._archive()
        return self.view()

    async def _dispatch_new(self, plan: HandlingPlan) -> None:
        """First dispatch: clocks, timeline, notices (caller holds the lock)."""
        s, case = self.s, self.s.case
        s.plan, s.status, s.lead, s.return_due = plan, CaseStatus.DISPATCHED, plan.lead_department, plan.return_due
        s.tried.append(plan.lead_department)
        s.clocks = {name: start_clock(c, 1) for name, c in plan.clocks.items()}
        await self._record("dispatched", None, {
            "department": plan.lead_department, "department_name": plan.lead_department_name,
            "urgency": plan.urgency.value, "candidates": plan.candidates,
            "due": {k: c.due_at.isoformat() for k, c in plan.clocks.items()},
        })
        if plan.calendar_gaps:
            await self._record("calendar_gap", None, {"years": plan.calendar_gaps, "fallback": "Mon-Fri"})
            await self._queue_notice("calendar_gap", "supervisor", "calendar-gap",
                                     {"years": ", ".join(map(str, plan.calendar_gaps))})
        self._dispatch_projected = True
        await self._queue_notice("acceptance", "complainant", "acceptance")
        await self._queue_notice("dispatch", "department", "dispatch-1", {
            "due_sign_for": plan.clocks["sign_for"].due_at.isoformat(), "return_due": plan.return_due})
        if case.repeat_flag:
            await self._record("repeat_flagged", None, {"repeat_of": case.repeat_of,
                                                        "repeat_count": case.repeat_count})
            await self._queue_notice("repeat", "supervisor", "repeat", {
                "repeat_of": case.repeat_of, "repeat_count": case.repeat_count})

    async def _run_clocks(self) -> None:
        """Sleep until the next reminder or breach (or a change), fire what is due; until the case closes."""
        s = self.s
        while s.status is not CaseStatus.CLOSED:
            wake_at = next_alarm(s.clocks)
            timeout = max((wake_at - workflow.now()).total_seconds(), 0) if wake_at else None
            self._wake = False
            try:
                await workflow.wait_condition(lambda: self._wake or s.status is CaseStatus.CLOSED, timeout=timeout)
            except TimeoutError:
                pass
            async with self._lock:
                for clock in list(s.clocks.values()):
                    if clock.name == "review":
                        if clock.running and clock.due_at <= workflow.now() and s.status is CaseStatus.REPLIED:
                            await self._close_unrated(clock)
                    else:
                        await self._fire(clock)

    # ---- queries and updates -------------------------------------------------------------------------

    @workflow.update
    async def await_plan(self) -> CaseView:
        """Wait until the case is planned and its dispatch is in the projection (intake answers with the plan)."""
        await workflow.wait_condition(lambda: self._dispatch_projected)
        return self.view()

    @workflow.update
    async def sign_for(self, inp: SignForInput) -> CaseView:
        """签收: the lead department takes the case; from now on it owns it (首接负责)."""
        async with self._lock:
            self._check_sign_for(inp)
            self.s.status = CaseStatus.HANDLING
            self._stop_clock("sign_for")
            await self._record("signed_for", inp.actor, {"department": inp.actor.department, "note": inp.note})
            assert self.s.plan is not None
            for department in self.s.plan.partners:  # 一单双派: the rules' default partners of the category
                if department != self.s.lead:
                    await self._open_partner(department, self.s.plan.partner_question, None)
        return self.view()

    @sign_for.validator
    def _check_sign_for(self, inp: SignForInput) -> None:
        self._require(CaseStatus.DISPATCHED, "sign for")
        self._require_lead(inp.actor)

    @workflow.update
    async def record_contact(self, inp: ContactInput) -> CaseView:
        """Record a contact with the complainant (联系诉求人)."""
        async with self._lock:
            self._check_contact(inp)
            s = self.s
            s.contacts += 1
            s.contacted_ever = True
            self._stop_clock("first_contact")
            at = inp.contacted_at or workflow.now()
            await self._record("contacted", inp.actor, {
                "method": inp.method, "summary": inp.summary, "contacted_at": at.isoformat(), "round": s.round,
            })
        return self.view()

    @record_contact.validator
    def _check_contact(self, inp: ContactInput) -> None:
        self._require(CaseStatus.HANDLING, "record a contact")
        self._require_lead(inp.actor)

    @workflow.update
    async def submit_reply(self, inp: ReplyInput) -> CaseView:
        """办结答复: the lead department's reply; needs at least one contact in this round."""
        async with self._lock:
            self._check_reply(inp)
            s = self.s
            s.status = CaseStatus.REPLIED
            self._stop_clock("resolution")
            assert s.plan is not None
            review = await self._activity(ACT_CLOCK, ClockRequest(
                rules_version=s.case.rules_version, name="review", urgency=s.plan.urgency,
                started_at=workflow.now()), ClockPlan)
            s.clocks["review"] = start_clock(review, s.round)
            self._wake = True
            await self._record("replied", inp.actor, {"content": inp.content, "round": s.round,
                                                      "review_due": review.due_at.isoformat()})
            await self._queue_notice("result", "complainant", f"result-{s.round}", {"reply": inp.content})
            for merged in self._merged:  # 并单: the duplicates' complainants get this result too
                await self._queue_notice("result", "complainant", f"result-of-{s.case.case_no}-{s.round}",
                                         {"reply": inp.content}, for_case=merged)
        return self.view()

    @submit_reply.validator
    def _check_reply(self, inp: ReplyInput) -> None:
        self._require(CaseStatus.HANDLING, "submit a reply")
        self._require_lead(inp.actor)
        if self.s.contacts < 1:
            raise conflict("at least one contact with the complainant must be recorded in this round before replying")
        if self.s.paused_since is not None or self.s.pause is not None:
            raise conflict("the case is paused or a pause is pending: resume it before replying")
        waiting = [t.department for t in self._open_partners()]
        if waiting:
            raise conflict(f"waiting for partner replies from {', '.join(waiting)}: they must answer or a "
                           "supervisor must waive them before the reply")

    @workflow.update
    async def record_review(self, inp: ReviewInput) -> CaseView:
        """回访: resolved and not dissatisfied closes the case; otherwise it goes back for another round."""
        async with self._lock:
            self._check_review(inp)
            s = self.s
            s.review = inp
            await self._record("reviewed", inp.actor, {
                "resolution": inp.resolution.value, "satisfaction": inp.satisfaction.value, "note": inp.note,
                "round": s.round,
            })
            self._stop_clock("review")
            assert s.plan is not None
            if not needs_rehandling(inp):
                await self._close(Outcome.RESOLVED, None, {
                    "resolution": inp.resolution.value, "satisfaction": inp.satisfaction.value})
            elif s.round < s.plan.max_rounds:
                await self._start_round(inp.note)
            else:  # 上级复核: rounds exhausted — the supervisor orders another round, closes or terminates
                s.status = CaseStatus.SUPERVISOR_REVIEW
                await self._record("supervisor_review_requested", None, {"rounds": s.round,
                                                                         "max_rounds": s.plan.max_rounds})
                await self._queue_notice("supervisor_review", "supervisor", f"supervisor-review-{s.round}",
                                         {"rounds": s.round})
        return self.view()

    async def _close_unrated(self, clock: ClockState) -> None:
        """No review answer within the window: recorded as 未评价, the case closes (caller holds the lock)."""
        s = self.s
        self._stop_clock(clock.name)
        await self._record("review_timeout", None, {"satisfaction": Satisfaction.NOT_RATED.value,
                                                    "review_due": clock.due_at.isoformat(), "round": s.round})
        await self._close(Outcome.UNRATED, None, {"satisfaction": Satisfaction.NOT_RATED.value})

    @record_review.validator
    def _check_review(self, inp: ReviewInput) -> None:
        self._require(CaseStatus.REPLIED, "record a review")
        if inp.actor.role not in (Role.INTAKE, Role.SUPERVISOR):
            raise forbidden("only the intake system records reviews")

    # ---- internals -------------------------------------------------------------------------------------

    async def _archive(self) -> None:
        s = self.s
        async with self._lock:
            result = await self._activity(
                ACT_ARCHIVE, ArchiveInput(case_no=s.case.case_no, last_seq=s.seq, head_hash=s.head), ArchiveResult)
            s.status = CaseStatus.ARCHIVED
            await self._record("archived", None, {"bundle_sha256": result.bundle_sha256, "events": result.events,
                                                  "head_hash": result.head_hash})

