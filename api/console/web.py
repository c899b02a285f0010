"""What every console page shares: the signed-in user (session cookie: HttpOnly, SameSite=Strict, Secure behind
HTTPS; idle timeout), the CSRF check on every form, rendering, and refusals shown as readable messages."""

from __future__ import annotations

import secrets
from datetime import timedelta
from html import escape
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SessionDep
from api.errors import ServiceError
from api.templating import templates
from core.contracts import Role
from services.console_sessions import ConsoleUser, current_user

COOKIE = "jiesu_console"
ROLE_LABELS = {Role.INTAKE: "受理", Role.HANDLER: "承办单位", Role.SUPERVISOR: "督办（热线中心）",
               Role.ADMIN: "管理员", Role.AUDITOR: "监督审计"}
# what each role finds in the menu (a role sees nothing it may not use)
MENUS: dict[Role, list[tuple[str, str]]] = {
    Role.HANDLER: [("/console/work", "工作台"), ("/console/inbox", "消息")],
    Role.SUPERVISOR: [("/console/dashboard", "总览"), ("/console/work", "工作台"), ("/console/inbox", "消息")],
    Role.ADMIN: [("/console/rules", "规则版本"), ("/console/access-log", "查阅记录")],
    Role.AUDITOR: [("/console/audit", "档案核验"), ("/console/access-log", "查阅记录"),
                   ("/console/exports", "导出")],
    Role.INTAKE: [("/console/work", "工作台")],
}
HOME = {Role.HANDLER: "/console/work", Role.SUPERVISOR: "/console/dashboard", Role.ADMIN: "/console/rules",
        Role.AUDITOR: "/console/audit", Role.INTAKE: "/console/work"}


class SignInRequired(Exception):
    """No (live) console session: the page answers with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def signed_in(request: Request, session: SessionDep) -> ConsoleUser:
    """The signed-in console user, else a redirect to the sign-in page."""
    idle = timedelta(minutes=request.app.state.settings.console_idle_minutes)
    user = current_user(session, request.cookies.get(COOKIE), idle)
    if user is None:
        raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return user


User = Annotated[ConsoleUser, Depends(signed_in)]


def checked(user: User, csrf: Annotated[str, Form(alias="csrf_token")] = "") -> ConsoleUser:
    """The signed-in user of a form post whose CSRF token matches its session (else 403)."""
    if not secrets.compare_digest(csrf.encode(), user.csrf.encode()):
        raise ServiceError(403, "csrf", "the form's CSRF token is missing or stale: reload the page and try again")
    return user


FormUser = Annotated[ConsoleUser, Depends(checked)]


def may(user: ConsoleUser, *roles: Role) -> None:
    """A page only some roles use: others get 403 (their menu does not show it)."""
    if user.actor.role not in roles:
        raise ServiceError(403, "forbidden", f"role {user.actor.role.value} has no such page")


def render(request: Request, user: ConsoleUser | None, template: str, status: int = 200,
           **ctx: Any) -> HTMLResponse:
    """A console page (``_``-prefixed templates are fragments for htmx)."""
    role = user.actor.role if user else None
    return templates.TemplateResponse(request, f"console/{template}", {
        "user": user, "role": role, "role_label": ROLE_LABELS.get(role) if role else "",
        "menu": MENUS.get(role, []) if role else [], "csrf": user.csrf if user else "",
        "path": request.url.path, **ctx}, status_code=status)


def back(url: str, message: str = "", error: bool = False, anchor: str = "") -> RedirectResponse:
    """After a form post: back to a page with the outcome in its query (post/redirect/get)."""
    sep = "&" if "?" in url else "?"
    key = "error" if error else "done"
    target = f"{url}{sep}{key}={quote(message)}" if message else url
    return RedirectResponse(target + (f"#{anchor}" if anchor else ""), status_code=303)


def refusal(exc: ServiceError) -> str:
    """A refusal of the services, in words (with its HTTP meaning)."""
    kind = {403: "无权操作", 404: "未找到", 409: "当前状态不允许", 422: "输入有误", 429: "操作过于频繁",
            503: "服务暂不可用"}.get(exc.status, "操作失败")
    return f"{kind}（{exc.status}）：{exc.message}"


def install(app: Any) -> None:
    """The console's redirect to sign-in and its HTML answers to refusals on console pages."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("HX-Request"):  # htmx: a full page load of the sign-in page
            return Response(status_code=204, headers={"HX-Redirect": "/console/login"})
        return RedirectResponse(f"/console/login?next={quote(exc.next_url)}", status_code=303)

    json_answer = app.exception_handlers[ServiceError]

    @app.exception_handler(ServiceError)
    async def _refused(request: Request, exc: ServiceError) -> Response:
        if not request.url.path.startswith("/console"):
            return await json_answer(request, exc)  # type: ignore[no-any-return]
        if request.headers.get("HX-Request"):
            return HTMLResponse(f'<p class="error">{escape(refusal(exc))}</p>', status_code=exc.status)
        return render(request, None, "error.html", status=exc.status, message=refusal(exc))
