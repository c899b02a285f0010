"""Console pages of the people who work cases: work lists (paged, sortable, filterable, remembered per user), the
case page with every clock and the actions that fit, the complainant's number on demand (logged), bulk actions
for supervisors, the inbox and the partner work list."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from api.console.actions import BY_SLUG, offered, perform
from api.console.web import FormUser, User, back, may, refusal, render
from api.deps import IDEMPOTENCY_KEY, SessionDep, SettingsDep, TemporalDep
from api.errors import ServiceError
from api.routes.clocks import read_clocks
from core.contracts import CaseStatus, Resolution, Role, Satisfaction
from core.db import get_engine
from core.models import Case, CaseRating, PartnerTaskRow
from services import cases as svc
from services import inbox as inbox_svc
from services import reports
from services.console_sessions import pref, remember
from services.reveal import reveal
from services.rules_store import active_version, load_engine

router = APIRouter()
# the work lists of each role, in menu order (names from services.reports.WORKLISTS; partner tasks apart)
LISTS = {
    Role.HANDLER: [("awaiting_sign_for", "待签收"), ("handling", "办理中"), ("due_soon", "临期"),
                   ("overdue", "超期"), ("awaiting_review", "待回访")],
    Role.SUPERVISOR: [("screening", "甄别待确认"), ("arbitration", "派单异议"), ("extension_requests", "延期申请"),
                      ("pause_requests", "挂起申请"), ("supervisor_review", "上级复核"), ("escalated", "督办"),
                      ("overdue", "超期"), ("due_soon", "临期"), ("awaiting_sign_for", "待签收"),
                      ("handling", "办理中")],
    Role.INTAKE: [("screening", "甄别待确认"), ("awaiting_review", "待回访")],
}
# lists whose cases a supervisor decides in place: the action and its two answers
DECIDE = {"extension_requests": {"slug": "extension/decision", "field": "approve", "yes": "批准延期", "no": "驳回"},
          "pause_requests": {"slug": "pause/decision", "field": "approve", "yes": "批准挂起", "no": "驳回"},
          "screening": {"slug": "screening", "field": "confirm", "yes": "按建议分流", "no": "驳回并派单"}}
SORT_LABELS = {"urgent": "紧急优先", "due": "期限最近", "newest": "最新受理", "oldest": "最早受理"}
PAGE_SIZES = (20, 50, 100)


def _lists(user: Any) -> list[tuple[str, str]]:
    may(user, *LISTS)
    return LISTS[user.actor.role]


@router.get("/work", response_class=HTMLResponse)
def work(request: Request, user: User, session: SessionDep) -> HTMLResponse:
    """A work list; the filters, sort and page size last chosen for it are remembered per user."""
    lists = _lists(user)
    q = request.query_params
    name = q.get("list") or pref(session, user.actor.id, "work").get("list") or lists[0][0]
    if name not in dict(lists):
        raise ServiceError(404, "not_found", f"no work list {name!r}")
    saved = pref(session, user.actor.id, f"work:{name}")
    keys = ("sort", "category", "district", "urgency", "size")
    choice = {k: q.get(k, saved.get(k, "")) for k in keys} if any(k in q for k in keys) else dict(saved)
    choice["sort"] = choice.get("sort") if choice.get("sort") in SORT_LABELS else "urgent"
    size = int(choice["size"]) if str(choice.get("size", "")).isdigit() and int(choice["size"]) in PAGE_SIZES else 20
    choice["size"] = str(size)
    if choice != saved:
        remember(session, user.actor.id, f"work:{name}", choice)
    if pref(session, user.actor.id, "work").get("list") != name:
        remember(session, user.actor.id, "work", {"list": name})
    page = max(1, int(q.get("page", "1"))) if q.get("page", "1").isdigit() else 1
    department = user.actor.department if user.actor.role is Role.HANDLER else None
    rows, count = reports.worklist(session, name, department=department, hours=24, limit=size,
                                   offset=(page - 1) * size, sort=choice["sort"],
                                   category=choice.get("category") or None, district=choice.get("district") or None,
                                   urgency=choice.get("urgency") or None)
    counts = reports.worklist_counts(session, department, 24)
    rules = load_engine(session, active_version(session))
    fragment = "_work_rows.html" if request.headers.get("HX-Request") else "work.html"
    return render(request, user, fragment, lists=lists, name=name, rows=rows, count=count, counts=counts,
                  page=page, pages=max(1, math.ceil(count / size)), choice=choice, sorts=SORT_LABELS,
                  sizes=PAGE_SIZES, districts=rules.rules.districts, urgencies=["紧急", "一般", "复杂"],
                  rules=rules, bulk=user.actor.role is Role.SUPERVISOR, departments=rules.rules.departments,
                  decide=DECIDE.get(name) if user.actor.role is Role.SUPERVISOR else None,
                  done=q.get("done", ""), error=q.get("error", ""))


def _case_view(session: Session, case: Case) -> dict[str, Any]:
    rules = load_engine(session, case.rules_version)
    public = svc.case_public(session, case, rules)
    tasks = session.exec(select(PartnerTaskRow).where(PartnerTaskRow.case_no == case.case_no)
                         .order_by(col(PartnerTaskRow.round), col(PartnerTaskRow.department))).all()
    return {"case": public, "clocks": read_clocks(case.case_no or "", case), "tasks": tasks, "rules": rules,
            "options": _options(rules, tasks)}


def _options(rules: Any, tasks: Sequence[PartnerTaskRow]) -> dict[str, list[tuple[str, str]]]:
    """The choices of the action forms, from the case's pinned rules."""
    return {"departments": [(d.code, d.name) for d in rules.rules.departments],
            "return_reasons": list(rules.rules.dispatch.return_reasons.items()),
            "termination_reasons": list(rules.rules.termination_reasons.items()),
            "contact_methods": [("phone", "电话"), ("visit", "走访"), ("sms", "短信"), ("online", "网络"),
                                ("other", "其他")],
            "resolutions": [(r.value, r.value) for r in Resolution],
            "satisfactions": [(s.value, s.value) for s in Satisfaction if s.value != "未评价"],
            "partners": sorted({(t.department, rules.departments[t.department].name if t.department in
                                 rules.departments else t.department) for t in tasks if t.status == "open"})}


