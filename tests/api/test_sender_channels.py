"""The sender's channels against real local peers: Tencent Cloud SMS through its own SDK (a fake of its API on
loopback), WeCom / DingTalk-style im copies through Apprise, the rules choosing the channels per recipient kind,
every attempt recorded, and several senders on PostgreSQL never claiming the same SMS."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlmodel import Session, SQLModel, col, select

from activities.notices import NoticeActivities
from core.contracts import NoticeInput
from core.db import session_scope
from core.models import DeliveryAttempt, Notice
from services.delivery import claim, out_id, run_once
from services.rules_store import activate, publish
from services.sms_adapters import HttpSmsGateway, TencentSms, sms_adapter
from tests.api.sender_fakes import answer_json, notice, queued_sms
from tests.api.test_sender import DAY
from tests.helpers import PHONE, stored_case

LOCAL_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class Loopback:
    """An HTTP server on 127.0.0.1 whose POSTs go to ``answer(path, headers, body) -> (status, json)``."""

    def __init__(self, answer: Any) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer_json(self, *answer(self.path, dict(self.headers), raw))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class FakeTencent:
    """Tencent Cloud SMS API 2021-01-11 as its SDK calls it: ``SendSms`` and ``PullSmsSendStatusByPhoneNumber``
    (action in ``X-TC-Action``, TC3-HMAC-SHA256 signed). ``receipts``: whether sent messages have receipts yet."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.slow, self.code, self.receipts = 0.0, "Ok", True
        self.peer = Loopback(self.answer)

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict]:
        body, action = json.loads(raw), headers.get("X-TC-Action")
        self.headers.append(headers)
        if action == "SendSms":
            if self.code == "Ok":
                self.sent.append(body)
            if self.slow:
                time.sleep(self.slow)
            return 200, {"Response": {"RequestId": "r1", "SendStatusSet": [{
                "SerialNo": f"serial-{len(self.sent)}", "PhoneNumber": body["PhoneNumberSet"][0], "Fee": 1,
                "SessionContext": body.get("SessionContext", ""), "Code": self.code, "Message": "msg",
                "IsoCode": "CN"}]}}
        assert action == "PullSmsSendStatusByPhoneNumber"
        found = [m for m in self.sent if m["PhoneNumberSet"][0] == body["PhoneNumber"]] if self.receipts else []
        return 200, {"Response": {"RequestId": "r2", "PullSmsSendStatusSet": [{
            "UserReceiveTime": "2026-12-02 11:00:05", "CountryCode": "86", "SubscriberNumber": PHONE,
            "PhoneNumber": m["PhoneNumberSet"][0], "SerialNo": "s", "ReportStatus": "SUCCESS",
            "Description": "DELIVRD", "SessionContext": m["SessionContext"]} for m in found]}}


@pytest.fixture
def tencent():  # type: ignore[no-untyped-def]
    fake = FakeTencent()
    yield fake
    fake.peer.server.shutdown()


def tencent_settings(settings, fake: FakeTencent, **over: Any):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={
        "sms_adapter": "tencent", "tencent_secret_id": "AKIDtest", "tencent_secret_key": "secret",
        "tencent_sms_app_id": "1400000001", "tencent_sms_sign_name": "北京12345",
        "tencent_sms_endpoint": fake.peer.address, "tencent_sms_scheme": "http", **over})


def mapped_rules(engine, settings, version: str, **delivery: Any) -> None:  # type: ignore[no-untyped-def]
    """Publish and activate a copy of 2026.3 with the acceptance SMS mapped to a provider template."""
    doc = yaml.safe_load((settings.rules_dir / "2026.3.yaml").read_text(encoding="utf-8"))
    doc["version"] = version
    doc["delivery"]["sms_templates"] = {"acceptance": {"code": "2000001", "params": ["case_no", "tracking_url"]}}
    doc["delivery"].update(delivery)
    with session_scope(engine) as session:
        publish(session, yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "test")
        activate(session, version)


