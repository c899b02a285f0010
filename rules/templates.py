"""The one sandboxed Jinja2 environment for notice templates (统一话术), with filters registered once."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

TZ = ZoneInfo("Asia/Shanghai")


def cn_datetime(value: Any) -> str:
    """2026年11月23日 18:00 (Beijing time); accepts datetimes and ISO strings."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    local = value.astimezone(TZ)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The shared environment: sandboxed, strict about undefined names, no autoescape (plain-text SMS)."""
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["cn_datetime"] = cn_datetime
    return env


@lru_cache(maxsize=512)
def _compile(source: str) -> Any:
    return environment().from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    """Render a template source with a context; raises jinja2.TemplateError on any problem."""
    return _compile(source).render(**context).strip()


SAMPLE_CONTEXT: dict[str, Any] = {
    "case_no": "2026112100000001",
    "kind": "投诉",
    "category_name": "违法建设",
    "district_name": "西城区",
    "department_name": "西城区城市管理综合行政执法局",
    "received_at": "2026-11-21T02:00:00+00:00",
    "due_resolution": "2026-11-28T10:00:00+00:00",
    "due_first_contact": "2026-11-22T02:00:00+00:00",
    "tracking_code": "K7Q2M9XR4T",
    "tracking_url": "http://127.0.0.1:8000/api/v1/track/K7Q2M9XR4T",
    "reply": "经现场核查，已责令当事人拆除违建。",
    "resolution": "解决",
    "satisfaction": "满意",
    "review_note": "问题依旧存在",
    "clock_label": "办理",
    "percent": 75,
    "due": "2026-11-28T10:00:00+00:00",
    "escalation_level": 1,
    "years": "2027",
    "reason": "需等待第三方检测结果",
    "proposed_due": "2026-12-05T10:00:00+00:00",
    "due_sign_for": "2026-11-21T04:00:00+00:00",
    "return_due": "2026-11-21T04:00:00+00:00",
    "lead_name": "西城区住房和城乡建设委员会",
    "partner_name": "西城区生态环境局",
    "question": "请提供噪声监测结果",
    "partner_due": "2026-11-23T10:00:00+00:00",
    "returns": 2,
    "rounds": 2,
    "repeat_count": 3,
    "repeat_of": "2026112000000001",
    "parent_case_no": "2026112000000001",
    "target": "119",
    "target_name": "火警",
    "day": "2026-11-21",
    "count": 800,
    "window_days": 7,
    "baseline": 20.0,
    "ratio": 40.0,
}


def template_error(source: str) -> str | None:
    """Why a template does not render with the sample case, or None when it does."""
    try:
        render(source, SAMPLE_CONTEXT)
    except TemplateError as exc:
        return f"does not render with a sample case: {exc}"
    return None
