"""Database engine and sessions (SQLite by default, PostgreSQL via DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import sqlalchemy as sa
from sqlmodel import Session, create_engine

from core.settings import Settings


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgresql:// URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Seconds to wait for a PostgreSQL server to answer a new connection: without it, a server that accepts the TCP
# connection but never answers (hung, overloaded) makes libpq wait forever, and the request or activity with it.
PG_CONNECT_TIMEOUT = 5


@lru_cache(maxsize=4)
def engine_for(url: str) -> sa.Engine:
    """One engine per URL; SQLite gets WAL and a busy timeout so the API and worker can share it."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    parsed = sa.engine.make_url(url)
    _cache_wide_statements()
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT  # a URL's own ?connect_timeout= wins
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args)


# psycopg parses a statement's text anew on every execution once it has more than 50 parameters (its cache skips
# those, meant for multi-row VALUES lists of varying length). A case row has 63 columns: its INSERT, the same text
# every time, was parsed on each intake (a tenth of the API's CPU per complaint). Caching up to 128 parameters
# keeps multi-row inserts out as before; the cache is psycopg's own (128 statements, least recently used out).
WIDE_STATEMENT_PARAMS = 128


def _cache_wide_statements() -> None:
    try:
        from psycopg import _queries
    except ImportError:  # another driver
        return
    if getattr(_queries, "MAX_CACHED_STATEMENT_PARAMS", WIDE_STATEMENT_PARAMS) < WIDE_STATEMENT_PARAMS:
        _queries.MAX_CACHED_STATEMENT_PARAMS = WIDE_STATEMENT_PARAMS


def get_engine(settings: Settings) -> sa.Engine:
    """The engine for the configured database (creating the SQLite folder if needed)."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return engine_for(settings.db_url)


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
