"""The sender: notices leave the outbox. Each due notice is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several senders share the work; one sender on SQLite), delivered through its channel and every attempt recorded
(``delivery_attempt``): pending → sending → sent → delivered, or failed (retried with exponential backoff and
jitter) → dead (the supervisor is told).

- Complainants get SMS through an adapter (services/sms_adapters: log, a generic HTTP gateway, Tencent Cloud SMS).
  Quiet hours (rules ``delivery``) hold citizens' SMS at night unless the case is 紧急.
- Departments and supervisors read their notices in the inbox (``GET /inbox``), with e-mail and im copies as the
  rules' ``delivery.channels`` ask (services/staff_channels).
- A delivery is never sent twice: the outbox key is the provider's out id, and after an attempt whose outcome is
  unknown (a timeout) the sender asks the provider for that id's status before sending again.
- Receipts (``POST /delivery/receipts/{channel}``) mark a sent SMS delivered or failed.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.columns import utcnow
from core.contracts.vocabulary import COMPLAINANT_TEMPLATES
from core.crypto import Cipher
from core.models import Case, DeliveryAttempt, Notice
from core.settings import Settings
from services.rules_store import active_version, load_engine
from services.sms_adapters import DeliveryError, SmsAdapter, sms_adapter
from services.staff_channels import deliver_staff_notices

log = logging.getLogger("jiesu.sender")
UNKNOWN = "outcome unknown"  # a timeout: the provider may have sent it
LEASE = timedelta(minutes=5)  # a claimed SMS not finished by then is claimed again (its sender died)


def out_id(notice: Notice) -> str:
    """The id the provider knows a message by: the outbox key (unique per case)."""
    return f"{notice.case_no}.{notice.key}"


def claim(session: Session, now: datetime, batch: int = 50) -> list[int]:
    """Mark up to ``batch`` due notices 'sending' (skipping ones another sender holds); their ids."""
    # pending, or failed after an attempt (a notice whose template failed to render is 'failed' with no attempt:
    # there is nothing to send)
    # a 'sending' one whose lease ran out was claimed by a sender that died: its outcome is unknown
    q = select(Notice).where(sa.or_(col(Notice.status).in_(("pending", "sending")),
                                    sa.and_(col(Notice.status) == "failed", col(Notice.attempts) > 0)),
                             col(Notice.channel) == "sms",
                             sa.or_(col(Notice.next_attempt_at).is_(None), col(Notice.next_attempt_at) <= now))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    rows = session.exec(q.order_by(col(Notice.id)).limit(batch)).all()
    for n in rows:
        if n.status == "sending":  # the sender holding it died mid-delivery: ask the provider before resending
            n.last_error = f"{UNKNOWN}: the sender stopped during the attempt"
        n.status, n.attempts, n.next_attempt_at = "sending", n.attempts + 1, now + LEASE
        session.add(n)
    session.commit()
    return [n.id for n in rows if n.id is not None]


def quiet_until(now: datetime, start: int, end: int, tz) -> datetime | None:  # type: ignore[no-untyped-def]
    """When citizens' quiet hours end, if ``now`` lies in them (start > end: over midnight)."""
    local = now.astimezone(tz)
    inside = (local.hour >= start or local.hour < end) if start > end else start <= local.hour < end
    if not inside:
        return None
    day = local.date() + timedelta(days=1 if local.hour >= start and start > end else 0)
    return datetime(day.year, day.month, day.day, end, tzinfo=tz)


def deliver(session: Session, settings: Settings, adapter: SmsAdapter, notice_id: int, now: datetime) -> str:
    """One claimed SMS: quiet hours, the complainant's number (decrypted now, never stored with the notice), the
    provider asked first after an unknown outcome, then sent; every try recorded; the resulting status."""
    n = session.get(Notice, notice_id)
    case = session.exec(select(Case).where(Case.case_no == n.case_no)).first() if n else None
    if n is None:
        return "missing"
    if case is None:  # nothing to send it to
        n.status, n.last_error = "dead", "the case is gone"
        return _save(session, n)
    rules = load_engine(session, case.rules_version)
    cfg = rules.rules.delivery
    held = None if n.urgent else quiet_until(now, cfg.quiet_start_hour, cfg.quiet_end_hour, rules.calendar.tz)
    if held is not None:
        n.status, n.attempts, n.next_attempt_at = "pending", n.attempts - 1, held  # not an attempt
        return _save(session, n)
    try:
        phone = Cipher(settings).decrypt(case.phone_enc)
        if n.last_error and n.last_error.startswith(UNKNOWN):
            if _went_out_before(session, adapter, n, phone, now):
                return _save(session, n)
        if adapter.needs_template and not n.provider_template:
            raise DeliveryError(f"the {adapter.name} provider sends only approved templates and rules "
                                f"{case.rules_version} map none to {n.template!r} (delivery.sms_templates)",
                                permanent=True)
        n.provider_id = adapter.send(out_id(n), phone, n.body, n.provider_template or n.template, n.params)
        n.status, n.sent_at, n.last_error, n.next_attempt_at = "sent", now, None, None
        _attempt(session, n, now, "sent")
    except (DeliveryError, ValueError) as exc:
        _failed(session, n, exc, now, cfg.max_attempts, cfg.retry_seconds)
    return _save(session, n)


