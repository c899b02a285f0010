"""The one sandboxed Jinja2 environment for notice templates (统一话术), with filters registered once."""

from __future__ import annotations

import time
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
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


MAX_OUTPUT = 4000  # characters a notice may have (an SMS is 70; staff notices a few hundred)
MAX_SECONDS = 0.5  # CPU time of rendering one notice (the thread's own: a loaded machine never trips it)
MAX_ITEMS = 10_000  # elements a range, a repeated string or a list may have
_deadline: ContextVar[float] = ContextVar("template_deadline", default=0.0)


class TemplateLimit(TemplateError):
    """A template exceeded the time, output or size limit."""


def _check_time() -> None:
    if _deadline.get() and time.thread_time() > _deadline.get():
        raise TemplateLimit(f"the template took longer than {MAX_SECONDS} s")


def _range(*args: int) -> Any:
    """``range`` that stops a template running too long or too wide."""
    values = range(*args)
    if len(values) > MAX_ITEMS:
        raise TemplateLimit(f"range of {len(values)} elements (at most {MAX_ITEMS})")
    for v in values:
        _check_time()
        yield v


class LimitedEnvironment(SandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` bounded (no gigantic strings or numbers) and a time check on calls."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse products that would build huge values."""
        _check_time()
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise TemplateLimit("an exponent above 64")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(count, int) and len(seq) * count > MAX_ITEMS:
                    raise TemplateLimit(f"a repeated value of more than {MAX_ITEMS} elements")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Every call checks the time first."""
        _check_time()
        return super().call(__context, __obj, *args, **kwargs)


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The shared environment: sandboxed and limited, strict about undefined names, no autoescape (plain-text SMS),
    no loader (``{% include %}`` finds nothing)."""
    env = LimitedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["cn_datetime"] = cn_datetime
    env.globals["range"] = _range
    return env


@lru_cache(maxsize=512)
def _compile(source: str) -> Any:
    return environment().from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    """Render a template source with a context, within the time and output limits; raises jinja2.TemplateError
    (TemplateLimit past a limit) or the error the template's expression raised."""
    token = _deadline.set(time.thread_time() + MAX_SECONDS)
    try:
        out, size = [], 0
        for chunk in _compile(source).generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateLimit(f"the notice would be longer than {MAX_OUTPUT} characters")
            _check_time()
            out.append(chunk)
        return "".join(out).strip()
    finally:
        _deadline.reset(token)


# Context values that are instants: the notice activity turns their ISO text into datetimes before rendering, so a
# template sees the same types in validation and at run time.
DATETIME_KEYS = frozenset({"received_at", "due_resolution", "due_first_contact", "due", "proposed_due",
                           "due_sign_for", "return_due", "partner_due"})


def typed(context: dict[str, Any]) -> dict[str, Any]:
    """The context with every instant as an aware datetime (workflows pass ISO text)."""
    out = dict(context)
    for key in DATETIME_KEYS & out.keys():
        if isinstance(out[key], str) and out[key]:
            try:
                out[key] = datetime.fromisoformat(out[key].replace("Z", "+00:00"))
            except ValueError:
                pass
    return out


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


SAMPLE_CONTEXT: dict[str, Any] = {
    "case_no": "2026112100000001",
    "kind": "投诉",
    "category_name": "违法建设",
    "district_name": "西城区",
    "department_name": "西城区城市管理综合行政执法局",
    "department_phone": "12345",
    "received_at": _utc("2026-11-21T02:00:00+00:00"),
    "due_resolution": _utc("2026-11-28T10:00:00+00:00"),
    "due_first_contact": _utc("2026-11-22T02:00:00+00:00"),
    "tracking_code": "K7Q2M9XR4T",
    "tracking_url": "http://127.0.0.1:8000/t/K7Q2M9XR4T",
    "reply": "经现场核查，已责令当事人拆除违建。",
    "resolution": "解决",
    "satisfaction": "满意",
    "review_note": "问题依旧存在",
    "clock_label": "办理",
    "percent": 75,
    "due": _utc("2026-11-28T10:00:00+00:00"),
    "escalation_level": 1,
    "years": "2027",
    "reason": "需等待第三方检测结果",
    "proposed_due": _utc("2026-12-05T10:00:00+00:00"),
    "due_sign_for": _utc("2026-11-21T04:00:00+00:00"),
    "return_due": _utc("2026-11-21T04:00:00+00:00"),
    "lead_name": "西城区住房和城乡建设委员会",
    "partner_name": "西城区生态环境局",
    "question": "请提供噪声监测结果",
    "partner_due": _utc("2026-11-23T10:00:00+00:00"),
    "returns": 2,
    "rounds": 2,
    "repeat_count": 3,
    "repeat_of": "2026112000000001",
    "parent_case_no": "2026112000000001",
    "target": "119",
    "appeal_no": 1,
    "progress_no": 1,
    "target_name": "火警",
    "day": "2026-11-21",
    "count": 800,
    "window_days": 7,
    "baseline": 20.0,
    "ratio": 40.0,
}


# Templates the workflows send that rules versions before 2026.3 do not define: those versions use this wording
# (a published version is immutable, so it cannot gain the template).
DEFAULTS: dict[str, str] = {
    "contact_denied": "【回访核实】工单{{ case_no }}（{{ category_name }}）回访中诉求人表示承办单位未与其联系，"
                      "与承办单位{{ department_name }}的联系记录不符，"
                      "工单已按回访结果重办（或提交上级复核），请核查联系记录。",
    "dispatch_corrected": "【12345】您好，您反映的问题（工单编号{{ case_no }}）已改由{{ department_name }}办理"
                          "（联系电话{{ department_phone }}），请以本条信息为准。",
    "progress": "【12345】您好，您反映的问题（工单编号{{ case_no }}）正在由{{ department_name }}办理，"
                "预计{{ due_resolution | cn_datetime }}前答复。",
    "appeal": "【申诉复核】工单{{ case_no }}（{{ category_name }}）办结后诉求人提出申诉（第{{ appeal_no }}次），"
              "理由：{{ reason }}。请复核全部办理记录，决定再次交办、维持结论办结或终结。",
}


def template_error(source: str) -> str | None:
    """Why a template does not render with the sample case, or None when it does."""
    try:
        render(source, SAMPLE_CONTEXT)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno} of the template: {exc.message}"
    except Exception as exc:  # noqa: BLE001 — any error of the template's own expressions ({{ 1/0 }}) is a problem
        return f"does not render with a sample case: {type(exc).__name__}: {exc}"
    return None
