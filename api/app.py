"""The FastAPI application: routers under /api/v1, error handlers, lazily connected Temporal client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from api import console, errors, metrics, open311, open311_updates, track_page
from api.console import web as console_web
from api.deps import idempotency_key, temporal_of
from api.routes import access, cases, clocks, delivery, exports, inbox, partners, public, reports, rules, supervision
from core.db import get_engine
from core.settings import Settings, get_settings
from services.starts import Starter

log = logging.getLogger("jiesu.api")
DRAIN_SECONDS = 20.0  # a stopping API finishes its starts this long at most (Kubernetes' grace is 30 s by default)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At start the active rules are loaded, so the first complaints after a deploy do not wait for their YAML to
    be parsed, and Temporal is connected in the background; on shutdown (a deploy, a scale-down) the API finishes
    the workflow starts it took on."""
    await asyncio.to_thread(_preload_rules, app.state.settings)
    connecting = asyncio.create_task(_connect_early(app))
    yield
    connecting.cancel()
    await app.state.starter.drain(timeout=DRAIN_SECONDS)


async def _connect_early(app: FastAPI) -> None:
    """Connect to Temporal in the background, so the first complaint does not wait for it (while Temporal is
    down, the first request that needs it tries again)."""
    try:
        await temporal_of(app.state)
    except Exception as exc:
        log.info("Temporal not reached at start-up (%s): the first request that needs it connects",
                 type(exc).__name__)


def _preload_rules(settings: Settings) -> None:
    """Parse the active rules version into the process's cache (nothing when the database is not ready yet: the
    first request loads it then)."""
    import sqlalchemy.exc
    from sqlmodel import Session

    from services.rules_store import RulesNotFound, active_version, load_engine

    try:
        with Session(get_engine(settings)) as session:
            load_engine(session, active_version(session))
    except (sqlalchemy.exc.SQLAlchemyError, RulesNotFound) as exc:
        log.info("rules not preloaded (%s): the first request loads them", type(exc).__name__)
    except Exception:  # rules that do not load fail intake's requests, not the whole API
        log.exception("the active rules could not be loaded")


def create_app(settings: Settings | None = None, temporal=None) -> FastAPI:  # type: ignore[no-untyped-def]
    """Build the app; ``temporal`` may be an already connected client (tests, `jiesu dev`)."""
    app = FastAPI(title="jiesu — 12345 接诉即办 case engine", version="0.1.0", lifespan=lifespan,
                  description="Complaints from intake to archive, one durable Temporal workflow each.")
    app.state.settings = settings or get_settings()
    app.state.temporal = temporal
    app.state.temporal_lock = asyncio.Lock()
    # intake's workflow starts, right after the answer
    app.state.starter = Starter(app.state.settings.task_queue, get_engine(app.state.settings))
    errors.install(app)
    console_web.install(app)  # after the API's handlers: console pages answer refusals in HTML
    open311.install(app)
    app.add_middleware(errors.BodyGuard)
    metrics.install(app)
    v1 = APIRouter(prefix="/api/v1", dependencies=[Depends(idempotency_key)],
                   responses=errors.responses(422, 503))  # every route: Idempotency-Key, database down
    v1.include_router(cases.router)
    v1.include_router(clocks.router)
    v1.include_router(partners.router)
    v1.include_router(supervision.router)
    v1.include_router(rules.router)
    v1.include_router(reports.router)
    v1.include_router(exports.router)
    v1.include_router(public.router)
    v1.include_router(access.router)
    v1.include_router(inbox.router)
    v1.include_router(delivery.router)
    app.include_router(v1)
    app.include_router(track_page.router)  # /t/{tracking_code}: the complainant's page
    app.include_router(console.router)  # /console: the staff's web console
    app.include_router(open311.router)  # /open311/v2: GeoReport v2 for existing 311 clients
    app.include_router(open311_updates.router)
    app.include_router(metrics.router)  # /metrics: Prometheus
    return app
