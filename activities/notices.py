"""Notice activity: render a template of the case's rules version into the outbox (building ≠ sending)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select
from temporalio import activity

from core.contracts import ACT_NOTIFY, NoticeInput
from core.db import session_scope
from core.models import Case, Notice
from core.settings import Settings
from rules.engine import RulesEngine
from rules.templates import cn_datetime, typed
from services.rules_store import load_engine

log = logging.getLogger("jiesu.notices")
DEFAULT_PHONE = "12345"  # a department without its own public line is reached through the hotline


def describe(exc: BaseException) -> str:
    """An error as one line (a missing template names the template)."""
    if isinstance(exc, KeyError):
        return f"the rules define no template {exc.args[0]!r}" if exc.args else "missing template"
    return f"{type(exc).__name__}: {exc}"[:500]


def case_context(case: Case, rules: RulesEngine, base_url: str) -> dict[str, Any]:
    """What every template may use about a case (no personal data)."""
    dept = rules.departments.get(case.lead_department or "")
    return {
        "case_no": case.case_no,
        "kind": case.kind,
        "category_name": rules.categories[case.category][1].name if case.category in rules.categories else "",
        "district_name": rules.districts[case.district].name if case.district in rules.districts else "",
        "department_name": dept.name if dept else "",
        "department_phone": (dept.phone if dept else None) or DEFAULT_PHONE,
        "received_at": case.received_at,
        "due_resolution": case.due.get("resolution"),
        "due_first_contact": case.due.get("first_contact"),
        "tracking_code": case.tracking_code,
        "tracking_url": f"{base_url.rstrip('/')}/t/{case.tracking_code}",  # the complainant's page
    }


def addressed_department(rules: RulesEngine, inp: NoticeInput) -> str | None:
    """The department a notice goes to: the named one, or its parent for the department head (督办升级)."""
    if inp.recipient == "department":
        return inp.department
    if inp.recipient == "department_head":
        dept = rules.departments.get(inp.department or "")
        return (dept.parent or dept.code) if dept else inp.department
    return None


def addressee_names(rules: RulesEngine, inp: NoticeInput, context: dict[str, Any]) -> dict[str, str]:
    """Names of the lead (lead_name), of the addressed department (department_name) and of a partner."""
    def name(code: str | None) -> str:
        dept = rules.departments.get(code or "")
        return dept.name if dept else (code or "")

    out = {"lead_name": context.get("department_name", "")}
    if inp.recipient in ("department", "department_head") and inp.department:
        out["department_name"] = name(addressed_department(rules, inp))
    if "partner" in context:
        out["partner_name"] = name(context["partner"])
    return out


def provider_params(names: list[str], context: dict[str, Any]) -> list[str]:
    """The values of a provider template's parameters, as text (instants as 2026年11月23日 18:00)."""
    return [cn_datetime(v) if isinstance(v := context.get(n), datetime) else ("" if v is None else str(v))
            for n in names]


def render_or_fail(rules: RulesEngine, inp: NoticeInput, context: dict[str, Any]) -> tuple[str, str]:
    """(body, "pending"), or (the error, "failed") when the template is missing or does not render: a template
    never stalls a case, the notice is kept as failed with its error and the supervisor is told."""
    try:
        return rules.render(inp.template, typed(context)), "pending"
    except Exception as exc:  # noqa: BLE001 — whatever a template raises, the case goes on
        log.warning("notice %s of case %s failed to render: %s", inp.template, inp.case_no, describe(exc))
        return f"模板 {inp.template} 无法生成通知（规则 {inp.rules_version}）：{describe(exc)}", "failed"


def failure_alert(inp: NoticeInput, error: str) -> Notice:
    """The supervisor's work-list notice that a notice failed (the case goes on)."""
    return Notice(case_no=inp.case_no, key=f"{inp.key}-failed"[:64], template="template_failed",
                  recipient="supervisor", channel="worklist",
                  body=f"【通知生成失败】工单{inp.case_no}的{inp.template}通知（收件人 {inp.recipient}）未能生成，"
                       f"案件照常办理；请修正规则 {inp.rules_version} 的模板。{error}")


class NoticeActivities:
    """Puts rendered notices in the outbox; the (case_no, key) pair makes retries harmless."""

    def __init__(self, engine: sa.Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @activity.defn(name=ACT_NOTIFY)
    def queue_notice(self, inp: NoticeInput) -> int:
        """Render and queue one notice; returns the outbox row id (the existing one on a retry)."""
        with session_scope(self.engine) as session:
            return write_notice(session, self.settings.public_base_url, inp)


def write_notice(session: Session, base_url: str, inp: NoticeInput) -> int:
    """Render one notice from the case row as it now stands and put it in the outbox (once per case and key);
    its row id. The projection calls it in the transaction that updated the row (PATCH_BATCHED)."""
    existing = session.exec(select(Notice.id).where(Notice.case_no == inp.case_no, Notice.key == inp.key)
                            ).one_or_none()
    if existing is not None:
        return existing
    case = session.exec(select(Case).where(Case.case_no == inp.case_no)).one()
    rules = load_engine(session, inp.rules_version)
    context = case_context(case, rules, base_url) | inp.context
    if case.merged_into:  # 并单: the merged complainant hears which department handled the parent
        parent = session.exec(select(Case).where(Case.case_no == case.merged_into)).first()
        lead = rules.departments.get(parent.lead_department or "") if parent else None
        context["department_name"] = lead.name if lead else context["department_name"]
    context |= addressee_names(rules, inp, context)
    body, status = render_or_fail(rules, inp, context)
    provider = rules.rules.delivery.sms_templates.get(inp.template) if inp.recipient == "complainant" else None
    notice = Notice(case_no=inp.case_no, key=inp.key, template=inp.template, recipient=inp.recipient,
                    department=addressed_department(rules, inp),
                    channel="sms" if inp.recipient == "complainant" else "worklist", body=body,
                    status=status, urgent=case.urgency == "紧急",
                    provider_template=provider.code if provider else None,
                    params=provider_params(provider.params, typed(context)) if provider else [])
    session.add(notice)
    if status == "failed":
        session.add(failure_alert(inp, body))
    session.flush()
    assert notice.id is not None
    return notice.id
