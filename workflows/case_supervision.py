"""Supervision (督办): escalate, close with a finding, terminate (终结), merge (并单), order another round after
上级复核 — each a supervisor Update with a validator, each in the timeline with who did it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        Actor,
        AppealStart,
        CaseStatus,
        CaseView,
        CloseInput,
        EscalateInput,
        EventType,
        HandlingPlan,
        MergedIn,
        MergeInput,
        NoticeTemplate,
        Outcome,
        Recipient,
        RehandleOrder,
        ReviewInput,
        TerminateInput,
        workflow_id,
    )
    from workflows.case_base import PATCH_REGULATION
    from workflows.case_steps import CaseCore
    from workflows.fits import Action, conflict

E, T, R = EventType, NoticeTemplate, Recipient
APPEAL_TASK_BASE = 100_000_000  # far above any run's history length (Temporal caps a history at 51,200 events)




class SupervisionActions(CaseCore):
    """Supervisor Updates: escalate, close, terminate, merge, order another round."""

    @workflow.update
    async def escalate(self, inp: EscalateInput) -> CaseView:
        """督办升级: raise the escalation level with a reason; the lead department's head is notified."""
        async with self._lock:
            self._check_escalate(inp)
            self.s.escalation += 1
            await self._record(E.ESCALATED, inp.actor, {"reason": inp.reason, "escalation_level": self.s.escalation})
            await self._queue_notice(T.ESCALATE, R.DEPARTMENT_HEAD, f"escalate-{self.s.escalation}",
                                     {"reason": inp.reason, "escalation_level": self.s.escalation})
        return self.view()

    @escalate.validator
    def _check_escalate(self, inp: EscalateInput) -> None:
        self._require_supervisor(inp.actor)
        self._require(Action.ESCALATE)
        if self.s.lead is None:
            raise conflict("the case has no lead department to escalate to (it is in arbitration)")

    @workflow.update
    async def close_case(self, inp: CloseInput) -> CaseView:
        """Close the case with a supervisor's finding (复核结论)."""
        async with self._lock:
            self._check_close(inp)
            await self._close(Outcome.FINDING, inp.actor, {"finding": inp.finding})
        return self.view()

    @close_case.validator
    def _check_close(self, inp: CloseInput) -> None:
        self._require_supervisor(inp.actor)
        self._require(Action.CLOSE)

    @workflow.update
    async def terminate(self, inp: TerminateInput) -> CaseView:
        """终结: end an unreasonable, repeated, unreachable or legal-channel claim with a reason."""
        async with self._lock:
            self._check_terminate(inp)
            await self._close(Outcome.TERMINATED, inp.actor, {"reason_code": inp.reason_code, "text": inp.text})
        return self.view()

    @terminate.validator
    def _check_terminate(self, inp: TerminateInput) -> None:
        self._require_supervisor(inp.actor)
        self._require(Action.TERMINATE)

    @workflow.update
    async def order_rehandle(self, inp: RehandleOrder) -> CaseView:
        """上级复核: the supervisor sends the case back to the lead for another round."""
        async with self._lock:
            self._check_order_rehandle(inp)
            await self._record(E.REHANDLE_ORDERED, inp.actor, {"note": inp.note, "round": self.s.round})
            await self._start_round(inp.note)
        return self.view()

    @order_rehandle.validator
    def _check_order_rehandle(self, inp: RehandleOrder) -> None:
        self._require_supervisor(inp.actor)
        self._require(Action.REHANDLE)
        if self.s.lead is None:
            raise conflict("the case has no lead department (it was routed away): close it with a finding")

    @workflow.update
    async def merge(self, inp: MergeInput) -> CaseView:
        """并单: this duplicate joins an open parent; its complainant will get the parent's result."""
        async with self._lock:
            self._check_merge(inp)
            await self._merge_into(inp.parent_case_no, inp.actor)
        return self.view()

    @merge.validator
    def _check_merge(self, inp: MergeInput) -> None:
        if inp.actor is not None:
            self._require_supervisor(inp.actor)
        self._require(Action.MERGE)
        if inp.parent_case_no == self.s.case.case_no:
            raise conflict("a case cannot be merged into itself")

    async def _merge_into(self, parent: str, actor: Actor | None) -> None:
        """Tell the parent, then close as merged (caller holds the lock)."""
        s = self.s
        try:
            await workflow.get_external_workflow_handle(workflow_id(parent)).signal(
                "merge_in", MergedIn(case_no=s.case.case_no, rules_version=s.case.rules_version))
        except Exception as exc:  # the parent is unknown or already finished
            raise conflict(f"case {parent} is not open: it cannot take a merged case") from exc
        s.merged_into = parent
        await self._close(Outcome.MERGED, actor, {"parent": parent})
        await self._queue_notice(T.MERGED, R.COMPLAINANT, "merged", {"parent_case_no": parent})

    async def _reopen_for_appeal(self, plan: HandlingPlan, appeal: AppealStart) -> None:
        """申诉/纠错: this run continues the closed case — same timeline, same hash chain — in 上级复核, where
        the supervisor orders another round, closes with a finding or terminates (caller holds the lock)."""
        s = self.s
        s.seq, s.head, s.lead, s.round = appeal.last_seq, appeal.head_hash, appeal.lead, appeal.round
        s.plan, s.status, s.dispatch_count = plan, CaseStatus.SUPERVISOR_REVIEW, 1
        s.task_base = appeal.appeal_no * APPEAL_TASK_BASE
        if appeal.resolution and appeal.satisfaction:  # the last review stands until the next one
            s.review = ReviewInput(actor=appeal.actor, resolution=appeal.resolution,
                                   satisfaction=appeal.satisfaction, contacted=appeal.review_contacted)
        await self._record(E.APPEALED, appeal.actor, {
            "appeal_no": appeal.appeal_no, "reason": appeal.reason, "outcome_before": appeal.outcome,
            "window_due": appeal.window_due.isoformat(), "round": s.round})
        await self._queue_notice(T.APPEAL, R.SUPERVISOR, f"appeal-{appeal.appeal_no}",
                                 {"reason": appeal.reason, "appeal_no": appeal.appeal_no})
        s.dispatch_projected = True

    @workflow.signal
    async def merge_in(self, merged: MergedIn) -> None:
        """A duplicate joined this case: its complainant gets this case's result notice too."""
        async with self._lock:
            s = self.s
            s.merged.append(merged)
            await self._record(E.MERGED_IN, None, {"case_no": merged.case_no})
            replied = s.last_reply is not None and s.status in (CaseStatus.REPLIED, CaseStatus.CLOSED)
            if replied and workflow.patched(PATCH_REGULATION):  # the parent's result stands: send it at once
                await self._queue_notice(T.RESULT, R.COMPLAINANT, f"result-of-{s.case.case_no}-{s.round}",
                                         {"reply": s.last_reply}, for_case=merged)
