"""Everything CaseWorkflow knows about its case, in one object (the workflow's only state besides its lock and
alarm clock)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.chain import GENESIS
    from core.contracts import (
        CaseInput,
        CaseStatus,
        ClockState,
        ExtensionInput,
        HandlingPlan,
        MergedIn,
        Outcome,
        PartnerTask,
        PauseInput,
        Resolution,
        ReviewInput,
        Satisfaction,
    )


def needs_rehandling(review: ReviewInput, count_contact: bool = False) -> bool:
    """Unresolved or dissatisfied → another handling round (重办); with ``count_contact`` also a complainant who
    says nobody contacted them."""
    return (review.resolution is Resolution.UNRESOLVED or review.satisfaction is Satisfaction.DISSATISFIED
            or (count_contact and review.contacted is False))


class CaseState:
    """The live state of one case."""

    def __init__(self, case: CaseInput) -> None:
        self.case = case
        self.status = CaseStatus.RECEIVED
        self.plan: HandlingPlan | None = None
        self.lead: str | None = None  # the department that owns the case now (changes on return/arbitration)
        self.round = 1
        self.contacts = 0
        self.contacted_ever = False
        self.seq = 0  # the hash chain: last event's seq and hash
        self.head = GENESIS
        self.review: ReviewInput | None = None
        self.closed_at: Any = None
        self.clocks: dict[str, ClockState] = {}
        self.escalation = 0
        self.extension: tuple[ExtensionInput, ClockState] | None = None
        self.pause: PauseInput | None = None
        self.paused_since: Any = None
        self.partners: dict[str, PartnerTask] = {}
        self.children: dict[str, Any] = {}  # partner task key → its CoHandlingWorkflow handle
        self.dispatch_count = 1
        self.returns = 0
        self.forced = False
        self.return_due: Any = None
        self.tried: list[str] = []  # departments this case was dispatched to
        self.outcome: Outcome | None = None
        self.merged_into: str | None = None
        self.merged: list[MergedIn] = []  # duplicates merged into this case (their complainants get the result)
        self.dispatch_projected = False  # the first dispatch (or screening) is in the projection
        self.gap_years: list[int] = []  # years without holiday data a due time needed (flagged once each)
        # an appeal's run continues the closed run's projection: its task numbers start above every earlier run's
        self.task_base = 0
        self.progress_sent = 0  # 阶段性进展告知 sent so far
        self.last_reply: str | None = None  # the latest 办结答复 (a duplicate merged later gets it at once)
        # PATCH_BATCHED: what this workflow task recorded, projected in one write when the case lock is released
        self.unprojected: list[Any] = []  # CaseEvent
        self.unqueued: list[Any] = []  # NoticeInput
        self.projected_seq = 0
        plan = case.plan
        if plan is not None and plan.screening is None and not case.merge_into and case.appeal is None:
            # planned at intake: the case is dispatched from the first moment, so an Update that arrives with the
            # start (a quick sign-for) fits; run() records the accepted and dispatched events
            self.status, self.plan, self.lead = CaseStatus.DISPATCHED, plan, plan.lead_department

    @property
    def pending(self) -> str | None:
        """A request waiting for a supervisor's decision."""
        return "extension" if self.extension else "pause" if self.pause else None
