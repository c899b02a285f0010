"""Dispatch disputes: return (退单) within the window, re-dispatch to the next candidate, supervisor arbitration
(派单异议审核) and reassignment (改派). Every dispatch is in the timeline and counted."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        ACT_DISPATCH,
        Actor,
        AssignInput,
        CaseStatus,
        CaseView,
        DispatchPlan,
        DispatchRequest,
        ReturnInput,
    )
    from workflows.case_base import CaseCore, conflict
    from workflows.clocks import start_clock


class DispatchActions(CaseCore):
    """Who owns the case: returns before sign-for, arbitration, reassignment."""

    @workflow.update
    async def return_case(self, inp: ReturnInput) -> CaseView:
        """退单: the dispatched department hands the case back with a reason, within the return window."""
        async with self._lock:
            self._check_return(inp)
            s = self.s
            assert s.plan is not None
            s.returns += 1
            self._stop_clock("sign_for")
            await self._record("returned", inp.actor, {"department": s.lead, "reason_code": inp.reason_code,
                                                       "text": inp.text, "returns": s.returns})
            candidate = next((c for c in s.plan.candidates if c not in s.tried), None)
            if candidate is not None and s.returns < s.plan.return_limit:
                await self._dispatch(candidate, forced=False, actor=None, event="redispatched", note=inp.text)
            else:
                s.status, s.lead = CaseStatus.ARBITRATION, None
                why = "no candidate left" if candidate is None else f"return limit {s.plan.return_limit} reached"
                await self._record("arbitration_requested", None, {"why": why, "returns": s.returns})
                await self._queue_notice("arbitration", "supervisor", f"arbitration-{s.returns}",
                                         {"returns": s.returns, "reason": inp.text})
        return self.view()

    @return_case.validator
    def _check_return(self, inp: ReturnInput) -> None:
        self._require(CaseStatus.DISPATCHED, "return the case (退单 is only possible before sign-for)")
        self._require_lead(inp.actor)
        if self.s.forced:
            raise conflict("the supervisor assigned this case: sign-for is mandatory, it cannot be returned")
        if self.s.return_due is not None and workflow.now() > self.s.return_due:
            raise conflict(f"the return window closed at {self.s.return_due.isoformat()}")

    @workflow.update
    async def arbitrate(self, inp: AssignInput) -> CaseView:
        """派单异议审核: the supervisor names the owner; its sign-for is mandatory (no further return)."""
        async with self._lock:
            self._check_arbitrate(inp)
            await self._dispatch(inp.department, forced=True, actor=inp.actor, event="arbitrated", note=inp.note)
        return self.view()

    @arbitrate.validator
    def _check_arbitrate(self, inp: AssignInput) -> None:
        self._require_supervisor(inp.actor)
        self._require(CaseStatus.ARBITRATION, "arbitrate")

    @workflow.update
    async def reassign(self, inp: AssignInput) -> CaseView:
        """改派: the supervisor moves a case to another department, which must sign for it."""
        async with self._lock:
            self._check_reassign(inp)
            await self._dispatch(inp.department, forced=True, actor=inp.actor, event="reassigned", note=inp.note)
        return self.view()

    @reassign.validator
    def _check_reassign(self, inp: AssignInput) -> None:
        self._require_supervisor(inp.actor)
        if self.s.status not in (CaseStatus.DISPATCHED, CaseStatus.HANDLING):
            raise conflict(f"cannot reassign a case that is {self.s.status.value} ({self.s.status.label})")
        if inp.department == self.s.lead:
            raise conflict(f"the case is already with {inp.department}")

    async def _dispatch(self, department: str, *, forced: bool, actor: Actor | None, event: str, note: str) -> None:
        """Dispatch to a department: new sign-for clock and return window (caller holds the lock)."""
        s = self.s
        plan = await self._activity(ACT_DISPATCH, DispatchRequest(  # an unknown department: 409
            rules_version=s.case.rules_version, department=department, at=workflow.now()), DispatchPlan)
        s.lead, s.status, s.forced, s.return_due = department, CaseStatus.DISPATCHED, forced, plan.return_due
        s.dispatch_count += 1
        s.tried.append(department)
        s.contacts = 0
        s.clocks["sign_for"] = start_clock(plan.sign_for, s.round)
        self._wake = True
        await self._record(event, actor, {
            "department": department, "department_name": plan.department_name, "forced": forced, "note": note,
            "due_sign_for": plan.sign_for.due_at.isoformat(), "return_due": plan.return_due.isoformat(),
            "dispatch_no": s.dispatch_count})
        await self._queue_notice("dispatch", "department", f"dispatch-{s.dispatch_count}", {
            "due_sign_for": plan.sign_for.due_at.isoformat(), "return_due": plan.return_due.isoformat()})
