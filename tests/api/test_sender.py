"""The sender against a fake SMS provider on loopback: an outage is retried and the SMS delivered once, an
unknown outcome is asked about before sending again, a dead letter tells the supervisor, quiet hours hold citizens'
SMS at night (not for 紧急 cases), staff notices go to the inbox, receipts mark SMS delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from activities.notices import NoticeActivities
from core.contracts import NoticeInput
from core.models import Notice
from services.delivery import out_id, run_once
from services.sms_adapters import HttpSmsGateway
from tests.api.sender_fakes import notice, queued_sms
from tests.helpers import PHONE, stored_case

NIGHT = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 23:00 in Beijing
DAY = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 11:00 in Beijing


def test_an_outage_is_retried_and_the_sms_delivered_once(isolated, provider) -> None:
    engine, settings = isolated
    sms = queued_sms(engine, settings)
    gateway = HttpSmsGateway(provider.url)
    provider.down = 2
    now = DAY
    for _ in range(6):  # each pass at the time the notice is due again
        run_once(engine, settings, gateway, now)
        n = notice(engine, sms.id or 0)
        if n.status == "sent":
            break
        assert n.status == "failed" and n.next_attempt_at is not None and n.next_attempt_at > now
        now = n.next_attempt_at + timedelta(seconds=1)
    assert n.status == "sent" and n.attempts == 3 and n.provider_id
    assert list(provider.messages) == [out_id(n)] and provider.messages[out_id(n)]["to"] == PHONE
    assert "受理" in provider.messages[out_id(n)]["text"]
    run_once(engine, settings, gateway, now + timedelta(hours=1))  # nothing more to send
    assert provider.calls == 3


def test_after_an_unknown_outcome_the_provider_is_asked_first(isolated, provider) -> None:
    engine, settings = isolated
    sms = queued_sms(engine, settings)
    provider.slow = 1.0
    gateway = HttpSmsGateway(provider.url, timeout=0.3)
    run_once(engine, settings, gateway, DAY)
    n = notice(engine, sms.id or 0)
    assert n.status == "failed" and n.last_error and n.last_error.startswith("outcome unknown")
    provider.slow = 0
    run_once(engine, settings, gateway, (n.next_attempt_at or DAY) + timedelta(seconds=1))
    n = notice(engine, sms.id or 0)
    assert n.status == "sent" and provider.calls == 1  # it had gone out: not sent twice


def test_a_dead_letter_tells_the_supervisor(isolated, provider) -> None:
    engine, settings = isolated
    sms = queued_sms(engine, settings)
    provider.down = 100
    gateway, now = HttpSmsGateway(provider.url), DAY
    for _ in range(5):  # rules 2026.3: delivery.max_attempts 5
        run_once(engine, settings, gateway, now)
        now = (notice(engine, sms.id or 0).next_attempt_at or now) + timedelta(seconds=1)
    n = notice(engine, sms.id or 0)
    assert n.status == "dead" and n.attempts == 5 and "503" in (n.last_error or "")
    with Session(engine) as s:
        alert = s.exec(select(Notice).where(Notice.case_no == n.case_no, Notice.template == "delivery_dead")).one()
    assert alert.recipient == "supervisor" and "5次" in alert.body


def test_quiet_hours_hold_citizens_sms_but_not_urgent_ones(isolated, provider) -> None:
    engine, settings = isolated
    gateway = HttpSmsGateway(provider.url)
    calm = queued_sms(engine, settings)
    run_once(engine, settings, gateway, NIGHT)
    held = notice(engine, calm.id or 0)
    assert held.status == "pending" and held.attempts == 0 and provider.calls == 0
    assert held.next_attempt_at == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # 08:00 in Beijing
    urgent = queued_sms(engine, settings, category="GGFW03", description="燃气泄漏", urgency="紧急")
    run_once(engine, settings, gateway, NIGHT)
    assert notice(engine, urgent.id or 0).status == "sent" and provider.calls == 1


def test_staff_notices_are_delivered_to_the_inbox(isolated, provider) -> None:
    engine, settings = isolated
    case = stored_case(engine, settings)
    notice_id = NoticeActivities(engine, settings).queue_notice(NoticeInput(
        case_no=case.case_no or "", template="repeat", recipient="supervisor", department=None, key="repeat",
        rules_version=case.rules_version, context={"repeat_of": "x", "repeat_count": 3}))
    run_once(engine, settings, HttpSmsGateway(provider.url), DAY)
    n = notice(engine, notice_id)
    assert n.status == "delivered" and n.delivered_at is not None and provider.calls == 0


async def test_receipts_need_the_token_and_mark_the_sms_delivered(settings, client, worker, engine,
                                                                  provider) -> None:
    import httpx

    from api.app import create_app

    sms = queued_sms(engine, settings)
    run_once(engine, settings, HttpSmsGateway(provider.url), DAY)
    app = create_app(settings.model_copy(update={"delivery_receipt_token": "receipt-secret"}), client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as api:
        url, body = "/api/v1/delivery/receipts/sms", {"out_id": out_id(sms), "status": "delivered"}
        assert (await api.post(url, json=body)).status_code == 401
        assert (await api.post(url, json=body, headers={"X-Receipt-Token": "wrong"})).status_code == 401
        ok = await api.post(url, json=body, headers={"X-Receipt-Token": "receipt-secret"})
        assert ok.status_code == 200, ok.text
        unknown = await api.post(url, json={"out_id": "x.y", "status": "delivered"},
                                 headers={"X-Receipt-Token": "receipt-secret"})
        assert unknown.status_code == 404
    n = notice(engine, sms.id or 0)
    assert n.status == "delivered" and n.delivered_at is not None


def test_a_mapped_notice_goes_as_the_providers_template_with_its_parameters(isolated, provider) -> None:
    import yaml

    from core.db import session_scope
    from rules.parse import parse_rules
    from rules.schema import RulesError
    from services.rules_store import activate, publish

    engine, settings = isolated
    text = (settings.rules_dir / "2026.3.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc["version"] = "test-provider"
    doc["delivery"]["sms_templates"] = {"acceptance": {"code": "SMS_0001",
                                                       "params": ["case_no", "department_name", "tracking_url"]}}
    mapped = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    with session_scope(engine) as session:
        publish(session, mapped, "test")
        activate(session, "test-provider")
    sms = queued_sms(engine, settings)
    assert sms.provider_template == "SMS_0001" and sms.params[0] == sms.case_no
    code = sms.body.split("查询码")[1][:10]
    assert sms.params[1] == "西城区城市管理综合行政执法局" and sms.params[2].endswith(f"/t/{code}")
    run_once(engine, settings, HttpSmsGateway(provider.url), DAY)
    sent = provider.messages[out_id(sms)]
    assert sent["template"] == "SMS_0001" and sent["params"] == sms.params
    doc["delivery"]["sms_templates"] = {"acceptance": {"code": "SMS_0001", "params": ["phone"]}}
    with pytest.raises(RulesError) as refused:  # only the notice context, never personal data
        parse_rules(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    assert "delivery.sms_templates.acceptance.params" in str(refused.value)


def test_an_sms_whose_sender_died_is_claimed_again_and_not_sent_twice(isolated, provider) -> None:
    from sqlmodel import Session as S

    from services.delivery import claim

    engine, settings = isolated
    sms = queued_sms(engine, settings)
    with S(engine) as session:
        assert claim(session, DAY) == [sms.id]  # a sender claims it …
    gateway = HttpSmsGateway(provider.url)
    gateway.send(out_id(sms), PHONE, sms.body, sms.template)  # … sends it, and dies before recording that
    run_once(engine, settings, gateway, DAY + timedelta(minutes=1))
    assert notice(engine, sms.id or 0).status == "sending"  # its lease still runs
    run_once(engine, settings, gateway, DAY + timedelta(minutes=6))
    n = notice(engine, sms.id or 0)
    assert n.status == "sent" and provider.calls == 1  # claimed again, the provider asked: sent once


def test_staff_notices_are_also_e_mailed_when_smtp_is_set(isolated, provider) -> None:
    import yaml
    from aiosmtpd.controller import Controller

    from core.db import session_scope
    from services.rules_store import activate, publish

    class Inbox:
        def __init__(self) -> None:
            self.mail: list[tuple[list[str], str]] = []

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            from email import message_from_bytes, policy

            parsed = message_from_bytes(envelope.content, policy=policy.default)
            self.mail.append((list(envelope.rcpt_tos), parsed.get_content()))  # type: ignore[attr-defined]
            return "250 OK"

    engine, settings = isolated
    doc = yaml.safe_load((settings.rules_dir / "2026.3.yaml").read_text(encoding="utf-8"))
    doc["version"] = "test-email"
    for dept in doc["departments"]:
        if dept["code"] == "{district}-cgzf":
            dept["email"] = "cgzf@example.gov.cn"
    with session_scope(engine) as session:
        publish(session, yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "test")
        activate(session, "test-email")
    import socket

    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        mailing = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port,
                                              "supervisor_email": "sup@example.gov.cn"})
        case = stored_case(engine, mailing)
        activities = NoticeActivities(engine, mailing)
        for template, recipient, context in (("dispatch", "department", {"due_sign_for": "", "return_due": ""}),
                                             ("repeat", "supervisor", {"repeat_of": "x", "repeat_count": 3})):
            activities.queue_notice(NoticeInput(case_no=case.case_no or "", template=template, recipient=recipient,
                                                department="xicheng-cgzf", key=template,
                                                rules_version=case.rules_version, context=context))
        run_once(engine, mailing, HttpSmsGateway(provider.url), DAY)
    finally:
        smtp.stop()
    assert sorted(to for tos, _ in inbox.mail for to in tos) == ["cgzf@example.gov.cn", "sup@example.gov.cn"]
    assert any("派单" in body or "签收" in body for _, body in inbox.mail)