def _went_out_before(session: Session, adapter: SmsAdapter, n: Notice, phone: str, now: datetime) -> bool:
    """After an unknown outcome: True when the provider has the message (now 'sent', never sent twice) or may not
    know it yet (retried once its status lag has passed, not counted as an attempt)."""
    first, last = session.exec(select(sa.func.min(DeliveryAttempt.at), sa.func.max(DeliveryAttempt.at))
                               .where(DeliveryAttempt.notice_id == n.id)).one()
    first = first or n.created_at
    status = adapter.status(out_id(n), phone, first)
    if status in ("sent", "delivered"):
        n.status, n.last_error, n.sent_at, n.next_attempt_at = "sent", None, now, None
        _attempt(session, n, now, "already-sent")
        return True
    wait_until = (last or first) + adapter.status_lag
    if status is None and wait_until > now:
        n.status, n.attempts, n.next_attempt_at = "failed", n.attempts - 1, wait_until
        return True
    return False


def _failed(session: Session, n: Notice, exc: Exception, now: datetime, max_attempts: int, retry: int) -> None:
    """A failed try: retried with backoff and jitter, or dead (at once when no retry can help) with the
    supervisor told."""
    unknown = isinstance(exc, DeliveryError) and exc.unknown
    permanent = isinstance(exc, DeliveryError) and exc.permanent
    n.last_error = f"{UNKNOWN}: {exc}"[:500] if unknown else str(exc)[:500]
    _attempt(session, n, now, "unknown" if unknown else "failed", error=n.last_error)
    if permanent or n.attempts >= max_attempts:
        n.status, n.next_attempt_at = "dead", None
        session.add(Notice(case_no=n.case_no, key=f"{n.key}-dead"[:64], template="delivery_dead",
                           recipient="supervisor", channel="worklist", status="pending",
                           body=f"【通知未送达】工单{n.case_no}的{n.template}短信{n.attempts}次发送失败，"
                                f"请改用其他方式联系诉求人。最后错误：{n.last_error}"))
    else:
        delay = retry * 2 ** (n.attempts - 1)
        n.status, n.next_attempt_at = "failed", now + timedelta(seconds=delay * random.uniform(1.0, 1.25))


def _attempt(session: Session, n: Notice, now: datetime, outcome: str, error: str | None = None) -> None:
    session.add(DeliveryAttempt(notice_id=n.id or 0, channel=n.channel, at=now, outcome=outcome,
                                provider_id=n.provider_id if outcome == "sent" else None, error=error))



def _save(session: Session, n: Notice) -> str:
    session.add(n)
    session.commit()
    return n.status


def run_once(engine: sa.Engine, settings: Settings, adapter: SmsAdapter, now: datetime | None = None) -> int:
    """One pass: staff notices to the inbox, due SMS claimed and delivered; how many SMS were handled."""
    now = now or utcnow()
    with Session(engine) as session:
        deliver_staff_notices(session, settings, now)
        ids = claim(session, now)
        for notice_id in ids:
            deliver(session, settings, adapter, notice_id, now)
    return len(ids)


def run_sender(engine: sa.Engine, settings: Settings, stop: object | None = None, interval: float = 1.0) -> None:
    """`jiesu sender`: deliver forever (or until ``stop.is_set()``)."""
    adapter = sms_adapter(settings)
    log.info("sender started (%s adapter)", settings.sms_adapter)
    if adapter.needs_template:
        with Session(engine) as session:
            rules = load_engine(session, active_version(session)).rules
        unmapped = sorted({t.value for t in COMPLAINANT_TEMPLATES} - set(rules.delivery.sms_templates))
        if unmapped:  # those notices will be dead letters: say so now, not at the first complaint
            log.warning("rules %s map no %s template to %s", rules.version, adapter.name, ", ".join(unmapped))
    while not (stop is not None and stop.is_set()):  # type: ignore[attr-defined]
        try:
            if run_once(engine, settings, adapter) == 0:
                time.sleep(interval)
        except sa.exc.OperationalError as exc:  # the database is away: try again shortly
            log.warning("sender: database unavailable (%s)", type(exc).__name__)
            time.sleep(interval * 5)


def receipt(session: Session, message: str, status: str, error: str | None = None) -> bool:
    """A provider's delivery receipt for an out id: mark the SMS delivered or failed; False when unknown."""
    case_no, _, key = message.partition(".")
    n = session.exec(select(Notice).where(Notice.case_no == case_no, Notice.key == key)).first()
    if n is None:
        return False
    if status == "delivered":
        n.status, n.delivered_at = "delivered", utcnow()
    elif status == "failed" and n.status != "delivered":
        n.status, n.last_error = "failed", (error or "the provider reports it undelivered")[:500]
        n.next_attempt_at = utcnow()
    _save(session, n)
    return True
