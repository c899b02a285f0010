"""Rules migration for the API and the CLI: plan it from the projection (dry run), signal each case, audit it."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from sqlmodel import Session, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from core.columns import utcnow
from core.contracts import (
    OPEN_VALUES,
    Actor,
    CaseStatus,
    ClockState,
    RebaseRequest,
    RebaseResult,
    RulesMigration,
    Urgency,
    workflow_id,
)
from core.models import Case
from rules.migration import rebase
from services.intake import case_input
from services.rules_store import audit, get_version, load_engine

SIGNAL_CONCURRENCY = 32


@dataclass
class MigrationPlan:
    """What migrating the open cases to ``version`` changes (same computation the workflows run)."""

    version: str
    changes: list[RebaseResult] = field(default_factory=list)
    skipped: list[RebaseResult] = field(default_factory=list)
    unchanged: int = 0
    migration_id: str | None = None
    failed: list[str] = field(default_factory=list)


def rebase_request(case: Case, version: str) -> RebaseRequest:
    """The migration input of a case, from its projected row."""
    return RebaseRequest(
        case=case_input(case), to_version=version, status=CaseStatus(case.status), lead=case.lead_department,
        dispatch_count=case.dispatch_count, urgency=Urgency(case.urgency or Urgency.NORMAL.value), round=case.round,
        clocks={k: ClockState.model_validate(v) for k, v in (case.clocks or {}).items()}, at=utcnow())


def plan_migration(session: Session, version: str) -> MigrationPlan:
    """Open cases pinned to another version that would change department or a deadline under ``version``."""
    get_version(session, version)
    rules = load_engine(session, version)
    plan = MigrationPlan(version=version)
    rows = session.exec(select(Case).where(
        Case.status.in_(OPEN_VALUES),  # type: ignore[attr-defined]
        Case.rules_version != version, Case.case_no.is_not(None),  # type: ignore[union-attr]
    ).order_by(Case.id)).all()  # type: ignore[arg-type]
    for case in rows:
        result = rebase(rules, rebase_request(case, version))
        if result.skipped:
            plan.skipped.append(result)
        elif result.changed:
            plan.changes.append(result)
        else:
            plan.unchanged += 1
    return plan


async def run_migration(session: Session, client: Client, version: str, reason: str, actor: Actor) -> MigrationPlan:
    """Send every case the dry run lists the migration Update; each workflow re-plans itself and records why.
    Audited."""
    plan = plan_migration(session, version)
    plan.migration_id = f"{utcnow():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    order = RulesMigration(version=version, reason=reason, actor=actor, migration_id=plan.migration_id)
    gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def signal(case_no: str) -> None:
        async with gate:
            try:  # an Update, so the workflow checks the signed actor before anything moves
                await client.get_workflow_handle(workflow_id(case_no)).execute_update("apply_rules_migration", order)
            except (RPCError, WorkflowUpdateFailedError):
                plan.failed.append(case_no)  # closed meanwhile, or the server is away: a re-run picks it up

    await asyncio.gather(*(signal(r.case_no) for r in plan.changes))
    audit(session, "migrate", version, actor.id, migration=plan.migration_id, reason=reason,
          cases=[r.case_no for r in plan.changes], failed=plan.failed, skipped=len(plan.skipped),
          unchanged=plan.unchanged)
    session.commit()
    return plan
