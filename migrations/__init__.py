"""Alembic migrations of the query-side schema."""
