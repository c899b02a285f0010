"""`/t/{tracking_code}`: the complainant's page (Chinese, for a phone's narrow screen). Everyone with the code sees
the steps so far, the deadline and the department's public line; with the last four digits of the phone also the
reply, the evaluation form while the review window is open (the three review questions, recorded like intake's
review call) and the appeal form after closing, within the appeal window. A wrong code and wrong digits get the same
answer; lookups are rate-limited per address."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.auth import client_address
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import ServiceError
from api.templating import templates
from api.updates import run_update
from core.contracts import Actor, Resolution, ReviewInput, Role, Satisfaction
from core.crypto import Cipher
from core.models import Case
from services import appeals
from services.access import limit
from services.rules_store import load_engine
from services.tracking import digits_match, find, view
from workflows.case import CaseWorkflow

router = APIRouter(tags=["complainant page"], include_in_schema=False)



def page(request: Request, code: str, case: dict | None, verified: bool, digits: str = "",
         message: str = "", error: bool = False, status: int = 200) -> HTMLResponse:
    """The rendered page."""
    return templates.TemplateResponse(request, "track.html", {
        "case": case, "code": code, "verified": verified, "digits": digits if verified else "",
        "message": message, "error": error}, status_code=status)


def _checked(request: Request, session: Session, settings: Any, code: str, digits: str | None) -> Case | None:
    limit("tracking", client_address(request), settings.rate_limit("tracking"), "tracking lookups")
    case = find(session, code)
    if case is None:
        return None
    if digits is not None and not digits_match(case, digits, Cipher(settings)):
        return None  # the same answer as an unknown code: no hint which part was wrong
    return case


@router.get("/t/{code}", response_class=HTMLResponse)
def track_page(code: str, request: Request, session: SessionDep, settings: SettingsDep,
               d: str | None = None, done: str | None = None) -> HTMLResponse:
    """The complainant's page."""
    case = _checked(request, session, settings, code, d)
    if case is None:
        return page(request, code, None, False, status=404)
    message = {"review": "感谢您的评价！", "appeal": "申诉已提交，将由上级部门复核。"}.get(done or "", "")
    return page(request, code, view(session, case, d is not None), d is not None, d or "", message)


@router.post("/t/{code}/review", response_class=HTMLResponse, response_model=None)
async def online_review(code: str, request: Request, session: SessionDep, settings: SettingsDep,
                        temporal: TemporalDep, d: Annotated[str, Form()], contacted: Annotated[str, Form()],
                        resolution: Annotated[str, Form()], satisfaction: Annotated[str, Form()],
                        note: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse | RedirectResponse:
    """The complainant's own evaluation (网上评价): the three review questions, recorded as the review."""
    case = _checked(request, session, settings, code, d)
    if case is None or case.case_no is None:
        return page(request, code, None, False, status=404)
    try:
        answer = ReviewInput(actor=Actor(id=f"online-{case.tracking_code}", role=Role.INTAKE),
                             contacted=contacted == "true", resolution=Resolution(resolution),
                             satisfaction=Satisfaction(satisfaction), note=f"网上评价：{note}".rstrip("："))
        await run_update(session, temporal, case.case_no, CaseWorkflow.record_review, answer, seen_by=None)
    except (ValueError, ServiceError) as exc:
        message = exc.message if isinstance(exc, ServiceError) else "请完整填写评价"
        return page(request, code, view(session, case, True), True, d, message, error=True, status=409)
    return RedirectResponse(f"/t/{code}?d={d}&done=review", status_code=303)


@router.post("/t/{code}/appeal", response_class=HTMLResponse, response_model=None)
async def online_appeal(code: str, request: Request, session: SessionDep, settings: SettingsDep,
                        temporal: TemporalDep, d: Annotated[str, Form()],
                        reason: Annotated[str, Form(min_length=1, max_length=2000)]) -> HTMLResponse | RedirectResponse:
    """The complainant's appeal (申诉) after closing, within the window."""
    case = _checked(request, session, settings, code, d)
    if case is None or case.case_no is None:
        return page(request, code, None, False, status=404)
    actor = Actor(id=f"online-{case.tracking_code}", role=Role.INTAKE)
    try:
        start = appeals.appeal_start(session, case, load_engine(session, case.rules_version), reason, actor)
        await appeals.start_appeal(temporal, settings.task_queue, case, start)
    except ServiceError as exc:
        return page(request, code, view(session, case, True), True, d, exc.message, error=True, status=409)
    return RedirectResponse(f"/t/{code}?d={d}&done=appeal", status_code=303)
