"""The schema of a rules version (YAML) and its loader with semantic checks."""

from __future__ import annotations

import hashlib
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from core.contracts import Urgency


class RulesError(ValueError):
    """A rules document is invalid; ``errors`` holds (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))


class District(BaseModel):
    """区 with its 街道/乡镇."""

    code: str
    name: str
    streets: list[str] = Field(default_factory=list)


class Department(BaseModel):
    """承办单位. ``per_district`` entries are templates expanded for every district ({district}, {district_name})."""

    code: str
    name: str
    level: Literal["市", "区", "街道"]
    parent: str | None = None
    per_district: bool = False


class Category(BaseModel):
    """问题分类 node (大类 > 小类); only leaves are dispatched."""

    code: str
    name: str
    urgency: Urgency | None = None
    children: list[Category] = Field(default_factory=list)


class Route(BaseModel):
    """派单目录 entry: category (leaf or 大类) × district/street → lead department and fallback candidates."""

    category: str
    district: str = "*"
    street: str | None = None
    lead: str
    candidates: list[str] = Field(default_factory=list)
    partners: list[str] = Field(default_factory=list, description="default partner departments (一单双派)")


class Limit(BaseModel):
    """A time limit: natural hours or working days (end of the Nth working day after receipt)."""

    hours: int | None = Field(default=None, gt=0)
    working_hours: int | None = Field(default=None, gt=0, description="office hours on working days")
    working_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Limit:
        if sum(v is not None for v in (self.hours, self.working_hours, self.working_days)) != 1:
            raise ValueError("give exactly one of hours, working_hours or working_days")
        return self

    @property
    def working(self) -> bool:
        """Counted in working time (reminders and pauses use office time)."""
        return self.hours is None

    def label(self) -> str:
        """Chinese text of the limit."""
        if self.hours:
            return f"{self.hours} 小时"
        return f"{self.working_hours} 个工作小时" if self.working_hours else f"{self.working_days} 个工作日"


class Clocks(BaseModel):
    """Default clocks of every case."""

    sign_for: Limit
    first_contact: Limit
    first_contact_urgent: Limit
    resolution: dict[Urgency, Limit]
    review: Limit
    thresholds: list[float] = Field(default=[0.5, 0.75, 0.9], description="催办 reminders at these fractions")
    max_rounds: int = Field(default=2, ge=1, description="handling rounds before 上级复核")
    extension_max_working_days: int = Field(default=30, ge=1, description="延期: longest total resolution limit")

    @model_validator(mode="after")
    def _all_urgencies(self) -> Clocks:
        if any(not 0 < t < 1 for t in self.thresholds) or sorted(set(self.thresholds)) != self.thresholds:
            raise ValueError("thresholds must be distinct fractions between 0 and 1, in ascending order")
        missing = [u.value for u in Urgency if u not in self.resolution]
        if missing:
            raise ValueError(f"resolution limit missing for {', '.join(missing)}")
        return self


class DispatchRules(BaseModel):
    """退单: how long and how often a dispatched department may return a case."""

    return_window: Limit = Field(default_factory=lambda: Limit(working_hours=2))
    return_limit: int = Field(default=2, ge=0, description="returns before supervisor arbitration")
    return_reasons: dict[str, str] = Field(default_factory=lambda: {"NOT_OUR_DUTY": "非本单位职责"})


class CoHandlingRules(BaseModel):
    """协办: the partner's reply limit and the question used for default partners."""

    reply: Limit = Field(default_factory=lambda: Limit(working_days=1))
    default_question: str = "请按职责协助办理并答复主办单位。"


class RepeatRules(BaseModel):
    """Repeat complaints: same phone hash, category and place within a window."""

    window_days: int = Field(default=90, ge=1)
    flag_at: int = Field(default=3, ge=2, description="the Nth case about the same matter raises 重复投诉")
    auto_merge: bool = False


class Retention(BaseModel):
    """How long archives keep personal data, in years: by outcome, then by category (leaf or 大类), else default."""

    default_years: int = Field(default=3, ge=0)
    by_category: dict[str, int] = Field(default_factory=dict)
    by_outcome: dict[str, int] = Field(default_factory=dict)


class CalendarOverrides(BaseModel):
    """Dates that add to or override the holiday data (国务院办公厅放假通知)."""

    holidays: list[str] = Field(default_factory=list)
    workdays: list[str] = Field(default_factory=list)
    years: list[int] = Field(default_factory=list, description="years these overrides fully describe")


class Rules(BaseModel):
    """One complete rules version."""

    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    title: str = ""
    timezone: str = "Asia/Shanghai"
    workday_start_hour: int = Field(default=9, ge=0, le=23, description="office hours start (reminder placement)")
    workday_end_hour: int = Field(default=18, ge=1, le=24)
    districts: list[District]
    departments: list[Department]
    categories: list[Category]
    routes: list[Route]
    clocks: Clocks
    dispatch: DispatchRules = Field(default_factory=DispatchRules)
    co_handling: CoHandlingRules = Field(default_factory=CoHandlingRules)
    repeat: RepeatRules = Field(default_factory=RepeatRules)
    retention: Retention = Field(default_factory=Retention)
    termination_reasons: dict[str, str] = Field(default_factory=lambda: {
        "UNREASONABLE": "不合理诉求", "DUPLICATE": "重复诉求", "UNREACHABLE": "无法联系", "LEGAL_CHANNEL": "法定途径"})
    calendar: CalendarOverrides = Field(default_factory=CalendarOverrides)
    templates: dict[str, str]


