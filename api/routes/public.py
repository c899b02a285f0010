"""Routes without a token: tracking by code (status and deadline only) and health."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from sqlmodel import select

from api.auth import client_address
from api.deps import SessionDep, SettingsDep
from api.errors import not_found, responses
from core.contracts import CaseStatus
from core.contracts.case_io import TrackPublic
from services.access import limit
from services.tracking import find

router = APIRouter(tags=["public"])


@router.get("/track/{tracking_code}", response_model=TrackPublic,
            responses=responses(404, 429, s404="no such tracking code"))
def track(tracking_code: str, request: Request, session: SessionDep, settings: SettingsDep) -> TrackPublic:
    """Follow a case with its tracking code (查询码): status and deadline, nothing else. Rate-limited per client
    address (guessing codes)."""
    limit("tracking", client_address(request), settings.rate_limit("tracking"), "tracking lookups")
    case = find(session, tracking_code)
    if case is None:
        raise not_found("tracking code")
    status = CaseStatus(case.status)
    return TrackPublic(status=status.value, status_label=status.label, deadline=case.due_resolution)


@router.get("/health")
def health(session: SessionDep) -> dict:
    """Liveness and database reachability."""
    session.exec(select(sa.literal(1))).one()
    return {"status": "ok", "database": "ok"}


@router.get("/health/ready", responses=responses(503, s503="the database or Temporal does not answer"))
async def ready(request: Request, session: SessionDep) -> dict:
    """Readiness: the database answers and the Temporal frontend answers (a load balancer sends traffic only
    then)."""
    import asyncio

    from starlette.concurrency import run_in_threadpool

    from api.deps import get_temporal
    from api.errors import unavailable

    await run_in_threadpool(lambda: session.exec(select(sa.literal(1))).one())
    client = await get_temporal(request)
    try:
        await asyncio.wait_for(client.service_client.check_health(), timeout=5)
    except Exception as exc:
        raise unavailable("the workflow service") from exc
    return {"status": "ok", "database": "ok", "temporal": "ok"}
