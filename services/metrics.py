"""The case engine's own Prometheus gauges, read from the database at scrape time: served by the API at /metrics and
by a worker at ``JIESU_WORKER_METRICS_ADDRESS`` (beside the SDK's runtime metrics at ``JIESU_SDK_METRICS_ADDRESS``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from sqlmodel import Session

from core.columns import utcnow
from core.contracts import OPEN_VALUES
from core.models import Case, Notice


class EngineGauges:
    """Gauges computed on each scrape from the projection (one small query each)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def collect(self) -> Any:
        """The current values."""
        c: Any = Case.__table__.c  # type: ignore[attr-defined]
        n: Any = Notice.__table__.c  # type: ignore[attr-defined]
        with Session(self.engine) as session:
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


def serve_gauges(engine: sa.Engine, address: str) -> Any:
    """Serve the gauges for Prometheus at ``host:port`` (a worker process: its own small HTTP server, returned so
    it can be shut down)."""
    host, _, port = address.rpartition(":")
    registry = CollectorRegistry()
    registry.register(EngineGauges(engine))
    server, _thread = start_http_server(int(port), addr=host or "0.0.0.0", registry=registry)
    return server
