"""Open311 GeoReport v2: every endpoint in XML and JSON with the specification's element names and shapes, a
request filed form-encoded (the case number answered at once), the errors it names, no personal data read back,
and a third-party client (the `georeport` package) listing services and reading requests from the running server."""

from __future__ import annotations

import asyncio
from xml.etree import ElementTree as ET

import pytest
import pytest_asyncio

from tests.helpers import PHONE, case_when, live_app

pytestmark = pytest.mark.temporal
V2 = "/open311/v2"


def form(tokens: dict[str, str], **over: str) -> dict[str, str]:
    body = {"api_key": tokens["intake"], "service_code": "CXJS01", "address_string": "金融街某小区3号楼",
            "attribute[district]": "xicheng", "attribute[street]": "金融街街道", "description": "楼顶私搭乱建彩钢房",
            "first_name": "小明", "last_name": "王", "phone": PHONE, "email": "wang@example.cn"}
    return body | over


async def test_services_and_their_definition_in_both_formats(api) -> None:
    services = (await api.get(f"{V2}/services.json")).json()
    assert isinstance(services, list) and {"service_code", "service_name", "metadata", "type", "group"} <= set(
        services[0])
    illegal = next(s for s in services if s["service_code"] == "CXJS01")
    assert illegal["service_name"] == "违法建设" and illegal["group"] == "城乡建设" and illegal["metadata"] is True
    xml = ET.fromstring((await api.get(f"{V2}/services.xml")).content)
    assert xml.tag == "services" and len(xml.findall("service")) == len(services)
    assert xml.find("service/service_code") is not None and xml.find("service/metadata").text == "true"
    definition = (await api.get(f"{V2}/services/CXJS01.json")).json()
    codes = [a["code"] for a in definition["attributes"]]
    assert definition["service_code"] == "CXJS01" and codes == ["district", "street"]
    assert {"key": "xicheng", "name": "西城区"} in definition["attributes"][0]["values"]
    dx = ET.fromstring((await api.get(f"{V2}/services/CXJS01.xml")).content)
    assert dx.tag == "service_definition" and dx.find("attributes/attribute/values/value/key") is not None
    assert (await api.get(f"{V2}/services/NOPE.xml")).status_code == 404
    disc = ET.fromstring((await api.get(f"{V2}/discovery.xml")).content)
    assert disc.tag == "discovery" and disc.find("endpoints/endpoint/formats/format").text == "text/xml"


async def test_a_request_filed_form_encoded_gets_its_case_number_at_once(api, tokens) -> None:
    r = await api.post(f"{V2}/requests.json", data=form(tokens))
    assert r.status_code == 201, r.text
    [created] = r.json()
    no = created["service_request_id"]
    case = await case_when(api, tokens["intake"], no, lambda c: c["status"] == "dispatched")
    assert case["category"] == "CXJS01" and case["district"] == "xicheng" and case["channel"] == "web"
    xml = await api.post(f"{V2}/requests.xml", data=form(tokens))
    root = ET.fromstring(xml.content)
    assert xml.status_code == 201 and root.tag == "service_requests"
    assert root.find("request/service_request_id").text.isdigit()
    one = (await api.get(f"{V2}/requests/{no}.json")).json()
    assert [r["service_request_id"] for r in one] == [no] and one[0]["status"] == "open"
    assert one[0]["requested_datetime"].endswith("+08:00") and one[0]["agency_responsible"]
    text = str(one)
    assert PHONE not in text and "王" not in text and "彩钢房" not in text and "3号楼" not in text
    token = (await api.get(f"{V2}/tokens/{no}.json")).json()
    assert token == [{"service_request_id": no, "token": no}]


async def test_requests_by_ids_service_and_status(api, tokens) -> None:
    nos = [(await api.post(f"{V2}/requests.json", data=form(tokens))).json()[0]["service_request_id"]
           for _ in range(2)]
    listed = (await api.get(f"{V2}/requests.json", params={"service_request_id": ",".join(nos)})).json()
    assert sorted(r["service_request_id"] for r in listed) == sorted(nos)
    opened = (await api.get(f"{V2}/requests.json", params={"service_code": "CXJS01", "status": "open"})).json()
    assert set(nos) <= {r["service_request_id"] for r in opened}
    closed = (await api.get(f"{V2}/requests.json", params={"status": "closed"})).json()
    assert not set(nos) & {r["service_request_id"] for r in closed}
    xml = ET.fromstring((await api.get(f"{V2}/requests.xml", params={"service_request_id": nos[0]})).content)
    assert [e.text for e in xml.findall("request/service_request_id")] == [nos[0]]


