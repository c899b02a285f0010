"""The sender: notices leave the outbox. Each due notice is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several senders share the work; one sender on SQLite), delivered through its channel and every attempt recorded:
pending → sending → sent → delivered, or failed (retried with exponential backoff and jitter) → dead (the
supervisor is told).

- Complainants get SMS through an adapter (``settings.sms_adapter``: ``log`` prints each message, ``http`` posts to an
  SMS gateway). Quiet hours (rules ``delivery``) hold citizens' SMS at night unless the case is 紧急.
- Departments and supervisors read their notices in the inbox (``GET /inbox``): delivered when queued.
- A delivery is never sent twice: the outbox key is the provider's out id, and after an attempt whose outcome is
  unknown (a timeout) the sender asks the provider for that id's status before sending again.
- Receipts (``POST /delivery/receipts/{channel}``) mark a sent SMS delivered or failed.
"""

from __future__ import annotations

import logging
import random
import smtplib
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

import httpx
import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.crypto import Cipher
from core.models import Case, Notice, utcnow
from core.settings import Settings
from services.rules_store import load_engine

log = logging.getLogger("jiesu.sender")
UNKNOWN = "outcome unknown"  # a timeout: the provider may have sent it
LEASE = timedelta(minutes=5)  # a claimed SMS not finished by then is claimed again (its sender died)


class DeliveryError(Exception):
    """The provider refused or could not be reached; ``unknown``: it may have sent the message."""

    def __init__(self, message: str, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


class SmsAdapter(Protocol):
    """An SMS provider: send a message under our out id, ask for an out id's status."""

    def send(self, out_id: str, phone: str, text: str, template: str, params: list[str] | None = None) -> str:
        """Send (``template``: the provider's template code when the rules map one, then ``params`` fill it);
        the provider's message id (DeliveryError when it failed)."""
        ...

    def status(self, out_id: str) -> str | None:
        """'sent', 'delivered' or 'failed' for a message it has, None when it has none."""
        ...


class LogSms:
    """Development: every SMS is printed (to the sender's log), nothing leaves the machine."""

    def send(self, out_id: str, phone: str, text: str, template: str, params: list[str] | None = None) -> str:
        """Print the message (the number masked)."""
        log.info("SMS %s to %s****%s: %s", out_id, phone[:3], phone[-4:], text)
        return f"log-{out_id}"

    def status(self, out_id: str) -> str | None:
        """The log keeps nothing."""
        return None


class HttpSmsGateway:
    """A generic HTTP SMS gateway: ``POST {base}/send`` ``{out_id, to, text, template}`` → ``{"id"}``,
    ``GET {base}/status/{out_id}`` → ``{"status"}`` (404: unknown)."""

    def __init__(self, base: str, timeout: float = 5.0) -> None:
        self.base, self.timeout = base.rstrip("/"), timeout

    def send(self, out_id: str, phone: str, text: str, template: str, params: list[str] | None = None) -> str:
        """Post the message (with the provider's template code and parameters when mapped); a timeout leaves the
        outcome unknown."""
        try:
            r = httpx.post(f"{self.base}/send", json={"out_id": out_id, "to": phone, "text": text,
                                                      "template": template, "params": params or []},
                           timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timeout: {exc}", unknown=True) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"gateway unreachable: {type(exc).__name__}") from exc
        if r.status_code >= 300:
            raise DeliveryError(f"gateway answered {r.status_code}")
        return str(r.json().get("id", out_id))

    def status(self, out_id: str) -> str | None:
        """The gateway's status of an out id (None: it has no such message)."""
        try:
            r = httpx.get(f"{self.base}/status/{out_id}", timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"status unknown: {type(exc).__name__}", unknown=True) from exc
        return None if r.status_code == 404 else str(r.json().get("status"))


def sms_adapter(settings: Settings) -> SmsAdapter:
    """The adapter the settings name."""
    if settings.sms_adapter == "http":
        if not settings.sms_gateway_url:
            raise ValueError("sms_adapter 'http' needs sms_gateway_url")
        return HttpSmsGateway(settings.sms_gateway_url)
    return LogSms()


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
    provider asked first after an unknown outcome, then sent; the resulting status."""
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
        if n.last_error and n.last_error.startswith(UNKNOWN) and adapter.status(out_id(n)) in ("sent", "delivered"):
            n.status, n.last_error, n.sent_at = "sent", None, now  # it went out the last time: never twice
            return _save(session, n)
        phone = Cipher(settings).decrypt(case.phone_enc)
        n.provider_id = adapter.send(out_id(n), phone, n.body, n.provider_template or n.template, n.params)
        n.status, n.sent_at, n.last_error, n.next_attempt_at = "sent", now, None, None
    except (DeliveryError, ValueError) as exc:
        unknown = isinstance(exc, DeliveryError) and exc.unknown
        n.last_error = f"{UNKNOWN}: {exc}"[:500] if unknown else str(exc)[:500]
        if n.attempts >= cfg.max_attempts:
            n.status = "dead"
            session.add(Notice(case_no=n.case_no, key=f"{n.key}-dead"[:64], template="delivery_dead",
                               recipient="supervisor", channel="worklist", status="delivered", delivered_at=now,
                               body=f"【通知未送达】工单{n.case_no}的{n.template}短信{n.attempts}次发送失败，"
                                    f"请改用其他方式联系诉求人。最后错误：{n.last_error}"))
        else:
            delay = cfg.retry_seconds * 2 ** (n.attempts - 1)
            n.status, n.next_attempt_at = "failed", now + timedelta(seconds=delay * random.uniform(1.0, 1.25))
    return _save(session, n)


def _save(session: Session, n: Notice) -> str:
    session.add(n)
    session.commit()
    return n.status


def deliver_staff_notices(session: Session, settings: Settings, now: datetime) -> int:
    """Work-list notices are in their addressees' inbox as soon as they are queued: delivered. With SMTP set, a
    copy also goes by e-mail to the department's address (rules ``departments[].email``) or the supervisors'
    (settings); an e-mail that fails is logged, the inbox copy stands."""
    rows = session.exec(select(Notice).where(col(Notice.channel) == "worklist",
                                             col(Notice.status) == "pending")).all()
    for n in rows:
        address = email_address(session, settings, n) if settings.smtp_host else None
        if address:
            try:
                send_email(settings, address, f"12345 工单{n.case_no}：{n.template}", n.body)
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("e-mail of notice %s failed: %s", n.id, type(exc).__name__)
        n.status, n.delivered_at = "delivered", now
        session.add(n)
    session.commit()
    return len(rows)


def email_address(session: Session, settings: Settings, n: Notice) -> str | None:
    """Where a staff notice's e-mail copy goes (None: nowhere)."""
    if n.recipient == "supervisor":
        return settings.supervisor_email or None
    case = session.exec(select(Case.rules_version).where(Case.case_no == n.case_no)).first()
    dept = load_engine(session, case).departments.get(n.department or "") if case else None
    return dept.email if dept else None


def send_email(settings: Settings, to: str, subject: str, body: str) -> None:
    """One plain-text e-mail through the configured SMTP server."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)


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
