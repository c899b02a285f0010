"""Bearer-token authentication, the role sets of the routes (each named once, here) and the case a caller may see.
Tokens are stored as SHA-256 hashes only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import select

from api.deps import SessionDep
from api.errors import ServiceError, responses
from core.contracts import Actor, Role
from core.crypto import token_hash
from core.models import ApiKey, Case, utcnow
from services import cases as svc

bearer = HTTPBearer(auto_error=False, description="API token from `jiesu keys create`")


def authenticate(session: SessionDep,
                 creds: HTTPAuthorizationCredentials | None = Security(bearer)) -> Actor:
    """The caller behind a valid, unexpired, unrevoked bearer token."""
    if creds is None or not creds.credentials:
        raise ServiceError(401, "unauthorized", "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    key = session.exec(select(ApiKey).where(ApiKey.token_hash == token_hash(creds.credentials))).first()
    if key is None or key.revoked_at is not None:
        raise ServiceError(401, "unauthorized", "the token is invalid or revoked", {"WWW-Authenticate": "Bearer"})
    if key.expires_at is not None and key.expires_at.replace(tzinfo=key.expires_at.tzinfo or UTC) < utcnow():
        raise ServiceError(401, "unauthorized", "the token has expired", {"WWW-Authenticate": "Bearer"})
    return Actor(id=key.id, role=Role(key.role), department=key.department)


CurrentActor = Annotated[Actor, Depends(authenticate)]


def require(*roles: Role) -> Callable[[Actor], Actor]:
    """A dependency that admits only the given roles."""

    def check(actor: CurrentActor) -> Actor:
        if actor.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise ServiceError(403, "forbidden", f"role {actor.role.value} may not do this (allowed: {allowed})")
        return actor

    return check


# The role sets of the routes. A set is defined once (one ``require`` per set, so FastAPI evaluates it once per
# request even when several dependencies use it); the roles are listed in Role's order.
IntakeOnly = Annotated[Actor, Depends(require(Role.INTAKE))]
"""Intake (受理): files complaints."""
Handler = Annotated[Actor, Depends(require(Role.HANDLER))]
"""A department's handler: signs for, contacts, replies, asks for time, partners, returns."""
Supervisor = Annotated[Actor, Depends(require(Role.SUPERVISOR))]
"""A supervisor: decides extensions and pauses, arbitrates, reassigns, escalates, closes, terminates, rates."""
Admin = Annotated[Actor, Depends(require(Role.ADMIN))]
"""An admin: publishes, activates and migrates rules."""
Staff = Annotated[Actor, Depends(require(Role.INTAKE, Role.HANDLER, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))]
"""Every role: reads cases and work lists (handlers: their own department)."""
ReviewRecorder = Annotated[Actor, Depends(require(Role.INTAKE, Role.SUPERVISOR))]
"""Records the review call (回访): intake, or a supervisor."""
ScreeningDecider = ReviewRecorder
"""Decides a screening proposal (甄别确认): the intake operator or a supervisor."""
PauseEnder = Annotated[Actor, Depends(require(Role.HANDLER, Role.SUPERVISOR))]
"""Ends a pause: the lead handler or a supervisor."""
ReportReader = Annotated[Actor, Depends(require(Role.HANDLER, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))]
"""Reads reports and exports cases: everyone but intake (handlers: their own department)."""
ReportRunner = Annotated[Actor, Depends(require(Role.SUPERVISOR, Role.ADMIN))]
"""Runs report jobs on demand (the spike check): a supervisor or an admin."""
Overseer = Annotated[Actor, Depends(require(Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))]
"""Reads rules versions and the dispatch-accuracy figure: a supervisor, an admin or an auditor."""
ArchiveReader = Annotated[Actor, Depends(require(Role.SUPERVISOR, Role.AUDITOR))]
"""Reads the archive file of a case: a supervisor or an auditor."""
AccessAuditor = Annotated[Actor, Depends(require(Role.AUDITOR, Role.ADMIN))]
"""Reads the access log of personal-data reads (记录查阅): an auditor or an admin."""
UNMASK_ROLES = (Role.HANDLER, Role.SUPERVISOR)
"""May export real names and phones (handlers only ever export their own department's cases)."""

CASE_ERRORS = responses(404, 409, s409="a handler asked for a case that is still being dispatched")


def visible_case(case_no: str, session: SessionDep, actor: Staff) -> Case:
    """The case ``case_no`` if the caller may see it (404; handlers: 409 while it is being dispatched, 403 if
    another department leads it)."""
    return svc.get_case(session, case_no, actor)


VisibleCase = Annotated[Case, Depends(visible_case)]
