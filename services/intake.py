"""Intake (受理): store a complaint with its personal data encrypted, link repeats, start its workflow; and the
reconciler that starts any stored case whose workflow start was lost."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.chain import canonical
from core.columns import utcnow
from core.contracts import (
    OPEN_VALUES,
    CaseInput,
    CaseKind,
    CaseStatus,
    Channel,
    HandlingPlan,
    ScreeningDecision,
    Urgency,
    workflow_id,
)
from core.contracts.case_io import CaseCreate
from core.crypto import Cipher, mask_name, mask_phone
from core.models import Case
from rules.engine import RulesEngine
from rules.errors import UnknownReference
from services.errors import ServiceError
from services.rules_store import load_engine
from workflows.clocks import start_clock

log = logging.getLogger("jiesu.intake")
TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew allowed for received_at


def intake_fingerprint(case_in: CaseCreate, cipher: Cipher) -> str:
    """Keyed fingerprint of what the intake system sent (to tell a retry from a different complaint with the same
    id); never served by the API, anonymised by retention."""
    return cipher.fingerprint(canonical(case_in.model_dump(mode="json", exclude_unset=True)))


def same_intake(case: Case, case_in: CaseCreate, cipher: Cipher) -> bool:
    """The stored case came from this very body (a retry). Rows stored before the keyed fingerprint carry the
    unkeyed SHA-256 of the body: they still compare, and no new row gets one."""
    if not case.intake_hash:
        return True
    body = canonical(case_in.model_dump(mode="json", exclude_unset=True))
    return case.intake_hash in (cipher.fingerprint(body), hashlib.sha256(body.encode()).hexdigest())


def new_tracking_code() -> str:
    """10 characters without look-alikes (0/O, 1/I)."""
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(10))


def find_by_external_id(session: Session, external_id: str) -> Case | None:
    """The case an intake id already created."""
    return session.exec(select(Case).where(Case.external_id == external_id)).first()


def create_case(*, session: Session, case_in: CaseCreate, rules: RulesEngine, cipher: Cipher,
                planned: list[HandlingPlan] | None = None) -> Case:
    """Store a new case with encrypted personal data and give it its number (YYYYMMDD + 8-digit serial).

    ``planned``: plan the case here, in the same transaction (its department, urgency and due times on the row),
    and append the plan to this list (nothing appended when the workflow must plan: 并单, a screening proposal)."""
    try:
        rules.check_place(case_in.category, case_in.district, case_in.street)
    except UnknownReference as exc:
        raise ServiceError(422, "unknown_reference", str(exc)) from exc
    groups = rules.rules.urgency.special_groups
    unknown = [g for g in case_in.special_groups if g not in groups]
    if unknown:
        raise ServiceError(422, "unknown_reference", f"unknown special group {', '.join(unknown)}; use one of "
                       f"{', '.join(f'{k} ({v.name})' for k, v in groups.items()) or '(none in these rules)'}")
    received = case_in.received_at or utcnow()
    if received > utcnow() + FUTURE_TOLERANCE:
        raise ServiceError(422, "validation_error", "received_at lies in the future")
    phone = case_in.complainant.phone
    case = Case(
        external_id=case_in.external_id, tracking_code=new_tracking_code(), kind=case_in.kind.value,
        channel=case_in.channel.value, category=case_in.category, district=case_in.district,
        street=case_in.street, address=case_in.address, description=case_in.description,
        name_enc=cipher.encrypt(case_in.complainant.name), phone_enc=cipher.encrypt(phone),
        phone_hash=cipher.phone_hash(phone), name_masked=mask_name(case_in.complainant.name),
        phone_masked=mask_phone(phone), urgency_requested=case_in.urgency.value if case_in.urgency else None,
        rules_version=rules.version, received_at=received, intake_hash=intake_fingerprint(case_in, cipher),
        special_groups=sorted(set(case_in.special_groups)), received_date=received.astimezone(rules.calendar.tz).date(),
        screening_decision=case_in.screening_decision.model_dump() if case_in.screening_decision else None,
    )
    link_repeats(session, case, rules)
    try:
        plan = plan_at_intake(case, rules) if planned is not None else None
    except UnknownReference as exc:  # a place the rules know but route nowhere (and do not screen)
        raise ServiceError(422, "unknown_reference", str(exc)) from exc
    if plan is not None and planned is not None:
        planned.append(plan)
        due = {k: c.due_at for k, c in plan.clocks.items() if k != "screening"}
        case.status, case.lead_department, case.urgency = CaseStatus.DISPATCHED.value, plan.lead_department, \
            plan.urgency.value
        case.due, case.due_resolution = {k: v.isoformat() for k, v in due.items()}, due.get("resolution")
        case.clocks = {k: start_clock(c, 1).model_dump(mode="json") for k, c in plan.clocks.items() if k in due}
        case.priority, case.calendar_gaps = plan.priority, list(plan.calendar_gaps)
    session.add(case)
    session.flush()  # the row (its id is the number's serial); the number follows in one narrow update
    case_no = f"{received.astimezone(rules.calendar.tz):%Y%m%d}{case.id:08d}"
    session.execute(_NUMBER, {"row_id": case.id, "number": case_no})
    set_committed_value(case, "case_no", case_no)
    session.commit()
    return case


_C = Case.__table__.c  # type: ignore[attr-defined]
# built once (every intake runs them): the earlier cases of a caller, and the number given to a new row
_EARLIER = sa.select(_C.case_no, _C.status).where(
    _C.phone_hash == sa.bindparam("phone"), _C.category == sa.bindparam("category"),
    _C.district == sa.bindparam("district"), _C.received_at >= sa.bindparam("since"), _C.case_no.is_not(None),
).order_by(_C.received_at)
_NUMBER = sa.update(Case.__table__).where(_C.id == sa.bindparam("row_id")).values(  # type: ignore[attr-defined]
    case_no=sa.bindparam("number"))


def link_repeats(session: Session, case: Case, rules: RulesEngine) -> None:
    """重复投诉: link the case to earlier cases of the same phone, category and district within the window;
    flag it at the rules' count; with automatic 并单 the same newest earlier case is the parent, when open."""
    cfg = rules.rules.repeat
    earlier = session.execute(_EARLIER, {
        "phone": case.phone_hash, "category": case.category, "district": case.district,
        "since": case.received_at - timedelta(days=cfg.window_days)}).all()
    if not earlier:
        return
    # one rule for both: the repeat links to the newest earlier case, and joins that same case (并单) when the
    # rules merge automatically and it is still open and being handled (not waiting on a screening decision)
    case.repeat_of, status = earlier[-1]
    case.repeat_count = len(earlier) + 1
    case.repeat_flag = case.repeat_count >= cfg.flag_at
    if cfg.auto_merge and status in OPEN_VALUES and status != CaseStatus.SCREENING.value:
        case.merge_parent = case.repeat_of




