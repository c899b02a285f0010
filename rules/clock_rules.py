"""The time limits of a rules version: a limit, a clock's rule (per urgency, office time, from dispatch), the
case clocks, the return window and the partner reply. Part of the schema (rules/schema.py imports them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from core.contracts import WORKING_DAY_UNIT, Urgency


class Limit(BaseModel):
    """A time limit: natural hours or working days (end of the Nth working day after receipt)."""

    minutes: int | None = Field(default=None, gt=0, description="natural minutes (a screening proposal)")
    hours: int | None = Field(default=None, gt=0)
    working_hours: int | None = Field(default=None, gt=0, description="office hours on working days")
    working_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Limit:
        if sum(v is not None for v in (self.minutes, self.hours, self.working_hours, self.working_days)) != 1:
            raise ValueError("give exactly one of minutes, hours, working_hours or working_days")
        return self

    @property
    def working(self) -> bool:
        """Counted in working time (reminders and pauses use office time)."""
        return self.hours is None and self.minutes is None

    def label(self) -> str:
        """Chinese text of the limit."""
        if self.minutes:
            return f"{self.minutes} 分钟"
        if self.hours:
            return f"{self.hours} 小时"
        return f"{self.working_hours} 个工作小时" if self.working_hours else f"{self.working_days} {WORKING_DAY_UNIT}"


LIMIT_KEYS = ("minutes", "hours", "working_hours", "working_days")
URGENCIES = tuple(u.value for u in Urgency)


class ClockRule(BaseModel):
    """One clock of a case: a limit for every urgency and/or one per urgency, and how the clock counts.

    YAML: ``{hours: 24, 紧急: {hours: 1}}`` — the limit keys apply to every urgency without its own entry.
    """

    limit: Limit | None = None
    by_urgency: dict[Urgency, Limit] = Field(default_factory=dict)
    office_time: bool = Field(default=False, description=(
        "hour limits count office time on working days: a complaint received at 23:00 starts the next opening "
        "(紧急 clocks always count natural hours)"))
    from_dispatch: bool = Field(default=False, description=(
        "the clock starts when the case reaches its lead: a re-dispatch (退单, 改派, arbitration) starts it anew "
        "with the full limit (紧急 clocks always count from receipt)"))

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        limit = {k: data.pop(k) for k in LIMIT_KEYS if k in data}
        if limit:
            data["limit"] = limit
        per = {k: data.pop(k) for k in list(data) if k in URGENCIES}
        if per:
            data["by_urgency"] = {**data.get("by_urgency", {}), **per}
        return data

    @model_validator(mode="after")
    def _some_limit(self) -> ClockRule:
        if self.limit is None and not self.by_urgency:
            raise ValueError("give a limit (hours, working_hours or working_days) or one per urgency "
                             "(紧急, 一般, 复杂)")
        return self

    def for_urgency(self, urgency: Urgency) -> Limit | None:
        """The limit that applies to a case of ``urgency``, as written (None: no such clock for it)."""
        return self.by_urgency.get(urgency, self.limit)


CASE_CLOCKS = ("sign_for", "first_contact", "response", "resolution")  # started at intake, in this order


class Clocks(BaseModel):
    """Default clocks of every case."""

    sign_for: ClockRule
    first_contact: ClockRule
    first_contact_urgent: Limit | None = Field(default=None, description=(
        "versions before 2026.3: the 紧急 first-contact limit (newer: first_contact.紧急)"))
    response: ClockRule | None = Field(default=None, description="处置启动: handling started on site")
    progress: ClockRule | None = Field(default=None, description=(
        "阶段性进展告知: the complainant gets a progress notice every so often until the reply (2026.3: 复杂)"))
    resolution: ClockRule
    review: ClockRule
    screening: ClockRule = Field(default_factory=lambda: ClockRule(limit=Limit(minutes=30)), description=(
        "甄别确认: the intake operator or a supervisor decides a screening proposal within this (else 督办)"))
    thresholds: list[float] = Field(default=[0.5, 0.75, 0.9], description="催办 reminders at these fractions")
    max_rounds: int = Field(default=2, ge=1, description="handling rounds before 上级复核")
    extension_max_working_days: int = Field(default=30, ge=1, description="延期: longest total resolution limit")
    extension_urgencies: list[Urgency] | None = Field(default=None, description=(
        "延期 is allowed only for cases of these urgencies (absent: every urgency, as before 2026.3)"))

    @model_validator(mode="after")
    def _all_urgencies(self) -> Clocks:
        if any(not 0 < t < 1 for t in self.thresholds) or sorted(set(self.thresholds)) != self.thresholds:
            raise ValueError("thresholds must be distinct fractions between 0 and 1, in ascending order")
        for name in ("sign_for", "first_contact", "resolution", "review"):
            missing = [u.value for u in Urgency if self.limit(name, u) is None]
            if missing:
                raise ValueError(f"{name} limit missing for {', '.join(missing)}")
        return self

    def rule(self, name: str) -> ClockRule | None:
        """The rule of a case clock by name (None: the version has no such clock)."""
        rule = getattr(self, name, None) if name in (*CASE_CLOCKS, "review", "screening", "progress") else None
        return rule if isinstance(rule, ClockRule) else None

    def limit(self, name: str, urgency: Urgency) -> Limit | None:
        """The limit a clock of a case of ``urgency`` counts: office time where the rule says so, natural hours
        for 紧急 (None: the case has no such clock)."""
        rule = self.rule(name)
        if rule is None:
            return None
        limit = rule.for_urgency(urgency)
        if name == "first_contact" and urgency is Urgency.URGENT and self.first_contact_urgent is not None \
                and urgency not in rule.by_urgency:
            limit = self.first_contact_urgent
        if limit is not None and rule.office_time and urgency is not Urgency.URGENT and limit.hours:
            limit = Limit(working_hours=limit.hours)
        return limit

    def restarts_at_dispatch(self, name: str, urgency: Urgency) -> bool:
        """The clock starts anew when the case reaches a new lead (never for 紧急: counted from receipt)."""
        rule = self.rule(name)
        return bool(rule and rule.from_dispatch) and urgency is not Urgency.URGENT

    def extension_refusal(self, urgency: Urgency, version: str) -> str | None:
        """Why a case of ``urgency`` may not be extended under this version (None: it may)."""
        allowed = self.extension_urgencies
        if allowed is None or urgency in allowed:
            return None
        names = "、".join(u.value for u in allowed) or "no case"
        return (f"rules {version} (clocks.extension_urgencies) allow 延期 only for {names}; "
                f"this case is {urgency.value}")


class DispatchRules(BaseModel):
    """退单: how long and how often a dispatched department may return a case."""

    return_window: ClockRule = Field(default_factory=lambda: ClockRule(limit=Limit(working_hours=2)),
                                     description="per urgency like a clock (2026.3: 紧急 1 h)")
    return_limit: int = Field(default=2, ge=0, description="returns before supervisor arbitration")
    return_reasons: dict[str, str] = Field(default_factory=lambda: {"NOT_OUR_DUTY": "非本单位职责"})

    @model_validator(mode="after")
    def _every_urgency(self) -> DispatchRules:
        _cover(self.return_window, "return_window")
        return self


class CoHandlingRules(BaseModel):
    """协办: the partner's reply limit and the question used for default partners."""

    reply: ClockRule = Field(default_factory=lambda: ClockRule(limit=Limit(working_days=1)),
                             description="per urgency like a clock (2026.3: 紧急 2 h)")
    default_question: str = "请按职责协助办理并答复主办单位。"

    @model_validator(mode="after")
    def _every_urgency(self) -> CoHandlingRules:
        _cover(self.reply, "reply")
        return self


def _cover(rule: ClockRule, name: str) -> None:
    missing = [u.value for u in Urgency if rule.for_urgency(u) is None]
    if missing:
        raise ValueError(f"{name} limit missing for {', '.join(missing)}")
