"""CaseBase: the state of CaseWorkflow and what every step records through — the checks its validators make,
the hash-chained timeline and its projection, notices, clocks firing and calendar gaps. The steps built on
these (dispatch, a new round, partner requests, closing) are CaseCore's (case_steps)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.chain import event_hash
    from core.contracts import (
        ACT_NOTIFY,
        ACT_PROJECT,
        Actor,
        CaseEvent,
        CaseSnapshot,
        CaseView,
        ClockName,
        ClockState,
        EventType,
        MergedIn,
        NoticeInput,
        NoticeTemplate,
        Outcome,
        ProjectInput,
        Recipient,
        Role,
        Satisfaction,
    )
    from workflows.alarm import Alarm
    from workflows.case_lock import FlushingLock
    from workflows.case_state import CaseState
    from workflows.clocks import due_alarms, overdue
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


class CaseBase:
    """State, locking, checks, the timeline and notices."""

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
