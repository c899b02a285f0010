"""Notices to departments and supervisors: in their inbox as soon as they are queued, plus the copies the rules'
``delivery.channels`` ask for: e-mail over SMTP (rules ``departments[].email``, settings ``supervisor_email``) and
im through Apprise (WeCom group robot ``wecombot://``, DingTalk ``dingtalk://``, any Apprise URL; settings
``im_urls``). A copy that fails is recorded as a failed attempt; the inbox copy stands."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage

from sqlmodel import Session, col, select

from core.models import Case, DeliveryAttempt, Notice
from core.settings import Settings
from services.rules_store import load_engine

log = logging.getLogger("jiesu.sender")


def deliver_staff_notices(session: Session, settings: Settings, now: datetime) -> int:
    """Pending staff notices: delivered to the inbox, copies sent; how many."""
    rows = session.exec(select(Notice).where(col(Notice.channel) == "worklist",
                                             col(Notice.status) == "pending")).all()
    for n in rows:
        for channel, address in copies(session, settings, n):
            session.add(send_copy(settings, n, channel, address, now))
        n.status, n.delivered_at = "delivered", now
        session.add(n)
    session.commit()
    return len(rows)


def copies(session: Session, settings: Settings, n: Notice) -> list[tuple[str, str]]:
    """(channel, address) of every copy this notice gets beyond the inbox."""
    case = session.exec(select(Case.rules_version).where(Case.case_no == n.case_no)).first()
    rules = load_engine(session, case) if case else None
    kind = "supervisor" if n.recipient == "supervisor" else "department"
    channels = getattr(rules.rules.delivery.channels, kind) if rules else ["inbox", "email", "im"]
    out: list[tuple[str, str]] = []
    if "email" in channels and settings.smtp_host:
        dept = rules.departments.get(n.department or "") if rules else None
        address = settings.supervisor_email if kind == "supervisor" else (dept.email if dept else None)
        out += [("email", address)] if address else []
    if "im" in channels:
        out += [("im", url) for url in settings.im_urls.get("supervisor" if kind == "supervisor"
                                                            else n.department or "", [])]
    return out


def send_copy(settings: Settings, n: Notice, channel: str, address: str, now: datetime) -> DeliveryAttempt:
    """Send one copy; the attempt as it went."""
    subject = f"12345 工单{n.case_no}：{n.template}"
    try:
        if channel == "email":
            send_email(settings, address, subject, n.body)
        else:
            send_im(address, subject, n.body)
        return DeliveryAttempt(notice_id=n.id or 0, channel=channel, at=now, outcome="sent")
    except (OSError, smtplib.SMTPException, ImConnectionError) as exc:
        log.warning("%s copy of notice %s failed: %s", channel, n.id, type(exc).__name__)
        return DeliveryAttempt(notice_id=n.id or 0, channel=channel, at=now, outcome="failed",
                               error=f"{type(exc).__name__}: {exc}"[:500])


def send_email(settings: Settings, to: str, subject: str, body: str) -> None:
    """One plain-text e-mail through the configured SMTP server."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)


class ImConnectionError(Exception):
    """Apprise could not deliver to the URL."""


def send_im(url: str, title: str, body: str) -> None:
    """One message through Apprise (WeCom robot, DingTalk, …)."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        raise ImConnectionError("not an Apprise URL this installation supports")
    if not sender.notify(title=title, body=body):
        raise ImConnectionError("the service did not accept the message")
