"""Schemathesis against the live OpenAPI schema of the real app: every operation, with a token of each role.

The app (``api.app.create_app`` wired to the session's dev server and the running worker) is served by uvicorn on
127.0.0.1 inside the session's event loop, so the Temporal client and the worker keep running while ``st run``
(the schemathesis CLI, in a subprocess, awaited) loads ``/openapi.json`` from it and sends the generated requests.

Checks on every response: no 5xx, status code documented, content type documented, body and headers match the
schema, every error body is {"code", "message"} (tests/fuzz/hooks.py). After each run no activity or workflow task
of the worker may have failed: a NUL byte that slips through to PostgreSQL inside a case action fails the
projection in the worker while the API still answers 200.

Generation reaches past the validation layer: half the time a path parameter is a real case (made at the start),
its tracking code, the active rules version or a department, and body fields get valid codes of the rules
(category, district, departments, reason codes); now and then any string or integer is a nasty value
(NUL, integers past bigint, days at the ends of the calendar).

The smoke run (fuzzing phase, 3 examples per operation, deterministic) is part of ``make test``; the full run
(examples, coverage, fuzzing and stateful phases, 25 examples per operation) is ``make test-fuzz``. Fuzzing leaves
cases, ratings and spike warnings behind, so tests/fuzz/conftest.py runs these tests after all others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import Session
from temporalio.exceptions import ApplicationError

from core.db import get_engine
from core.settings import Settings
from services.rules_store import active_version, load_engine
from tests.helpers import auth, complaint, live_app

pytestmark = [pytest.mark.fuzz, pytest.mark.temporal]

ST = Path(sys.executable).parent / "st"
HOOKS = Path(__file__).with_name("hooks.py")
ROLES = ["intake", "handler", "supervisor", "admin", "auditor", "anonymous"]  # anonymous: no token (the 401s)
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance", "error_body"]
# Offered to every string / integer parameter now and then: what PostgreSQL refuses (NUL, integers past bigint),
# days at the ends of Python's calendar, text that LIKE or SQL would misread.
NASTY_STRINGS = ["\x00", "a\x00b", "0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                 "2026-02-30", "0000-00", "9999-12", "%", "_", "'", "\\", "💥", " ", "99999999999999999999"]
NASTY_INTEGERS = [2**63, -(2**63) - 1, 2**31, 10**30, -1, 0]


@dataclass(frozen=True)
class Budget:
    """What one `st run` (one role) generates, and how long it may take."""

    phases: str
    max_examples: int
    timeout: float


SMOKE = Budget(phases="examples,fuzzing", max_examples=3, timeout=90)
FULL = Budget(phases="examples,coverage,fuzzing,stateful", max_examples=25, timeout=300)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live_url(settings: Settings, client, worker) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """The real app on 127.0.0.1 at a free port, served in the session loop beside the worker."""
    async with live_app(settings, client) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def known(live_url: str, tokens: dict[str, str], settings: Settings) -> dict[str, list[Any]]:
    """Real values: a dispatched case of the handler's department (its number and tracking code), the active
    rules version, departments, the rules' reason codes, a category and place that route to Xicheng."""
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        r = await http.post("/api/v1/cases", json=complaint(), headers=auth(tokens["intake"]))
        assert r.status_code == 201 and r.json()["plan"], r.text
        case = r.json()
    with Session(get_engine(settings)) as session:
        version = active_version(session)
        rules = load_engine(session, version).rules
    return {"case_no": [case["case_no"]], "tracking_code": [case["tracking_code"]], "version": [version],
            "department": [case["plan"]["lead_department"], "xicheng-sthj", "xicheng-zjw"],
            "reason_code": [*rules.dispatch.return_reasons, *rules.termination_reasons],
            "category": ["CXJS01"], "district": ["xicheng"], "street": ["金融街街道"]}


