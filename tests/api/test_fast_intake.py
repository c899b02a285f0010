"""Intake plans the case itself (pinned rules, one transaction) and answers once it is committed, without waiting
for the worker or the start: the answer and the row carry the plan at once, the start follows and marks the row,
an action sent right after the answer fits (the workflow opens the case first), an action reaching a case whose
start never happened starts it, and a retried post of such a case starts it too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from core.models import Case
from services.starts import Starter
from tests.helpers import auth, case_when, complaint, stored_case

pytestmark = pytest.mark.temporal


async def test_the_answer_and_the_row_carry_the_plan_at_once(api, tokens, engine) -> None:
    r = await api.post("/api/v1/cases", json=complaint(), headers=auth(tokens["intake"]))
    assert r.status_code == 201
    created = r.json()
    assert created["status"] == "dispatched" and created["plan"]["lead_department"] == "xicheng-cgzf"
    with Session(engine) as s:  # stored with the complaint, before any workflow task
        row = s.exec(select(Case).where(Case.case_no == created["case_no"])).one()
    assert row.lead_department == "xicheng-cgzf" and row.urgency == "一般" and row.due_resolution is not None
    assert set(row.due) >= {"sign_for", "first_contact", "resolution"}
    planned = {k: v[:16] for k, v in created["plan"]["due"].items()}
    projected = await case_when(api, tokens["intake"], created["case_no"],
                                lambda c: any(e["type"] == "dispatched" for e in c["timeline"]))
    assert {k: v[:16] for k, v in projected["due"].items() if k in planned} == planned  # the workflow kept it


async def test_a_sign_for_sent_with_the_answer_fits_and_follows_the_dispatch(api, tokens) -> None:
    r = await api.post("/api/v1/cases", json=complaint(), headers=auth(tokens["intake"]))
    no = r.json()["case_no"]
    signed = await api.post(f"/api/v1/cases/{no}/sign-for", json={}, headers=auth(tokens["handler"]))
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "handling"
    case = await case_when(api, tokens["intake"], no, lambda c: any(e["type"] == "signed_for"
                                                                    for e in c["timeline"]))
    kinds = [e["type"] for e in case["timeline"]]
    assert kinds[:2] == ["accepted", "dispatched"] and kinds.index("signed_for") > kinds.index("dispatched")
    assert [e["seq"] for e in case["timeline"]] == list(range(1, len(kinds) + 1))


async def test_a_retried_post_starts_a_workflow_whose_start_was_lost(api, tokens, engine, settings) -> None:
    body = complaint()
    case = stored_case(engine, settings, external_id=body["external_id"])  # committed, never started
    body = complaint(external_id=body["external_id"])
    r = await api.post("/api/v1/cases", json=body, headers=auth(tokens["intake"]))
    if r.status_code == 409:  # the helper's complaint differs from this body in a detail: use its own body
        pytest.fail(f"the stored case and the retried post differ: {r.text}")
    assert r.status_code == 200 and r.json()["case_no"] == case.case_no
    await case_when(api, tokens["intake"], case.case_no or "", lambda c: any(e["type"] == "dispatched"
                                                                             for e in c["timeline"]))


async def test_an_action_reaching_a_case_whose_start_never_happened_starts_it(api, tokens, monkeypatch) -> None:
    monkeypatch.setattr(Starter, "submit", lambda self, client, inp: None)  # the process died after the commit
    created = (await api.post("/api/v1/cases", json=complaint(), headers=auth(tokens["intake"]))).json()
    no = created["case_no"]
    signed = await api.post(f"/api/v1/cases/{no}/sign-for", json={}, headers=auth(tokens["handler"]))
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "handling"
    done = await case_when(api, tokens["intake"], no, lambda c: any(e["type"] == "signed_for" for e in c["timeline"]))
    assert [e["type"] for e in done["timeline"]][:2] == ["accepted", "dispatched"]
    assert all(done["due"][k][:16] == v[:16] for k, v in created["plan"]["due"].items())  # the plan intake made


class RefusingClient:
    """A Temporal client whose every start fails as when the service is down."""

    async def start_workflow(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        from temporalio.service import RPCError, RPCStatusCode

        raise RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")


async def test_the_background_start_marks_the_row_and_a_failed_one_leaves_it_to_the_reconciler(
        client, engine, settings) -> None:
    """On a task queue no worker polls, only the starter can mark the row: no projection runs."""
    import uuid

    from services.intake import stored_input

    lost, started = stored_case(engine, settings), stored_case(engine, settings)
    starter = Starter(f"nobody-{uuid.uuid4().hex[:8]}", engine)
    with Session(engine) as s:
        starter.submit(RefusingClient(), stored_input(s, lost))  # type: ignore[arg-type]
        starter.submit(client, stored_input(s, started))
    await starter.drain()
    with Session(engine) as s:
        rows = {c.case_no: c.workflow_started for c in s.exec(select(Case).where(
            Case.case_no.in_([lost.case_no, started.case_no]))).all()}  # type: ignore[union-attr]
    assert rows == {lost.case_no: False, started.case_no: True}
    handle = client.get_workflow_handle(f"case-{started.case_no}")
    assert (await handle.describe()).task_queue == starter.task_queue
    await handle.terminate("test over")


class SlowClient:
    """A Temporal client whose start answers after a moment, and remembers what it started."""

    def __init__(self) -> None:
        self.started: list[str] = []

    async def start_workflow(self, *args, id: str, **kwargs):  # type: ignore[no-untyped-def]  # noqa: A002
        import asyncio

        await asyncio.sleep(0.3)
        self.started.append(id)


async def test_a_stopping_api_finishes_the_starts_it_took_on(engine, settings) -> None:
    """The API's shutdown waits for its background starts, so a deploy does not leave them to the reconciler."""
    from api.app import create_app
    from services.intake import stored_input

    app, slow = create_app(settings), SlowClient()
    case = stored_case(engine, settings)
    async with app.router.lifespan_context(app):  # as uvicorn runs it: started, then stopped
        with Session(engine) as s:
            app.state.starter.submit(slow, stored_input(s, case))  # type: ignore[arg-type]
        assert slow.started == []
    assert slow.started == [f"case-{case.case_no}"] and app.state.starter.pending == 0


