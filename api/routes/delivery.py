"""Delivery receipts from the SMS provider (authenticated by the shared receipt token, not a staff token)."""

from __future__ import annotations

import hmac
from typing import Literal

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from api.deps import SessionDep, SettingsDep
from api.errors import BODY_ERRORS, ServiceError, not_found, responses
from services.delivery import receipt

router = APIRouter(prefix="/delivery", tags=["delivery"], responses=responses(*BODY_ERRORS, 401, 404))


class ReceiptIn(BaseModel):
    """One delivery receipt: the out id we sent the message under, and what became of it."""

    out_id: str = Field(min_length=3, max_length=200)
    status: Literal["delivered", "failed"]
    error: str | None = Field(default=None, max_length=500)


@router.post("/receipts/{channel}")
def delivery_receipt(channel: Literal["sms"], body: ReceiptIn, session: SessionDep, settings: SettingsDep,
                     x_receipt_token: str | None = Header(default=None)) -> dict[str, str]:
    """A provider's receipt: the SMS is delivered, or failed (then it is retried)."""
    expected = settings.delivery_receipt_token
    if not expected:
        raise not_found("delivery receipts (not configured)")
    if not x_receipt_token or not hmac.compare_digest(x_receipt_token, expected):
        raise ServiceError(401, "unauthorized", "a valid X-Receipt-Token is required")
    if not receipt(session, body.out_id, body.status, body.error):
        raise not_found(f"message {body.out_id}")
    return {"out_id": body.out_id, "status": body.status}
