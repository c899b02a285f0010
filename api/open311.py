"""Open311 GeoReport v2 under ``/open311/v2/`` for existing 311 clients: discovery, services (the active rules'
categories), service definitions (district and street as attribute lists), filing a request (form-encoded, the
``api_key`` is an intake token, through the same intake as ``POST /api/v1/cases``), reading requests and tokens.
XML by default or by the ``.xml`` suffix, JSON by ``.json``, as the specification writes them (bare arrays,
datetimes with offsets, ``<errors>``). Requests read back carry no personal data: no name, phone, free text or
street address, only the place's district and street."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.deps import SessionDep, SettingsDep, StarterDep, TemporalDep
from api.errors import ServiceError
from api.templating import TZ
from core.contracts import Actor, CaseStatus, Role
from core.contracts.case_io import CaseCreate
from core.models import Case
from rules.engine import RulesEngine
from services.keys import actor_of_token
from services.rules_store import active_version, load_engine

router = APIRouter(prefix="/open311/v2", tags=["open311"], include_in_schema=False)
CLOSED = (CaseStatus.CLOSED.value, CaseStatus.ARCHIVED.value)


class Open311Error(Exception):
    """An error in the specification's own form."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _xml(root: str, item: str | None, rows: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    def fill(parent: ET.Element, values: dict[str, Any]) -> None:
        for key, value in values.items():
            child = ET.SubElement(parent, key)
            if isinstance(value, dict):
                fill(child, value)
            elif isinstance(value, list):
                for v in value:
                    item = ET.SubElement(child, _singular(key))
                    if isinstance(v, dict):
                        fill(item, v)
                    else:
                        item.text = str(v)
            elif value is not None:
                child.text = str(value).lower() if isinstance(value, bool) else str(value)

    top = ET.Element(root)
    for row in rows if isinstance(rows, list) else [rows]:
        fill(ET.SubElement(top, item) if item else top, row)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")


def _singular(key: str) -> str:
    return {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}.get(key, key)


def answer(fmt: str, root: str, item: str | None, rows: Any, status: int = 200) -> Response:
    """The rows as the format asks: a bare JSON array (or object for a single definition), or XML."""
    if fmt == "json":
        return JSONResponse(rows, status_code=status)
    return Response(_xml(root, item, rows), status_code=status, media_type="text/xml; charset=utf-8")


def _fmt(fmt: str) -> str:
    if fmt not in ("xml", "json"):
        raise Open311Error(404, f"no format {fmt!r}: use .xml or .json")
    return fmt


def iso(at: datetime | None) -> str | None:
    """A datetime with its offset (Beijing time)."""
    return at.astimezone(TZ).isoformat(timespec="seconds") if at else None


def _leaves(rules: RulesEngine) -> list[tuple[Any, Any]]:
    out = []

    def walk(node: Any, top: Any) -> None:
        if not node.children:
            out.append((node, top))
        for child in node.children:
            walk(child, top)

    for c in rules.rules.categories:
        walk(c, c)
    return out


@router.get("/discovery.{fmt}")
def discovery(request: Request, fmt: str) -> Response:
    """Where this endpoint is and what it speaks."""
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    row = {"changeset": "2026-12-01T00:00:00+08:00", "contact": "12345 热线中心",
           "key_service": "an intake token from the hotline centre (jiesu keys create --role intake)",
           "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                          "changeset": "2026-12-01T00:00:00+08:00", "type": "production",
                          "formats": ["text/xml", "application/json"]}]}
    return answer(_fmt(fmt), "discovery", None, row)


@router.get("/services.{fmt}")
def services(fmt: str, session: SessionDep) -> Response:
    """The service list: every leaf category of the active rules, grouped by its 大类."""
    rules = load_engine(session, active_version(session))
    rows = [{"service_code": leaf.code, "service_name": leaf.name, "description": f"{top.name} > {leaf.name}",
             "metadata": True, "type": "realtime", "keywords": top.name, "group": top.name}
            for leaf, top in _leaves(rules)]
    return answer(_fmt(fmt), "services", "service", rows)


@router.get("/services/{code}.{fmt}")
def service_definition(code: str, fmt: str, session: SessionDep) -> Response:
    """The attributes a request of this service takes: the district (required) and the street."""
    rules = load_engine(session, active_version(session))
    if code not in {leaf.code for leaf, _ in _leaves(rules)}:
        raise Open311Error(404, f"no service {code!r}")
    districts = [{"key": d.code, "name": d.name} for d in rules.rules.districts]
    streets = [{"key": s, "name": f"{d.name} {s}"} for d in rules.rules.districts for s in d.streets]
    row = {"service_code": code, "attributes": [
        {"variable": True, "code": "district", "datatype": "singlevaluelist", "required": True,
         "datatype_description": "被反映区", "order": 1, "description": "区", "values": districts},
        {"variable": True, "code": "street", "datatype": "singlevaluelist", "required": False,
         "datatype_description": "被反映街乡镇", "order": 2, "description": "街道（乡镇）", "values": streets}]}
    return answer(_fmt(fmt), "service_definition", None, row)


def _intake_actor(session: Session, api_key: str) -> Actor:
    actor = actor_of_token(session, api_key)[0] if api_key else None
    if actor is None or actor.role is not Role.INTAKE:
        raise Open311Error(403, "api_key is missing, invalid, or not an intake key")
    return actor


