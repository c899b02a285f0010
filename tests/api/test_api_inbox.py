"""The inbox: a department's handlers see their department's notices (派单, 催办 …), a supervisor the supervisors';
nobody else's; read and unread."""

from __future__ import annotations

import pytest

from tests.helpers import auth, eventually, new_case

pytestmark = pytest.mark.temporal


async def test_the_inbox_is_scoped_and_notices_can_be_marked_read(api, tokens) -> None:
    dispatched = await new_case(api, tokens)
    lead, other, sup = auth(tokens["handler"]), auth(tokens["other_handler"]), auth(tokens["supervisor"])

    async def mine() -> dict:
        return (await api.get("/api/v1/inbox", params={"case_no": dispatched}, headers=lead)).json()

    page = await eventually(mine, 20, until=lambda p: any(n["template"] == "dispatch" for n in p["data"]),
                            what="the dispatch notice in the lead's inbox")
    dispatch = next(n for n in page["data"] if n["template"] == "dispatch")
    assert dispatch["department"] == "xicheng-cgzf" and dispatch["read_at"] is None and page["unread"] >= 1
    assert all(n["recipient"] in ("department", "department_head") for n in page["data"])
    foreign = (await api.get("/api/v1/inbox", params={"case_no": dispatched}, headers=other)).json()
    assert foreign["count"] == 0
    assert (await api.post(f"/api/v1/inbox/{dispatch['id']}/read", headers=other)).status_code == 404
    read = await api.post(f"/api/v1/inbox/{dispatch['id']}/read", headers=lead)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = (await api.get("/api/v1/inbox", params={"case_no": dispatched, "unread": "true"}, headers=lead)).json()
    assert dispatch["id"] not in [n["id"] for n in unread["data"]]
    sup_page = (await api.get("/api/v1/inbox", headers=sup)).json()
    assert all(n["recipient"] == "supervisor" for n in sup_page["data"])
    for role in ("intake", "auditor", "admin"):
        assert (await api.get("/api/v1/inbox", headers=auth(tokens[role]))).status_code == 403
