"""How a rules version's notices leave the outbox (channels, SMS provider templates, quiet hours, retries) and
how staff reach a complainant's number."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class ProviderTemplate(BaseModel):
    """An SMS provider's pre-approved template (providers send nothing else): its code and the notice context
    values that fill it, in order."""

    code: str = Field(min_length=1, max_length=64)
    params: list[str] = Field(default_factory=list, description="context names: case_no, department_name, …")


StaffChannel = Literal["inbox", "email", "im"]


class DeliveryChannels(BaseModel):
    """Which channels carry a notice, per recipient kind. Staff always have the inbox (the record they answer
    from); e-mail goes where an address is known and SMTP is set, im (WeCom / DingTalk through Apprise) where the
    settings hold a URL for the recipient."""

    complainant: list[Literal["sms"]] = Field(default=["sms"], min_length=1)
    department: list[StaffChannel] = Field(default=["inbox", "email", "im"])
    supervisor: list[StaffChannel] = Field(default=["inbox", "email", "im"])

    @model_validator(mode="after")
    def _inbox_kept(self) -> DeliveryChannels:
        for kind in ("department", "supervisor"):
            if "inbox" not in getattr(self, kind):
                raise ValueError(f"{kind} notices always go to the inbox: add 'inbox' to channels.{kind}")
        return self


class DeliveryRules(BaseModel):
    """How notices leave the outbox (services/delivery.py)."""

    channels: DeliveryChannels = Field(default_factory=DeliveryChannels)

    sms_templates: dict[str, ProviderTemplate] = Field(default_factory=dict, description=(
        "notice template → the provider's template (code + parameters); unmapped notices go as plain text"))
    quiet_start_hour: int = Field(default=21, ge=0, le=23, description="no SMS to citizens from this hour …")
    quiet_end_hour: int = Field(default=8, ge=0, le=23, description="… to this one (紧急 cases excepted)")
    max_attempts: int = Field(default=5, ge=1, le=20, description="then the notice is dead, the supervisor told")
    retry_seconds: int = Field(default=30, ge=1, description="first retry after this; doubles each time (+ jitter)")


class PrivacyRules(BaseModel):
    """How staff reach the complainant's number."""

    reveals_per_hour: int = Field(default=10, ge=1, description="full phone numbers one handler may reveal an hour")
