"""The one Jinja2 environment of the server-rendered pages (the complainant's page, the console), autoescaping,
with its filters registered once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates

TZ = ZoneInfo("Asia/Shanghai")
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _at(value: datetime | str | None) -> datetime | None:
    """A time from a model (aware) or from the projection's JSON (an ISO string); None for none."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if value else None
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def local(value: datetime | str | None) -> str:
    """A time as Beijing time, to the minute ('' for none)."""
    at = _at(value)
    return at.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if at else ""


def remaining(value: datetime | str | None, now: datetime | None = None) -> str:
    """Time left until ``value`` in words (超时 … when past)."""
    at = _at(value)
    if at is None:
        return ""
    seconds = int((at - (now or datetime.now(UTC))).total_seconds())
    days, rest = divmod(abs(seconds), 86400)
    text = (f"{days}天{rest // 3600}小时" if days else f"{rest // 3600}小时{rest % 3600 // 60}分" if rest >= 3600
            else f"{rest // 60}分")
    return f"剩余{text}" if seconds >= 0 else f"超时{text}"


def iso(value: datetime | str | None) -> str:
    """An ISO-8601 time for the page's live countdowns ('' for none)."""
    at = _at(value)
    return at.isoformat() if at else ""


def status_label(value: str) -> str:
    """A case status in Chinese (工单状态)."""
    from core.contracts import CaseStatus

    return CaseStatus(value).label if value in CaseStatus._value2member_map_ else value


def channel_label(value: str) -> str:
    """An intake channel in Chinese (受理渠道)."""
    from core.contracts import Channel

    return Channel(value).label if value in Channel._value2member_map_ else value


EVENT_LABELS = {
    "accepted": "受理", "screening_proposed": "甄别建议", "screening_confirmed": "甄别确认", "screened": "分流",
    "screening_overruled": "甄别驳回", "dispatched": "派单", "calendar_gap": "节假日数据缺失",
    "repeat_flagged": "重复诉求", "notice_queued": "通知", "returned": "退单", "redispatched": "二次派单",
    "arbitration_requested": "派单异议", "arbitrated": "异议裁定", "reassigned": "改派", "signed_for": "签收",
    "contacted": "联系诉求人", "handling_started": "处置启动", "partner_requested": "申请协办",
    "partner_reminder": "协办催办", "partner_overdue": "协办超期", "partner_replied": "协办答复",
    "partner_waived": "免除协办", "partner_cancelled": "协办取消", "reminder": "催办", "overdue": "超期督办",
    "extension_requested": "延期申请", "extension_approved": "延期批准", "extension_rejected": "延期驳回",
    "pause_requested": "挂起申请", "paused": "挂起", "pause_rejected": "挂起驳回", "resumed": "恢复办理",
    "replied": "办结答复", "reviewed": "回访", "review_timeout": "回访超时（未评价）", "rehandle_started": "重办",
    "rehandle_ordered": "上级复核重办", "supervisor_review_requested": "上级复核", "escalated": "督办升级",
    "merged_in": "并单", "merge_skipped": "并单未执行", "rules_migrated": "规则迁移", "closed": "办结",
    "archived": "归档", "appealed": "申诉", "progress_notified": "进度通知"}
SHOWN = ("department", "lead", "reason", "reason_code", "text", "note", "summary", "method", "content", "finding",
         "question", "working_days", "resolution", "satisfaction", "contacted", "template", "clock", "level")


def event_label(kind: str) -> str:
    """A timeline event's name in Chinese."""
    return EVENT_LABELS.get(kind, kind)


def event_text(data: dict) -> str:
    """The few facts of an event a reader needs (no hashes, no ids), shortened."""
    text = "；".join(f"{k}: {data[k]}" for k in SHOWN if data.get(k) not in (None, "", []))
    return text if len(text) <= 160 else text[:159] + "…"


def new_key() -> str:
    """A fresh Idempotency-Key for one rendered action form (a double submit applies the action once)."""
    import uuid

    return f"console-{uuid.uuid4().hex}"


templates.env.globals["new_key"] = new_key
templates.env.filters.update(local=local, remaining=remaining, iso=iso, status_label=status_label,
                             channel_label=channel_label,
                             event_label=event_label, event_text=event_text)
