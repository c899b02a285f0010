"""Signing in to the console with an API token (then a session cookie), and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import client_address
from api.console.web import COOKIE, HOME, FormUser, render
from api.deps import SessionDep
from services.access import note_failed_auth, refuse_locked_out
from services.console_sessions import SignInRefused, current_user, sign_in, sign_out

router = APIRouter()


def _safe_next(url: str) -> str:
    """Only a console path (never another site) after sign-in."""
    return url if url.startswith("/console/") and not url.startswith("//") else ""


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> HTMLResponse:  # noqa: A002
    """The sign-in form."""
    return render(request, None, "login.html", next=_safe_next(next), message="")


@router.post("/login", response_class=HTMLResponse, response_model=None)
def login(request: Request, session: SessionDep, token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:  # noqa: A002
    """Exchange a valid token for a session cookie (HttpOnly, SameSite=Strict); failures count per address."""
    address = client_address(request)
    refuse_locked_out(address)
    try:
        value = sign_in(session, token)
    except SignInRefused as exc:
        note_failed_auth(address, request.app.state.settings.rate_limit("failed_auth"))
        return render(request, None, "login.html", status=401, next=_safe_next(next), message=f"无法登录：{exc}")
    from datetime import timedelta

    user = current_user(session, value, timedelta(minutes=1))
    target = _safe_next(next) or (HOME[user.actor.role] if user else "/console/")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, value, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        path="/console")
    return response


@router.post("/logout")
def logout(user: FormUser, session: SessionDep) -> RedirectResponse:
    """End the session."""
    sign_out(session, user.session_hash)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response
