"""Fixtures of the sender tests: a database of their own and a fake SMS gateway."""

from __future__ import annotations

import pytest

from tests.api.sender_fakes import FakeProvider


@pytest.fixture
def isolated(tmp_path, settings):  # type: ignore[no-untyped-def]
    """A database of its own (the sender sends whatever is due: other tests' notices must not be in the way)."""
    from core.db import get_engine, session_scope
    from core.migrate import upgrade
    from services.rules_store import import_shipped

    own = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'sender.db'}"})
    upgrade(own.db_url)
    engine = get_engine(own)
    with session_scope(engine) as session:
        import_shipped(session, own.rules_dir)
    return engine, own


@pytest.fixture
def provider():  # type: ignore[no-untyped-def]
    p = FakeProvider()
    yield p
    p.server.shutdown()
