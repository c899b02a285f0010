"""Extension (延期) and pause (挂起) of a case's clocks: lead requests, supervisor decisions."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import (
        ACT_EXTEND,
        ACT_SHIFT,
        CaseView,
        ClockName,
        ClockState,
        DecisionInput,
        EventType,
        ExtendRequest,
        ExtensionInput,
        NoticeTemplate,
        PauseInput,
        Recipient,
        ResumeInput,
        Role,
        ShiftRequest,
    )
    from workflows.case_steps import CaseCore
    from workflows.fits import Action, conflict
    from workflows.io_steps import run_step

E, T, R = EventType, NoticeTemplate, Recipient



class ClockActions(CaseCore):
    """Updates that move or stop the clocks."""

    @workflow.update
    async def request_extension(self, inp: ExtensionInput) -> CaseView:
        """延期申请: the lead asks for N more working days on the resolution clock, with a reason."""
        async with self._lock:
            self._check_request_extension(inp)
            s = self.s
            assert s.plan is not None
            proposed = await run_step(ACT_EXTEND, ExtendRequest(  # refused past the maximum or by urgency: 409
                rules_version=s.case.rules_version, clock=s.clocks[ClockName.RESOLUTION],
                working_days=inp.working_days, urgency=s.plan.urgency), ClockState)
            s.extension = (inp, proposed)
            await self._record(E.EXTENSION_REQUESTED, inp.actor, {
                "working_days": inp.working_days, "reason": inp.reason, "proposed_due": proposed.due_at.isoformat()})
            await self._queue_notice(T.EXTENSION_REQUEST, R.SUPERVISOR, f"extension-{s.seq}",
                                     {"reason": inp.reason, "proposed_due": proposed.due_at.isoformat()})
            await self._note_gaps(proposed.calendar_gaps, ClockName.RESOLUTION)
        return self.view()

    @request_extension.validator
    def _check_request_extension(self, inp: ExtensionInput) -> None:
        self._require(Action.EXTENSION)
        self._require_lead(inp.actor)
        clock = self.s.clocks.get(ClockName.RESOLUTION)
        if self.s.extension is not None:
            raise conflict("an extension request is already waiting for a decision")
        if clock is None or clock.breached_at is not None:
            raise conflict("the resolution deadline has passed: an extension must be requested before it")

    @workflow.update
    async def decide_extension(self, inp: DecisionInput) -> CaseView:
        """The supervisor approves (the due time moves, pending reminders follow) or rejects an extension."""
        async with self._lock:
            self._check_decide_extension(inp)
            s = self.s
            assert s.extension is not None
            request, proposed = s.extension
            s.extension = None
            if inp.approve:
                old = s.clocks[ClockName.RESOLUTION]
                s.clocks[ClockName.RESOLUTION] = proposed.model_copy(update={"fired": old.fired, "round": old.round})
                self.alarm.poke()
            await self._record(E.EXTENSION_APPROVED if inp.approve else E.EXTENSION_REJECTED, inp.actor, {
                "note": inp.note, "working_days": request.working_days,
                "due": s.clocks[ClockName.RESOLUTION].due_at.isoformat()})
        return self.view()

    @decide_extension.validator
    def _check_decide_extension(self, inp: DecisionInput) -> None:
        self._require_supervisor(inp.actor)
        self._require(Action.DECIDE_EXTENSION)
        if self.s.extension is None:
            raise conflict("no extension request is waiting for a decision")

    @workflow.update
    async def request_pause(self, inp: PauseInput) -> CaseView:
        """挂起申请: the lead asks to stop the clocks while waiting on the complainant or a third party."""
        async with self._lock:
            self._check_request_pause(inp)
            self.s.pause = inp
            await self._record(E.PAUSE_REQUESTED, inp.actor, {"reason": inp.reason})
            await self._queue_notice(T.PAUSE_REQUEST, R.SUPERVISOR, f"pause-{self.s.seq}", {"reason": inp.reason})
        return self.view()

    @request_pause.validator
    def _check_request_pause(self, inp: PauseInput) -> None:
        self._require(Action.PAUSE)
        self._require_lead(inp.actor)
        if self.s.pause is not None or self.s.paused_since is not None:
            raise conflict("the case is already paused or a pause is waiting for a decision")

    @workflow.update
    async def decide_pause(self, inp: DecisionInput) -> CaseView:
        """The supervisor approves (clocks stop now) or rejects a pause."""
        async with self._lock:
            self._check_decide_pause(inp)
            s = self.s
            request, s.pause = s.pause, None
            if inp.approve:
                s.paused_since = workflow.now()
                for clock in s.clocks.values():
                    if clock.stopped_at is None:
                        clock.paused_since = s.paused_since
                self.alarm.poke()
            await self._record(E.PAUSED if inp.approve else E.PAUSE_REJECTED, inp.actor, {
                "note": inp.note, "reason": request.reason if request else ""})
        return self.view()

    @decide_pause.validator
    def _check_decide_pause(self, inp: DecisionInput) -> None:
        self._require_supervisor(inp.actor)
        self._require(Action.DECIDE_PAUSE)
        if self.s.pause is None:
            raise conflict("no pause request is waiting for a decision")

    @workflow.update
    async def resume(self, inp: ResumeInput) -> CaseView:
        """End a pause: each paused clock's due time moves by the paused (working) time."""
        async with self._lock:
            self._check_resume(inp)
            s = self.s
            now, since = workflow.now(), s.paused_since
            moved = {}
            for name, clock in list(s.clocks.items()):
                if clock.paused_since is None:
                    continue
                shifted = await run_step(ACT_SHIFT, ShiftRequest(
                    rules_version=s.case.rules_version, clock=clock, paused_from=clock.paused_since,
                    paused_to=now), ClockState)
                s.clocks[name] = shifted.model_copy(update={"paused_since": None})
                moved[name] = shifted.due_at.isoformat()
            s.paused_since = None
            self.alarm.poke()
            await self._record(E.RESUMED, inp.actor, {"note": inp.note, "paused_from": since.isoformat(),
                                                      "due": moved})
            for name in moved:
                await self._note_gaps(s.clocks[name].calendar_gaps, name)
        return self.view()

    @resume.validator
    def _check_resume(self, inp: ResumeInput) -> None:
        self._require(Action.RESUME)
        if self.s.paused_since is None:
            raise conflict("the case is not paused")
        if inp.actor.role is not Role.SUPERVISOR:
            self._require_lead(inp.actor)

