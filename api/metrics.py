"""Prometheus metrics of the API process at ``/metrics``: requests by route and status, their latency, and the
case engine's own gauges read from the database at scrape time (open cases by status, overdue cases, the outbox
backlog and its dead letters, the projection lag: cases accepted but not yet seen by their workflow)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.db import get_engine
from services.metrics import EngineGauges

router = APIRouter(include_in_schema=False)


def install(app: Any) -> None:
    """A registry per app: request counts and latency by route template, and the engine's gauges."""
    registry = CollectorRegistry()
    requests = Counter("jiesu_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram("jiesu_http_request_seconds", "HTTP request latency", ["method", "route"],
                        registry=registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
    registry.register(EngineGauges(get_engine(app.state.settings)))
    app.state.metrics = registry

    app.add_middleware(Measured, requests=requests, latency=latency)


class Measured:
    """ASGI middleware counting each request by method, route template and status, and its latency until the
    answer is sent (plain ASGI: nothing spawned per request)."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0, status = time.perf_counter(), 500  # an exception that escapes is answered 500 further out

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            request = Request(scope)
            template = route_template(request) if scope.get("route") else "unmatched"
            self.requests.labels(request.method, template, str(status)).inc()
            self.latency.labels(request.method, template).observe(time.perf_counter() - t0)


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
