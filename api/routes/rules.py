"""Rules routes: validate, publish, list, read, activate, diff, migrate (admins edit; supervisors, auditors read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.auth import Admin, Overseer
from api.deps import SessionDep, get_temporal
from api.errors import ServiceError, not_found, responses
from api.schemas.rules import (
    Activated,
    CaseMigration,
    ChangePublic,
    MigrateIn,
    MigrationReport,
    RuleProblem,
    RulesCheck,
    RulesDiff,
    RuleVersionPublic,
    RuleVersionsPublic,
)
from core.contracts import Actor
from rules import diff as rules_diff
from rules.calendar import calendar_warnings
from rules.engine import RulesEngine
from rules.parse import content_hash, parse_rules
from rules.schema import RulesError
from services.rules_admin import MigrationPlan, plan_migration, run_migration
from services.rules_store import RulesNotFound, VersionConflict, activate, get_version, list_versions, publish

router = APIRouter(prefix="/rules", tags=["rules"], responses=responses(401, 403, 429))
YAML_BODY = {"requestBody": {"required": True, "content": {
    "application/yaml": {"schema": {"type": "string", "description": "a complete rules document (YAML)"}}}}}
INVALID = responses(400, 413, 415, 422, s400="the body is not UTF-8 text, or empty",
                    s415="the body is not YAML (application/yaml, text/yaml or text/plain)",
                    s422="invalid rules: `errors` lists each problem with its YAML path, line and column")
NOT_FOUND = responses(404, s404="no such rules version")


async def _yaml_text(request: Request) -> str:
    """The request body as text (400 unless UTF-8 and non-empty)."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServiceError(400, "bad_request", "the rules document must be UTF-8 text") from exc
    if not text.strip():
        raise ServiceError(400, "bad_request", "send the rules document (YAML) as the request body")
    return text


def invalid(exc: RulesError) -> ServiceError:
    """422 listing every problem of a rules document."""
    first = exc.problems[0]
    return ServiceError(422, "invalid_rules", f"{len(exc.problems)} problem(s); first: {first}",
                        errors=[RuleProblem.of(p).model_dump() for p in exc.problems])


def _warnings(rules: RulesEngine) -> list[str]:
    return calendar_warnings(rules.calendar, datetime.now(ZoneInfo(rules.rules.timezone)).date())


def _found(session: Session, version: str) -> None:
    try:
        get_version(session, version)
    except RulesNotFound as exc:
        raise not_found(f"rules version {version}") from exc


@router.post("/validate", response_model=RulesCheck, responses=INVALID, openapi_extra=YAML_BODY)
async def validate_rules(request: Request, actor: Admin) -> RulesCheck:
    """Check a rules document (schema, references, routes, dispatch levels, keywords, templates); stores nothing."""
    return await check_text(await _yaml_text(request))


async def check_text(text: str) -> RulesCheck:
    """The check of a rules document (422 with every problem); the console's editor uses it too."""
    try:  # off the event loop: checking renders every template (limited, but not free)
        rules = await run_in_threadpool(parse_rules, text)
    except RulesError as exc:
        raise invalid(exc) from exc
    return RulesCheck(version=rules.version, sha256=content_hash(text), title=rules.title,
                      warnings=_warnings(RulesEngine(rules)))


@router.post("", status_code=201, response_model=RuleVersionPublic, openapi_extra=YAML_BODY,
             responses={200: {"model": RuleVersionPublic, "description": "the identical version was published before"},
                        **INVALID, **responses(409, s409="the version exists with other content")})
async def publish_rules(request: Request, session: SessionDep, actor: Admin, response: Response) -> RuleVersionPublic:
    """Publish a new rules version (immutable, content-hashed); it takes effect only when activated."""
    published, created = await publish_text(session, await _yaml_text(request), actor)
    response.status_code = 201 if created else 200
    return published


