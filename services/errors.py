"""The one error a service raises: an HTTP-like status with a machine-readable code and a message for people.

The API answers it as {"code", "message"} with ``status``; the CLI and the console show the message."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal with ``status`` (403, 404, 409, 422, 503, …), ``code`` and ``message``; ``extra`` fields go into
    the error body."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 **extra: object) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers, extra


def not_found(what: str) -> ServiceError:
    """404 for a missing thing."""
    return ServiceError(404, "not_found", f"{what} not found")


def unavailable(what: str, retry_after: int = 5) -> ServiceError:
    """503 with Retry-After when a backing service is down."""
    return ServiceError(503, "unavailable", f"{what} is unavailable, retry later", {"Retry-After": str(retry_after)})
