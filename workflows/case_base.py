"""Shared state and helpers of CaseWorkflow: the hash-chained timeline, projection, notices, refusals."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from core.chain import GENESIS, event_hash
    from core.contracts import (
        ACT_ARCHIVE,
        ACT_CLOCK,
        ACT_NOTIFY,
        ACT_PROJECT,
        ERR_FORBIDDEN,
        ERR_STATE,
        Actor,
        CaseEvent,
        CaseInput,
        CaseSnapshot,
        CaseStatus,
        CaseView,
        ClockPlan,
        ClockRequest,
        ClockState,
        ExtensionInput,
        HandlingPlan,
        MergedIn,
        NoticeInput,
        Outcome,
        PartnerTask,
        PauseInput,
        ProjectInput,
        Resolution,
        ReviewInput,
        Role,
        Satisfaction,
    )
    from workflows.clocks import due_alarms, overdue, start_clock

# IO activities retry until the database is back: an accepted case must never be lost.
IO_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
IO_TIMEOUT = timedelta(seconds=30)
# From this patch on, the short IO steps (plan, clocks, projection, notices) run as local activities: they execute
# inside the workflow task instead of as separate activity tasks, so one step costs one workflow task on the
# server instead of up to seven round trips. Archiving stays a normal activity. Histories recorded before the
# patch replay the old path.
PATCH_LOCAL_IO = "local-io-2026-11"
REMOTE_ONLY = frozenset({ACT_ARCHIVE})
# A local activity runs once (no SDK retry, see _activity); it must answer well inside the workflow task timeout.
LOCAL_ONCE = RetryPolicy(maximum_attempts=1)
LOCAL_TIMEOUT = timedelta(seconds=5)


def needs_rehandling(review: ReviewInput) -> bool:
    """Unresolved or dissatisfied → another handling round (重办)."""
    return review.resolution is Resolution.UNRESOLVED or review.satisfaction is Satisfaction.DISSATISFIED


def conflict(message: str) -> ApplicationError:
    """A refusal the API answers with 409."""
    return ApplicationError(message, type=ERR_STATE, non_retryable=True)


def forbidden(message: str) -> ApplicationError:
    """A refusal the API answers with 403."""
    return ApplicationError(message, type=ERR_FORBIDDEN, non_retryable=True)


class CaseState:
    """Everything the workflow knows about its case."""

    def __init__(self, case: CaseInput) -> None:
        self.case = case
        self.status = CaseStatus.RECEIVED
        self.plan: HandlingPlan | None = None
        self.lead: str | None = None  # the department that owns the case now (changes on return/arbitration)
        self.round = 1
        self.contacts = 0
        self.contacted_ever = False
        self.seq = 0
        self.head = GENESIS
        self.review: ReviewInput | None = None
        self.closed_at: Any = None
        self.clocks: dict[str, ClockState] = {}
        self.escalation = 0
        self.extension: tuple[ExtensionInput, ClockState] | None = None
        self.pause: PauseInput | None = None
        self.paused_since: Any = None
        self.partners: dict[str, PartnerTask] = {}
        self.dispatch_count = 1
        self.returns = 0
        self.forced = False
        self.return_due: Any = None
        self.tried: list[str] = []  # departments this case was dispatched to
        self.outcome: Outcome | None = None
        self.merged_into: str | None = None


class CaseCore:
    """State, locking and the helpers every group of handlers uses (the mixins build on this)."""

    s: CaseState
    _lock: asyncio.Lock
    _wake: bool

    @workflow.query
    def view(self) -> CaseView:
        """The live state of the case."""
        s = self.s
        pending = "extension" if s.extension else "pause" if s.pause else None
        return CaseView(case_no=s.case.case_no, status=s.status, plan=s.plan, round=s.round, contacts=s.contacts,
                        last_seq=s.seq, head_hash=s.head, clocks=s.clocks, escalation_level=s.escalation,
                        paused=s.paused_since is not None, pending=pending, partners=list(s.partners.values()),
                        return_count=s.returns, forced=s.forced)

    def _require(self, status: CaseStatus, action: str) -> None:
        current = self.s.status
        if current is CaseStatus.RECEIVED:
            raise conflict(f"cannot {action}: the case is still being planned, retry in a moment")
        if current is not status:
            raise conflict(f"cannot {action}: the case is {current.value} ({current.label}), "
                           f"this needs {status.value} ({status.label})")

    def _require_lead(self, actor: Actor) -> None:
        if actor.role is not Role.HANDLER or self.s.lead is None or actor.department != self.s.lead:
            raise forbidden("only a handler of the lead department may do this")

    @staticmethod
    def _require_supervisor(actor: Actor) -> None:
        if actor.role is not Role.SUPERVISOR:
            raise forbidden("only a supervisor may decide this")

    def _stop_clock(self, name: str) -> None:
        clock = self.s.clocks.get(name)
        if clock and clock.stopped_at is None:
            clock.stopped_at = workflow.now()
            self._wake = True

    async def _record(self, type_: str, actor: Actor | None, data: dict[str, Any]) -> None:
        """Append one hash-chained event and project it with the case row (caller holds the lock)."""
        s = self.s
        s.seq += 1
        at = workflow.now()
        actor_json = actor.model_dump(mode="json") if actor else None
        digest = event_hash(s.head, case_no=s.case.case_no, seq=s.seq, type=type_, at=at, actor=actor_json,
                            data=data)
        event = CaseEvent(case_no=s.case.case_no, seq=s.seq, type=type_, at=at, actor=actor, data=data,
                          prev_hash=s.head, hash=digest)
        s.head = digest
        await self._activity(ACT_PROJECT, ProjectInput(case_no=s.case.case_no, events=[event],
                                                       snapshot=self._snapshot(),
                                                       task=workflow.info().get_current_history_length()), None)

    def _snapshot(self) -> CaseSnapshot:
        s = self.s
        review = s.review
        return CaseSnapshot(
            status=s.status, lead_department=s.lead, urgency=s.plan.urgency if s.plan else None, round=s.round,
            closed_at=s.closed_at, contacted=s.contacted_ever,
            resolution=review.resolution if review else None,
            satisfaction=review.satisfaction if review else (
                Satisfaction.NOT_RATED if s.outcome is Outcome.UNRATED else None),
            clocks=s.clocks, overdue=overdue(s.clocks), escalation_level=s.escalation,
            paused=s.paused_since is not None, partners=list(s.partners.values()),
            dispatch_count=s.dispatch_count, return_count=s.returns,
            outcome=s.outcome.value if s.outcome else None, merged_into=s.merged_into,
            rules_version=s.case.rules_version, priority=s.plan.priority if s.plan else 0,
            screening=s.plan.screening.code if s.plan and s.plan.screening else None,
        )

    async def _queue_notice(self, template: str, recipient: str, key: str, context: dict | None = None,
                            department: str | None = None, for_case: MergedIn | None = None) -> None:
        """Render a notice into the outbox and record it in the timeline (caller holds the lock).

        ``for_case``: the notice belongs to a case merged into this one (its complainant, its tracking code).
        """
        s = self.s
        notice = NoticeInput(case_no=for_case.case_no if for_case else s.case.case_no, template=template,
                             recipient=recipient, department=department or s.lead, key=key,  # type: ignore[arg-type]
                             rules_version=for_case.rules_version if for_case else s.case.rules_version,
                             context=context or {})
        notice_id = await self._activity(ACT_NOTIFY, notice, int)
        await self._record("notice_queued", None, {
            "template": template, "recipient": recipient, "notice_id": notice_id,
            "department": notice.department if recipient in ("department", "department_head") else None,
            **({"for_case": for_case.case_no} if for_case else {})})

    async def _fire(self, clock: ClockState) -> None:
        """Send each due reminder once (催办); on breach mark overdue, escalate and notify the supervisor (督办)."""
        s = self.s
        reminders, breach = due_alarms(clock, workflow.now())
        for r in reminders:
            clock.fired.append(r.threshold)
            pct = round(r.threshold * 100)
            await self._record("reminder", None, {"clock": clock.name, "threshold": r.threshold,
                                                  "due": clock.due_at.isoformat(), "round": clock.round})
            await self._queue_notice("reminder", "department", f"reminder-{clock.name}-{clock.round}-{pct}",
                                     {"clock_label": clock.label, "percent": pct, "due": clock.due_at.isoformat()})
        if breach:
            clock.breached_at = workflow.now()
            s.escalation += 1
            await self._record("overdue", None, {"clock": clock.name, "due": clock.due_at.isoformat(),
                                                 "round": clock.round, "escalation_level": s.escalation})
            await self._queue_notice("supervise", "supervisor", f"overdue-{clock.name}-{clock.round}",
                                     {"clock_label": clock.label, "due": clock.due_at.isoformat(),
                                      "escalation_level": s.escalation})

    async def _start_round(self, note: str) -> None:
        """重办: a new round for the lead department with a fresh resolution clock (caller holds the lock)."""
        s = self.s
        assert s.plan is not None
        s.round += 1
        s.contacts = 0
        plan = await self._activity(ACT_CLOCK, ClockRequest(
            rules_version=s.case.rules_version, name="resolution", urgency=s.plan.urgency,
            started_at=workflow.now()), ClockPlan)
        s.clocks["resolution"] = start_clock(plan, s.round)
        s.status = CaseStatus.HANDLING
        self._wake = True
        await self._record("rehandle_started", None, {"round": s.round, "due_resolution": plan.due_at.isoformat()})
        await self._queue_notice("rehandle", "department", f"rehandle-{s.round}", {"review_note": note})

    async def _activity(self, name: str, arg: Any, result_type: type | None) -> Any:
        """Run an IO activity that retries until it succeeds (local for short steps, see PATCH_LOCAL_IO).

        A local activity gets one attempt and is never retried by the SDK (a retried local activity can panic the
        SDK core: sdk-rust #1454); when that attempt fails for a retryable reason (database down, timeout), the
        step runs again as a normal activity, which the server retries until it succeeds. A non-retryable
        refusal of the rules (an extension past the maximum, an unknown department) is a 409 conflict."""
        try:
            if name not in REMOTE_ONLY and workflow.patched(PATCH_LOCAL_IO):
                try:
                    return await workflow.execute_local_activity(
                        name, arg, result_type=result_type, start_to_close_timeout=LOCAL_TIMEOUT,
                        retry_policy=LOCAL_ONCE)
                except FailureError as exc:
                    if isinstance(exc, CancelledError) or refusal(exc) is not None:
                        raise
                    workflow.logger.warning("local activity %s failed once (%s); running it as an activity",
                                            name, type(exc.cause or exc).__name__)
            return await workflow.execute_activity(name, arg, result_type=result_type,
                                                   start_to_close_timeout=IO_TIMEOUT, retry_policy=IO_RETRY)
        except FailureError as exc:
            refused = refusal(exc)
            if refused is None:
                raise
            raise conflict(refused.message or f"{name} refused") from exc


def refusal(exc: FailureError) -> ApplicationError | None:
    """The non-retryable application error an activity failed with (local activities raise it bare)."""
    failure = exc.cause if isinstance(exc, ActivityError) else exc
    return failure if isinstance(failure, ApplicationError) and failure.non_retryable else None