async def publish_text(session: Session, text: str, actor: Actor) -> tuple[RuleVersionPublic, bool]:
    """Publish a rules document (422 invalid, 409 the version exists with other content); whether it is new."""
    try:
        row, created = await run_in_threadpool(publish, session, text, actor.id)
    except RulesError as exc:
        raise invalid(exc) from exc
    except VersionConflict as exc:
        raise ServiceError(409, "version_exists", str(exc)) from exc
    session.commit()
    return RuleVersionPublic.of(row), created


@router.get("", response_model=RuleVersionsPublic)
def list_rules(session: SessionDep, actor: Overseer) -> RuleVersionsPublic:
    """Every published version, newest first, with the active one marked."""
    rows = list_versions(session)
    return RuleVersionsPublic(data=[RuleVersionPublic.of(r) for r in rows], count=len(rows),
                              active=next((r.version for r in rows if r.active), None))


@router.get("/diff", response_model=RulesDiff, responses=NOT_FOUND)
def diff_rules(session: SessionDep, actor: Overseer, from_: Annotated[str, Query(alias="from")],
               to: Annotated[str, Query()]) -> RulesDiff:
    """A readable diff of two versions: routes, limits, templates and every other section that changed."""
    texts = []
    for version in (from_, to):
        _found(session, version)
        texts.append(get_version(session, version).yaml_text)
    changes = rules_diff.diff_yaml(*texts)
    return RulesDiff(from_version=from_, to_version=to, summary=rules_diff.summary(changes),
                     changes=[ChangePublic(**vars(c)) for c in changes],
                     text=rules_diff.render_text(changes, from_, to))


@router.get("/{version}", response_class=Response,
            responses={200: {"content": {"application/yaml": {}}, "description": "the exact published YAML"},
                       **NOT_FOUND})
def read_rules(version: str, session: SessionDep, actor: Overseer) -> Response:
    """The exact YAML of a published version (ETag: its SHA-256)."""
    _found(session, version)
    row = get_version(session, version)
    return Response(row.yaml_text, media_type="application/yaml; charset=utf-8",
                    headers={"ETag": f'"{row.sha256}"', "X-Rules-Active": str(row.active).lower()})


@router.post("/{version}/activate", response_model=Activated, responses=NOT_FOUND)
def activate_rules(version: str, session: SessionDep, actor: Admin) -> Activated:
    """Make a version the one new cases use; open cases keep the version they pinned."""
    _found(session, version)
    previous = activate(session, version, actor.id)
    session.commit()
    return Activated(version=version, previous=previous)


@router.post("/{version}/migrate", response_model=MigrationReport,
             responses={**NOT_FOUND, **responses(400, 413, 415, 422, 503, s503="the workflow service is unavailable")})
async def migrate_rules(version: str, request: Request, session: SessionDep, actor: Admin,
                        body: MigrateIn | None = None,
                        dry_run: Annotated[bool, Query(description="only list what would change")] = False,
                        ) -> MigrationReport:
    """Move open cases to a version: dry run lists those whose department or deadline would change; without
    dry run each is re-planned by its workflow and the change recorded, with the reason, in its timeline."""
    _found(session, version)
    if dry_run:
        return report(plan_migration(session, version), dry_run=True)
    if body is None or not body.reason:
        raise ServiceError(422, "validation_error", "reason: a migration needs a reason (recorded in each case)")
    temporal = await get_temporal(request)
    return report(await run_migration(session, temporal, version, body.reason, actor), dry_run=False)


def report(plan: MigrationPlan, dry_run: bool) -> MigrationReport:
    """The HTTP form of a migration plan."""
    return MigrationReport(version=plan.version, dry_run=dry_run, migration_id=plan.migration_id,
                           count=len(plan.changes), cases=[CaseMigration.of(r) for r in plan.changes],
                           skipped=[CaseMigration.of(r) for r in plan.skipped], unchanged=plan.unchanged,
                           failed=plan.failed)
