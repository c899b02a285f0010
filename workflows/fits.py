"""Which action fits which status: one pure table that every Update validator of CaseWorkflow consults.

A status not listed for an action is refused with 409 and a reason naming the status and what the action needs.
Actions that depend on something other than the status (a pending decision, a pause, an open partner request)
check that themselves, after this table.
"""

from __future__ import annotations

from enum import StrEnum

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.contracts import ERR_FORBIDDEN, ERR_STATE, OPEN_STATUSES, CaseStatus

S = CaseStatus


class Action(StrEnum):
    """A case action; the value is how a refusal names it."""

    SIGN_FOR = "sign for"
    RETURN = "return the case (退单 is only possible before sign-for)"
    CONTACT = "record a contact"
    HANDLING_STARTED = "record that handling started (sign for the case first)"
    REPLY = "submit a reply"
    REVIEW = "record a review"
    EXTENSION = "request an extension"
    PAUSE = "request a pause"
    PARTNERS = "request partners"
    ARBITRATE = "arbitrate"
    REASSIGN = "reassign"
    REHANDLE = "order another round"
    ESCALATE = "escalate"
    CLOSE = "close the case"
    TERMINATE = "terminate"
    MERGE = "merge"
    DECIDE_EXTENSION = "decide an extension"
    DECIDE_PAUSE = "decide a pause"
    RESUME = "resume"
    PARTNER_REPLY = "reply as a partner"
    WAIVE = "waive a partner"
    DECIDE_SCREENING = "decide a screening proposal"


OPEN = frozenset(OPEN_STATUSES)
FITS: dict[Action, frozenset[CaseStatus]] = {
    Action.SIGN_FOR: frozenset({S.DISPATCHED}),
    Action.RETURN: frozenset({S.DISPATCHED}),
    Action.CONTACT: frozenset({S.HANDLING}),
    Action.HANDLING_STARTED: frozenset({S.HANDLING}),
    Action.REPLY: frozenset({S.HANDLING}),
    Action.REVIEW: frozenset({S.REPLIED}),
    Action.EXTENSION: frozenset({S.HANDLING}),
    Action.PAUSE: frozenset({S.HANDLING}),
    Action.PARTNERS: frozenset({S.HANDLING}),
    Action.ARBITRATE: frozenset({S.ARBITRATION}),
    Action.REASSIGN: frozenset({S.DISPATCHED, S.HANDLING}),
    Action.REHANDLE: frozenset({S.SUPERVISOR_REVIEW}),
    Action.ESCALATE: OPEN,
    Action.CLOSE: OPEN,
    Action.TERMINATE: OPEN,
    Action.MERGE: OPEN,
    Action.DECIDE_EXTENSION: OPEN,
    Action.DECIDE_PAUSE: OPEN,
    Action.RESUME: OPEN,
    Action.PARTNER_REPLY: OPEN,
    Action.WAIVE: OPEN,
    Action.DECIDE_SCREENING: frozenset({S.SCREENING}),
}


def refusal(action: Action, status: CaseStatus) -> str | None:
    """Why ``action`` does not fit a case in ``status`` (None: it fits)."""
    allowed = FITS[action]
    if status in allowed:
        return None
    if status is S.RECEIVED:
        return f"cannot {action}: the case is still being planned, retry in a moment"
    if allowed is OPEN:
        return f"cannot {action}: the case is {status.value} ({status.label})"
    needs = " or ".join(f"{s.value} ({s.label})" for s in sorted(allowed, key=list(S).index))
    return f"cannot {action}: the case is {status.value} ({status.label}), this needs {needs}"


def conflict(message: str) -> ApplicationError:
    """A refusal the API answers with 409."""
    return ApplicationError(message, type=ERR_STATE, non_retryable=True)


def forbidden(message: str) -> ApplicationError:
    """A refusal the API answers with 403."""
    return ApplicationError(message, type=ERR_FORBIDDEN, non_retryable=True)
