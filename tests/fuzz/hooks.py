"""Schemathesis hooks for tests/fuzz (loaded by `st run` through the `hooks` key of its config file)."""

from __future__ import annotations

import schemathesis


@schemathesis.check
def error_body(ctx: schemathesis.CheckContext, response: schemathesis.Response,
               case: schemathesis.Case) -> bool | None:
    """Every error answer is a JSON object with a string `code` and a string `message` (extra fields allowed)."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(f"error {response.status_code} is not JSON: {response.text[:200]!r}") from exc
    if not (isinstance(body, dict) and isinstance(body.get("code"), str) and isinstance(body.get("message"), str)):
        raise AssertionError(f"error {response.status_code} is not {{'code', 'message'}}: {response.text[:200]}")
    return True