async def test_the_api_loads_the_active_rules_at_start_up(engine, settings, monkeypatch) -> None:
    """The first complaints after a deploy do not wait for the rules' YAML to be parsed."""
    from api.app import create_app
    from services import rules_store

    monkeypatch.setattr(rules_store, "_engines", {})
    app = create_app(settings, temporal=object())
    async with app.router.lifespan_context(app):
        with Session(engine) as s:
            assert list(rules_store._engines) == [rules_store.active_version(s)]


async def test_the_api_starts_while_the_database_is_unreachable(settings, caplog, monkeypatch) -> None:
    """No database at start-up (not migrated, down): the API still starts; the first request loads the rules."""
    import logging

    from api.app import create_app
    from services import rules_store

    monkeypatch.setattr(rules_store, "_engines", {})
    down = settings.model_copy(update={"database_url": "postgresql+psycopg://postgres@127.0.0.1:9/none"})
    app = create_app(down, temporal=object())
    with caplog.at_level(logging.INFO, logger="jiesu.api"):
        async with app.router.lifespan_context(app):
            assert rules_store._engines == {}  # tried, failed, and started all the same
    assert any("rules not preloaded (OperationalError)" in r.getMessage() for r in caplog.records)


async def test_an_action_waiting_on_its_case_holds_no_database_connection(engine, settings, tokens,
                                                                         monkeypatch) -> None:
    """While an Update waits (up to UPDATE_WAIT_SECONDS), the request gives its connection back to the pool:
    enough actions waiting at once would otherwise run the pool dry for every other request."""
    import httpx

    from api import updates
    from api.app import create_app
    from api.errors import ServiceError

    held: list[int] = []

    async def waiting(*args, **kwargs):  # type: ignore[no-untyped-def]
        held.append(engine.pool.checkedout())
        raise ServiceError(409, "state_conflict", "the case said no")

    monkeypatch.setattr(updates, "_send", waiting)
    case = stored_case(engine, settings)
    before = engine.pool.checkedout()
    app = create_app(settings, temporal=NoWorkflows())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        r = await http.post(f"/api/v1/cases/{case.case_no}/escalate", json={"reason": "久拖不办"},
                            headers=auth(tokens["supervisor"]))
    assert r.status_code == 409 and held == [before]


