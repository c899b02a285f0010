"""The auditor's pages: a case's archive with its chain verified (green or red), the access log of personal-data
reads (its own chain verified), and exports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from api.console.web import User, may, render
from api.deps import SessionDep, SettingsDep
from api.errors import ServiceError
from api.routes.access import read_access_log
from api.routes.exports import ExportFilters, export_cases
from api.routes.supervision import read_archive
from core.contracts import Role
from services.audit import verify_case

router = APIRouter()


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, user: User, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Open a case's archive (一事一档) by number: the file and whether its hash chain holds."""
    may(user, Role.AUDITOR, Role.SUPERVISOR)
    case_no = request.query_params.get("case_no", "").strip()
    archive, problems, message = None, [], ""
    if case_no:
        try:
            archive = read_archive(case_no, session, settings, user.actor)
            problems = verify_case(session, case_no)
        except ServiceError as exc:
            message = exc.message
    return render(request, user, "audit.html", case_no=case_no, archive=archive, problems=problems,
                  message=message)


@router.get("/access-log", response_class=HTMLResponse)
def access_log(request: Request, user: User, session: SessionDep) -> HTMLResponse:
    """Who read personal data, when and why; and whether the log's chain holds."""
    may(user, Role.AUDITOR, Role.ADMIN)
    q = request.query_params
    page = read_access_log(session, user.actor, actor_id=q.get("actor_id") or None, action=q.get("action") or None,
                           case_no=q.get("case_no") or None, limit=100, offset=0)
    return render(request, user, "access_log.html", page=page, q=q)


@router.get("/exports", response_class=HTMLResponse)
def exports(request: Request, user: User) -> HTMLResponse:
    """Exports: the CSV of the filtered cases (masked)."""
    may(user, Role.AUDITOR)
    return render(request, user, "exports.html")


@router.get("/exports/cases.csv")
def export_csv(user: User, session: SessionDep, settings: SettingsDep,
               filters: Annotated[ExportFilters, Query()]) -> StreamingResponse:
    """工单导出 as the REST export answers it (masked; the auditor's role)."""
    may(user, Role.AUDITOR)
    return export_cases(session, settings, user.actor, filters, False)
