"""FixMyStreet's GeoReport extension ``servicerequestupdates``: the feed of every request's status changes, and a
citizen's update sent from the client."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response
from sqlmodel import col, select

from api.deps import SessionDep
from api.open311 import CLOSED, Open311Error, _fmt, _intake_actor, _when, answer, iso
from api.templating import TZ
from core.columns import utcnow
from core.models import Case, CaseEventRow, Notice

router = APIRouter(prefix="/open311/v2", tags=["open311"], include_in_schema=False)


# the timeline events a client hears of, as FixMyStreet's extended statuses (Open311 updates)
UPDATE_STATUS = {"dispatched": "OPEN", "redispatched": "INTERNAL_REFERRAL", "reassigned": "INTERNAL_REFERRAL",
                 "arbitrated": "INTERNAL_REFERRAL", "signed_for": "ACTION_SCHEDULED", "contacted": "IN_PROGRESS",
                 "handling_started": "IN_PROGRESS", "replied": "INVESTIGATING", "rehandle_started": "IN_PROGRESS",
                 "screened": "NOT_COUNCILS_RESPONSIBILITY", "merged_in": "DUPLICATE", "closed": "CLOSED",
                 "appealed": "OPEN"}
CLOSED_AS = {"resolved": "FIXED", "unrated": "CLOSED", "finding": "CLOSED", "terminated": "NO_FURTHER_ACTION",
             "merged": "DUPLICATE", "transferred": "NOT_COUNCILS_RESPONSIBILITY",
             "legal_channel": "NOT_COUNCILS_RESPONSIBILITY", "not_accepted": "NOT_COUNCILS_RESPONSIBILITY"}
UPDATE_TEXT = {"OPEN": "已派单", "INTERNAL_REFERRAL": "已改派", "ACTION_SCHEDULED": "承办单位已签收",
               "IN_PROGRESS": "办理中", "INVESTIGATING": "已答复，待回访", "FIXED": "已解决并办结",
               "CLOSED": "已办结", "NO_FURTHER_ACTION": "已终结", "DUPLICATE": "已并入同一诉求",
               "NOT_COUNCILS_RESPONSIBILITY": "不属本热线办理范围，已告知"}


@router.get("/servicerequestupdates.{fmt}")
def list_updates(request: Request, fmt: str, session: SessionDep) -> Response:
    """FixMyStreet's updates feed: each status change of every request in the date range (default: the last
    day), with the extended statuses; no free text (the status in words instead)."""
    _fmt(fmt)
    q = request.query_params
    end = _when(q.get("end_date"), "end_date") or utcnow()
    start = _when(q.get("start_date"), "start_date") or end - timedelta(days=1)
    rows = session.exec(select(CaseEventRow).where(
        col(CaseEventRow.type).in_(list(UPDATE_STATUS)), col(CaseEventRow.at) >= start, col(CaseEventRow.at) <= end)
        .order_by(col(CaseEventRow.at), col(CaseEventRow.id)).limit(5000)).all()
    out = []
    for e in rows:
        status = UPDATE_STATUS[e.type]
        if e.type == "closed":
            status = CLOSED_AS.get(str(e.data.get("outcome", "")), "CLOSED")
        out.append({"update_id": f"{e.case_no}-{e.seq}", "service_request_id": e.case_no, "status": status,
                    "updated_datetime": iso(e.at), "description": UPDATE_TEXT.get(status, status),
                    "media_url": None})
    return answer(fmt, "service_request_updates", "request_update", out)


@router.post("/servicerequestupdates.{fmt}")
async def post_update(request: Request, fmt: str, session: SessionDep) -> Response:
    """A client's update to a request (the citizen adds something): it reaches the lead department's inbox (and
    the supervisors' when the request is closed); the case's workflow is not changed by it."""
    _fmt(fmt)
    form = {k: str(v) for k, v in (await request.form()).items()}
    _intake_actor(session, form.get("api_key", ""))
    case = session.exec(select(Case).where(Case.case_no == form.get("service_request_id", ""))).first()
    if case is None:
        raise Open311Error(404, f"no service request {form.get('service_request_id', '')!r}")
    text = form.get("description", "").strip()
    if not text or len(text) > 2000:
        raise Open311Error(400, "description: 1 to 2000 characters")
    update_id = form.get("update_id") or uuid.uuid4().hex[:16]
    key = f"open311-{update_id}"[:64]
    closed = case.status in CLOSED
    if session.exec(select(Notice).where(Notice.case_no == case.case_no, Notice.key == key)).first() is None:
        session.add(Notice(case_no=case.case_no or "", key=key, template="citizen_update",
                           recipient="supervisor" if closed or not case.lead_department else "department",
                           department=None if closed else case.lead_department, channel="worklist",
                           body=f"【诉求人补充】工单{case.case_no}：{text}"))
        session.commit()
    row = {"update_id": update_id, "service_request_id": case.case_no, "status": "CLOSED" if closed else "OPEN",
           "updated_datetime": iso(datetime.now(TZ))}
    return answer(fmt, "service_request_updates", "request_update", [row], status=201)
