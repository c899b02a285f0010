"""Fuzz tests run after every other test: they leave arbitrary cases, ratings and spike warnings in the session's
shared database, which must not leak into tests that count what they made."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the fuzz tests to the end, keeping the order within each group."""
    items.sort(key=lambda item: item.get_closest_marker("fuzz") is not None)
