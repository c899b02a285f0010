"""CaseCore: the one core class of CaseWorkflow. Its handler groups (case_clocks, case_dispatch, case_partners,
case_supervision, case_rules) each build on this class alone, never on each other; the steps they share live
here: the hash-chained timeline and its projection, notices, clocks firing, dispatch, a new round, partner
requests, closing."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from core.chain import event_hash
    from core.contracts import (
        ACT_CLOCK,
        ACT_DISPATCH,
        ACT_NOTIFY,
        ACT_PARTNER_CLOCK,
        ACT_PROJECT,
        Actor,
        CaseEvent,
        CaseSnapshot,
        CaseStatus,
        CaseView,
        ClockName,
        ClockPlan,
        ClockRequest,
        ClockState,
        CoHandlingInput,
        DispatchPlan,
        DispatchRequest,
        EventType,
        HandlingPlan,
        MergedIn,
        NoticeInput,
        NoticeTemplate,
        Outcome,
        PartnerClockRequest,
        PartnerStatus,
        PartnerTask,
        ProjectInput,
        Recipient,
        Role,
        Satisfaction,
        Urgency,
        workflow_id,
    )
    from workflows.alarm import Alarm
    from workflows.case_lock import FlushingLock
    from workflows.case_state import CaseState
    from workflows.clocks import due_alarms, overdue, start_clock
    from workflows.co_handling import CoHandlingWorkflow
    from workflows.fits import Action, conflict, forbidden, refusal
    from workflows.io_steps import run_step

E, T, R = EventType, NoticeTemplate, Recipient

# workflow.patched() id of the changes that make a case run as the regulation counts it (histories recorded before
# replay the old path):
# - every due-time computation flags the years it had no holiday data for (calendar_gap event + supervisor
#   notice, once per case and year); a re-dispatch starts the clocks the rules count from the lead's dispatch anew
#   (from_dispatch);
# - a review whose complainant denies any contact sends the case back and tells the supervisor.
PATCH_REGULATION = "regulation-2026-12"
# workflow.patched() id of the throughput changes: the plan comes with the workflow's input (intake computed it
# from the pinned rules), and what one workflow task records — events, the snapshot, the notices — is projected in
# one write when the case lock is released, instead of one local activity per event and per notice.
PATCH_BATCHED = "batched-2026-12"


class CaseCore:
    """State, locking, checks and the steps every group of handlers uses."""

    s: CaseState
    _lock: FlushingLock
    alarm: Alarm

    @workflow.query
    def view(self) -> CaseView:
        """The live state of the case."""
        s = self.s
        return CaseView(case_no=s.case.case_no, status=s.status, plan=s.plan, round=s.round, contacts=s.contacts,
                        last_seq=s.seq, head_hash=s.head, clocks=s.clocks, escalation_level=s.escalation,
                        paused=s.paused_since is not None, pending=s.pending, partners=list(s.partners.values()),
                        return_count=s.returns, forced=s.forced, calendar_gaps=s.gap_years)

    # ---- checks (validators) -----------------------------------------------------------------------------

    def _require(self, action: Action) -> None:
        """409 unless the action fits the case's status (workflows/fits.py)."""
        why = refusal(action, self.s.status)
        if why:
            raise conflict(why)

    def _require_lead(self, actor: Actor) -> None:
        if actor.role is not Role.HANDLER or self.s.lead is None or actor.department != self.s.lead:
            raise forbidden("only a handler of the lead department may do this")

    @staticmethod
    def _require_supervisor(actor: Actor) -> None:
        if actor.role is not Role.SUPERVISOR:
            raise forbidden("only a supervisor may decide this")

    # ---- timeline, projection, notices -------------------------------------------------------------------

    async def _record(self, type_: EventType, actor: Actor | None, data: dict[str, Any]) -> None:
        """Append one hash-chained event and project it with the case row (caller holds the lock)."""
        s = self.s
        s.seq += 1
        at = workflow.now()
        actor_json = actor.model_dump(mode="json", exclude={"signature"}) if actor else None
        digest = event_hash(s.head, case_no=s.case.case_no, seq=s.seq, type=type_.value, at=at, actor=actor_json,
                            data=data)
        event = CaseEvent(case_no=s.case.case_no, seq=s.seq, type=type_.value, at=at, actor=actor, data=data,
                          prev_hash=s.head, hash=digest)
        s.head = digest
        if workflow.patched(PATCH_BATCHED):
            s.unprojected.append(event)  # projected with the rest of the task when the lock is released
            return
        await run_step(ACT_PROJECT, ProjectInput(case_no=s.case.case_no, events=[event], snapshot=self._snapshot(),
                                                 task=s.task_base + workflow.info().get_current_history_length()),
                       None)

    async def _flush(self) -> None:
        """Project the events and notices recorded since the last write, in one activity (PATCH_BATCHED)."""
        s = self.s
        events, notices = list(s.unprojected), list(s.unqueued)
        if not events:
            return
        await run_step(ACT_PROJECT, ProjectInput(
            case_no=s.case.case_no, events=events, snapshot=self._snapshot(), notices=notices,
            task=s.task_base + workflow.info().get_current_history_length()), None)
        del s.unprojected[:len(events)]
        del s.unqueued[:len(notices)]
        s.projected_seq = events[-1].seq

    def _snapshot(self) -> CaseSnapshot:
        s = self.s
        review = s.review
        return CaseSnapshot(
            status=s.status, lead_department=s.lead, urgency=s.plan.urgency if s.plan else None, round=s.round,
            closed_at=s.closed_at, contacted=s.contacted_ever, review_contacted=review.contacted if review else None,
            resolution=review.resolution if review else None,
            satisfaction=review.satisfaction if review else (
                Satisfaction.NOT_RATED if s.outcome is Outcome.UNRATED else None),
            clocks=s.clocks, overdue=overdue(s.clocks), escalation_level=s.escalation,
            paused=s.paused_since is not None, partners=list(s.partners.values()),
            dispatch_count=s.dispatch_count, return_count=s.returns,
            outcome=s.outcome.value if s.outcome else None, merged_into=s.merged_into,
            rules_version=s.case.rules_version, priority=s.plan.priority if s.plan else 0,
            screening=s.plan.screening.code if s.plan and s.plan.screening else None,
            calendar_gaps=s.gap_years,
        )

    async def _queue_notice(self, template: str, recipient: Recipient, key: str, context: dict | None = None,
                            department: str | None = None, for_case: MergedIn | None = None) -> None:
        """Render a notice into the outbox and record it in the timeline (caller holds the lock).

        ``for_case``: the notice belongs to a case merged into this one (its complainant, its tracking code).
        """
        s = self.s
        notice = NoticeInput(case_no=for_case.case_no if for_case else s.case.case_no, template=template,
                             recipient=recipient.value, department=department or s.lead,  # type: ignore[arg-type]
                             key=key, rules_version=for_case.rules_version if for_case else s.case.rules_version,
                             context=context or {})
        if workflow.patched(PATCH_BATCHED):  # written with the task's events, after the case row
            s.unqueued.append(notice)
            await self._record(E.NOTICE_QUEUED, None, {
                "template": template, "recipient": recipient.value, "key": key,
                "department": notice.department if recipient in (R.DEPARTMENT, R.DEPARTMENT_HEAD) else None,
                **({"for_case": for_case.case_no} if for_case else {})})
            return
        notice_id = await run_step(ACT_NOTIFY, notice, int)
        await self._record(E.NOTICE_QUEUED, None, {
            "template": template, "recipient": recipient.value, "notice_id": notice_id,
            "department": notice.department if recipient in (R.DEPARTMENT, R.DEPARTMENT_HEAD) else None,
            **({"for_case": for_case.case_no} if for_case else {})})

    # ---- clocks ------------------------------------------------------------------------------------------

    def _stop_clock(self, name: str) -> None:
        clock = self.s.clocks.get(name)
        if clock and clock.stopped_at is None:
            clock.stopped_at = workflow.now()
            self.alarm.poke()

    async def _fire(self, clock: ClockState) -> None:
        """Send each due reminder once (催办); on breach mark overdue, escalate and notify the supervisor (督办)."""
        s = self.s
        reminders, breach = due_alarms(clock, workflow.now())
        for r in reminders:
            clock.fired.append(r.threshold)
            pct = round(r.threshold * 100)
            await self._record(E.REMINDER, None, {"clock": clock.name, "threshold": r.threshold,
                                                  "due": clock.due_at.isoformat(), "round": clock.round})
            await self._queue_notice(T.REMINDER, R.DEPARTMENT, f"reminder-{clock.name}-{clock.round}-{pct}",
                                     {"clock_label": clock.label, "percent": pct, "due": clock.due_at.isoformat()})
        if breach:
            clock.breached_at = workflow.now()
            s.escalation += 1
            await self._record(E.OVERDUE, None, {"clock": clock.name, "due": clock.due_at.isoformat(),
                                                 "round": clock.round, "escalation_level": s.escalation})
            await self._queue_notice(T.SUPERVISE, R.SUPERVISOR, f"overdue-{clock.name}-{clock.round}",
                                     {"clock_label": clock.label, "due": clock.due_at.isoformat(),
                                      "escalation_level": s.escalation})

    async def _note_gaps(self, years: list[int], clock: str | None) -> None:
        """日历缺口: a due time needed years without holiday data (it is provisional). Record them and tell the
        supervisor, once per case and year (caller holds the lock)."""
        s = self.s
        new = sorted(set(years) - set(s.gap_years))
        if not new or not workflow.patched(PATCH_REGULATION):
            return
        s.gap_years = sorted({*s.gap_years, *new})
        await self._record(E.CALENDAR_GAP, None, {"years": new, "clock": clock, "provisional": True})
        await self._queue_notice(T.CALENDAR_GAP, R.SUPERVISOR, f"calendar-gap-{'-'.join(map(str, new))}", {
            "years": "、".join(map(str, new)), "clock_label": ClockName(clock).label if clock else "办理"})

    # ---- shared steps --------------------------------------------------------------------------------------

    async def _dispatch(self, department: str, *, forced: bool, actor: Actor | None, event: EventType,
                        note: str) -> None:
        """Dispatch to a department: new sign-for clock and return window (caller holds the lock)."""
        s = self.s
        assert s.plan is not None
        plan = await run_step(ACT_DISPATCH, DispatchRequest(  # an unknown department: 409
            rules_version=s.case.rules_version, department=department, at=workflow.now(), urgency=s.plan.urgency,
            restart=workflow.patched(PATCH_REGULATION)), DispatchPlan)
        s.lead, s.status, s.forced, s.return_due = department, CaseStatus.DISPATCHED, forced, plan.return_due
        s.dispatch_count += 1
        s.tried.append(department)
        s.contacts = 0
        s.clocks[ClockName.SIGN_FOR] = start_clock(plan.sign_for, s.round)
        for name, restarted in plan.restarted.items():  # from_dispatch: the new lead gets the full limit
            s.clocks[name] = start_clock(restarted, s.round)
            s.clocks[name].paused_since = s.paused_since
        self.alarm.poke()
        await self._record(event, actor, {
            "department": department, "department_name": plan.department_name, "forced": forced, "note": note,
            "due_sign_for": plan.sign_for.due_at.isoformat(), "return_due": plan.return_due.isoformat(),
            "dispatch_no": s.dispatch_count,
            **({"restarted": {k: c.due_at.isoformat() for k, c in plan.restarted.items()}} if plan.restarted else {})})
        await self._note_gaps(plan.calendar_gaps, ClockName.SIGN_FOR)
        await self._queue_notice(T.DISPATCH, R.DEPARTMENT, f"dispatch-{s.dispatch_count}", {
            "due_sign_for": plan.sign_for.due_at.isoformat(), "return_due": plan.return_due.isoformat()})
        if workflow.patched(PATCH_REGULATION):  # 统一话术: the complainant is told who handles it now
            await self._queue_notice(T.DISPATCH_CORRECTED, R.COMPLAINANT, f"corrected-{s.dispatch_count}")

    async def _dispatch_new(self, plan: HandlingPlan) -> None:
        """First dispatch: clocks, timeline, notices (caller holds the lock)."""
        s, case = self.s, self.s.case
        s.plan, s.status, s.lead, s.return_due = plan, CaseStatus.DISPATCHED, plan.lead_department, plan.return_due
        s.tried.append(plan.lead_department)
        s.clocks.update({name: start_clock(c, 1) for name, c in plan.clocks.items() if name != ClockName.SCREENING})
        await self._record(E.DISPATCHED, None, {
            "department": plan.lead_department, "department_name": plan.lead_department_name,
            "urgency": plan.urgency.value, "candidates": plan.candidates,
            "due": {k: c.due_at.isoformat() for k, c in plan.clocks.items() if k != ClockName.SCREENING},
        })
        if plan.calendar_gaps and workflow.patched(PATCH_REGULATION):
            await self._note_gaps(plan.calendar_gaps, None)
        elif plan.calendar_gaps:  # released before PATCH_REGULATION: only ever replayed
            s.gap_years = sorted(plan.calendar_gaps)
            await self._record(E.CALENDAR_GAP, None, {"years": plan.calendar_gaps, "fallback": "Mon-Fri"})
            await self._queue_notice(T.CALENDAR_GAP, R.SUPERVISOR, "calendar-gap",
                                     {"years": ", ".join(map(str, plan.calendar_gaps))})
        s.dispatch_projected = True
        await self._queue_notice(T.ACCEPTANCE, R.COMPLAINANT, "acceptance")
        await self._queue_notice(T.DISPATCH, R.DEPARTMENT, "dispatch-1", {
            "due_sign_for": plan.clocks[ClockName.SIGN_FOR].due_at.isoformat(), "return_due": plan.return_due})
        if case.repeat_flag:
            await self._record(E.REPEAT_FLAGGED, None, {"repeat_of": case.repeat_of,
                                                        "repeat_count": case.repeat_count})
            await self._queue_notice(T.REPEAT, R.SUPERVISOR, "repeat", {
                "repeat_of": case.repeat_of, "repeat_count": case.repeat_count})

    async def _progress_notice(self) -> None:
        """阶段性进展告知: tell the complainant the case is still being handled, start the next interval (caller holds
        the lock)."""
        s = self.s
        assert s.plan is not None
        s.progress_sent += 1
        resolution = s.clocks.get(ClockName.RESOLUTION)
        await self._record(E.PROGRESS_NOTIFIED, None, {"progress_no": s.progress_sent, "round": s.round})
        await self._queue_notice(T.PROGRESS, R.COMPLAINANT, f"progress-{s.progress_sent}", {
            "progress_no": s.progress_sent, "due_resolution": resolution.due_at.isoformat() if resolution else ""})
        await self._restart_progress()

    async def _restart_progress(self) -> None:
        """The progress clock from now (the rules' interval), if the case has one (caller holds the lock)."""
        s = self.s
        if ClockName.PROGRESS not in s.clocks or s.plan is None:
            return
        plan = await run_step(ACT_CLOCK, ClockRequest(
            rules_version=s.case.rules_version, name=ClockName.PROGRESS, urgency=s.plan.urgency,
            started_at=workflow.now()), ClockPlan)
        s.clocks[ClockName.PROGRESS] = start_clock(plan, s.round)
        self.alarm.poke()

    async def _start_round(self, note: str) -> None:
        """重办: a new round for the lead department with a fresh resolution clock (caller holds the lock)."""
        s = self.s
        assert s.plan is not None
        s.round += 1
        s.contacts = 0
        plan = await run_step(ACT_CLOCK, ClockRequest(
            rules_version=s.case.rules_version, name=ClockName.RESOLUTION, urgency=s.plan.urgency,
            started_at=workflow.now()), ClockPlan)
        s.clocks[ClockName.RESOLUTION] = start_clock(plan, s.round)
        s.status = CaseStatus.HANDLING
        self.alarm.poke()
        await self._record(E.REHANDLE_STARTED, None, {"round": s.round, "due_resolution": plan.due_at.isoformat()})
        await self._note_gaps(plan.calendar_gaps, ClockName.RESOLUTION)
        await self._restart_progress()
        await self._queue_notice(T.REHANDLE, R.DEPARTMENT, f"rehandle-{s.round}", {"review_note": note})

    async def _close(self, outcome: Outcome, actor: Actor | None, data: dict[str, Any]) -> None:
        """Close the case: cancel open partner requests, stop the clocks, record why (caller holds the lock)."""
        s = self.s
        await self._cancel_partners(f"case closed ({outcome.value})")
        for name in list(s.clocks):
            self._stop_clock(name)
        s.status, s.closed_at, s.outcome = CaseStatus.CLOSED, workflow.now(), outcome
        await self._record(E.CLOSED, actor, {"outcome": outcome.value, "round": s.round, **data})

    # ---- partner requests (协办) ---------------------------------------------------------------------------

    def _open_partners(self) -> list[PartnerTask]:
        return [t for t in self.s.partners.values() if t.status is PartnerStatus.OPEN and t.round == self.s.round]

    async def _open_partner(self, department: str, question: str, actor: Actor | None) -> None:
        """Start one partner request: its clock (activity), its child workflow, the timeline and the notice."""
        s = self.s
        plan = await run_step(ACT_PARTNER_CLOCK, PartnerClockRequest(
            rules_version=s.case.rules_version, started_at=workflow.now(),
            urgency=s.plan.urgency if s.plan else Urgency.NORMAL), ClockPlan)
        task = PartnerTask(department=department, round=s.round, question=question, requested_at=workflow.now(),
                           due_at=plan.due_at)
        s.partners[task.key] = task
        s.children[task.key] = await workflow.start_child_workflow(
            CoHandlingWorkflow.run,
            CoHandlingInput(case_no=s.case.case_no, department=department, round=s.round,
                            rules_version=s.case.rules_version, clock=start_clock(plan, s.round)),
            id=f"{workflow_id(s.case.case_no)}-partner-{department}-r{s.round}",
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
        )
        await self._record(E.PARTNER_REQUESTED, actor, {"department": department, "question": question,
                                                        "due": plan.due_at.isoformat(), "round": s.round})
        await self._note_gaps(plan.calendar_gaps, ClockName.PARTNER_REPLY)
        await self._queue_notice(T.PARTNER_REQUEST, R.DEPARTMENT, f"partner-{task.key}", {
            "partner": department, "question": question, "partner_due": plan.due_at.isoformat()},
            department=department)

    async def _cancel_partners(self, reason: str) -> None:
        """Closing or terminating the case cancels every open partner request (caller holds the lock)."""
        for task in [t for t in self.s.partners.values() if t.status is PartnerStatus.OPEN]:
            task.status, task.note = PartnerStatus.CANCELLED, reason
            await self._finish_child(task, "cancelled")
            await self._record(E.PARTNER_CANCELLED, None, {"department": task.department, "round": task.round,
                                                           "reason": reason})

    async def _finish_child(self, task: PartnerTask, outcome: str) -> None:
        child = self.s.children.get(task.key)
        if child is not None:
            await child.signal(CoHandlingWorkflow.finish, outcome)
