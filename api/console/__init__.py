"""The web console under /console (Chinese, server-rendered, htmx for partial updates): handlers, supervisors,
admins and auditors work in a browser. Every action goes through the REST route's own function."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.console import admin, audit, cases, dashboard, signin
from api.console.web import HOME, User

router = APIRouter(prefix="/console", include_in_schema=False)
HTMX = Path(__file__).resolve().parents[2] / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"


@router.get("/")
def home(user: User) -> RedirectResponse:
    """Each role's main page."""
    return RedirectResponse(HOME[user.actor.role], status_code=303)


@router.get("/static/htmx.min.js")
def htmx() -> Response:
    """htmx, as npm installed it from package-lock.json (absent: the pages work with full page loads)."""
    if not HTMX.exists():
        return Response("/* htmx not installed: run make install */", media_type="text/javascript")
    return FileResponse(HTMX, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})


for module in (signin, cases, dashboard, admin, audit):
    router.include_router(module.router)