def case_input(case: Case, plan: HandlingPlan | None = None, case_no: str | None = None) -> CaseInput:
    """The workflow input of a stored case: facts only, no personal data or free text (``plan``: computed at
    intake from the pinned rules; ``case_no``: for a row that has none yet, the one it will have)."""
    case_no = case_no or case.case_no
    assert case_no is not None
    return CaseInput(
        case_no=case_no, kind=CaseKind(case.kind), channel=Channel(case.channel), category=case.category,
        district=case.district, street=case.street,
        urgency=Urgency(case.urgency_requested) if case.urgency_requested else None,
        received_at=case.received_at, rules_version=case.rules_version, repeat_of=case.repeat_of,
        repeat_count=case.repeat_count, repeat_flag=case.repeat_flag, merge_into=case.merge_parent,
        screening_decision=ScreeningDecision.model_validate(case.screening_decision) if case.screening_decision
        else None, plan=plan,
    )


def plan_at_intake(case: Case, rules: RulesEngine) -> HandlingPlan | None:
    """The case's plan, as the workflow's planning step would make it (pure: pinned rules and the stored
    complaint); None when the workflow must plan itself (automatic 并单, a screening proposal)."""
    plan = rules.plan(case_input(case, case_no=case.case_no or "planning"), case.description,
                      list(case.special_groups or []))
    return None if plan.screening is not None or case.merge_parent else plan


