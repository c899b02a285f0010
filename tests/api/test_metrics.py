"""Observability: /metrics after a few requests (by route template, never a case number; the engine's gauges),
readiness that checks the database and Temporal, and the SDK's own metrics served for Prometheus."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.helpers import auth, intake

pytestmark = pytest.mark.temporal


async def test_metrics_count_requests_by_route_and_read_the_engines_gauges(api, tokens) -> None:
    created = await intake(api, tokens)
    no = created["case_no"]
    for _ in range(3):
        assert (await api.get(f"/api/v1/cases/{no}", headers=auth(tokens["intake"]))).status_code == 200
    assert (await api.get("/api/v1/cases/nope", headers=auth(tokens["intake"]))).status_code == 404
    text = (await api.get("/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("jiesu_http_requests_total{")
                and 'route="/api/v1/cases/{case_no}"' in x and 'status="200"' in x)
    assert float(line.rsplit(" ", 1)[1]) >= 3
    assert 'route="/api/v1/cases/{case_no}",status="404"' in text.replace('method="GET",', "")
    assert no not in text  # labels are route templates
    assert "jiesu_http_request_seconds_bucket" in text
    assert 'jiesu_open_cases{status="dispatched"}' in text and "jiesu_overdue_cases" in text
    assert "jiesu_outbox_notices" in text and "jiesu_projection_lag_seconds" in text


async def test_readiness_checks_the_database_and_temporal(api) -> None:
    r = await api.get("/api/v1/health/ready")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok", "temporal": "ok"}


async def test_the_sdk_serves_its_runtime_metrics(settings, dev_env) -> None:
    from core.temporal import connect

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    own = settings.model_copy(update={"sdk_metrics_address": f"127.0.0.1:{port}",
                                      "temporal_address": dev_env.client.service_client.config.target_host})
    client = await connect(own)
    await client.count_workflows()
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert "temporal_request" in text


async def test_open311_labels_carry_no_request_number(api, tokens) -> None:
    created = await intake(api, tokens)
    await api.get(f"/open311/v2/requests/{created['case_no']}.json")
    text = (await api.get("/metrics")).text
    assert 'route="/open311/v2/requests/{request_id}.{fmt}"' in text and created["case_no"] not in text


def test_a_worker_serves_the_engines_gauges_on_its_own_address(engine, settings) -> None:
    """JIESU_WORKER_METRICS_ADDRESS: the gauges a worker serves count the cases the database holds."""
    from services.metrics import serve_gauges
    from tests.helpers import stored_case

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = serve_gauges(engine, f"127.0.0.1:{port}")
    stored_case(engine, settings)  # committed, never started: counted in the projection backlog

    def backlog() -> float:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return float(next(x for x in text.splitlines() if x.startswith("jiesu_projection_backlog_cases ")).split()[1])

    try:
        before = backlog()
        stored_case(engine, settings)
        assert before >= 1 and backlog() == before + 1
    finally:
        server.shutdown()
