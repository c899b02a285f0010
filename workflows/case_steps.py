"""CaseCore: the one core class of CaseWorkflow's handler groups (case_clocks, case_dispatch, case_partners,
case_supervision, case_rules), which each build on it alone, never on each other. It holds the steps they share:
dispatch, progress notices, a new round, closing, partner requests; what the steps record goes through CaseBase
(case_base)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        ACT_CLOCK,
        ACT_DISPATCH,
        ACT_PARTNER_CLOCK,
        Actor,
        CaseStatus,
        ClockName,
        ClockPlan,
        ClockRequest,
        CoHandlingInput,
        DispatchPlan,
        DispatchRequest,
        EventType,
        HandlingPlan,
        NoticeTemplate,
        Outcome,
        PartnerClockRequest,
        PartnerStatus,
        PartnerTask,
        Recipient,
        Urgency,
        workflow_id,
    )
    from workflows.case_base import PATCH_REGULATION, CaseBase
    from workflows.clocks import start_clock
    from workflows.co_handling import CoHandlingWorkflow
    from workflows.io_steps import run_step

E, T, R = EventType, NoticeTemplate, Recipient


class CaseCore(CaseBase):
    """The steps every group of handlers uses (each: caller holds the lock)."""

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
