"""What the rules do to a running case beyond the plan: screening (甄别分流) and rules migration (规则迁移)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        ACT_DISPATCH,
        ACT_REBASE,
        Actor,
        CaseStatus,
        CaseView,
        ClockName,
        DispatchPlan,
        DispatchRequest,
        EventType,
        HandlingPlan,
        NoticeTemplate,
        Outcome,
        RebaseRequest,
        RebaseResult,
        Recipient,
        Role,
        RulesMigration,
        ScreeningDecisionInput,
    )
    from workflows.case_base import PATCH_REGULATION
    from workflows.case_steps import CaseCore
    from workflows.clocks import start_clock
    from workflows.fits import Action, conflict, forbidden
    from workflows.io_steps import run_step

# workflow.patched() ids: behaviour added after histories were released
PATCH_SCREENING = "screening-2026-11"

SCREEN_OUTCOMES = {"transfer": Outcome.TRANSFERRED, "legal_channel": Outcome.LEGAL_CHANNEL,
                   "not_accepted": Outcome.NOT_ACCEPTED}

E, T, R = EventType, NoticeTemplate, Recipient



class RulesActions(CaseCore):
    """Screening at intake and the migration signal."""

    async def _propose_screening(self, plan: HandlingPlan) -> None:
        """甄别建议: a screening rule matched. The case waits in ``screening`` on its own clock for the intake
        operator or a supervisor (breach → 督办; it never closes on its own), unless intake sent the operator's
        decision on this rule with the complaint (caller holds the lock)."""
        s, proposal = self.s, plan.screening
        assert proposal is not None
        s.plan, s.status = plan, CaseStatus.SCREENING
        clock = plan.clocks.get(ClockName.SCREENING)
        if clock is not None:
            s.clocks[ClockName.SCREENING] = start_clock(clock, 1)
            self.alarm.poke()
        await self._record(E.SCREENING_PROPOSED, None, {
            "rule": proposal.code, "name": proposal.name, "action": proposal.action, "target": proposal.target,
            "matched": proposal.matched, "due": clock.due_at.isoformat() if clock else None})
        decided = s.case.screening_decision
        if decided is not None and decided.rule == proposal.code:  # intake answers after the decision is carried out
            await self._settle_screening(decided.confirm, None, None, "decided by the intake operator on the call")
        s.dispatch_projected = True

    @workflow.update
    async def decide_screening(self, inp: ScreeningDecisionInput) -> CaseView:
        """甄别确认: confirm (routed away as the rule says) or overrule (dispatched and handled) a proposal."""
        async with self._lock:
            self._check_decide_screening(inp)
            await self._settle_screening(inp.confirm, inp.department, inp.actor, inp.note)
        return self.view()

    @decide_screening.validator
    def _check_decide_screening(self, inp: ScreeningDecisionInput) -> None:
        self._require(Action.DECIDE_SCREENING)
        if inp.actor.role not in (Role.INTAKE, Role.SUPERVISOR):
            raise forbidden("only the intake operator or a supervisor decides a screening proposal")
        plan = self.s.plan
        if not inp.confirm and not inp.department and (plan is None or not plan.lead_department):
            raise conflict("no dispatch route for this category: name the department that is to handle it")

    async def _settle_screening(self, confirm: bool, department: str | None, actor: Actor | None,
                                note: str) -> None:
        """Carry out a screening decision (caller holds the lock)."""
        s = self.s
        assert s.plan is not None and s.plan.screening is not None
        rule = s.plan.screening.code
        self._stop_clock(ClockName.SCREENING)
        if confirm:
            await self._record(E.SCREENING_CONFIRMED, actor, {"rule": rule, "note": note})
            await self._screen(s.plan)
            return
        plan = s.plan.model_copy(update={"screening": None})
        if department and department != plan.lead_department:
            chosen = await run_step(ACT_DISPATCH, DispatchRequest(  # an unknown department: 409
                rules_version=s.case.rules_version, department=department, at=workflow.now(),
                urgency=plan.urgency), DispatchPlan)
            plan = plan.model_copy(update={
                "lead_department": department, "lead_department_name": chosen.department_name, "candidates": [],
                "return_due": chosen.return_due, "clocks": plan.clocks | {ClockName.SIGN_FOR: chosen.sign_for}})
        await self._record(E.SCREENING_OVERRULED, actor, {"rule": rule, "note": note,
                                                          "department": plan.lead_department})
        await self._dispatch_new(plan)

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
        """规则迁移 as a signal (released before the Update): a signal cannot be checked before it acts, so from
        PATCH_REGULATION on it is ignored — migrations come as the ``apply_rules_migration`` Update."""
        if workflow.patched(PATCH_REGULATION):
            workflow.logger.warning("migrate_rules signal ignored: rules migrations are a signed Update now")
            return
        await self._migrate(order)

    @workflow.update
    async def apply_rules_migration(self, order: RulesMigration) -> CaseView:
        """规则迁移: re-plan the open case under another rules version and record why (an admin's explicit act,
        its actor signed by the API and checked before anything happens)."""
        await self._migrate(order)
        return self.view()

    @apply_rules_migration.validator
    def _check_migration(self, order: RulesMigration) -> None:
        if order.actor.role is not Role.ADMIN:
            raise forbidden("only an admin migrates a case to another rules version")

    async def _migrate(self, order: RulesMigration) -> None:
        """Re-plan under ``order.version`` (a closed case or a repeated order: nothing moves)."""
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