class NoWorkflows:
    """A Temporal client stand-in: handles to nothing (the Update itself is replaced)."""

    def get_workflow_handle(self, workflow_id: str) -> None:
        return None


async def test_past_its_backlog_the_starter_leaves_cases_to_the_reconciler(engine, settings) -> None:
    """A burst faster than the process can start: the backlog stays bounded, the rest stays unstarted (committed)."""
    from services.intake import stored_input

    first, second = stored_case(engine, settings), stored_case(engine, settings)
    slow, starter = SlowClient(), Starter(settings.task_queue, engine, backlog=1)
    with Session(engine) as s:
        starter.submit(slow, stored_input(s, first))  # type: ignore[arg-type]
        starter.submit(slow, stored_input(s, second))  # type: ignore[arg-type]
    assert (starter.pending, starter.deferred) == (1, 1)
    await starter.drain()
    assert slow.started == [f"case-{first.case_no}"]
    with Session(engine) as s:
        assert s.get(Case, second.id).workflow_started is False  # type: ignore[union-attr]


async def test_the_reconciler_sweeps_batch_after_batch_and_marks_what_it_started(engine, settings,
                                                                                 monkeypatch) -> None:
    from services import intake

    monkeypatch.setattr(intake, "RECONCILE_BATCH", 2)
    cases = [stored_case(engine, settings) for _ in range(5)]
    client = SlowClient()
    assert await intake.reconcile(client, engine, settings.task_queue, older_than=timedelta(0)) >= 5  # type: ignore[arg-type]
    assert {f"case-{c.case_no}" for c in cases} <= set(client.started)
    with Session(engine) as s:
        assert all(s.get(Case, c.id).workflow_started for c in cases)  # type: ignore[union-attr]
    assert await intake.reconcile(client, engine, settings.task_queue, older_than=timedelta(0)) == 0


async def test_a_drain_that_takes_too_long_leaves_the_rest_to_the_reconciler(engine, settings) -> None:
    """A stopping API waits for its starts only so long (a pod's grace period): the rest stay unstarted rows."""
    from services.intake import stored_input

    case, slow = stored_case(engine, settings), SlowClient()
    starter = Starter(settings.task_queue, engine)
    with Session(engine) as s:
        starter.submit(slow, stored_input(s, case))  # type: ignore[arg-type]
    await starter.drain(timeout=0.05)
    assert slow.started == [] and starter.pending == 0
    with Session(engine) as s:
        assert s.get(Case, case.id).workflow_started is False  # type: ignore[union-attr]


async def test_a_start_the_reconciler_cannot_make_leaves_the_others_marked(engine, settings, monkeypatch) -> None:
    """One case whose start fails (its workflow service refuses it) does not cost the batch its marks; it waits
    for the next sweep, and the sweep stops instead of retrying it at once."""
    from services import intake

    monkeypatch.setattr(intake, "RECONCILE_BATCH", 3)
    *good, bad = [stored_case(engine, settings) for _ in range(3)]  # oldest first: the good ones come before

    class OneRefused(SlowClient):
        async def start_workflow(self, *args, id: str, **kwargs):  # type: ignore[no-untyped-def]  # noqa: A002
            if id == f"case-{bad.case_no}":
                await RefusingClient().start_workflow()
            await super().start_workflow(*args, id=id, **kwargs)

    client = OneRefused()
    await intake.reconcile(client, engine, settings.task_queue, older_than=timedelta(0))  # type: ignore[arg-type]
    with Session(engine) as s:
        marked = {c.case_no: s.get(Case, c.id).workflow_started for c in [bad, *good]}  # type: ignore[union-attr]
    assert marked == {bad.case_no: False, **{c.case_no: True for c in good}}
