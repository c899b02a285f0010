"""CaseWorkflow: one complaint from intake to archive (受理—派单—签收—办理—答复—回访—办结—归档).

Clocks (签收, 首次联系, 办理) run inside the workflow: reminders (催办) at the rules' thresholds, breach → overdue,
督办 notice and a higher escalation level. The handler groups — extension and pause (case_clocks), co-handling
(case_partners), dispatch disputes (case_dispatch), supervision (case_supervision), screening and rules migration
(case_rules) — each build on CaseCore (case_steps, over CaseBase in case_base) alone; the state is one CaseState
(case_state); which action fits which status is one table (fits).
"""

from __future__ import annotations

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
        ClockName,
        ClockPlan,
        ClockRequest,
        ClockState,
        ContactInput,
        EventType,
        HandlingPlan,
        HandlingStartedInput,
        NoticeTemplate,
        Outcome,
        Recipient,
        ReplyInput,
        ReviewInput,
        Role,
        Satisfaction,
        SignForInput,
    )
    from workflows.alarm import Alarm
    from workflows.case_base import PATCH_BATCHED, PATCH_REGULATION
    from workflows.case_clocks import ClockActions
    from workflows.case_dispatch import DispatchActions
    from workflows.case_lock import FlushingLock
    from workflows.case_partners import PartnerActions
    from workflows.case_rules import PATCH_SCREENING, RulesActions
    from workflows.case_state import CaseState, needs_rehandling
    from workflows.case_supervision import SupervisionActions
    from workflows.clocks import next_alarm, start_clock
    from workflows.fits import Action, conflict, forbidden
    from workflows.io_steps import run_step

E, T, R = EventType, NoticeTemplate, Recipient


