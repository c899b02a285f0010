"""Every error body is {"code", "message"} with a fitting status; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy.exc
import temporalio.client
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.errors import ServiceError, not_found, unavailable

__all__ = ["ServiceError", "not_found", "unavailable", "install", "responses"]

log = logging.getLogger("jiesu.api")

STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                422: "validation_error", 503: "unavailable"}


class ErrorBody(BaseModel):
    """Every error answer: a machine-readable ``code`` and a ``message`` for people; some add fields (``errors``
    lists each problem of a 422)."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str


ERROR_DESCRIPTIONS = {
    400: "the body cannot be parsed (malformed JSON, not UTF-8, empty where a document is required)",
    401: "no bearer token, or an invalid, revoked or expired one",
    403: "the token's role (or department) may not do this",
    404: "the named thing does not exist",
    409: "the request does not fit the current state",
    413: "the body is too large",
    415: "the body is not of the media type the route takes",
    422: "the request is invalid: `errors` lists each problem where there are several",
    429: "too many requests (personal-data reads, tracking lookups) or too many failed authentications from this "
         "address; retry after Retry-After seconds",
    503: "a backing service (database, workflow service) is unavailable or did not answer in time; retry after "
         "Retry-After seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}}


def responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for error statuses, each answered with :class:`ErrorBody`; ``descriptions`` (keyed
    ``s409`` etc.) replace the default text of a status."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"model": ErrorBody, "description": descriptions.get(f"s{status}", ERROR_DESCRIPTIONS[status])}
        if status in (429, 503):
            out[status]["headers"] = RETRY_AFTER
    return out


BODY_ERRORS = (400, 413, 415, 422)  # every route with a request body


MAX_BODY_BYTES = 256 * 1024
MAX_YAML_BYTES = 2 * 1024 * 1024  # a full dispatch catalogue
YAML_PATHS = ("/api/v1/rules", "/api/v1/rules/validate")  # these take a rules document as YAML
PAGE_PREFIX = "/t/"
CONSOLE_PREFIX = "/console/"
OPEN311_PREFIX = "/open311/"
FORM_TYPES = ("application/x-www-form-urlencoded",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


class BodyGuard:
    """ASGI middleware: refuse a NUL character in the path or query (422: no database stores it), bodies that are
    too large (413) or of the wrong media type (415) before any parsing. Plain ASGI (no task or stream per request,
    as ``@app.middleware`` would make)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                refusal, receive = await _refusal(scope, receive)
            except _ClientGone:  # it left in the middle of its body: nothing to answer, nothing to apply
                return
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _refusal(scope: Scope, receive: Receive) -> tuple[JSONResponse | None, Receive]:
    """The answer refusing the request, if any, and the receive channel to go on with (a chunked body read here
    is replayed to the route)."""
    path: str = scope.get("path", "")
    if "\x00" in path or b"%00" in scope.get("query_string", b""):
        return JSONResponse(_body("validation_error", "NUL characters are not allowed in the path or query"),
                            status_code=422), receive
    if scope.get("method") not in ("POST", "PUT", "PATCH"):
        return None, receive
    yaml_body = path.rstrip("/") in YAML_PATHS
    limit, types = (MAX_YAML_BYTES, YAML_TYPES) if yaml_body else (MAX_BODY_BYTES, ("application/json",))
    if path.startswith(PAGE_PREFIX):  # the complainant page's HTML forms
        limit, types = 16 * 1024, FORM_TYPES
    elif path.startswith(CONSOLE_PREFIX):  # the console's forms (a rules document: 2 MiB)
        limit, types = MAX_YAML_BYTES, FORM_TYPES
    elif path.startswith(OPEN311_PREFIX):  # GeoReport v2: form-encoded, as every client sends
        limit, types = MAX_BODY_BYTES, FORM_TYPES
    headers = Headers(scope=scope)
    length = headers.get("content-length")
    chunked = length is None and "chunked" in headers.get("transfer-encoding", "").lower()
    body = await _read_up_to(receive, limit) if chunked else b""
    if (length and length.isdigit() and int(length) > limit) or body is None:
        return JSONResponse(_body("too_large", f"the body exceeds {limit} bytes"), status_code=413), receive
    if chunked:
        receive = _replay(body, receive)
    ctype = headers.get("content-type", "")
    if (chunked or length not in (None, "0")) and ctype.split(";")[0].strip().lower() not in types:
        return JSONResponse(_body("unsupported_media_type", f"send the body as {types[0]}"), status_code=415), \
            receive
    return None, receive


class _ClientGone(Exception):
    """The client disconnected before its whole body arrived."""


async def _read_up_to(receive: Receive, limit: int) -> bytes | None:
    """Read a body sent without Content-Length (chunked), stopping past ``limit`` (None); _ClientGone when the
    client disconnects before its end."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: a cut-off body is no body
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives ``body`` first, then whatever the client sends next (its disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _body(code: str, message: str, **extra: object) -> dict:
    return {"code": code, "message": message, **extra}


def install(app: FastAPI) -> None:
    """Register the error handlers on an app."""

    @app.exception_handler(ServiceError)
    async def _api_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(_body(exc.code, exc.message, **exc.extra), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        return JSONResponse(_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        if any(e["type"] == "json_invalid" for e in errors):
            return JSONResponse(_body("malformed_json", "the request body is not valid JSON"), status_code=400)
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p != "body")
        return JSONResponse(_body("validation_error", f"{where}: {first['msg']}" if where else str(first["msg"]),
                                  errors=errors), status_code=422)

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    async def _db_down(_: Request, exc: sqlalchemy.exc.OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse(_body("unavailable", "the database is unavailable, retry later"), status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(temporalio.client.RPCTimeoutOrCancelledError)
    async def _workflow_late(_: Request, exc: temporalio.client.RPCTimeoutOrCancelledError) -> JSONResponse:
        # any Temporal call that times out (case actions answer their own, more precise 503 in run_update)
        log.warning("workflow service call timed out: %s", type(exc).__name__)
        return JSONResponse(_body("unavailable", "the workflow service did not answer in time; the action may "
                                  "still be applied, check before retrying"), status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(_body("internal_error", "an internal error occurred"), status_code=500)
