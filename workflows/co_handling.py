"""CoHandlingWorkflow: one partner department's request in one handling round (协办), with its own clock.

The case workflow owns the partner task (and its timeline); this child holds the reply clock: reminders to the
partner at the rules' thresholds and, on breach, a signal to the case, which escalates to the lead and the
supervisor. A late reply is still accepted. The case signals ``finish`` when the task is replied, waived or
cancelled.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import ACT_NOTIFY, CoHandlingInput, NoticeInput, PartnerAlarm
    from workflows.clocks import due_alarms
    from workflows.io_steps import IO_RETRY, IO_TIMEOUT



@workflow.defn
class CoHandlingWorkflow:
    """The partner's reply clock; ends when the case says the task is finished."""

    @workflow.init
    def __init__(self, inp: CoHandlingInput) -> None:
        self.clock = inp.clock
        self.outcome: str | None = None

    @workflow.run
    async def run(self, inp: CoHandlingInput) -> str:
        """Remind, report the breach, wait for the outcome."""
        parent = workflow.info().parent
        assert parent is not None, "CoHandlingWorkflow runs as a child of a case"
        case = workflow.get_external_workflow_handle(parent.workflow_id)
        while self.outcome is None:
            wake_at = self.clock.next_alarm()
            timeout = max((wake_at - workflow.now()).total_seconds(), 0) if wake_at else None
            try:
                await workflow.wait_condition(lambda: self.outcome is not None, timeout=timeout)
            except TimeoutError:
                pass
            if self.outcome is None:
                await self._fire(inp, case)
        return self.outcome

    async def _fire(self, inp: CoHandlingInput, case: workflow.ExternalWorkflowHandle) -> None:
        reminders, breach = due_alarms(self.clock, workflow.now())
        for r in reminders:
            self.clock.fired.append(r.threshold)
            pct = round(r.threshold * 100)
            await workflow.execute_activity(ACT_NOTIFY, NoticeInput(
                case_no=inp.case_no, template="reminder", recipient="department", department=inp.department,
                key=f"partner-reminder-{inp.department}-r{inp.round}-{pct}", rules_version=inp.rules_version,
                context={"clock_label": self.clock.label, "percent": pct, "due": self.clock.due_at.isoformat()},
            ), result_type=int, start_to_close_timeout=IO_TIMEOUT, retry_policy=IO_RETRY)
            await case.signal("partner_alarm", PartnerAlarm(department=inp.department, round=inp.round,
                                                            kind="reminder", threshold=r.threshold))
        if breach:
            self.clock.breached_at = workflow.now()
            await case.signal("partner_alarm", PartnerAlarm(department=inp.department, round=inp.round,
                                                            kind="overdue"))

    @workflow.signal
    def finish(self, outcome: str) -> None:
        """The case closed this task: replied, waived or cancelled."""
        self.outcome = outcome
