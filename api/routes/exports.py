"""工单导出: the work-order export as a streamed, Excel-ready CSV (personal data masked unless the role may see it)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from api.auth import UNMASK_ROLES, ReportReader
from api.deps import SessionDep, SettingsDep
from api.errors import ServiceError, responses
from core.admin_models import RuleVersion
from core.contracts import Actor, CaseKind, CaseStatus, Channel, Outcome, Resolution, Satisfaction, Urgency
from core.contracts.case_io import MAX_OFFSET, AwareInstant, Day
from core.crypto import Cipher, normalise_phone
from core.db import get_engine
from core.models import Case
from core.settings import Settings
from rules.engine import RulesEngine
from services.access import limit_personal_reads, record_access
from services.cases import department_scope
from services.rules_store import load_engine

router = APIRouter(prefix="/reports", tags=["reports"], responses=responses(401, 403, 429))
log = logging.getLogger("jiesu.export")
TZ = ZoneInfo("Asia/Shanghai")
BATCH_SIZE = 1000  # rows per server-side fetch and per streamed chunk
BOM = b"\xef\xbb\xbf"  # lets Excel open the UTF-8 file with its Chinese text intact
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # cells Excel would run as a formula
TITLE_CHARS = 30
HEADERS = ("工单编号", "工单类型", "受理渠道", "问题大类", "问题小类", "标题", "主要内容", "工单状态", "紧急程度",
           "来电人", "联系电话", "来电时间", "被反映区", "被反映街乡镇", "点位", "主办单位", "工单性质", "办理结果",
           "回复内容", "办结时间", "是否联系", "是否解决", "是否满意", "是否有效回访", "是否超期", "重复诉求",
           "规则版本")


class ExportFilters(BaseModel):
    """Optional filters of the export, combined with AND."""

    case_no: str | None = Field(default=None, max_length=32)
    kind: CaseKind | None = None
    channel: Channel | None = None
    category: str | None = Field(default=None, max_length=32, description="leaf or 大类 code")
    status: CaseStatus | None = None
    urgency: Urgency | None = None
    district: str | None = Field(default=None, max_length=32)
    street: str | None = Field(default=None, max_length=64)
    lead_department: str | None = Field(default=None, max_length=32, description="handlers: always their own")
    department: str | None = Field(default=None, max_length=32,
                                   description="the lead department, as every other report names it")
    outcome: Outcome | None = None
    contacted: bool | None = Field(default=None, description="是否联系 as the complainant answered in the review")
    resolution: Resolution | None = None
    satisfaction: Satisfaction | None = None
    valid_review: bool | None = None
    overdue: bool | None = None
    repeat: bool | None = Field(default=None, description="重复诉求 (the repeat flag)")
    received_from: Day | None = Field(default=None, description="first local day of receipt (inclusive)")
    received_to: Day | None = Field(default=None, description="last local day of receipt (inclusive)")
    closed_from: AwareInstant | None = Field(default=None, description="closed at or after (ISO, with offset)")
    closed_to: AwareInstant | None = Field(default=None, description="closed at or before (ISO, with offset)")
    phone: str | None = Field(default=None, max_length=20, description="the complainant's phone (matched by hash)")
    q: str | None = Field(default=None, min_length=1, max_length=200, description="text in the description")
    limit: int | None = Field(default=None, ge=1, le=MAX_OFFSET, description="at most this many rows")


EQUAL_FILTERS = {"case_no": Case.case_no, "kind": Case.kind, "channel": Case.channel, "status": Case.status,
                 "urgency": Case.urgency, "district": Case.district, "street": Case.street,
                 "lead_department": Case.lead_department, "outcome": Case.outcome, "contacted": Case.review_contacted,
                 "resolution": Case.resolution, "satisfaction": Case.satisfaction,
                 "valid_review": Case.valid_review, "overdue": Case.overdue, "repeat": Case.repeat_flag}


def category_codes(session: Session, code: str) -> list[str]:
    """The leaf codes a category filter means, over every published rules version (422 if none knows it)."""
    codes = {leaf for version in session.exec(select(RuleVersion.version)).all()
             for leaf, (major, _) in load_engine(session, version).categories.items() if code in (leaf, major.code)}
    if not codes:
        raise ServiceError(422, "unknown_reference", f"unknown category {code!r}")
    return sorted(codes)


def export_query(session: Session, settings: Settings, f: ExportFilters) -> SelectOfScalar[Case]:
    """The SELECT of the export: every filter given, ordered by id."""
    stmt = select(Case).where(Case.case_no.is_not(None))  # type: ignore[union-attr]
    for name, column in EQUAL_FILTERS.items():
        value = getattr(f, name)
        if value is not None:
            stmt = stmt.where(column == getattr(value, "value", value))
    if f.category:
        stmt = stmt.where(Case.category.in_(category_codes(session, f.category)))  # type: ignore[attr-defined]
    if f.received_from:
        stmt = stmt.where(Case.received_date >= f.received_from)  # type: ignore[operator]
    if f.received_to:
        stmt = stmt.where(Case.received_date <= f.received_to)  # type: ignore[operator]
    if f.closed_from:
        stmt = stmt.where(Case.closed_at >= f.closed_from)  # type: ignore[operator]
    if f.closed_to:
        stmt = stmt.where(Case.closed_at <= f.closed_to)  # type: ignore[operator]
    if f.phone:
        try:
            digits = normalise_phone(f.phone)
        except ValueError as exc:
            raise ServiceError(422, "validation_error", f"phone: {exc}") from exc
        stmt = stmt.where(Case.phone_hash == Cipher(settings).phone_hash(digits))
    if f.q:
        stmt = stmt.where(Case.description.icontains(f.q, autoescape=True))  # type: ignore[attr-defined]
    stmt = stmt.order_by(Case.id)  # type: ignore[arg-type]
    return stmt.limit(f.limit) if f.limit else stmt


def safe(value: Any) -> str:
    """A cell as text; one Excel would read as a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def local(at: datetime | None) -> str:
    """Asia/Shanghai time as YYYY-MM-DD HH:MM:SS (empty for none)."""
    return at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def yes_no(flag: bool | None) -> str:
    """是 / 否 (empty: not asked)."""
    return "" if flag is None else "是" if flag else "否"