def case_in_of(form: dict[str, str]) -> CaseCreate:
    """A complaint from the specification's fields (422 of ours becomes its 400)."""
    place = form.get("address_string") or (f"{form['lat']},{form['long']}" if form.get("lat") and form.get("long")
                                           else "")
    if not place:
        raise Open311Error(400, "address_string or lat and long are required")
    if not form.get("attribute[district]"):
        raise Open311Error(400, "attribute[district] is required (see the service definition)")
    name = f"{form.get('last_name', '')}{form.get('first_name', '')}".strip() or "匿名"
    try:
        return CaseCreate.model_validate({
            "external_id": form.get("external_id") or f"open311-{uuid.uuid4()}", "channel": "web", "kind": "诉求",
            "category": form.get("service_code", ""), "district": form["attribute[district]"],
            **({"street": form["attribute[street]"]} if form.get("attribute[street]") else {}),
            "address": place, "description": form.get("description") or "（未填写）",
            "complainant": {"name": name, "phone": form.get("phone", "")}})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise Open311Error(400, f"{where}: {first.get('msg', '')}") from exc


@router.post("/requests.{fmt}")
async def create_request(request: Request, fmt: str, session: SessionDep, settings: SettingsDep,
                         temporal: TemporalDep, starter: StarterDep) -> Response:
    """File a service request; the answer carries the case number as ``service_request_id`` at once."""
    from api.routes.cases import create_case

    _fmt(fmt)
    form = {k: str(v) for k, v in (await request.form()).items()}
    actor = _intake_actor(session, form.get("api_key", ""))
    case_in = case_in_of(form)
    try:
        created = await create_case(case_in, session, settings, temporal, starter, actor, Response())
    except ServiceError as exc:
        raise Open311Error(400 if exc.status in (409, 422) else exc.status, exc.message) from exc
    row = {"service_request_id": created.case_no, "service_notice": "已受理，将按规定时限办理", "account_id": None}
    return answer(fmt, "service_requests", "request", [row], status=201)


def request_row(case: Case, rules: RulesEngine) -> dict[str, Any]:
    """One request as it is read back (no personal data)."""
    found = rules.categories.get(case.category)
    dept = rules.departments.get(case.lead_department or "")
    district = rules.districts.get(case.district)
    closed = case.status in CLOSED
    return {"service_request_id": case.case_no, "status": "closed" if closed else "open",
            "status_notes": CaseStatus(case.status).label, "service_name": found[1].name if found else case.category,
            "service_code": case.category, "description": None, "agency_responsible": dept.name if dept else None,
            "service_notice": None, "requested_datetime": iso(case.received_at),
            "updated_datetime": iso(case.updated_at), "expected_datetime": iso(case.due_resolution),
            "address": f"{district.name if district else case.district}{case.street or ''}",
            "address_id": None, "zipcode": None, "lat": None, "long": None, "media_url": None}


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(400, f"{name}: not a w3 datetime (2026-11-30T09:00:00+08:00)") from exc
    return at if at.tzinfo else at.replace(tzinfo=TZ)


@router.get("/requests.{fmt}")
def list_requests(request: Request, fmt: str, session: SessionDep) -> Response:
    """Requests by id list, or by service, dates (default: the last 90 days) and status; at most 1,000."""
    _fmt(fmt)
    q = request.query_params
    query = select(Case).where(col(Case.case_no).is_not(None))
    if ids := [i for i in q.get("service_request_id", "").split(",") if i]:
        query = query.where(col(Case.case_no).in_(ids))
    else:
        start, end = _when(q.get("start_date"), "start_date"), _when(q.get("end_date"), "end_date")
        if q.get("service_code"):
            query = query.where(col(Case.category).in_(q["service_code"].split(",")))
        if start:
            query = query.where(col(Case.received_at) >= start)
        if end:
            query = query.where(col(Case.received_at) <= end)
        if q.get("status") in ("open", "closed"):
            cond = col(Case.status).in_(CLOSED)
            query = query.where(cond if q["status"] == "closed" else sa.not_(cond))
        elif q.get("status"):
            raise Open311Error(400, "status: open or closed")
    rows = session.exec(query.order_by(col(Case.received_at).desc()).limit(1000)).all()
    rules = load_engine(session, active_version(session))
    return answer(fmt, "service_requests", "request", [request_row(c, rules) for c in rows])


@router.get("/requests/{request_id}.{fmt}")
def read_request(request_id: str, fmt: str, session: SessionDep) -> Response:
    """One request."""
    _fmt(fmt)
    case = session.exec(select(Case).where(Case.case_no == request_id)).first()
    if case is None:
        raise Open311Error(404, f"no service request {request_id}")
    return answer(fmt, "service_requests", "request", [request_row(case, load_engine(session, case.rules_version))])


@router.get("/tokens/{token}.{fmt}")
def read_token(token: str, fmt: str, session: SessionDep) -> Response:
    """The request a token stands for (our requests get their number at once: the token is the number)."""
    _fmt(fmt)
    case = session.exec(select(Case).where(Case.case_no == token)).first()
    if case is None:
        raise Open311Error(404, f"no token {token}")
    return answer(fmt, "service_requests", "request", [{"service_request_id": case.case_no, "token": token}])


def install(app: Any) -> None:
    """Errors on /open311 in the specification's form."""

    @app.exception_handler(Open311Error)
    async def _error(request: Request, exc: Open311Error) -> Response:
        fmt = "json" if request.url.path.endswith(".json") else "xml"
        return answer(fmt, "errors", "error", [{"code": exc.status, "description": exc.description}],
                      status=exc.status)
