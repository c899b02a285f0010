"""Dependency aliases: settings, DB session, Temporal client, the calling principal."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Annotated, Any

import sqlalchemy.exc
from fastapi import Depends, Header, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.errors import ServiceError, unavailable
from core.db import get_engine
from core.settings import Settings
from services.starts import Starter


async def get_settings_dep(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


log = logging.getLogger("jiesu.api")
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_db(settings: SettingsDep) -> AsyncIterator[Session]:
    """A DB session per request. Opening one does no IO (it connects on its first query), so it is made on the
    event loop; closing one that holds a connection ends its transaction on the database, in a thread. A connection
    that died after the answer was built is only logged."""
    session = Session(get_engine(settings), expire_on_commit=False)
    try:
        yield session
    finally:
        try:
            if session.in_transaction():
                await run_in_threadpool(session.close)
            else:
                session.close()
        except sqlalchemy.exc.DBAPIError as exc:
            log.warning("closing a DB session failed: %s", exc.__class__.__name__)


SessionDep = Annotated[Session, Depends(get_db)]


STARTER: ContextVar[Starter | None] = ContextVar("starter", default=None)  # this app's, for a late start


async def get_temporal(request: Request) -> Client:
    """The Temporal client (connected on first use, so the API starts even while Temporal is down)."""
    STARTER.set(request.app.state.starter)
    try:
        return await temporal_of(request.app.state)
    except Exception as exc:
        raise unavailable("the workflow service") from exc


async def temporal_of(state: Any) -> Client:
    """The app's Temporal client, connected once (at start-up in the background, else by the first request)."""
    if state.temporal is None:
        async with state.temporal_lock:
            if state.temporal is None:
                from core.temporal import connect

                state.temporal = await asyncio.wait_for(connect(state.settings), timeout=5)
    return state.temporal


TemporalDep = Annotated[Client, Depends(get_temporal)]


async def get_starter(request: Request) -> Starter:
    """The app's background starter of case workflows."""
    return request.app.state.starter


StarterDep = Annotated[Starter, Depends(get_starter)]


IDEMPOTENCY_KEY: ContextVar[str | None] = ContextVar("idempotency_key", default=None)
_KEY = re.compile(r"[A-Za-z0-9._:-]{1,100}")


async def idempotency_key(key: Annotated[str | None, Header(
        alias="Idempotency-Key", description="a retry with the same key applies a case action once "
        "(letters, digits, . _ : -, up to 100)")] = None) -> None:
    """Remember the request's Idempotency-Key for the case action it carries."""
    if key is not None and not _KEY.fullmatch(key):
        raise ServiceError(422, "validation_error", "Idempotency-Key: 1-100 letters, digits, '.', '_', ':' or '-'")
    IDEMPOTENCY_KEY.set(key)