async def test_the_errors_the_specification_names(api, tokens) -> None:
    bad_key = await api.post(f"{V2}/requests.xml", data=form(tokens, api_key="nope"))
    root = ET.fromstring(bad_key.content)
    assert bad_key.status_code == 403 and root.tag == "errors" and root.find("error/code").text == "403"
    handler = await api.post(f"{V2}/requests.json", data=form(tokens, api_key=tokens["handler"]))
    assert handler.status_code == 403 and handler.json()[0]["code"] == 403
    for over, needle in (({"attribute[district]": ""}, "district"), ({"service_code": "NOPE"}, "NOPE"),
                         ({"phone": "12"}, "phone"), ({"address_string": ""}, "address")):
        r = await api.post(f"{V2}/requests.json", data=form(tokens, **over))
        assert r.status_code == 400 and needle in r.json()[0]["description"], (over, r.text)
    missing = await api.get(f"{V2}/requests/1.json")
    assert missing.status_code == 404 and missing.json() == [{"code": 404, "description": "no service request 1"}]
    assert (await api.get(f"{V2}/requests.json", params={"start_date": "yesterday"})).status_code == 400


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live_url(settings, client, worker):  # type: ignore[no-untyped-def]
    async with live_app(settings, client) as url:
        yield url


async def test_a_third_party_client_lists_services_and_reads_requests(api, tokens, live_url) -> None:
    from georeport import GeoReport

    no = (await api.post(f"{V2}/requests.json", data=form(tokens))).json()[0]["service_request_id"]
    for output in ("json", "xml"):
        client = GeoReport(f"{live_url}{V2}", output_format=output)
        services = await asyncio.to_thread(client.get_service_list)
        assert any(s["service_code"] == "CXJS01" for s in services)
        definition = await asyncio.to_thread(client.get_service_definition, "CXJS01")
        assert definition["service_code"] == "CXJS01"
        one = await asyncio.to_thread(client.get_service_request, no)
        assert one["service_request_id"] == no and one["status"] == "open"
        many = await asyncio.to_thread(client.get_service_requests, service_request_id=no)
        assert (many if isinstance(many, list) else [many])[0]["service_request_id"] == no


async def test_the_updates_feed_and_a_citizens_update(api, tokens) -> None:
    from tests.helpers import auth

    no = (await api.post(f"{V2}/requests.json", data=form(tokens))).json()[0]["service_request_id"]
    await case_when(api, tokens["intake"], no, lambda c: any(e["type"] == "dispatched" for e in c["timeline"]))
    assert (await api.post(f"/api/v1/cases/{no}/sign-for", json={}, headers=auth(tokens["handler"]))).is_success
    await case_when(api, tokens["intake"], no, lambda c: any(e["type"] == "signed_for" for e in c["timeline"]))
    feed = (await api.get(f"{V2}/servicerequestupdates.json")).json()
    mine = [u["status"] for u in feed if u["service_request_id"] == no]
    assert mine == ["OPEN", "ACTION_SCHEDULED"] and all(u["updated_datetime"].endswith("+08:00") for u in feed)
    xml = ET.fromstring((await api.get(f"{V2}/servicerequestupdates.xml")).content)
    assert xml.tag == "service_request_updates" and xml.find("request_update/update_id") is not None
    r = await api.post(f"{V2}/servicerequestupdates.json", data={
        "api_key": tokens["intake"], "service_request_id": no, "update_id": "u-1", "status": "OPEN",
        "description": "彩钢房今天又加盖了一层", "updated_datetime": "2026-12-01T10:00:00+08:00"})
    assert r.status_code == 201 and r.json()[0]["update_id"] == "u-1"
    inbox = (await api.get("/api/v1/inbox", params={"case_no": no}, headers=auth(tokens["handler"]))).json()
    assert any("又加盖了一层" in n["body"] for n in inbox["data"])
    assert (await api.post(f"{V2}/servicerequestupdates.json", data={
        "api_key": "nope", "service_request_id": no, "description": "x"})).status_code == 403
    assert (await api.post(f"{V2}/servicerequestupdates.json", data={
        "api_key": tokens["intake"], "service_request_id": "1", "description": "x"})).status_code == 404
