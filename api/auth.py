"""Bearer-token authentication, the role sets of the routes (each named once, here) and the case a caller may see.
Tokens are stored as SHA-256 hashes only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep
from api.errors import ServiceError, responses
from core.contracts import Actor, Role
from core.models import Case
from services import cases as svc
from services.access import note_failed_auth, refuse_locked_out
from services.keys import actor_of_token

bearer = HTTPBearer(auto_error=False, description="API token from `jiesu keys create`")


def client_address(request: Request) -> str:
    """The caller's address (the rate limits and the lockout count per address)."""
    return request.client.host if request.client else "-"


async def authenticate(request: Request, session: SessionDep,
                       creds: HTTPAuthorizationCredentials | None = Security(bearer)) -> Actor:
    """The caller behind a valid, unexpired, unrevoked bearer token (looked up in a thread). Failed attempts count
    per address: past the settings' limit the address is locked out (429) for 15 minutes."""
    address = client_address(request)
    refuse_locked_out(address)
    if creds is None or not creds.credentials:
        raise ServiceError(401, "unauthorized", "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    actor, problem = await run_in_threadpool(actor_of_token, session, creds.credentials)
    if actor is None:
        note_failed_auth(address, request.app.state.settings.rate_limit("failed_auth"))
        raise ServiceError(401, "unauthorized", problem or "invalid token", {"WWW-Authenticate": "Bearer"})
    return actor


CurrentActor = Annotated[Actor, Depends(authenticate)]


def require(*roles: Role) -> Callable[[Actor], Awaitable[Actor]]:
    """A dependency that admits only the given roles."""

    async def check(actor: CurrentActor) -> Actor:  # on the event loop: no thread for a comparison
        return admitted(actor, roles)

    check.roles = roles  # type: ignore[attr-defined]  # the console reads a role set's roles from here
    return check


def admitted(actor: Actor, roles: tuple[Role, ...]) -> Actor:
    """The actor, if its role is one of ``roles`` (else 403)."""
    if actor.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise ServiceError(403, "forbidden", f"role {actor.role.value} may not do this (allowed: {allowed})")
    return actor


def roles_of(role_set: object) -> tuple[Role, ...]:
    """The roles a role set (``Handler``, ``Supervisor`` …) admits."""
    from typing import get_args

    return get_args(role_set)[1].dependency.roles  # type: ignore[no-any-return]


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
Staff = Annotated[Actor, Depends(require(Role.INTAKE, Role.HANDLER, Role.SUPERVISOR, Role.AUDITOR))]
"""Reads cases and work lists (handlers: their own department); not the admin, whose role is the rules."""
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
Inboxed = Annotated[Actor, Depends(require(Role.HANDLER, Role.SUPERVISOR))]
"""Has an inbox: a handler (its department's notices) or a supervisor."""
Revealer = Annotated[Actor, Depends(require(Role.HANDLER, Role.SUPERVISOR))]
"""Reveals a complainant's number to call them: the lead department's handler or a supervisor (recorded)."""
UNMASK_ROLES = (Role.HANDLER, Role.SUPERVISOR)
"""May export real names and phones (handlers only ever export their own department's cases)."""

CASE_ERRORS = responses(404, 409, s409="a handler asked for a case that is still being dispatched")


def visible_case(case_no: str, session: SessionDep, actor: Staff) -> Case:
    """The case ``case_no`` if the caller may see it (404, also for a handler when another department leads it:
    no hint that it exists; handlers: 409 while it is being dispatched)."""
    return svc.get_case(session, case_no, actor)


VisibleCase = Annotated[Case, Depends(visible_case)]
