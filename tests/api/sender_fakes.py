"""Fakes of the sender's peers on loopback, and the outbox helpers of the sender tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlmodel import Session, select

from activities.notices import NoticeActivities
from core.contracts import NoticeInput
from core.models import Case, Notice
from tests.helpers import stored_case


def answer_json(handler: BaseHTTPRequestHandler, code: int, body: Any) -> None:
    """Answer a loopback fake's request with JSON."""
    data = json.dumps(body).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class FakeProvider:
    """An SMS gateway on 127.0.0.1: ``down`` answers 503, ``slow`` accepts but answers after the client gave up."""

    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.down = 0  # the next N sends fail
        self.slow = 0.0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, code: int, body: dict) -> None:
                answer_json(self, code, body)

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                provider.calls += 1
                if provider.down:
                    provider.down -= 1
                    return self._answer(503, {"error": "maintenance"})
                provider.messages.setdefault(body["out_id"], body)  # the provider dedups on out_id too
                if provider.slow:
                    time.sleep(provider.slow)
                self._answer(200, {"id": f"p-{len(provider.messages)}"})

            def do_GET(self) -> None:  # noqa: N802
                key = self.path.rsplit("/", 1)[-1]
                if key in provider.messages:
                    return self._answer(200, {"status": "sent"})
                self._answer(404, {"error": "unknown"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def queued_sms(engine, settings, **over: Any) -> Notice:  # type: ignore[no-untyped-def]
    """A case and its acceptance SMS in the outbox (as the workflow's notice activity writes it)."""
    case = stored_case(engine, settings, **over)
    with Session(engine) as s:
        row = s.exec(select(Case).where(Case.case_no == case.case_no)).one()
        row.lead_department, row.urgency = "xicheng-cgzf", over.get("urgency", "一般")
        s.add(row)
        s.commit()
    notice_id = NoticeActivities(engine, settings).queue_notice(NoticeInput(
        case_no=case.case_no or "", template="acceptance", recipient="complainant", department=None,
        key="acceptance", rules_version=case.rules_version, context={}))
    return notice(engine, notice_id)


def notice(engine, notice_id: int) -> Notice:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        n = s.get(Notice, notice_id)
        assert n is not None
        return n