def case_row(case: Case, rules: RulesEngine, cipher: Cipher | None) -> list[str]:
    """One case as the export's cells, names from the case's own rules version."""
    major, leaf = rules.categories.get(case.category, (None, None))
    district = rules.districts.get(case.district)
    dept = rules.departments.get(case.lead_department or "")
    name, phone = ((cipher.decrypt(case.name_enc), cipher.decrypt(case.phone_enc)) if cipher
                   else (case.name_masked, case.phone_masked))
    nature = "转办" if case.screening else ("主办" if case.lead_department else "")
    outcome = Outcome(case.outcome).label if case.outcome else ""
    cells = [case.case_no, case.kind, Channel(case.channel).label, major.name if major else "",
             leaf.name if leaf else case.category,
             case.description[:TITLE_CHARS], case.description, CaseStatus(case.status).label, case.urgency, name,
             phone, local(case.received_at), district.name if district else case.district, case.street,
             case.address, dept.name if dept else case.lead_department, nature, outcome, case.reply_text,
             local(case.closed_at), yes_no(case.review_contacted), case.resolution, case.satisfaction,
             yes_no(case.valid_review), yes_no(case.overdue), yes_no(case.repeat_flag), case.rules_version]
    return [safe(c) for c in cells]


def csv_bytes(rows: list[list[str]]) -> bytes:
    """Rows written by csv.writer, as UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def stream_csv(settings: Settings, stmt: SelectOfScalar[Case], unmask: bool, audit: dict[str, Any],
               actor: Actor, personal: bool) -> Iterator[bytes]:
    """BOM and header, then one chunk per batch of rows read through a server-side cursor; logs the export and,
    when it read personal data (unmasked, or filtered by phone), records it in the access log with its rows."""
    rows = 0
    try:
        yield BOM + csv_bytes([list(HEADERS)])
        cipher = Cipher(settings) if unmask else None
        with Session(get_engine(settings)) as session:
            engines: dict[str, RulesEngine] = {}
            for batch in session.exec(stmt.execution_options(yield_per=BATCH_SIZE)).partitions():
                cells = []
                for case in batch:
                    rules = engines.get(case.rules_version) or load_engine(session, case.rules_version)
                    engines[case.rules_version] = rules
                    cells.append(case_row(case, rules, cipher))
                rows += len(cells)
                yield csv_bytes(cells)
    finally:
        log.info("case export by %s (%s): filters=%s unmasked=%s rows=%d", audit["actor"], audit["role"],
                 audit["filters"], unmask, rows)
        if personal:
            record_access(get_engine(settings), actor, "export", rows=rows,
                          detail={"filters": audit["filters"], "unmasked": unmask})


@router.get("/cases.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with BOM, one row per case"}})
def export_cases(session: SessionDep, settings: SettingsDep, actor: ReportReader,
                 filters: Annotated[ExportFilters, Query()],
                 unmask: Annotated[bool, Query(description="real name and phone (supervisor; handler)")] = False,
                 ) -> StreamingResponse:
    """工单导出: the filtered cases as CSV (handlers: their own department only), streamed in batches."""
    if unmask and actor.role not in UNMASK_ROLES:
        raise ServiceError(403, "forbidden", f"role {actor.role.value} may not export unmasked personal data")
    if filters.phone and actor.role not in UNMASK_ROLES:  # a phone filter over masked rows would reveal numbers
        raise ServiceError(403, "forbidden", f"role {actor.role.value} may not filter by phone: only roles that may "
                           "see phone numbers can")
    personal = unmask or bool(filters.phone)
    if personal:
        limit_personal_reads(actor, settings.rate_limit("personal_reads"))
    if filters.department and filters.lead_department and filters.department != filters.lead_department:
        raise ServiceError(422, "validation_error", "department and lead_department name different departments")
    wanted = filters.department or filters.lead_department
    filters = filters.model_copy(update={"lead_department": department_scope(actor, wanted), "department": None})
    if filters.received_from and filters.received_to and filters.received_to < filters.received_from:
        raise ServiceError(422, "validation_error", "received_to lies before received_from")
    stmt = export_query(session, settings, filters)
    logged = filters.model_dump(mode="json", exclude_none=True)
    if "phone" in logged:
        logged["phone"] = "<given>"  # personal data never reaches the log
    audit = {"actor": actor.id, "role": actor.role.value, "filters": logged}
    filename = f"cases-{datetime.now(TZ):%Y%m%d%H%M%S}.csv"
    return StreamingResponse(stream_csv(settings, stmt, unmask, audit, actor, personal),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
