"""CaseWorkflow: one complaint from intake to archive (受理—派单—签收—办理—答复—回访—办结—归档).

Clocks (签收, 首次联系, 办理) run inside the workflow: reminders (催办) at the rules' thresholds, breach → overdue,
督办 notice and a higher escalation level. Extension (延期) and pause (挂起) wait for a supervisor's decision.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.chain import GENESIS, event_hash
    from core.contracts import (
        ACT_ARCHIVE,
        ACT_CLOCK,
        ACT_EXTEND,
        ACT_NOTIFY,
        ACT_PLAN,
        ACT_PROJECT,
        ACT_SHIFT,
        ERR_FORBIDDEN,
        ERR_STATE,
        Actor,
        ArchiveInput,
        ArchiveResult,
        CaseEvent,
        CaseInput,
        CaseSnapshot,
        CaseStatus,
        CaseView,
        ClockPlan,
        ClockRequest,
        ClockState,
        ContactInput,
        DecisionInput,
        ExtendRequest,
        ExtensionInput,
        HandlingPlan,
        NoticeInput,
        PauseInput,
        ProjectInput,
        ReplyInput,
        Resolution,
        ResumeInput,
        ReviewInput,
        Role,
        Satisfaction,
        ShiftRequest,
        SignForInput,
    )
    from workflows.clocks import due_alarms, next_alarm, overdue, start_clock

# IO activities retry until the database is back: an accepted case must never be lost.
IO_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
IO_TIMEOUT = timedelta(seconds=30)


def needs_rehandling(review: ReviewInput) -> bool:
    """Unresolved or dissatisfied → another handling round (重办)."""
    return review.resolution is Resolution.UNRESOLVED or review.satisfaction is Satisfaction.DISSATISFIED


def conflict(message: str) -> ApplicationError:
    """A refusal the API answers with 409."""
    return ApplicationError(message, type=ERR_STATE, non_retryable=True)


def forbidden(message: str) -> ApplicationError:
    """A refusal the API answers with 403."""
    return ApplicationError(message, type=ERR_FORBIDDEN, non_retryable=True)


class CaseState:
    """Everything the workflow knows about its case."""

    def __init__(self, case: CaseInput) -> None:
        self.case = case
        self.status = CaseStatus.RECEIVED
        self.plan: HandlingPlan | None = None
        self.round = 1
        self.contacts = 0
        self.contacted_ever = False
        self.seq = 0
        self.head = GENESIS
        self.review: ReviewInput | None = None
        self.closed_at: Any = None
        self.clocks: dict[str, ClockState] = {}
        self.escalation = 0
        self.extension: tuple[ExtensionInput, ClockState] | None = None
        self.pause: PauseInput | None = None
        self.paused_since: Any = None


@workflow.defn
class CaseWorkflow:
    """One complaint. Department, review and supervisor actions are Updates so a misfit gets a clear refusal."""

    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        # State exists before the first handler runs: Updates may arrive in the very first workflow task.
        self.s = CaseState(case)
        self._lock = asyncio.Lock()
        self._wake = False
        self._dispatch_projected = False

    @workflow.run
    async def run(self, case: CaseInput) -> CaseView:
        """Plan, dispatch, run the clocks until the case closes, archive."""
        s = self.s
        plan = await self._activity(ACT_PLAN, case, HandlingPlan)
        async with self._lock:
            await self._record("accepted", None, {
                "kind": case.kind.value, "channel": case.channel.value, "category": case.category,
                "district": case.district, "street": case.street, "rules_version": case.rules_version,
            })
            s.plan, s.status = plan, CaseStatus.DISPATCHED
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
        await self._run_clocks()
        await self._archive()
        return self.view()

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
                    await self._fire(clock)

    async def _fire(self, clock: ClockState) -> None:
        """Send each due reminder once (催办); on breach mark overdue, escalate and notify the supervisor (督办)."""
        s = self.s
        reminders, breach = due_alarms(clock, workflow.now())
        for r in reminders:
            clock.fired.append(r.threshold)
            pct = round(r.threshold * 100)
            await self._record("reminder", None, {"clock": clock.name, "threshold": r.threshold,
                                                  "due": clock.due_at.isoformat(), "round": clock.round})
            await self._queue_notice("reminder", "department", f"reminder-{clock.name}-{clock.round}-{pct}",
                                     {"clock_label": clock.label, "percent": pct, "due": clock.due_at.isoformat()})
        if breach:
            clock.breached_at = workflow.now()
            s.escalation += 1
            await self._record("overdue", None, {"clock": clock.name, "due": clock.due_at.isoformat(),
                                                 "round": clock.round, "escalation_level": s.escalation})
            await self._queue_notice("supervise", "supervisor", f"overdue-{clock.name}-{clock.round}",
                                     {"clock_label": clock.label, "due": clock.due_at.isoformat(),
                                      "escalation_level": s.escalation})

    def _stop_clock(self, name: str) -> None:
        clock = self.s.clocks.get(name)
        if clock and clock.stopped_at is None:
            clock.stopped_at = workflow.now()
            self._wake = True

    # ---- queries and updates -------------------------------------------------------------------------

    @workflow.query
    def view(self) -> CaseView:
        """The live state of the case."""
        s = self.s
        pending = "extension" if s.extension else "pause" if s.pause else None
        return CaseView(case_no=s.case.case_no, status=s.status, plan=s.plan, round=s.round, contacts=s.contacts,
                        last_seq=s.seq, head_hash=s.head, clocks=s.clocks, escalation_level=s.escalation,
                        paused=s.paused_since is not None, pending=pending)

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
            await self._record("replied", inp.actor, {"content": inp.content, "round": s.round})
            await self._queue_notice("result", "complainant", f"result-{s.round}", {"reply": inp.content})
        return self.view()

    @submit_reply.validator
    def _check_reply(self, inp: ReplyInput) -> None:
        self._require(CaseStatus.HANDLING, "submit a reply")
        self._require_lead(inp.actor)
        if self.s.contacts < 1:
            raise conflict("at least one contact with the complainant must be recorded in this round before replying")
        if self.s.paused_since is not None or self.s.pause is not None:
            raise conflict("the case is paused or a pause is pending: resume it before replying")

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
            if needs_rehandling(inp):
                await self._start_round(inp.note)
            else:
                s.status, s.closed_at = CaseStatus.CLOSED, workflow.now()
                await self._record("closed", None, {
                    "resolution": inp.resolution.value, "satisfaction": inp.satisfaction.value, "round": s.round,
                })
        return self.view()

    @record_review.validator
    def _check_review(self, inp: ReviewInput) -> None:
        self._require(CaseStatus.REPLIED, "record a review")
        if inp.actor.role not in (Role.INTAKE, Role.SUPERVISOR):
            raise forbidden("only the intake system records reviews")

    # ---- extension (延期) and pause (挂起) ---------------------------------------------------------------

    @workflow.update
    async def request_extension(self, inp: ExtensionInput) -> CaseView:
        """延期申请: the lead asks for N more working days on the resolution clock, with a reason."""
        async with self._lock:
            self._check_request_extension(inp)
            s = self.s
            try:
                proposed = await self._activity(ACT_EXTEND, ExtendRequest(
                    rules_version=s.case.rules_version, clock=s.clocks["resolution"], working_days=inp.working_days),
                    ClockState)
            except ActivityError as exc:
                raise conflict(getattr(exc.cause, "message", "") or "extension refused") from exc
            s.extension = (inp, proposed)
            await self._record("extension_requested", inp.actor, {
                "working_days": inp.working_days, "reason": inp.reason, "proposed_due": proposed.due_at.isoformat()})
            await self._queue_notice("extension_request", "supervisor", f"extension-{s.seq}",
                                     {"reason": inp.reason, "proposed_due": proposed.due_at.isoformat()})
        return self.view()

    @request_extension.validator
    def _check_request_extension(self, inp: ExtensionInput) -> None:
        self._require(CaseStatus.HANDLING, "request an extension")
        self._require_lead(inp.actor)
        clock = self.s.clocks.get("resolution")
        if self.s.extension is not None:
            raise conflict("an extension request is already waiting for a decision")
        if clock is None or clock.breached_at is not None:
            raise conflict("the resolution deadline has passed: an extension must be requested before it")

    @workflow.update
    async def decide_extension(self, inp: DecisionInput) -> CaseView:
        """The supervisor approves (the due time moves, pending reminders follow) or rejects an extension."""
        async with self._lock:
            self._check_decide_extension(inp)
            s = self.s
            assert s.extension is not None
            request, proposed = s.extension
            s.extension = None
            if inp.approve:
                old = s.clocks["resolution"]
                s.clocks["resolution"] = proposed.model_copy(update={"fired": old.fired, "round": old.round})
                self._wake = True
            await self._record("extension_approved" if inp.approve else "extension_rejected", inp.actor, {
                "note": inp.note, "working_days": request.working_days,
                "due": s.clocks["resolution"].due_at.isoformat()})
        return self.view()

    @decide_extension.validator
    def _check_decide_extension(self, inp: DecisionInput) -> None:
        self._require_supervisor(inp.actor)
        if self.s.extension is None:
            raise conflict("no extension request is waiting for a decision")

    @workflow.update
    async def request_pause(self, inp: PauseInput) -> CaseView:
        """挂起申请: the lead asks to stop the clocks while waiting on the complainant or a third party."""
        async with self._lock:
            self._check_request_pause(inp)
            self.s.pause = inp
            await self._record("pause_requested", inp.actor, {"reason": inp.reason})
            await self._queue_notice("pause_request", "supervisor", f"pause-{self.s.seq}", {"reason": inp.reason})
        return self.view()

    @request_pause.validator
    def _check_request_pause(self, inp: PauseInput) -> None:
        self._require(CaseStatus.HANDLING, "request a pause")
        self._require_lead(inp.actor)
        if self.s.pause is not None or self.s.paused_since is not None:
            raise conflict("the case is already paused or a pause is waiting for a decision")

    @workflow.update
    async def decide_pause(self, inp: DecisionInput) -> CaseView:
        """The supervisor approves (clocks stop now) or rejects a pause."""
        async with self._lock:
            self._check_decide_pause(inp)
            s = self.s
            request, s.pause = s.pause, None
            if inp.approve:
                s.paused_since = workflow.now()
                for clock in s.clocks.values():
                    if clock.stopped_at is None:
                        clock.paused_since = s.paused_since
                self._wake = True
            await self._record("paused" if inp.approve else "pause_rejected", inp.actor, {
                "note": inp.note, "reason": request.reason if request else ""})
        return self.view()

    @decide_pause.validator
    def _check_decide_pause(self, inp: DecisionInput) -> None:
        self._require_supervisor(inp.actor)
        if self.s.pause is None:
            raise conflict("no pause request is waiting for a decision")

    @workflow.update
    async def resume(self, inp: ResumeInput) -> CaseView:
        """End a pause: each paused clock's due time moves by the paused (working) time."""
        async with self._lock:
            self._check_resume(inp)
            s = self.s
            now, since = workflow.now(), s.paused_since
            moved = {}
            for name, clock in list(s.clocks.items()):
                if clock.paused_since is None:
                    continue
                shifted = await self._activity(ACT_SHIFT, ShiftRequest(
                    rules_version=s.case.rules_version, clock=clock, paused_from=clock.paused_since,
                    paused_to=now), ClockState)
                s.clocks[name] = shifted.model_copy(update={"paused_since": None})
                moved[name] = shifted.due_at.isoformat()
            s.paused_since = None
            self._wake = True
            await self._record("resumed", inp.actor, {"note": inp.note, "paused_from": since.isoformat(),
                                                      "due": moved})
        return self.view()

    @resume.validator
    def _check_resume(self, inp: ResumeInput) -> None:
        if self.s.paused_since is None:
            raise conflict("the case is not paused")
        if inp.actor.role is not Role.SUPERVISOR:
            self._require_lead(inp.actor)

    # ---- internals -----------------------------------------------------------------------------------

    def _require(self, status: CaseStatus, action: str) -> None:
        current = self.s.status
        if current is CaseStatus.RECEIVED:
            raise conflict(f"cannot {action}: the case is still being planned, retry in a moment")
        if current is not status:
            raise conflict(f"cannot {action}: the case is {current.value} ({current.label}), "
                           f"this needs {status.value} ({status.label})")

    def _require_lead(self, actor: Actor) -> None:
        plan = self.s.plan
        if plan is None or actor.role is not Role.HANDLER or actor.department != plan.lead_department:
            raise forbidden("only a handler of the lead department may do this")

    @staticmethod
    def _require_supervisor(actor: Actor) -> None:
        if actor.role is not Role.SUPERVISOR:
            raise forbidden("only a supervisor may decide this")

    async def _start_round(self, note: str) -> None:
        """重办: a new round for the lead department with a fresh resolution clock (caller holds the lock)."""
        s = self.s
        assert s.plan is not None
        s.round += 1
        s.contacts = 0
        plan = await self._activity(ACT_CLOCK, ClockRequest(
            rules_version=s.case.rules_version, name="resolution", urgency=s.plan.urgency,
            started_at=workflow.now()), ClockPlan)
        s.clocks["resolution"] = start_clock(plan, s.round)
        s.status = CaseStatus.HANDLING
        self._wake = True
        await self._record("rehandle_started", None, {"round": s.round, "due_resolution": plan.due_at.isoformat()})
        await self._queue_notice("rehandle", "department", f"rehandle-{s.round}", {"review_note": note})

    async def _record(self, type_: str, actor: Actor | None, data: dict[str, Any]) -> None:
        """Append one hash-chained event and project it with the case row (caller holds the lock)."""
        s = self.s
        s.seq += 1
        at = workflow.now()
        actor_json = actor.model_dump(mode="json") if actor else None
        digest = event_hash(s.head, case_no=s.case.case_no, seq=s.seq, type=type_, at=at, actor=actor_json,
                            data=data)
        event = CaseEvent(case_no=s.case.case_no, seq=s.seq, type=type_, at=at, actor=actor, data=data,
                          prev_hash=s.head, hash=digest)
        s.head = digest
        await self._activity(ACT_PROJECT, ProjectInput(case_no=s.case.case_no, events=[event],
                                                       snapshot=self._snapshot()), None)

    def _snapshot(self) -> CaseSnapshot:
        s = self.s
        review = s.review
        return CaseSnapshot(
            status=s.status, lead_department=s.plan.lead_department if s.plan else None,
            urgency=s.plan.urgency if s.plan else None, round=s.round,
            due={k: c.due_at for k, c in s.clocks.items()}, closed_at=s.closed_at, contacted=s.contacted_ever,
            resolution=review.resolution if review else None,
            satisfaction=review.satisfaction if review else None,
            clocks=s.clocks, overdue=overdue(s.clocks), escalation_level=s.escalation,
            paused=s.paused_since is not None,
        )

    async def _queue_notice(self, template: str, recipient: str, key: str, context: dict | None = None) -> None:
        """Render a notice into the outbox and record it in the timeline (caller holds the lock)."""
        s = self.s
        notice = NoticeInput(case_no=s.case.case_no, template=template, recipient=recipient,  # type: ignore[arg-type]
                             department=s.plan.lead_department if s.plan else None, key=key,
                             rules_version=s.case.rules_version, context=context or {})
        notice_id = await self._activity(ACT_NOTIFY, notice, int)
        await self._record("notice_queued", None, {"template": template, "recipient": recipient,
                                                   "notice_id": notice_id})

    async def _archive(self) -> None:
        s = self.s
        async with self._lock:
            result = await self._activity(
                ACT_ARCHIVE, ArchiveInput(case_no=s.case.case_no, last_seq=s.seq, head_hash=s.head), ArchiveResult)
            s.status = CaseStatus.ARCHIVED
            await self._record("archived", None, {"bundle_sha256": result.bundle_sha256, "events": result.events,
                                                  "head_hash": result.head_hash})

    async def _activity(self, name: str, arg: Any, result_type: type | None) -> Any:
        return await workflow.execute_activity(name, arg, result_type=result_type,
                                               start_to_close_timeout=IO_TIMEOUT, retry_policy=IO_RETRY)
