"""The table of which action fits which status (workflows/fits.py), on one screen."""

from __future__ import annotations

import pytest

from core.contracts import CaseStatus as S
from workflows.fits import FITS, Action, refusal

A = Action
EXPECTED = {  # action → the statuses it fits; every other status is refused
    A.SIGN_FOR: {S.DISPATCHED},
    A.RETURN: {S.DISPATCHED},
    A.REASSIGN: {S.DISPATCHED, S.HANDLING},
    A.ARBITRATE: {S.ARBITRATION},
    A.CONTACT: {S.HANDLING},
    A.HANDLING_STARTED: {S.HANDLING},
    A.REPLY: {S.HANDLING},
    A.EXTENSION: {S.HANDLING},
    A.PAUSE: {S.HANDLING},
    A.PARTNERS: {S.HANDLING},
    A.REVIEW: {S.REPLIED},
    A.REHANDLE: {S.SUPERVISOR_REVIEW},
    A.DECIDE_SCREENING: {S.SCREENING},
}
OPEN = {S.SCREENING, S.DISPATCHED, S.ARBITRATION, S.HANDLING, S.REPLIED, S.SUPERVISOR_REVIEW}
for _a in (A.ESCALATE, A.CLOSE, A.TERMINATE, A.MERGE, A.DECIDE_EXTENSION, A.DECIDE_PAUSE, A.RESUME,
           A.PARTNER_REPLY, A.WAIVE):
    EXPECTED[_a] = OPEN


def test_every_action_has_a_row() -> None:
    assert set(FITS) == set(Action) == set(EXPECTED)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("status", list(S))
def test_table(action: Action, status: S) -> None:
    why = refusal(action, status)
    if status in EXPECTED[action]:
        assert why is None
    else:
        assert why is not None and why.startswith(f"cannot {action.value}: the case is ")


def test_refusals_say_what_the_action_needs() -> None:
    assert refusal(A.REPLY, S.DISPATCHED) == (
        "cannot submit a reply: the case is dispatched (待签收), this needs handling (办理中)")
    assert refusal(A.SIGN_FOR, S.RECEIVED) == "cannot sign for: the case is still being planned, retry in a moment"
    assert refusal(A.CLOSE, S.CLOSED) == "cannot close the case: the case is closed (已办结)"
    assert "dispatched (待签收) or handling (办理中)" in (refusal(A.REASSIGN, S.REPLIED) or "")
