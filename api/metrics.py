"""Prometheus metrics of the API process at ``/metrics``: requests by route and status, their latency, and the
case engine's own gauges read from the database at scrape time (open cases by status, overdue cases, the outbox
backlog and its dead letters, the projection lag: cases accepted but not yet seen by their workflow)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlmodel import Session

from core.contracts import OPEN_VALUES
from core.db import get_engine
from core.models import Case, Notice, utcnow

router = APIRouter(include_in_schema=False)


class EngineGauges:
    """Gauges computed on each scrape from the projection (one small query each)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Any:
        """The current values."""
        c: Any = Case.__table__.c  # type: ignore[attr-defined]
        n: Any = Notice.__table__.c  # type: ignore[attr-defined]
        with Session(get_engine(self.app.state.settings)) as session:
            by_status = GaugeMetricFamily("jiesu_open_cases", "open cases by status", labels=["status"])
            for status, count in session.execute(sa.select(c.status, sa.func.count()).where(
                    c.status.in_(OPEN_VALUES)).group_by(c.status)).all():
                by_status.add_metric([status], count)
            yield by_status
            overdue = session.execute(sa.select(sa.func.count()).where(c.status.in_(OPEN_VALUES),
                                                                       c.overdue.is_(True))).scalar_one()
            yield GaugeMetricFamily("jiesu_overdue_cases", "open cases past a deadline", value=overdue)
            outbox = GaugeMetricFamily("jiesu_outbox_notices", "notices in the outbox by status",
                                       labels=["status"])
            for status, count in session.execute(sa.select(n.status, sa.func.count()).where(
                    n.status.in_(("pending", "sending", "failed", "dead"))).group_by(n.status)).all():
                outbox.add_metric([status], count)
            yield outbox
            lag = session.execute(sa.select(sa.func.count(), sa.func.min(c.created_at)).where(
                c.workflow_started.is_(False), c.case_no.is_not(None))).one()
            yield GaugeMetricFamily("jiesu_projection_backlog_cases",
                                    "accepted cases whose workflow has not projected its first task", value=lag[0])
            oldest = lag[1]
            age = (utcnow() - oldest).total_seconds() if oldest else 0.0  # UTCDateTime: aware
            yield GaugeMetricFamily("jiesu_projection_lag_seconds", "age of the oldest such case", value=age)


def install(app: Any) -> None:
    """A registry per app: request counts and latency by route template, and the engine's gauges."""
    registry = CollectorRegistry()
    requests = Counter("jiesu_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram("jiesu_http_request_seconds", "HTTP request latency", ["method", "route"],
                        registry=registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
    registry.register(EngineGauges(app))
    app.state.metrics = registry

    @app.middleware("http")
    async def _measure(request: Request, call_next: Any) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        template = route_template(request) if request.scope.get("route") else "unmatched"
        requests.labels(request.method, template, str(response.status_code)).inc()
        latency.labels(request.method, template).observe(time.perf_counter() - t0)
        return response


def route_template(request: Request) -> str:
    """The request's path with each path parameter's value put back as ``{name}`` (never a case number or a
    tracking code in a label)."""
    values = sorted(((str(v), k) for k, v in request.path_params.items() if str(v)), key=lambda x: -len(x[0]))
    parts = []
    for part in request.url.path.split("/"):
        for value, name in values:  # also inside a segment: /open311/v2/requests/{request_id}.{fmt}
            part = part.replace(value, f"{{{name}}}")
        parts.append(part)
    return "/".join(parts)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """The Prometheus exposition of this API process."""
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
