"""Choose the test database: TEST_DATABASE_URL, else a testcontainers PostgreSQL when Docker runs, else SQLite."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from core.db import normalise_url


def docker_available() -> bool:
    """Whether a Docker engine answers (the client alone is not enough)."""
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def test_database(tmp: Path) -> Iterator[str]:
    """Yield a database URL for the test session."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield normalise_url(url)
    elif docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg") as pg:
            yield pg.get_connection_url()
    else:
        yield f"sqlite:///{tmp / 'test.db'}"


def reset_schema(url: str) -> None:
    """Drop every table (including alembic_version) so migrations start from an empty database."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    engine.dispose()