@workflow.defn
class CaseWorkflow(ClockActions, DispatchActions, PartnerActions, SupervisionActions, RulesActions):
    """One complaint. Department, review and supervisor actions are Updates so a misfit gets a clear refusal."""

    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        # State exists before the first handler runs: Updates may arrive in the very first workflow task.
        self.s = CaseState(case)
        self._lock = FlushingLock(self._flush, reserved=self.s.status is CaseStatus.DISPATCHED)
        self.alarm = Alarm()

    @workflow.run
    async def run(self, case: CaseInput) -> CaseView:
        """Plan, dispatch, run the clocks until the case closes, archive."""
        s = self.s
        if case.plan is not None and workflow.patched(PATCH_BATCHED):
            plan = case.plan  # planned at intake from the pinned rules
        else:
            plan = await run_step(ACT_PLAN, case, HandlingPlan)
        if case.appeal is not None:  # 申诉: a closed case re-opened for 上级复核 (a run of its own)
            async with self._lock:
                await self._reopen_for_appeal(plan, case.appeal)
            await self._run_clocks()
            await self._archive()
            return self.view()
        async with self._lock.opening():  # an Update that came with the start waits until the case is open
            await self._record(E.ACCEPTED, None, {
                "kind": case.kind.value, "channel": case.channel.value, "category": case.category,
                "district": case.district, "street": case.street, "rules_version": case.rules_version,
                "repeat_of": case.repeat_of, "repeat_count": case.repeat_count,
            })
            proposed = False
            if plan.screening is not None and workflow.patched(PATCH_SCREENING):
                if workflow.patched(PATCH_REGULATION):  # a proposal: it waits, is routed away or dispatched
                    await self._propose_screening(plan)
                    proposed = True
                else:  # released before: routed away at once (only ever replayed)
                    await self._screen(plan)  # 即时转 / 法定途径 / 不予受理
            elif case.merge_into:  # rules: repeat.auto_merge — the duplicate joins its open parent at once
                s.plan, s.status = plan, CaseStatus.DISPATCHED
                s.dispatch_projected = True
                try:
                    await self._merge_into(case.merge_into, None)
                except ApplicationError:
                    await self._record(E.MERGE_SKIPPED, None, {"parent": case.merge_into, "why": "parent not open"})
            if not proposed and s.status is not CaseStatus.CLOSED:
                await self._dispatch_new(plan)
        await self._run_clocks()
        await self._archive()
        return self.view()

    async def _run_clocks(self) -> None:
        """Sleep until the next reminder or breach (or a change), fire what is due; until the case closes."""
        s = self.s
        while s.status is not CaseStatus.CLOSED:
            await self.alarm.sleep_until(next_alarm(s.clocks), lambda: s.status is CaseStatus.CLOSED)
            async with self._lock:
                for clock in list(s.clocks.values()):
                    if clock.name == ClockName.REVIEW:
                        if clock.running and clock.due_at <= workflow.now() and s.status is CaseStatus.REPLIED:
                            await self._close_unrated(clock)
                    elif clock.name == ClockName.PROGRESS:
                        if clock.running and clock.due_at <= workflow.now():
                            await self._progress_notice()
                    else:
                        await self._fire(clock)

    # ---- queries and updates -------------------------------------------------------------------------

    @workflow.update
    async def await_plan(self) -> CaseView:
        """Wait until the case is planned and its dispatch is in the projection (intake answers with the plan)."""
        await workflow.wait_condition(lambda: self.s.dispatch_projected and not self.s.unprojected)
        return self.view()

    @workflow.update
    async def sign_for(self, inp: SignForInput) -> CaseView:
        """签收: the lead department takes the case; from now on it owns it (首接负责)."""
        async with self._lock:
            self._check_sign_for(inp)
            self.s.status = CaseStatus.HANDLING
            self._stop_clock(ClockName.SIGN_FOR)
            await self._record(E.SIGNED_FOR, inp.actor, {"department": inp.actor.department, "note": inp.note})
            assert self.s.plan is not None
            for department in self.s.plan.partners:  # 一单双派: the rules' default partners of the category
                if department != self.s.lead:
                    await self._open_partner(department, self.s.plan.partner_question, None)
        return self.view()

    @sign_for.validator
    def _check_sign_for(self, inp: SignForInput) -> None:
        self._require(Action.SIGN_FOR)
        self._require_lead(inp.actor)

    @workflow.update
    async def record_contact(self, inp: ContactInput) -> CaseView:
        """Record a contact with the complainant (联系诉求人)."""
        async with self._lock:
            self._check_contact(inp)
            s = self.s
            s.contacts += 1
            s.contacted_ever = True
            self._stop_clock(ClockName.FIRST_CONTACT)
            at = inp.contacted_at or workflow.now()
            await self._record(E.CONTACTED, inp.actor, {
                "method": inp.method, "summary": inp.summary, "contacted_at": at.isoformat(), "round": s.round,
                **({"call_id": inp.call_id} if inp.call_id else {}),
            })
        return self.view()

    @record_contact.validator
    def _check_contact(self, inp: ContactInput) -> None:
        self._require(Action.CONTACT)
        self._require_lead(inp.actor)

    @workflow.update
    async def record_handling_started(self, inp: HandlingStartedInput) -> CaseView:
        """处置启动: the lead records that handling started on site (stops the 紧急 response clock)."""
        async with self._lock:
            self._check_handling_started(inp)
            s = self.s
            clock = s.clocks.get(ClockName.RESPONSE)
            on_time = None if clock is None else clock.breached_at is None
            self._stop_clock(ClockName.RESPONSE)
            at = inp.started_at or workflow.now()
            await self._record(E.HANDLING_STARTED, inp.actor, {
                "note": inp.note, "started_at": at.isoformat(), "round": s.round, "on_time": on_time})
        return self.view()

    @record_handling_started.validator
    def _check_handling_started(self, inp: HandlingStartedInput) -> None:
        self._require(Action.HANDLING_STARTED)
        self._require_lead(inp.actor)

    @workflow.update
    async def submit_reply(self, inp: ReplyInput) -> CaseView:
        """办结答复: the lead department's reply; needs at least one contact in this round."""
        async with self._lock:
            self._check_reply(inp)
            s = self.s
            s.status = CaseStatus.REPLIED
            self._stop_clock(ClockName.RESOLUTION)
            self._stop_clock(ClockName.RESPONSE)  # a reply ends handling: nothing is left to start
            self._stop_clock(ClockName.PROGRESS)  # the result notice follows instead
            assert s.plan is not None
            review = await run_step(ACT_CLOCK, ClockRequest(
                rules_version=s.case.rules_version, name=ClockName.REVIEW, urgency=s.plan.urgency,
                started_at=workflow.now()), ClockPlan)
            s.clocks[ClockName.REVIEW] = start_clock(review, s.round)
            self.alarm.poke()
            await self._record(E.REPLIED, inp.actor, {"content": inp.content, "round": s.round,
                                                      "review_due": review.due_at.isoformat()})
            await self._note_gaps(review.calendar_gaps, ClockName.REVIEW)
            await self._queue_notice(T.RESULT, R.COMPLAINANT, f"result-{s.round}", {"reply": inp.content})
            s.last_reply = inp.content
            for merged in s.merged:  # 并单: the duplicates' complainants get this result too
                await self._queue_notice(T.RESULT, R.COMPLAINANT, f"result-of-{s.case.case_no}-{s.round}",
                                         {"reply": inp.content}, for_case=merged)
        return self.view()

    @submit_reply.validator
    def _check_reply(self, inp: ReplyInput) -> None:
        self._require(Action.REPLY)
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
            await self._record(E.REVIEWED, inp.actor, {
                "resolution": inp.resolution.value, "satisfaction": inp.satisfaction.value, "note": inp.note,
                "round": s.round, **({} if inp.contacted is None else {"contacted": inp.contacted}),
            })
            self._stop_clock(ClockName.REVIEW)
            assert s.plan is not None
            denied = inp.contacted is False and workflow.patched(PATCH_REGULATION)
            if denied:  # the handler recorded a contact the complainant denies: the supervisor hears of it
                await self._queue_notice(T.CONTACT_DENIED, R.SUPERVISOR, f"contact-denied-{s.round}",
                                         {"rounds": s.round, "review_note": inp.note})
            if not needs_rehandling(inp, count_contact=denied):
                await self._close(Outcome.RESOLVED, None, {
                    "resolution": inp.resolution.value, "satisfaction": inp.satisfaction.value})
            elif s.round < s.plan.max_rounds:
                await self._start_round(inp.note)
            else:  # 上级复核: rounds exhausted — the supervisor orders another round, closes or terminates
                s.status = CaseStatus.SUPERVISOR_REVIEW
                await self._record(E.SUPERVISOR_REVIEW_REQUESTED, None, {"rounds": s.round,
                                                                         "max_rounds": s.plan.max_rounds})
                await self._queue_notice(T.SUPERVISOR_REVIEW, R.SUPERVISOR, f"supervisor-review-{s.round}",
                                         {"rounds": s.round})
        return self.view()

    async def _close_unrated(self, clock: ClockState) -> None:
        """No review answer within the window: recorded as 未评价, the case closes (caller holds the lock)."""
        s = self.s
        self._stop_clock(clock.name)
        await self._record(E.REVIEW_TIMEOUT, None, {"satisfaction": Satisfaction.NOT_RATED.value,
                                                    "review_due": clock.due_at.isoformat(), "round": s.round})
        await self._close(Outcome.UNRATED, None, {"satisfaction": Satisfaction.NOT_RATED.value})

    @record_review.validator
    def _check_review(self, inp: ReviewInput) -> None:
        self._require(Action.REVIEW)
        if inp.actor.role not in (Role.INTAKE, Role.SUPERVISOR):
            raise forbidden("only the intake system records reviews")

    # ---- internals -------------------------------------------------------------------------------------

    async def _archive(self) -> None:
        """一事一档 once every Update and Signal handler has finished (none is cut off by the workflow's end)."""
        s = self.s
        await workflow.wait_condition(workflow.all_handlers_finished)
        async with self._lock:
            result = await run_step(
                ACT_ARCHIVE, ArchiveInput(case_no=s.case.case_no, last_seq=s.seq, head_hash=s.head), ArchiveResult)
            s.status = CaseStatus.ARCHIVED
            await self._record(E.ARCHIVED, None, {"bundle_sha256": result.bundle_sha256, "events": result.events,
                                                  "head_hash": result.head_hash})