def _partner_task(session: Session, case_no: str, department: str | None) -> PartnerTaskRow | None:
    return session.exec(select(PartnerTaskRow).where(PartnerTaskRow.case_no == case_no,
                                                     PartnerTaskRow.department == department)
                        .order_by(col(PartnerTaskRow.round).desc())).first()


def case_page(request: Request, user: Any, session: Session, case_no: str, status: int = 200,
              **extra: Any) -> HTMLResponse:
    """The case page as this user may see it (a partner department sees its request and the case facts)."""
    may(user, Role.HANDLER, Role.SUPERVISOR, Role.INTAKE, Role.AUDITOR)
    try:
        case = svc.get_case(session, case_no, user.actor)
    except ServiceError as exc:
        task = _partner_task(session, case_no, user.actor.department) if exc.status == 404 else None
        if task is None or user.actor.role is not Role.HANDLER:
            raise
        case = svc.find_case(session, case_no)
        return render(request, user, "partner.html", status=status, task=task, case=case,
                      rules=load_engine(session, case.rules_version), action=BY_SLUG["partner-replies"], **extra)
    view = _case_view(session, case)
    hidden = _not_now(session, case, view["options"]["partners"])
    actions = [a for a in offered(user.actor.role, case.status) if a.slug not in hidden]
    return render(request, user, "case.html", status=status, actions=actions, now=datetime.now(UTC),
                  can_reveal=user.actor.role in (Role.HANDLER, Role.SUPERVISOR)
                  and case.status != CaseStatus.ARCHIVED.value, **view,
                  done=request.query_params.get("done", ""), error=request.query_params.get("error", ""),
                  failed=request.query_params.get("failed", ""), **extra)


def _not_now(session: Session, case: Case, open_partners: list) -> set[str]:  # type: ignore[type-arg]
    """Actions whose status fits but whose moment has not come: no pause to end, no request to decide, no open
    partner request to waive, a rating already given; a lead never answers as its own partner."""
    hidden = {"partner-replies"}
    hidden |= set() if case.paused else {"resume"}
    for name, slug in (("extension_requests", "extension/decision"), ("pause_requests", "pause/decision")):
        waiting = session.exec(select(sa.func.count()).select_from(Case).where(
            Case.case_no == case.case_no, reports.worklist_filter(name, 24))).one()
        hidden |= set() if waiting else {slug}
    hidden |= set() if open_partners else {"waive"}
    hidden |= {"rating"} if session.get(CaseRating, case.case_no) else set()
    return hidden


@router.get("/cases/{case_no}", response_class=HTMLResponse)
def read_case(request: Request, case_no: str, user: User, session: SessionDep) -> HTMLResponse:
    """A case: facts, clocks with their remaining time, timeline, partner requests, the actions that fit."""
    return case_page(request, user, session, case_no)