def toml(table: dict[str, Any], name: str = "") -> str:
    """A TOML document of nested tables with string, number, boolean and list values."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)  # JSON escapes are TOML escapes (\u0000 included)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(v)

    scalars = [f"{json.dumps(k)} = {value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    out = ([f"[{name}]"] if name and scalars else []) + scalars
    for k, v in table.items():
        if isinstance(v, dict):
            out.append(toml(v, f"{name}.{json.dumps(k)}" if name else json.dumps(k)))
    return "\n".join(out)


def st_config(budget: Budget, token: str | None, known: dict[str, list[Any]]) -> str:
    """schemathesis.toml for one run: checks, budget, determinism, the token, real and nasty values."""
    path_values = ("case_no", "tracking_code", "version", "department")
    body_values = {"category": "category", "district": "district", "street": "street",
                   "reason_code": "reason_code", "parent_case_no": "case_no", "department": "department",
                   "requests[*].department": "department"}
    config: dict[str, Any] = {
        "hooks": str(HOOKS), "workers": 1, "request-timeout": 45, "max-failures": 50, "continue-on-failure": True,
        "generation": {"deterministic": True, "database": "none", "max-examples": budget.max_examples,
                       "dictionaries": {"string": {"dictionary": "nasty_string", "probability": 0.2},
                                        "integer": {"dictionary": "nasty_integer", "probability": 0.2}}},
        "checks": {"enabled": False, **{check: {"enabled": True} for check in CHECKS}},
        "dictionaries": {**{name: {"values": values} for name, values in known.items()},
                         "nasty_string": {"values": NASTY_STRINGS}, "nasty_integer": {"values": NASTY_INTEGERS}},
        "parameters": {**{f"path.{name}": {"dictionary": name, "probability": 0.5} for name in path_values},
                       **{f"body.{field}": {"dictionary": name, "probability": 0.5}
                          for field, name in body_values.items()}},
    }
    if token:
        config["headers"] = {"Authorization": f"Bearer {token}"}
    return toml(config) + "\n"


class WorkerFailures(logging.Handler):
    """Activity and workflow-task failures the worker logs (business refusals, ApplicationErrors, excepted)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, ApplicationError):
            self.seen.append(f"{record.name}: {record.getMessage()}: {error!r}")


@contextlib.contextmanager
def worker_failures() -> Iterator[WorkerFailures]:
    """Collect what the in-process worker logs as failed while the block runs."""
    handler, logger = WorkerFailures(), logging.getLogger("temporalio")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def fuzz(live_url: str, token: str | None, known: dict[str, list[Any]], budget: Budget,
               workdir: Path) -> None:
    """One `st run` against the live schema; fails on any failed check, skipped operation or worker failure."""
    async with httpx.AsyncClient(base_url=live_url) as http:
        schema = (await http.get("/openapi.json")).json()
    operations = sum(len(methods) for methods in schema["paths"].values())
    config, report = workdir / "schemathesis.toml", workdir / "report.json"
    config.write_text(st_config(budget, token, known))
    with worker_failures() as failed:
        proc = await asyncio.create_subprocess_exec(
            str(ST), "--config-file", str(config), "--no-color", "run", f"{live_url}/openapi.json",
            "--phases", budget.phases, "--report", "json", "--report-json-path", str(report),
            cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), budget.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"st run took longer than {budget.timeout} s") from None
        await asyncio.sleep(0.5)  # let the activities of the last actions run
    output = out.decode(errors="replace")
    assert proc.returncode == 0, output
    result = json.loads(report.read_text())
    print(f"{result['operations']['tested']} operations, {result['test_cases']['generated']} test cases, "
          f"{result['running_time']:.1f} s")
    assert result["operations"]["tested"] == result["operations"]["total"] == operations, output
    assert result["test_cases"]["generated"] >= operations * min(budget.max_examples, 2), output
    assert not result["errors"] and not failed.seen, "\n".join(failed.seen) or output


@pytest.mark.smoke
@pytest.mark.parametrize("role", ROLES)
async def test_fuzz_smoke(live_url, tokens, known, role, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await fuzz(live_url, tokens.get(role), known, SMOKE, tmp_path)


@pytest.mark.parametrize("role", ROLES)
async def test_fuzz_full(live_url, tokens, known, role, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await fuzz(live_url, tokens.get(role), known, FULL, tmp_path)
