"""Co-handling (协办) on the case: the lead asks partners, partners reply, the supervisor may waive."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        CaseView,
        EventType,
        NoticeTemplate,
        PartnerAlarm,
        PartnerReplyInput,
        PartnersInput,
        PartnerStatus,
        PartnerTask,
        Recipient,
        Role,
        WaiveInput,
    )
    from workflows.case_steps import CaseCore
    from workflows.fits import Action, conflict, forbidden

E, T, R = EventType, NoticeTemplate, Recipient



class PartnerActions(CaseCore):
    """Partner requests run as CoHandlingWorkflow children; their tasks live here, in the case."""

    @workflow.update
    async def request_partners(self, inp: PartnersInput) -> CaseView:
        """协办申请: the lead asks one or more partner departments, one question each."""
        async with self._lock:
            self._check_request_partners(inp)
            for req in inp.requests:
                await self._open_partner(req.department, req.question, inp.actor)
        return self.view()

    @request_partners.validator
    def _check_request_partners(self, inp: PartnersInput) -> None:
        self._require(Action.PARTNERS)
        self._require_lead(inp.actor)
        wanted = [r.department for r in inp.requests]
        if len(set(wanted)) != len(wanted):
            raise conflict("each partner department may be asked once per request")
        if self.s.lead in wanted:
            raise conflict("the lead department cannot be its own partner")
        busy = {t.department for t in self._open_partners()} & set(wanted)
        if busy:
            raise conflict(f"already waiting for {', '.join(sorted(busy))} in this round")

    @workflow.update
    async def partner_reply(self, inp: PartnerReplyInput) -> CaseView:
        """A partner department answers the lead (协办答复); accepted late too."""
        async with self._lock:
            self._check_partner_reply(inp)
            task = self._task_of(inp.actor.department or "")
            assert task is not None
            now = workflow.now()
            task.status, task.replied_at, task.reply = PartnerStatus.REPLIED, now, inp.content
            await self._finish_child(task, "replied")
            await self._record(E.PARTNER_REPLIED, inp.actor, {
                "department": task.department, "content": inp.content, "round": task.round,
                "late": now > task.due_at})
        return self.view()

    @partner_reply.validator
    def _check_partner_reply(self, inp: PartnerReplyInput) -> None:
        self._require(Action.PARTNER_REPLY)
        if inp.actor.role is not Role.HANDLER:
            raise forbidden("only a handler of the partner department may reply")
        task = self._task_of(inp.actor.department or "")
        if task is None:
            raise forbidden("your department has no partner request on this case")
        if task.status is not PartnerStatus.OPEN:
            raise conflict(f"the partner request of {task.department} is already {task.status.value}")

    def _task_of(self, department: str) -> PartnerTask | None:
        """The department's task of the latest round it was asked in."""
        tasks = [t for t in self.s.partners.values() if t.department == department]
        return max(tasks, key=lambda t: t.round) if tasks else None

    @workflow.update
    async def waive_partner(self, inp: WaiveInput) -> CaseView:
        """The supervisor releases the lead from waiting for a partner (豁免), with a reason."""
        async with self._lock:
            self._check_waive(inp)
            task = next(t for t in self._open_partners() if t.department == inp.department)
            task.status, task.note = PartnerStatus.WAIVED, inp.reason
            await self._finish_child(task, "waived")
            await self._record(E.PARTNER_WAIVED, inp.actor, {"department": inp.department, "reason": inp.reason,
                                                             "round": task.round})
        return self.view()

    @waive_partner.validator
    def _check_waive(self, inp: WaiveInput) -> None:
        self._require_supervisor(inp.actor)
        self._require(Action.WAIVE)
        if inp.department not in {t.department for t in self._open_partners()}:
            raise conflict(f"no open partner request of {inp.department} in this round")

    @workflow.signal
    async def partner_alarm(self, alarm: PartnerAlarm) -> None:
        """From a CoHandlingWorkflow: record the reminder, or escalate the breach to the lead and supervisor."""
        async with self._lock:
            task = self.s.partners.get(f"{alarm.department}-r{alarm.round}")
            if task is None or task.status is not PartnerStatus.OPEN:
                return
            if alarm.kind == "reminder":
                await self._record(E.PARTNER_REMINDER, None, {"department": alarm.department,
                                                              "threshold": alarm.threshold, "round": alarm.round})
                return
            task.overdue = True
            self.s.escalation += 1
            await self._record(E.PARTNER_OVERDUE, None, {"department": alarm.department, "round": alarm.round,
                                                         "due": task.due_at.isoformat(),
                                                         "escalation_level": self.s.escalation})
            ctx = {"partner": alarm.department, "partner_due": task.due_at.isoformat()}
            await self._queue_notice(T.PARTNER_OVERDUE, R.DEPARTMENT, f"partner-overdue-{task.key}", ctx)
            await self._queue_notice(T.PARTNER_OVERDUE, R.SUPERVISOR, f"partner-overdue-sup-{task.key}", ctx)
