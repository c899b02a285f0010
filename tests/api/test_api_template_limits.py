"""Validating a hostile template over HTTP: a 422 naming the template, and the API keeps answering meanwhile."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

import rules

pytestmark = pytest.mark.temporal
SHIPPED = (Path(rules.__file__).parent / "versions" / "2026.3.yaml").read_text(encoding="utf-8")


async def test_validating_a_looping_template_over_http_is_a_422_and_the_api_keeps_answering(api, tokens) -> None:
    import asyncio

    from tests.helpers import auth

    doc = yaml.safe_load(SHIPPED)
    doc["version"] = "test-looping"
    doc["templates"]["reminder"] = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    body = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()
    admin = auth(tokens["admin"]) | {"Content-Type": "application/yaml"}
    started = time.monotonic()
    validate = asyncio.create_task(api.post("/api/v1/rules/validate", content=body, headers=admin))
    health = await api.get("/api/v1/health")
    r = await validate
    assert health.status_code == 200
    assert r.status_code == 422 and any(e["path"] == "templates.reminder" for e in r.json()["errors"])
    assert time.monotonic() - started < 10
