"""What a rules version reads from a complaint at intake: urgency by keyword, special groups (绿色通道), and
screening (甄别: transfer to 110/119/120/122, legal channels, not accepted) with how keywords are read in context."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from core.contracts import Urgency


class KeywordUrgency(BaseModel):
    """Words in a complaint that set its urgency (e.g. 燃气泄漏 → 紧急), optionally only in some categories."""

    keywords: list[str] = Field(min_length=1)
    urgency: Urgency = Urgency.URGENT
    categories: list[str] = Field(default_factory=list, description="leaf or 大类 codes; empty: every category")


class SpecialGroup(BaseModel):
    """A special group (老年人, 残疾人 …: 绿色通道) that raises a case's priority and possibly its urgency."""

    name: str
    priority: int = Field(default=1, ge=1, le=9)
    urgency: Urgency | None = None


class UrgencyRules(BaseModel):
    """紧急 by keyword, and the special groups with priority."""

    keywords: list[KeywordUrgency] = Field(default_factory=list)
    special_groups: dict[str, SpecialGroup] = Field(default_factory=dict)


class ScreenAction(StrEnum):
    """What screening does with a complaint instead of handling it."""

    TRANSFER = "transfer"  # 即时转 110/119/120/122
    LEGAL_CHANNEL = "legal_channel"  # 告知法定途径 (诉讼, 仲裁, 信访 …)
    NOT_ACCEPTED = "not_accepted"  # 不予受理


class ScreeningRule(BaseModel):
    """A screening rule: categories or keywords that route a complaint away, with the reply to the complainant."""

    code: str = Field(pattern=r"^[A-Z0-9_]{1,32}$")
    name: str = ""
    action: ScreenAction
    target: str | None = Field(default=None, description="transfer: the line (110, 119, 120, 122)")
    keywords: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    reply: str = Field(min_length=1, description="what the complainant is told (统一话术)")
    negations: list[str] = Field(default_factory=list, description="cues before a keyword that void it (this rule)")
    exclude: list[str] = Field(default_factory=list, description="phrases near a keyword that void it (this rule)")
    near: list[str] = Field(default_factory=list, description="a keyword counts only with one of these near it")

    @model_validator(mode="after")
    def _complete(self) -> ScreeningRule:
        if not self.keywords and not self.categories:
            raise ValueError("give keywords or categories")
        if self.action is ScreenAction.TRANSFER and not self.target:
            raise ValueError("a transfer needs a target line (110, 119, 120 or 122)")
        return self


class ScreeningContext(BaseModel):
    """How a screening keyword is read in context (every rule; rules add their own negations and exclusions).
    The defaults read keywords literally, as versions before 2026.3 did."""

    negations: list[str] = Field(default_factory=list, description="cues before a keyword in its clause: 不想, 没有")
    negation_exceptions: list[str] = Field(default_factory=list, description="not negations: 是不是")
    negation_window: int = Field(default=8, ge=1, le=50, description="characters before a keyword searched for cues")
    exclude: list[str] = Field(default_factory=list, description="phrases near a keyword that void it: 隐患, 演练")
    window: int = Field(default=20, ge=0, le=200, description="characters either side searched for exclusions")
    quoted: bool = Field(default=False, description="a keyword inside quotation marks does not count")
    past: bool = Field(default=False, description="a keyword followed by 过 (past experience) does not count")