def attempts(engine, notice_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        rows = s.exec(select(DeliveryAttempt).where(DeliveryAttempt.notice_id == notice_id)
                      .order_by(col(DeliveryAttempt.id))).all()
        return [(a.channel, a.outcome) for a in rows]


def test_tencent_sms_goes_as_the_approved_template_through_the_sdk(isolated, tencent) -> None:
    engine, settings = isolated
    mapped_rules(engine, settings, "test-tencent")
    own = tencent_settings(settings, tencent)
    sms = queued_sms(engine, own)
    adapter = sms_adapter(own)
    assert isinstance(adapter, TencentSms)
    run_once(engine, own, adapter, DAY)
    n = notice(engine, sms.id or 0)
    assert n.status == "sent" and n.provider_id == "serial-1"
    [sent] = tencent.sent
    assert sent["PhoneNumberSet"] == [f"+86{PHONE}"] and sent["TemplateId"] == "2000001"
    assert sent["SignName"] == "北京12345" and sent["SmsSdkAppId"] == "1400000001"
    assert sent["TemplateParamSet"] == [n.case_no, n.params[1]] and sent["SessionContext"] == out_id(n)
    assert tencent.headers[0]["Authorization"].startswith("TC3-HMAC-SHA256 Credential=AKIDtest/")
    assert attempts(engine, n.id or 0) == [("sms", "sent")]


def test_a_notice_without_an_approved_template_is_dead_at_once_for_tencent(isolated, tencent) -> None:
    engine, settings = isolated  # the shipped rules map no template: the provider could not send plain text
    own = tencent_settings(settings, tencent)
    sms = queued_sms(engine, own)
    run_once(engine, own, sms_adapter(own), DAY)
    n = notice(engine, sms.id or 0)
    assert n.status == "dead" and "delivery.sms_templates" in (n.last_error or "") and not tencent.sent
    run_once(engine, own, sms_adapter(own), DAY + timedelta(seconds=1))  # the supervisor is told
    with Session(engine) as s:
        alert = s.exec(select(Notice).where(Notice.key == f"{n.key}-dead", Notice.case_no == n.case_no)).one()
    assert alert.recipient == "supervisor" and alert.status == "delivered" and "未送达" in alert.body


def test_a_refused_template_is_not_retried_but_a_limit_is(isolated, tencent) -> None:
    engine, settings = isolated
    mapped_rules(engine, settings, "test-tencent-codes")
    own = tencent_settings(settings, tencent)
    first, second = queued_sms(engine, own), queued_sms(engine, own)
    tencent.code = "FailedOperation.TemplateIncorrectOrUnapproved"
    run_once(engine, own, sms_adapter(own), DAY)
    assert {notice(engine, first.id or 0).status, notice(engine, second.id or 0).status} == {"dead"}
    third = queued_sms(engine, own)
    tencent.code = "LimitExceeded.PhoneNumberDailyLimit"
    run_once(engine, own, sms_adapter(own), DAY)
    n = notice(engine, third.id or 0)
    assert n.status == "failed" and n.next_attempt_at and "LimitExceeded" in (n.last_error or "")


def test_after_a_tencent_timeout_the_receipts_are_read_before_sending_again(isolated, tencent) -> None:
    engine, settings = isolated
    mapped_rules(engine, settings, "test-tencent-timeout")
    own = tencent_settings(settings, tencent, tencent_sms_timeout=1, tencent_sms_receipt_lag_seconds=120)
    sms = queued_sms(engine, own)
    tencent.slow, tencent.receipts = 1.5, False
    run_once(engine, own, sms_adapter(own), DAY)  # the provider took it, the answer came too late
    n = notice(engine, sms.id or 0)
    assert n.status == "failed" and (n.last_error or "").startswith("outcome unknown") and len(tencent.sent) == 1
    tencent.slow = 0.0
    run_once(engine, own, sms_adapter(own), n.next_attempt_at + timedelta(seconds=1))  # no receipt yet: wait
    n = notice(engine, n.id or 0)
    assert n.status == "failed" and len(tencent.sent) == 1 and n.next_attempt_at is not None
    tencent.receipts = True  # the receipt arrived at the provider
    run_once(engine, own, sms_adapter(own), n.next_attempt_at + timedelta(seconds=1))
    n = notice(engine, n.id or 0)
    assert n.status == "sent" and len(tencent.sent) == 1
    assert attempts(engine, n.id or 0) == [("sms", "unknown"), ("sms", "already-sent")]


def test_missing_provider_settings_are_named() -> None:
    from core.settings import Settings

    with pytest.raises(ValueError, match="tencent_secret_id, tencent_secret_key"):
        sms_adapter(Settings(sms_adapter="tencent"))
    with pytest.raises(ValueError, match="unknown sms_adapter 'aliyun'"):
        sms_adapter(Settings(sms_adapter="aliyun"))


def staff_notice(engine, settings, recipient: str) -> Notice:  # type: ignore[no-untyped-def]
    case = stored_case(engine, settings)
    context = {"due_sign_for": "", "return_due": ""} if recipient == "department" else {
        "repeat_of": "x", "repeat_count": 3}
    notice_id = NoticeActivities(engine, settings).queue_notice(NoticeInput(
        case_no=case.case_no or "", template="dispatch" if recipient == "department" else "repeat",
        recipient=recipient, department="xicheng-cgzf", key=recipient, rules_version=case.rules_version,
        context=context))
    return notice(engine, notice_id)


def test_im_copies_go_through_apprise_to_each_recipients_url(isolated, provider) -> None:
    engine, settings = isolated
    received: list[tuple[str, dict]] = []
    peer = Loopback(lambda path, headers, raw: (received.append((path, json.loads(raw))), (200, {}))[1])
    try:
        own = settings.model_copy(update={"im_urls": {
            "xicheng-cgzf": [f"json://{peer.address}/wecom-cgzf"], "supervisor": [f"json://{peer.address}/sup"],
            "dongcheng-cgzf": [f"json://{peer.address}/other"]}})
        dept, sup = staff_notice(engine, own, "department"), staff_notice(engine, own, "supervisor")
        run_once(engine, own, HttpSmsGateway(provider.url), DAY)
    finally:
        peer.server.shutdown()
    assert sorted(path for path, _ in received) == ["/sup", "/wecom-cgzf"]
    body = dict(received)["/wecom-cgzf"]
    assert dept.case_no in body["title"] and body["message"] == dept.body
    assert notice(engine, dept.id or 0).status == "delivered" and attempts(engine, dept.id or 0) == [("im", "sent")]
    assert attempts(engine, sup.id or 0) == [("im", "sent")]


def test_an_im_outage_is_recorded_and_the_inbox_copy_stands(isolated, provider) -> None:
    engine, settings = isolated
    own = settings.model_copy(update={"im_urls": {"xicheng-cgzf": ["json://127.0.0.1:9/nobody-listens"]}})
    dept = staff_notice(engine, own, "department")
    run_once(engine, own, HttpSmsGateway(provider.url), DAY)
    assert notice(engine, dept.id or 0).status == "delivered"
    assert attempts(engine, dept.id or 0) == [("im", "failed")]


def test_the_rules_choose_the_staff_channels(isolated, provider) -> None:
    engine, settings = isolated
    mapped_rules(engine, settings, "test-channels",
                 channels={"complainant": ["sms"], "department": ["inbox"], "supervisor": ["inbox", "im"]})
    received: list[str] = []
    peer = Loopback(lambda path, headers, raw: (received.append(path), (200, {}))[1])
    try:
        own = settings.model_copy(update={"im_urls": {"xicheng-cgzf": [f"json://{peer.address}/dept"],
                                                      "supervisor": [f"json://{peer.address}/sup"]}})
        dept, _ = staff_notice(engine, own, "department"), staff_notice(engine, own, "supervisor")
        run_once(engine, own, HttpSmsGateway(provider.url), DAY)
    finally:
        peer.server.shutdown()
    assert received == ["/sup"] and attempts(engine, dept.id or 0) == []
    from rules.parse import RulesError, parse_rules

    doc = yaml.safe_load((settings.rules_dir / "2026.3.yaml").read_text(encoding="utf-8"))
    doc["delivery"]["channels"] = {"department": ["email"]}
    with pytest.raises(RulesError, match="inbox"):
        parse_rules(yaml.safe_dump(doc, allow_unicode=True))


def test_every_sms_attempt_is_recorded(isolated, provider) -> None:
    engine, settings = isolated
    sms = queued_sms(engine, settings)
    provider.down = 1
    run_once(engine, settings, HttpSmsGateway(provider.url), DAY)
    n = notice(engine, sms.id or 0)
    run_once(engine, settings, HttpSmsGateway(provider.url), n.next_attempt_at + timedelta(seconds=1))
    assert attempts(engine, sms.id or 0) == [("sms", "failed"), ("sms", "sent")]


@pytest.fixture
def pg_schema(settings):  # type: ignore[no-untyped-def]
    """A PostgreSQL schema of its own (the local server), the outbox tables in it."""
    name = f"claims_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(LOCAL_PG)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {name}"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"the concurrent-claim test needs PostgreSQL at {LOCAL_PG}: {exc}")
    engine = sa.create_engine(LOCAL_PG, connect_args={"options": f"-csearch_path={name}"}, pool_size=8)
    SQLModel.metadata.create_all(engine, tables=[Notice.__table__])  # type: ignore[list-item]
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {name} CASCADE"))
    admin.dispose()


def test_senders_on_postgresql_skip_what_another_holds_and_never_share_an_sms(pg_schema) -> None:
    with Session(pg_schema) as s:
        s.add_all([Notice(case_no=f"c{i}", key="acceptance", template="acceptance", recipient="complainant",
                          body="x") for i in range(200)])
        s.commit()
    holder = Session(pg_schema)  # another sender in the middle of its claim: 10 rows locked
    held = {n.id for n in holder.exec(select(Notice).order_by(col(Notice.id)).limit(10).with_for_update())}
    with Session(pg_schema) as s:
        s.execute(sa.text("SET statement_timeout = 3000"))  # a plain FOR UPDATE would wait here for the holder
        first = claim(s, DAY, batch=20)
    assert len(first) == 20 and not held & set(first)
    holder.rollback()
    holder.close()
    claimed: list[list[int]] = []
    barrier = threading.Barrier(4)

    def sender() -> None:
        mine: list[int] = []
        barrier.wait()
        with Session(pg_schema) as s:
            while batch := claim(s, DAY, batch=7):
                mine += batch
        claimed.append(mine)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    together = [i for mine in claimed for i in mine] + first
    assert len(claimed) == 4 and len(together) == len(set(together)) == 200
