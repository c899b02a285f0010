"""CaseWorkflow: one complaint from intake to archive (受理—派单—签收—办理—答复—回访—办结—归档)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.chain import GENESIS, event_hash
    from core.contracts import (
        ACT_ARCHIVE,
        ACT_CLOCK,
        ACT_NOTIFY,
        ACT_PLAN,
        ACT_PROJECT,
        ERR_FORBIDDEN,
        ERR_STATE,
        Actor,
        ArchiveInput,
        ArchiveResult,
        CaseEvent,
        CaseInput,
        CaseSnapshot,
        CaseStatus,
        CaseView,
        ClockPlan,
        ClockRequest,
        ContactInput,
        HandlingPlan,
        NoticeInput,
        ProjectInput,
        ReplyInput,
        Resolution,
        ReviewInput,
        Role,
        Satisfaction,
        SignForInput,
    )

# IO activities retry until the database is back: an accepted case must never be lost.
IO_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
IO_TIMEOUT = timedelta(seconds=30)


def needs_rehandling(review: ReviewInput) -> bool:
    """Unresolved or dissatisfied → another handling round (重办)."""
    return review.resolution is Resolution.UNRESOLVED or review.satisfaction is Satisfaction.DISSATISFIED


class CaseState:
    """Everything the workflow knows about its case."""

    def __init__(self, case: CaseInput) -> None:
        self.case = case
        self.status = CaseStatus.RECEIVED
        self.plan: HandlingPlan | None = None
        self.round = 1
        self.contacts = 0
        self.contacted_ever = False
        self.seq = 0
        self.head = GENESIS
        self.review: ReviewInput | None = None
        self.closed_at: Any = None


@workflow.defn
class CaseWorkflow:
    """One complaint. Department and review actions are Updates so a misfit action gets a clear refusal."""

    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        # State exists before the first handler runs: Updates may arrive in the very first workflow task.
        self.s = CaseState(case)
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, case: CaseInput) -> CaseView:
        """Plan, dispatch, wait for the handling steps, close and archive."""
        s = self._state()
        plan = await self._activity(ACT_PLAN, case, HandlingPlan)
        async with self._lock:
            await self._record("accepted", None, {
                "kind": case.kind.value, "channel": case.channel.value, "category": case.category,
                "district": case.district, "street": case.street, "rules_version": case.rules_version,
            })
            s.plan, s.status = plan, CaseStatus.DISPATCHED
            await self._record("dispatched", None, {
                "department": plan.lead_department, "department_name": plan.lead_department_name,
                "urgency": plan.urgency.value, "candidates": plan.candidates,
                "due": {k: c.due_at.isoformat() for k, c in plan.clocks.items()},
                "calendar_gaps": plan.calendar_gaps,
            })
        await self._notify("acceptance", "complainant", "acceptance")
        await workflow.wait_condition(lambda: s.status is CaseStatus.CLOSED)
        await self._archive()
        return self.view()

    # ---- queries and updates -------------------------------------------------------------------------

    @workflow.query
    def view(self) -> CaseView:
        """The live state of the case."""
        s = self._state()
        return CaseView(case_no=s.case.case_no, status=s.status, plan=s.plan, round=s.round,
                        contacts=s.contacts, last_seq=s.seq, head_hash=s.head)

    @workflow.update
    async def await_plan(self) -> CaseView:
        """Wait until the case is planned and dispatched (intake answers with the plan)."""
        await workflow.wait_condition(lambda: self.s.status is not CaseStatus.RECEIVED)
        return self.view()

    @workflow.update
    async def sign_for(self, inp: SignForInput) -> CaseView:
        """签收: the lead department takes the case; from now on it owns it (首接负责)."""
        async with self._lock:
            self._check_sign_for(inp)
            s = self._state()
            s.status = CaseStatus.HANDLING
            await self._record("signed_for", inp.actor, {"department": inp.actor.department, "note": inp.note})
        return self.view()

    @sign_for.validator
    def _check_sign_for(self, inp: SignForInput) -> None:
        self._require(CaseStatus.DISPATCHED, "sign for")
        self._require_lead(inp.actor)

    @workflow.update
    async def record_contact(self, inp: ContactInput) -> CaseView:
        """Record a contact with the complainant (联系诉求人)."""
        async with self._lock:
            self._check_contact(inp)
            s = self._state()
            s.contacts += 1
            s.contacted_ever = True
            at = inp.contacted_at or workflow.now()
            await self._record("contacted", inp.actor, {
                "method": inp.method, "summary": inp.summary, "contacted_at": at.isoformat(), "round": s.round,
            })
        return self.view()

    @record_contact.validator
    def _check_contact(self, inp: ContactInput) -> None:
        self._require(CaseStatus.HANDLING, "record a contact")
        self._require_lead(inp.actor)

    @workflow.update
    async def submit_reply(self, inp: ReplyInput) -> CaseView:
        """办结答复: the lead department's reply; needs at least one contact in this round."""
        async with self._lock:
            self._check_reply(inp)
            s = self._state()
            s.status = CaseStatus.REPLIED
            await self._record("replied", inp.actor, {"content": inp.content, "round": s.round})
        await self._notify("result", "complainant", f"result-{self._state().round}", {"reply": inp.content})
        return self.view()

    @submit_reply.validator
    def _check_reply(self, inp: ReplyInput) -> None:
        self._require(CaseStatus.HANDLING, "submit a reply")
        self._require_lead(inp.actor)
        if self._state().contacts < 1:
            raise ApplicationError(
                "at least one contact with the complainant must be recorded in this round before replying",
                type=ERR_STATE, non_retryable=True)

    @workflow.update
    async def record_review(self, inp: ReviewInput) -> CaseView:
        """回访: resolved and not dissatisfied closes the case; otherwise it goes back for another round."""
        async with self._lock:
            self._check_review(inp)
            s = self._state()
            s.review = inp
            await self._record("reviewed", inp.actor, {
                "resolution": inp.resolution.value, "satisfaction": inp.satisfaction.value, "note": inp.note,
                "round": s.round,
            })
            rehandle = needs_rehandling(inp)
            if rehandle:
                await self._start_round()
            else:
                s.status, s.closed_at = CaseStatus.CLOSED, workflow.now()
                await self._record("closed", None, {
                    "resolution": inp.resolution.value, "satisfaction": inp.satisfaction.value, "round": s.round,
                })
        if rehandle:
            await self._notify("rehandle", "department", f"rehandle-{self._state().round}",
                               {"review_note": inp.note})
        return self.view()

    @record_review.validator
    def _check_review(self, inp: ReviewInput) -> None:
        self._require(CaseStatus.REPLIED, "record a review")
        if inp.actor.role not in (Role.INTAKE, Role.SUPERVISOR):
            raise ApplicationError("only the intake system records reviews", type=ERR_FORBIDDEN,
                                   non_retryable=True)

    # ---- internals -----------------------------------------------------------------------------------

    def _state(self) -> CaseState:
        return self.s

    def _require(self, status: CaseStatus, action: str) -> None:
        current = self._state().status
        if current is CaseStatus.RECEIVED:
            raise ApplicationError(f"cannot {action}: the case is still being planned, retry in a moment",
                                   type=ERR_STATE, non_retryable=True)
        if current is not status:
            raise ApplicationError(
                f"cannot {action}: the case is {current.value} ({current.label}), "
                f"this needs {status.value} ({status.label})", type=ERR_STATE, non_retryable=True)

    def _require_lead(self, actor: Actor) -> None:
        plan = self._state().plan
        if plan is None or actor.role is not Role.HANDLER or actor.department != plan.lead_department:
            raise ApplicationError("only a handler of the lead department may do this", type=ERR_FORBIDDEN,
                                   non_retryable=True)

    async def _start_round(self) -> None:
        """重办: a new round for the lead department with a fresh resolution clock."""
        s = self._state()
        assert s.plan is not None
        s.round += 1
        s.contacts = 0
        clock = await self._activity(ACT_CLOCK, ClockRequest(
            rules_version=s.case.rules_version, name="resolution", urgency=s.plan.urgency,
            started_at=workflow.now()), ClockPlan)
        s.plan.clocks["resolution"] = clock
        s.status = CaseStatus.HANDLING
        await self._record("rehandle_started", None, {"round": s.round, "due_resolution": clock.due_at.isoformat()})

    async def _record(self, type_: str, actor: Actor | None, data: dict[str, Any]) -> None:
        """Append one hash-chained event and project it with the case row (caller holds the lock)."""
        s = self._state()
        s.seq += 1
        at = workflow.now()
        actor_json = actor.model_dump(mode="json") if actor else None
        digest = event_hash(s.head, case_no=s.case.case_no, seq=s.seq, type=type_, at=at, actor=actor_json,
                            data=data)
        event = CaseEvent(case_no=s.case.case_no, seq=s.seq, type=type_, at=at, actor=actor, data=data,
                          prev_hash=s.head, hash=digest)
        s.head = digest
        await self._activity(ACT_PROJECT, ProjectInput(case_no=s.case.case_no, events=[event],
                                                       snapshot=self._snapshot()), None)

    def _snapshot(self) -> CaseSnapshot:
        s = self._state()
        review = s.review
        return CaseSnapshot(
            status=s.status, lead_department=s.plan.lead_department if s.plan else None,
            urgency=s.plan.urgency if s.plan else None, round=s.round,
            due={k: c.due_at for k, c in s.plan.clocks.items()} if s.plan else {},
            closed_at=s.closed_at, contacted=s.contacted_ever,
            resolution=review.resolution if review else None,
            satisfaction=review.satisfaction if review else None,
        )

    def _notice(self, template: str, recipient: str, key: str, context: dict | None = None) -> NoticeInput:
        s = self._state()
        return NoticeInput(case_no=s.case.case_no, template=template, recipient=recipient,  # type: ignore[arg-type]
                           department=s.plan.lead_department if s.plan else None, key=key,
                           rules_version=s.case.rules_version, context=context or {})

    async def _notify(self, template: str, recipient: str, key: str, context: dict | None = None) -> None:
        notice_id = await self._activity(ACT_NOTIFY, self._notice(template, recipient, key, context), int)
        async with self._lock:
            await self._record("notice_queued", None, {"template": template, "recipient": recipient,
                                                       "notice_id": notice_id})

    async def _archive(self) -> None:
        s = self._state()
        async with self._lock:
            result = await self._activity(
                ACT_ARCHIVE, ArchiveInput(case_no=s.case.case_no, last_seq=s.seq, head_hash=s.head), ArchiveResult)
            s.status = CaseStatus.ARCHIVED
            await self._record("archived", None, {"bundle_sha256": result.bundle_sha256, "events": result.events,
                                                  "head_hash": result.head_hash})

    async def _activity(self, name: str, arg: Any, result_type: type | None) -> Any:
        return await workflow.execute_activity(name, arg, result_type=result_type,
                                               start_to_close_timeout=IO_TIMEOUT, retry_policy=IO_RETRY)