REQUIRED_TEMPLATES = ("acceptance", "result")


def content_hash(text: str) -> str:
    """SHA-256 of a rules document's exact text."""
    return hashlib.sha256(text.encode()).hexdigest()


def parse_rules(text: str) -> Rules:
    """Parse and check a rules document; raise RulesError with YAML paths on any problem."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError([("$", f"not valid YAML: {exc}")]) from exc
    if not isinstance(doc, dict):
        raise RulesError([("$", "the document must be a mapping")])
    try:
        rules = Rules.model_validate(doc)
    except ValidationError as exc:
        raise RulesError(
            [(".".join(str(p) for p in err["loc"]) or "$", err["msg"]) for err in exc.errors()]
        ) from exc
    rules = expand(rules)  # raises RulesError on a bad placeholder
    errors = semantic_errors(rules)
    if errors:
        raise RulesError(errors)
    return rules


def fill(template: str, path: str, **values: str) -> str:
    """Fill {district}-style placeholders; an unknown placeholder is a RulesError at ``path``."""
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        allowed = ", ".join("{" + k + "}" for k in values)
        raise RulesError([(path, f"bad placeholder in {template!r}: {exc}; allowed here: {allowed}")]) from exc


def expand(rules: Rules) -> Rules:
    """Expand per-district department templates into one department per district."""
    departments: list[Department] = []
    for i, dept in enumerate(rules.departments):
        if not dept.per_district:
            departments.append(dept)
            continue
        path = f"departments.{i}"
        for d in rules.districts:
            departments.append(
                Department(
                    code=fill(dept.code, f"{path}.code", district=d.code),
                    name=fill(dept.name, f"{path}.name", district_name=d.name),
                    level=dept.level,
                    parent=fill(dept.parent, f"{path}.parent", district=d.code) if dept.parent else None,
                )
            )
    return rules.model_copy(update={"departments": departments})


def leaves(categories: list[Category], parent: Category | None = None) -> dict[str, tuple[Category, Category]]:
    """Leaf code → (大类, leaf)."""
    out: dict[str, tuple[Category, Category]] = {}
    for cat in categories:
        if cat.children:
            out.update(leaves(cat.children, cat))
        else:
            out[cat.code] = (parent or cat, cat)
    return out


def semantic_errors(rules: Rules) -> list[tuple[str, str]]:
    """Cross-reference checks: unknown departments and categories, categories without a route, templates."""
    from rules.engine import RulesEngine  # local import: the engine depends on this module

    errors: list[tuple[str, str]] = []
    dept_codes = {d.code for d in rules.departments}
    district_codes = {d.code for d in rules.districts}
    cat_codes = {c.code for c in _all_categories(rules.categories)}
    for i, d in enumerate(rules.departments):
        if d.parent and d.parent not in dept_codes:
            errors.append((f"departments.{i}.parent", f"unknown department {d.parent!r}"))
    for i, r in enumerate(rules.routes):
        if r.category not in cat_codes:
            errors.append((f"routes.{i}.category", f"unknown category {r.category!r}"))
        if r.district != "*" and r.district not in district_codes:
            errors.append((f"routes.{i}.district", f"unknown district {r.district!r}"))
        targets = [("lead", r.lead)] + [(f"candidates.{j}", c) for j, c in enumerate(r.candidates)]
        targets += [(f"partners.{j}", c) for j, c in enumerate(r.partners)]
        for field, code in targets:
            errors.extend(_route_target_errors(rules, r, f"routes.{i}.{field}", code, dept_codes))
    if errors:
        return errors  # the checks below evaluate routes, which needs valid references
    engine = RulesEngine(rules)
    for code in leaves(rules.categories):
        for district in rules.districts:
            if engine.route(code, district.code, None) is None:
                errors.append(("routes", f"category {code!r} has no route for district {district.code!r}"))
                break
    for name in REQUIRED_TEMPLATES:
        if name not in rules.templates:
            errors.append((f"templates.{name}", "required template is missing"))
    errors.extend(engine.template_errors())
    return errors


def _all_categories(categories: list[Category]) -> list[Category]:
    out: list[Category] = []
    for c in categories:
        out.append(c)
        out.extend(_all_categories(c.children))
    return out


def _route_target_errors(
    rules: Rules, route: Route, path: str, code: str, dept_codes: set[str]
) -> list[tuple[str, str]]:
    """The first district where a route's lead or candidate names no known department (one error per field)."""
    for d in _route_districts(rules, route):
        try:
            resolved = fill(code, path, district=d)
        except RulesError as exc:
            return exc.errors
        if resolved not in dept_codes:
            where = f" (district {d})" if "{" in code else ""
            return [(path, f"unknown department {resolved!r}{where}")]
    return []


def _route_districts(rules: Rules, route: Route) -> list[str]:
    return [d.code for d in rules.districts] if route.district == "*" else [route.district]
