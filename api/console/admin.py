"""The admin's rules pages: versions (the active one marked), an editor that checks the document on demand or as
one types (each problem at its line), the diff of two versions, publish, activate, and a migration whose dry run
is shown before the admin confirms. Every step is the REST route's own function."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.console.web import FormUser, User, back, may, refusal, render
from api.deps import SessionDep
from api.errors import ServiceError
from api.routes import rules as routes
from api.schemas.rules import MigrateIn
from core.contracts import Role
from services.rules_store import active_version, get_version

router = APIRouter(prefix="/rules")


@router.get("", response_class=HTMLResponse)
def versions(request: Request, user: User, session: SessionDep) -> HTMLResponse:
    """Every published version, newest first; the active one marked."""
    may(user, Role.ADMIN)
    listing = routes.list_rules(session, user.actor)
    return render(request, user, "rules.html", listing=listing, done=request.query_params.get("done", ""),
                  error=request.query_params.get("error", ""))


@router.get("/edit", response_class=HTMLResponse)
def editor(request: Request, user: User, session: SessionDep, base: str = "") -> HTMLResponse:
    """The editor, starting from a version (default: the active one)."""
    may(user, Role.ADMIN)
    text = get_version(session, base or active_version(session)).yaml_text
    return render(request, user, "rules_edit.html", text=text, base=base or active_version(session), check=None,
                  problems=[])


async def _check(text: str) -> tuple[object | None, list[dict], str]:
    try:
        return await routes.check_text(text), [], ""
    except ServiceError as exc:
        return None, list(exc.extra.get("errors") or []), refusal(exc)  # type: ignore[call-overload]


@router.post("/check", response_class=HTMLResponse)
async def check(request: Request, user: FormUser, text: Annotated[str, Form()] = "",
                base: Annotated[str, Form()] = "") -> HTMLResponse:
    """The problems of the document being edited: the editor's panel (htmx asks for it while one types), or
    without htmx the whole editor again, with the text as it was sent."""
    may(user, Role.ADMIN)
    result, problems, message = await _check(text)
    if request.headers.get("HX-Request"):
        return render(request, user, "_rules_check.html", check=result, problems=problems, message=message)
    return render(request, user, "rules_edit.html", text=text, base=base, check=result, problems=problems,
                  message=message)


@router.post("/publish", response_class=HTMLResponse)
async def publish(request: Request, user: FormUser, session: SessionDep,
                  text: Annotated[str, Form()] = "", base: Annotated[str, Form()] = "") -> Response:
    """Publish the edited document as a new version (it is checked first; problems stay in the editor)."""
    may(user, Role.ADMIN)
    try:
        published, created = await routes.publish_text(session, text, user.actor)
    except ServiceError as exc:
        return render(request, user, "rules_edit.html", status=exc.status, text=text, base=base, check=None,
                      problems=exc.extra.get("errors", []), message=refusal(exc))
    word = "已发布" if created else "与已发布版本相同"
    return back("/console/rules", f"版本 {published.version} {word}")


@router.post("/{version}/activate")
def activate(version: str, user: FormUser, session: SessionDep) -> Response:
    """Make a version the one new cases use."""
    may(user, Role.ADMIN)
    try:
        done = routes.activate_rules(version, session, user.actor)
    except ServiceError as exc:
        return back("/console/rules", refusal(exc), error=True)
    return back("/console/rules", f"已启用 {done.version}（此前 {done.previous or '无'}）")


@router.get("/diff", response_class=HTMLResponse)
def diff(request: Request, user: User, session: SessionDep, from_: str = "", to: str = "") -> HTMLResponse:
    """The changes between two versions, section by section."""
    may(user, Role.ADMIN)
    q = request.query_params
    listing = routes.list_rules(session, user.actor)
    a, b = q.get("from", from_), q.get("to", to)
    result = routes.diff_rules(session, user.actor, a, b) if a and b else None
    return render(request, user, "rules_diff.html", listing=listing, result=result, a=a, b=b)


@router.get("/{version}/migrate", response_class=HTMLResponse)
def migrate_preview(request: Request, version: str, user: User, session: SessionDep) -> HTMLResponse:
    """The dry run: the open cases whose department or deadline would change, before the admin confirms."""
    may(user, Role.ADMIN)
    from services.rules_admin import plan_migration

    routes._found(session, version)
    plan = routes.report(plan_migration(session, version), dry_run=True)
    return render(request, user, "rules_migrate.html", version=version, plan=plan, result=None)


@router.post("/{version}/migrate", response_class=HTMLResponse)
async def migrate(request: Request, version: str, user: FormUser, session: SessionDep,
                  reason: Annotated[str, Form()] = "") -> Response:
    """Run the migration (with its reason, recorded in every moved case)."""
    may(user, Role.ADMIN)
    try:
        result = await routes.migrate_rules(version, request, session, user.actor,
                                            MigrateIn(reason=reason.strip()) if reason.strip() else None, False)
    except ServiceError as exc:
        return back(f"/console/rules/{version}/migrate", refusal(exc), error=True)
    return render(request, user, "rules_migrate.html", version=version, plan=None, result=result)
