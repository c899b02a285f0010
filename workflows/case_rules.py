"""What the rules do to a running case beyond the plan: screening (甄别分流) and rules migration (规则迁移)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        ACT_REBASE,
        CaseStatus,
        ClockName,
        EventType,
        HandlingPlan,
        NoticeTemplate,
        Outcome,
        RebaseRequest,
        RebaseResult,
        Recipient,
        RulesMigration,
    )
    from workflows.case_base import CaseCore
    from workflows.clocks import start_clock
    from workflows.io_steps import run_step

# workflow.patched() ids: behaviour added after histories were released
PATCH_SCREENING = "screening-2026-11"

SCREEN_OUTCOMES = {"transfer": Outcome.TRANSFERRED, "legal_channel": Outcome.LEGAL_CHANNEL,
                   "not_accepted": Outcome.NOT_ACCEPTED}

E, T, R = EventType, NoticeTemplate, Recipient



class RulesActions(CaseCore):
    """Screening at intake and the migration signal."""

    async def _screen(self, plan: HandlingPlan) -> None:
        """即时转 / 告知法定途径 / 不予受理: record, tell the complainant, close (caller holds the lock)."""
        s, screening = self.s, plan.screening
        assert screening is not None
        s.plan = plan
        await self._record(E.SCREENED, None, {
            "rule": screening.code, "name": screening.name, "action": screening.action,
            "target": screening.target, "matched": screening.matched})
        s.dispatch_projected = True
        await self._queue_notice(screening.action, R.COMPLAINANT, "screened",
                                 {"reply": screening.reply, "target": screening.target or ""})
        await self._close(SCREEN_OUTCOMES[screening.action], None, {"rule": screening.code})

    @workflow.signal
    async def migrate_rules(self, order: RulesMigration) -> None:
        """规则迁移: re-plan the open case under another rules version and record why (an admin's explicit act)."""
        await workflow.wait_condition(lambda: self.s.dispatch_projected)
        async with self._lock:
            s = self.s
            if s.status in (CaseStatus.CLOSED, CaseStatus.ARCHIVED) or s.case.rules_version == order.version:
                return  # closed meanwhile, or a repeated signal: nothing to move
            assert s.plan is not None
            result = await run_step(ACT_REBASE, RebaseRequest(
                case=s.case, to_version=order.version, status=s.status, lead=s.lead,
                dispatch_count=s.dispatch_count, urgency=s.plan.urgency, round=s.round, clocks=s.clocks,
                at=workflow.now()), RebaseResult)
            if result.skipped:
                await self._record(E.RULES_MIGRATION_SKIPPED, order.actor, {
                    "to_version": order.version, "why": result.skipped, "migration": order.migration_id})
                return
            await self._apply_migration(order, result)

    async def _apply_migration(self, order: RulesMigration, result: RebaseResult) -> None:
        """Pin the new version, replace the moved clocks, re-dispatch if the lead changes (caller holds the lock)."""
        s = self.s
        assert s.plan is not None
        s.case = s.case.model_copy(update={"rules_version": order.version})
        s.plan = s.plan.model_copy(update={"rules_version": order.version})
        s.clocks.update(result.clocks)
        dispatch = result.dispatch
        if dispatch:
            s.lead, s.return_due = dispatch.department, dispatch.return_due
            s.tried.append(dispatch.department)
            s.dispatch_count += 1
            s.clocks[ClockName.SIGN_FOR] = start_clock(dispatch.sign_for, s.round)
        self.alarm.poke()
        await self._record(E.RULES_MIGRATED, order.actor, {
            "from_version": result.from_version, "to_version": order.version, "reason": order.reason,
            "migration": order.migration_id,
            "clocks": [{"clock": c.name, "round": c.round, "from": c.old_due.isoformat(),
                        "to": c.new_due.isoformat()} for c in result.clock_changes],
            "department": {"from": result.old_department, "to": dispatch.department} if dispatch else None,
            **({"settled": result.settled} if result.settled else {})})
        if dispatch:
            await self._queue_notice(T.DISPATCH, R.DEPARTMENT, f"dispatch-migration-{order.migration_id}", {
                "due_sign_for": dispatch.sign_for.due_at.isoformat(), "return_due": dispatch.return_due})
        await self._note_gaps(result.calendar_gaps, None)
        if result.settled:  # the new version has the notice for these years: the due times are final now
            s.gap_years = [y for y in s.gap_years if y not in result.settled]