async def start_case(client: Client, task_queue: str, case: Case,
                     plan: HandlingPlan | None = None) -> WorkflowHandle:
    """Start the case's workflow once; a second call (retry, reconcile) returns the existing one."""
    return await start_input(client, task_queue, case_input(case, plan))


async def start_input(client: Client, task_queue: str, inp: CaseInput) -> WorkflowHandle:
    """Start the workflow of a case input once (the id is the case's: a second start returns the first)."""
    from workflows.case import CaseWorkflow

    wf_id = workflow_id(inp.case_no)
    try:
        return await client.start_workflow(
            CaseWorkflow.run, inp, id=wf_id, task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(wf_id)


def stored_input(session: Session, case: Case) -> CaseInput:
    """The workflow input of a stored case with the plan intake made for it (pure: its pinned rules)."""
    return case_input(case, plan_at_intake(case, load_engine(session, case.rules_version)))


def mark_started(engine: sa.Engine, case_nos: list[str]) -> None:
    """Mark cases whose workflow start succeeded (the first projection would too, later)."""
    with Session(engine) as session:
        started: sa.ColumnClause[bool] = sa.column("workflow_started")
        session.execute(sa.update(Case).where(Case.case_no.in_(case_nos),  # type: ignore[union-attr]
                                              started == sa.false()).values(workflow_started=True))
        session.commit()


RECONCILE_BATCH = 1000  # rows per sweep; a full batch means more are waiting
RECONCILE_IN_FLIGHT = 32  # starts at once


def unstarted(engine: sa.Engine, cutoff: datetime) -> list[CaseInput]:
    """The workflow inputs of the oldest stored cases created before ``cutoff`` whose start is not marked."""
    with Session(engine) as session:
        rows = session.exec(select(Case).where(
            Case.workflow_started == False,  # noqa: E712
            Case.case_no.is_not(None),  # type: ignore[union-attr]
            Case.created_at < cutoff,
        ).order_by(Case.id).limit(RECONCILE_BATCH)).all()  # type: ignore[arg-type]
        return [stored_input(session, case) for case in rows]


async def reconcile(client: Client, engine: sa.Engine, task_queue: str, older_than: timedelta,
                    max_batches: int | None = None) -> int:
    """Start workflows for stored cases whose start never reached Temporal (a crash or an outage between the
    commit and the start, or an API whose backlog of starts was full), oldest first, each with the plan intake
    made, as the start it replaces; started rows are marked. Sweeps batch after batch while it finds full ones
    (at most ``max_batches``) and every start of a batch succeeds; a start that fails is logged and left for the
    next sweep. Returns how many it started."""
    done, slots = 0, asyncio.Semaphore(RECONCILE_IN_FLIGHT)

    async def one(inp: CaseInput) -> None:
        async with slots:
            await start_input(client, task_queue, inp)

    for _ in itertools.count() if max_batches is None else range(max_batches):
        inputs = await asyncio.to_thread(unstarted, engine, utcnow() - older_than)
        results = await asyncio.gather(*(one(inp) for inp in inputs), return_exceptions=True)
        started = []
        for inp, result in zip(inputs, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("case %s: the reconciler's start failed (%s)", inp.case_no, type(result).__name__)
            else:
                started.append(inp.case_no)
        if started:
            await asyncio.to_thread(mark_started, engine, started)
            log.info("reconciled %d cases: workflows started", len(started))
        done += len(started)
        if len(inputs) < RECONCILE_BATCH or len(started) < len(inputs):
            break
    return done
