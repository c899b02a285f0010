"""Supervision routes: escalate, close with a finding, terminate, merge, order another round (上级复核), the
quality rating (双评价) and the archive file (一事一档)."""

from __future__ import annotations

from typing import Any

import sqlalchemy.exc
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.auth import ArchiveReader, Supervisor
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import BODY_ERRORS, ServiceError, not_found, responses
from api.schemas.cases import ActionResult
from api.schemas.supervision import FindingIn, MergeIn, NoteIn, RatingIn, RatingPublic, ReasonIn, TerminateIn
from api.updates import ACTION_ERRORS, run_update
from core.contracts import (
    OPEN_STATUSES,
    CaseStatus,
    CloseInput,
    EscalateInput,
    MergeInput,
    RehandleOrder,
    TerminateInput,
)
from core.db import get_engine
from core.models import CaseArchive, CaseRating
from services import cases as svc
from services.access import record_access
from services.rules_store import load_engine
from workflows.case import CaseWorkflow

# what the archive API never serves of the stored file: ciphertext, keyed hashes, the tracking code
ARCHIVE_WITHHELD = frozenset({"name_enc", "phone_enc", "phone_hash", "intake_hash", "tracking_code"})

router = APIRouter(prefix="/cases", tags=["supervision"], responses=responses(401, 403, 429))


@router.post("/{case_no}/escalate", response_model=ActionResult, responses=ACTION_ERRORS)
async def escalate(case_no: str, body: ReasonIn, session: SessionDep, temporal: TemporalDep,
                   actor: Supervisor) -> ActionResult:
    """督办升级: raise the escalation level; the lead department's head is notified."""
    return await run_update(session, temporal, case_no, CaseWorkflow.escalate,
                            EscalateInput(actor=actor, reason=body.reason), seen_by=actor)


@router.post("/{case_no}/close", response_model=ActionResult, responses=ACTION_ERRORS)
async def close_case(case_no: str, body: FindingIn, session: SessionDep, temporal: TemporalDep,
                     actor: Supervisor) -> ActionResult:
    """Close the case with a finding (复核结论)."""
    return await run_update(session, temporal, case_no, CaseWorkflow.close_case,
                            CloseInput(actor=actor, finding=body.finding), seen_by=actor)


@router.post("/{case_no}/terminate", response_model=ActionResult, responses=ACTION_ERRORS)
async def terminate(case_no: str, body: TerminateIn, session: SessionDep, temporal: TemporalDep,
                    actor: Supervisor) -> ActionResult:
    """终结: end the case with a reason code (不合理诉求, 重复诉求, 无法联系, 法定途径, …) and a text."""
    case = await run_in_threadpool(svc.find_case, session, case_no)
    svc.require_code(load_engine(session, case.rules_version).rules.termination_reasons, body.reason_code)
    return await run_update(session, temporal, case_no, CaseWorkflow.terminate,
                            TerminateInput(actor=actor, **body.model_dump()), seen_by=actor)


@router.post("/{case_no}/merge", response_model=ActionResult, responses=ACTION_ERRORS)
async def merge(case_no: str, body: MergeIn, session: SessionDep, temporal: TemporalDep,
                actor: Supervisor) -> ActionResult:
    """并单: this duplicate joins an open parent; its complainant will get the parent's result."""
    parent = await run_in_threadpool(svc.find_case, session, body.parent_case_no)
    if CaseStatus(parent.status) not in OPEN_STATUSES:
        raise ServiceError(409, "state_conflict", f"case {parent.case_no} is {parent.status}: merge into an open case")
    return await run_update(session, temporal, case_no, CaseWorkflow.merge,
                            MergeInput(actor=actor, parent_case_no=body.parent_case_no), seen_by=actor)


@router.post("/{case_no}/rehandle", response_model=ActionResult, responses=ACTION_ERRORS)
async def order_rehandle(case_no: str, body: NoteIn, session: SessionDep, temporal: TemporalDep,
                         actor: Supervisor) -> ActionResult:
    """上级复核: send the case back to the lead for another round."""
    return await run_update(session, temporal, case_no, CaseWorkflow.order_rehandle,
                            RehandleOrder(actor=actor, note=body.note), seen_by=actor)


@router.post("/{case_no}/rating", response_model=RatingPublic, status_code=201,
             responses=responses(*BODY_ERRORS, 404, 409, s409="the case is not closed, or is already rated"))
def rate(case_no: str, body: RatingIn, session: SessionDep, actor: Supervisor) -> RatingPublic:
    """双评价: the supervisor rates the handling quality of a closed case (once)."""
    case = svc.find_case(session, case_no)
    if case.status not in (CaseStatus.CLOSED.value, CaseStatus.ARCHIVED.value):
        raise ServiceError(409, "state_conflict", f"case {case_no} is {case.status}: only closed cases are rated")
    rating = CaseRating(case_no=case_no, score=body.score, note=body.note, rated_by=actor.id)
    session.add(rating)
    try:
        session.commit()
    except sqlalchemy.exc.IntegrityError as exc:
        session.rollback()
        raise ServiceError(409, "state_conflict", f"case {case_no} is already rated") from exc
    return RatingPublic(**rating.model_dump())


@router.get("/{case_no}/archive", responses=responses(404, s404="no such case, or it is not archived yet"))
def read_archive(case_no: str, session: SessionDep, settings: SettingsDep, actor: ArchiveReader) -> dict[str, Any]:
    """一事一档: the archived file of a closed case (case, every event, partner tasks, notices, plan, chain head).
    Ciphertext, keyed hashes and the tracking code stay out of the answer (nobody reading it needs them); every
    read is in the access log."""
    archive = session.get(CaseArchive, case_no)
    if archive is None:
        raise not_found(f"archive of case {case_no}")
    record_access(get_engine(settings), actor, "archive_read", case_no=case_no)
    rating = session.get(CaseRating, case_no)
    file = dict(archive.bundle)
    file["case"] = {k: v for k, v in file.get("case", {}).items() if k not in ARCHIVE_WITHHELD}
    return {"case_no": case_no, "archived_at": archive.archived_at, "bundle_sha256": archive.bundle_sha256,
            "head_hash": archive.head_hash, "retain_until": archive.retain_until,
            "anonymised_at": archive.anonymised_at, "rating": rating.model_dump() if rating else None,
            "file": file}