@router.post("/cases/{case_no}/act/{slug:path}", response_class=HTMLResponse)
async def act(request: Request, case_no: str, slug: str, user: FormUser, session: SessionDep,
              settings: SettingsDep, temporal: TemporalDep) -> Response:
    """Run one case action through its REST route; back to the case page with the outcome next to it."""
    action = BY_SLUG.get(slug)
    if action is None:
        raise ServiceError(404, "not_found", f"no action {slug!r}")
    form = await request.form()
    data: dict[str, Any] = {k: (form.getlist(k) if k == "departments" else form.get(k)) for k in form}
    key = str(form.get("idempotency_key") or "")
    IDEMPOTENCY_KEY.set(key if re.fullmatch(r"[A-Za-z0-9._:-]{1,100}", key) else None)
    listed = str(form.get("back", ""))  # decided in place on a work list: back to the list
    listed = listed if listed.startswith("/console/work") else ""
    try:
        await perform(action, data, case_no=case_no, session=session, settings=settings, temporal=temporal,
                      actor=user.actor)
    except ServiceError as exc:
        if listed:
            return back(listed, f"{case_no} {action.label}：{refusal(exc)}", error=True)
        return back(f"/console/cases/{case_no}?failed={quote(action.slug)}", f"{action.label}：{refusal(exc)}",
                    error=True, anchor=f"act-{action.slug.replace('/', '-')}")
    return back(listed or f"/console/cases/{case_no}", f"{case_no} {action.label}：已完成" if listed
                else f"{action.label}：已完成")


@router.post("/cases/{case_no}/reveal", response_class=HTMLResponse)
def reveal_phone(request: Request, case_no: str, user: FormUser, session: SessionDep, settings: SettingsDep,
                 reason: Annotated[str, Form()] = "") -> HTMLResponse:
    """Show the complainant's name and number to call them (the access log records who, when and why)."""
    may(user, Role.HANDLER, Role.SUPERVISOR)
    case = svc.get_case(session, case_no, user.actor)
    try:
        if not reason.strip():
            raise ServiceError(422, "validation_error", "请填写查看号码的理由")
        shown = reveal(get_engine(settings), settings, load_engine(session, case.rules_version), case, user.actor,
                       reason.strip())
    except ServiceError as exc:
        return case_page(request, user, session, case_no, status=exc.status, reveal_error=refusal(exc))
    return case_page(request, user, session, case_no, revealed=shown)


@router.post("/bulk", response_class=HTMLResponse)
async def bulk(request: Request, user: FormUser, session: SessionDep, settings: SettingsDep,
               temporal: TemporalDep) -> Response:
    """A supervisor's action on the selected cases (督办升级 or 改派); the outcome of each is listed."""
    may(user, Role.SUPERVISOR)
    form = await request.form()
    slug, selected = str(form.get("action", "")), [str(c) for c in form.getlist("case_no")]
    if slug not in ("escalate", "reassign") or not selected:
        return back(str(form.get("back", "/console/work")), "请选择工单和批量操作", error=True)
    data = {k: form.get(k) for k in ("reason", "department", "note")}
    outcomes = []
    for case_no in selected:
        try:
            await perform(BY_SLUG[slug], data, case_no=case_no, session=session, settings=settings,
                          temporal=temporal, actor=user.actor)
            outcomes.append(f"{case_no} 成功")
        except ServiceError as exc:
            outcomes.append(f"{case_no} {refusal(exc)}")
    failed = sum("成功" not in o for o in outcomes)
    return back(str(form.get("back", "/console/work")), f"{BY_SLUG[slug].label}：" + "；".join(outcomes),
                error=failed > 0)


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, user: User, session: SessionDep) -> HTMLResponse:
    """The department's (or the supervisors') notices, unread first marked."""
    may(user, Role.HANDLER, Role.SUPERVISOR)
    unread_only = request.query_params.get("unread") == "1"
    rows, count, unread = inbox_svc.inbox(session, user.actor, unread=True if unread_only else None, case_no=None,
                                          limit=100, offset=0)
    tasks: Sequence[PartnerTaskRow] = []
    if user.actor.role is Role.HANDLER:
        tasks = session.exec(select(PartnerTaskRow).where(PartnerTaskRow.department == user.actor.department,
                                                          PartnerTaskRow.status == "open")
                             .order_by(col(PartnerTaskRow.due_at))).all()
    return render(request, user, "inbox.html", rows=rows, count=count, unread=unread, unread_only=unread_only,
                  tasks=tasks)


@router.post("/inbox/{notice_id}/read")
def mark_read(notice_id: int, user: FormUser, session: SessionDep) -> RedirectResponse:
    """Mark a notice read."""
    may(user, Role.HANDLER, Role.SUPERVISOR)
    inbox_svc.mark_read(session, user.actor, notice_id)
    return back("/console/inbox")
