"""Dispatch disputes: return (退单) within the window, re-dispatch to the next candidate, supervisor arbitration
(派单异议审核) and reassignment (改派). Every dispatch is in the timeline and counted."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        AssignInput,
        CaseStatus,
        CaseView,
        ClockName,
        EventType,
        NoticeTemplate,
        Recipient,
        ReturnInput,
    )
    from workflows.case_steps import CaseCore
    from workflows.fits import Action, conflict

E, T, R = EventType, NoticeTemplate, Recipient



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
            self._stop_clock(ClockName.SIGN_FOR)
            await self._record(E.RETURNED, inp.actor, {"department": s.lead, "reason_code": inp.reason_code,
                                                       "text": inp.text, "returns": s.returns})
            candidate = next((c for c in s.plan.candidates if c not in s.tried), None)
            if candidate is not None and s.returns < s.plan.return_limit:
                await self._dispatch(candidate, forced=False, actor=None, event=E.REDISPATCHED, note=inp.text)
            else:
                s.status, s.lead = CaseStatus.ARBITRATION, None
                why = "no candidate left" if candidate is None else f"return limit {s.plan.return_limit} reached"
                await self._record(E.ARBITRATION_REQUESTED, None, {"why": why, "returns": s.returns})
                await self._queue_notice(T.ARBITRATION, R.SUPERVISOR, f"arbitration-{s.returns}",
                                         {"returns": s.returns, "reason": inp.text})
        return self.view()

    @return_case.validator
    def _check_return(self, inp: ReturnInput) -> None:
        self._require(Action.RETURN)
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
            await self._dispatch(inp.department, forced=True, actor=inp.actor, event=E.ARBITRATED, note=inp.note)
        return self.view()

    @arbitrate.validator
    def _check_arbitrate(self, inp: AssignInput) -> None:
        self._require_supervisor(inp.actor)
        self._require(Action.ARBITRATE)

    @workflow.update
    async def reassign(self, inp: AssignInput) -> CaseView:
        """改派: the supervisor moves a case to another department, which must sign for it."""
        async with self._lock:
            self._check_reassign(inp)
            await self._dispatch(inp.department, forced=True, actor=inp.actor, event=E.REASSIGNED, note=inp.note)
        return self.view()

    @reassign.validator
    def _check_reassign(self, inp: AssignInput) -> None:
        self._require_supervisor(inp.actor)
        self._require(Action.REASSIGN)
        if inp.department == self.s.lead:
            raise conflict(f"the case is already with {inp.department}")
