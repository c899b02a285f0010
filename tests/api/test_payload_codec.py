"""Staff-typed free text never sits in clear in the Temporal history: every payload goes through the codec; the
codec server decodes for supervisors and auditors only, and each decode is in the access log."""

from __future__ import annotations

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.codec_server import create_codec_app
from core.contracts import workflow_id
from tests.helpers import auth, new_case

pytestmark = pytest.mark.temporal
SUMMARY = "与王某某（13800009999）通话，约定明日上门"


async def test_the_history_holds_no_clear_text_and_the_codec_server_decodes_for_auditors(
        api, tokens, client: Client, settings, engine) -> None:
    case_no = await new_case(api, tokens)
    url, lead = f"/api/v1/cases/{case_no}", auth(tokens["handler"])
    assert (await api.post(f"{url}/sign-for", json={}, headers=lead)).is_success
    r = await api.post(f"{url}/contacts", json={"summary": SUMMARY}, headers=lead)
    assert r.status_code == 200, r.text
    # what anyone with access to the Temporal server sees: raw payloads, as a client without the codec gets them
    raw = await Client.connect(client.service_client.config.target_host, data_converter=pydantic_data_converter)
    history = await raw.get_workflow_handle(workflow_id(case_no)).fetch_history()
    blob = history.to_json().encode() + b"".join(e.SerializeToString() for e in history.events)
    assert b"13800009999" not in blob and SUMMARY.encode() not in blob
    assert b"binary/encrypted" in b"".join(e.SerializeToString() for e in history.events)
    # the codec server decodes the same payloads for an auditor, not for a handler or without a token
    accepted = [e.workflow_execution_update_accepted_event_attributes.accepted_request.input for e in history.events
                if e.HasField("workflow_execution_update_accepted_event_attributes")]
    (sealed,) = [p for i in accepted if i.name == "record_contact" for p in i.args.payloads]
    assert sealed.metadata.get("encoding") == b"binary/encrypted"
    import base64

    body = {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                          "data": base64.b64encode(sealed.data).decode()}]}
    transport = httpx.ASGITransport(app=create_codec_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as codec:
        assert (await codec.post("/decode", json=body)).status_code == 401
        assert (await codec.post("/decode", json=body, headers=auth(tokens["handler"]))).status_code == 403
        opened = await codec.post("/decode", json=body, headers=auth(tokens["auditor"]))
        assert opened.status_code == 200, opened.text
    decoded = base64.b64decode(opened.json()["payloads"][0]["data"]).decode()
    assert "13800009999" in decoded and "约定明日上门" in decoded
