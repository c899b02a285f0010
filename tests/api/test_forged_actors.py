"""Forged actors: an Update whose actor the API did not sign is refused before anything is recorded — also when
it comes from a client that reaches the Temporal frontend directly; a rules-migration signal does nothing."""

from __future__ import annotations

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.contracts import ERR_FORBIDDEN, Actor, EscalateInput, Role, RulesMigration, workflow_id
from core.signing import refusal, sign, signing_key
from core.temporal import converter
from tests.helpers import auth, case_when, new_case, started
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal
FORGED = Actor(id="nobody", role=Role.SUPERVISOR)


async def test_an_unsigned_supervisor_is_refused_and_nothing_is_recorded(api, tokens, client: Client,
                                                                        settings) -> None:
    case_no = await new_case(api, tokens)
    await started(client, case_no)
    # a client that reaches the Temporal frontend (it even has the payload codec) but not the signing key
    plain = await Client.connect(client.service_client.config.target_host, data_converter=converter(settings))
    handle = plain.get_workflow_handle(workflow_id(case_no))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(CaseWorkflow.escalate, EscalateInput(actor=FORGED, reason="伪造的督办"))
    assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == ERR_FORBIDDEN
    assert "not signed" in refused.value.cause.message
    wrong_key = sign(signing_key(b"another key"), workflow_id(case_no), "escalate",
                     EscalateInput(actor=FORGED, reason="伪造的督办"))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(CaseWorkflow.escalate, wrong_key)
    assert "does not match" in refused.value.cause.message  # type: ignore[union-attr]
    await handle.signal("migrate_rules", RulesMigration(version="2026.2", reason="伪造", actor=FORGED,
                                                        migration_id="forged-1"))
    r = await api.post(f"/api/v1/cases/{case_no}/escalate", json={"reason": "真实的督办"},
                       headers=auth(tokens["supervisor"]))
    assert r.status_code == 200, r.text  # through the API the same act is signed and accepted
    case = await case_when(api, tokens["supervisor"], case_no,
                           lambda c: any(e["type"] == "escalated" for e in c["timeline"]))
    escalated = [e for e in case["timeline"] if e["type"] == "escalated"]
    assert [e["data"]["reason"] for e in escalated] == ["真实的督办"]  # the forged ones left no trace
    assert case["rules_version"] == "2026.3" and "signature" not in escalated[0]["actor"]
    assert not any(e["type"] == "rules_migrated" for e in case["timeline"])


def test_a_signature_covers_the_case_the_action_and_its_arguments() -> None:
    key = signing_key(b"secret")
    signed = sign(key, "case-1", "escalate", EscalateInput(actor=FORGED, reason="a"))
    assert refusal(key, "case-1", "escalate", [signed]) is None
    assert refusal(key, "case-2", "escalate", [signed])  # another case
    assert refusal(key, "case-1", "terminate", [signed])  # another action
    assert refusal(key, "case-1", "escalate", [signed.model_copy(update={"reason": "b"})])  # other arguments
    other_actor = signed.model_copy(update={"actor": signed.actor.model_copy(update={"id": "someone"})})
    assert refusal(key, "case-1", "escalate", [other_actor])
    assert refusal(key, "case-1", "await_plan", []) is None  # changes nothing, names nobody
