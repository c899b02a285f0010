"""Rules evaluation: routing (派单目录), urgency, clocks → HandlingPlan. Pure functions, no IO."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from core.contracts import (
    CaseInput,
    ClockName,
    DispatchPlan,
    HandlingPlan,
    Screening,
    Urgency,
)
from rules import templates
from rules.checks import min_level
from rules.errors import LevelProhibited, UnknownReference
from rules.schema import CASE_CLOCKS, LEVELS, Category, Department, Route, Rules, leaves
from rules.screening import matched_keyword
from rules.timing import Timing


@dataclass(frozen=True)
class Assessment:
    """What the rules read from a complaint's text and special groups: urgency, priority, screening."""

    urgency: Urgency
    reason: str | None = None
    priority: int = 0
    screening: Screening | None = None


@dataclass(frozen=True)
class Dispatch:
    """The lead department and the ordered fallback candidates for one case."""

    lead: str
    candidates: tuple[str, ...]
    partners: tuple[str, ...] = ()


class RulesEngine(Timing):
    """Evaluates one parsed rules version: where a case goes, how urgent it is, its plan; its clocks (Timing)."""

    def __init__(self, rules: Rules) -> None:
        super().__init__(rules)
        self.departments: dict[str, Department] = {d.code: d for d in rules.departments}
        self.categories: dict[str, tuple[Category, Category]] = leaves(rules.categories)
        self.districts = {d.code: d for d in rules.districts}
        self._group_names = {c.code: c.name for c in rules.categories}

    def district_name(self, code: str | None) -> str:
        """A district's name ('' for none, the code itself for one these rules do not know)."""
        district = self.districts.get(code or "")
        return district.name if district else (code or "")

    def department_name(self, code: str | None) -> str:
        """A department's name ('' for none, the code itself for one these rules do not know)."""
        dept = self.departments.get(code or "")
        return dept.name if dept else (code or "")

    def category_name(self, code: str | None) -> str:
        """A leaf category's or a 大类's name ('' for none, the code itself for one these rules do not know)."""
        leaf = self.categories.get(code or "")
        return leaf[1].name if leaf else self._group_names.get(code or "", code or "")

    def check_place(self, category: str, district: str, street: str | None) -> None:
        """Raise UnknownReference when the category, district or street is not in the rules."""
        if category not in self.categories:
            raise UnknownReference(f"unknown category {category!r}: use a leaf code of the category tree")
        if district not in self.districts:
            raise UnknownReference(f"unknown district {district!r}")
        if street and self.districts[district].streets and street not in self.districts[district].streets:
            raise UnknownReference(f"unknown street {street!r} in district {district!r}")

    def route(self, category: str, district: str, street: str | None) -> Dispatch | None:
        """The most specific route (street > district > any) for the leaf category or its 大类."""
        parent = self.categories[category][0].code if category in self.categories else None
        best: tuple[int, Route] | None = None
        for r in self.rules.routes:
            if r.category not in (category, parent):
                continue
            if r.district not in ("*", district) or (r.street and r.street != street):
                continue
            score = (r.category == category) * 4 + (r.district != "*") * 2 + bool(r.street)
            if best is None or score > best[0]:
                best = (score, r)
        if best is None:
            return None
        route = best[1]
        return Dispatch(
            lead=route.lead.format(district=district),
            candidates=tuple(c.format(district=district) for c in route.candidates),
            partners=tuple(c.format(district=district) for c in route.partners),
        )

    def urgency(self, category: str, requested: Urgency | None) -> Urgency:
        """The requested urgency, else the category's default, else 一般."""
        return requested or self.categories[category][1].urgency or Urgency.NORMAL

    def screen(self, category: str, text: str) -> Screening | None:
        """The first screening rule the category or a keyword of the text (read in context: rules/screening.py)
        matches (即时转, 法定途径, 不予受理): a proposal the intake operator or a supervisor decides."""
        major = self.categories[category][0].code if category in self.categories else None
        for rule in self.rules.screening:
            matched = next((c for c in rule.categories if c in (category, major)), None)
            matched = matched or matched_keyword(rule, text, self.rules.screening_context)
            if matched:
                return Screening(code=rule.code, name=rule.name, action=rule.action.value, target=rule.target,
                                 reply=rule.reply, matched=matched)
        return None

    def assess(self, category: str, text: str, groups: list[str], requested: Urgency | None) -> Assessment:
        """Urgency (紧急 by keyword or group beats all; else requested, keyword, category), priority, screening."""
        major = self.categories[category][0].code if category in self.categories else None
        found: tuple[Urgency, str] | None = None
        for rule in self.rules.urgency.keywords:
            word = next((k for k in rule.keywords if k in text), None)
            if word and (not rule.categories or {category, major} & set(rule.categories)):
                found = (rule.urgency, f"关键词「{word}」")
                break
        special = [self.rules.urgency.special_groups[g] for g in groups if g in self.rules.urgency.special_groups]
        priority = max((g.priority for g in special), default=0)
        for g in special:
            if g.urgency and (found is None or g.urgency is Urgency.URGENT):
                found = (g.urgency, f"特殊群体：{g.name}")
        if found and (found[0] is Urgency.URGENT or requested is None):
            urgency, reason = found
        else:
            urgency, reason = self.urgency(category, requested), None
        return Assessment(urgency=urgency, reason=reason, priority=priority, screening=self.screen(category, text))

    def check_level(self, category: str, department: str) -> None:
        """Raise LevelProhibited when the category is department-level work and the department is a street."""
        level, dept = min_level(self.rules, category), self.departments.get(department)
        if level and dept and dept.depth > LEVELS.index(level):
            raise LevelProhibited(f"category {category!r} is {level}-level work: it may not be dispatched to "
                                  f"{dept.level} department {department!r}")

    def plan(self, case: CaseInput, text: str = "", groups: list[str] | None = None) -> HandlingPlan:
        """Lead department, urgency, priority, screening and every clock's due time for a new case."""
        self.check_place(case.category, case.district, case.street)
        dispatch = self.route(case.category, case.district, case.street)
        assessed = self.assess(case.category, text, groups or [], case.urgency)
        if dispatch is None and assessed.screening is None:
            raise UnknownReference(f"no route for {case.category!r} in {case.district!r}")
        dispatch = dispatch or Dispatch(lead="", candidates=())
        urgency = assessed.urgency
        clocks, gaps = {}, set()
        for name in CASE_CLOCKS:  # a screening proposal overruled later is handled on these from receipt
            limit = self.rules.clocks.limit(name, urgency)
            if limit is not None:  # e.g. 处置启动 (response) only where the rules give the urgency a limit
                clocks[name], g = self.clock(name, case.received_at, limit)
                gaps |= g
        progress = self.rules.clocks.limit(ClockName.PROGRESS, urgency)
        if progress is not None:  # 阶段性进展告知: the next progress notice to the complainant
            clocks[ClockName.PROGRESS], _ = self.clock(ClockName.PROGRESS, case.received_at, progress)
            clocks[ClockName.PROGRESS].reminders = []
        if assessed.screening:  # 甄别确认: the proposal's own clock; breach → 督办, never a decision
            clocks[ClockName.SCREENING], _ = self.clock(ClockName.SCREENING, case.received_at,
                                                        self._limit(ClockName.SCREENING, urgency))
            clocks[ClockName.SCREENING].reminders = []
        return_due, g = self._due(case.received_at, self._limit("return_window", urgency))
        gaps |= g | self.calendar.gap_years(case.received_at, return_due)
        return HandlingPlan(
            rules_version=self.version,
            urgency=urgency,
            lead_department=dispatch.lead,
            lead_department_name=self.departments[dispatch.lead].name if dispatch.lead else "",
            candidates=list(dispatch.candidates),
            partners=list(dispatch.partners),
            clocks=clocks,
            calendar_gaps=sorted(gaps),
            return_due=return_due.astimezone(UTC),
            return_limit=self.rules.dispatch.return_limit,
            partner_question=self.rules.co_handling.default_question,
            max_rounds=self.rules.clocks.max_rounds,
            priority=assessed.priority,
            urgency_reason=assessed.reason,
            screening=assessed.screening,
        )

    def retention_years(self, category: str, outcome: str | None) -> int:
        """Years an archive keeps personal data: by outcome, then leaf category, then 大类, else the default."""
        r = self.rules.retention
        if outcome and outcome in r.by_outcome:
            return r.by_outcome[outcome]
        parent = self.categories[category][0].code if category in self.categories else None
        for code in (category, parent):
            if code in r.by_category:
                return r.by_category[code]
        return r.default_years

    def dispatch_to(self, department: str, at: datetime, urgency: Urgency = Urgency.NORMAL,
                    restart: bool = False) -> DispatchPlan:
        """A (re-)dispatch: the department's sign-for clock and return window from ``at``; with ``restart``, also
        the clocks the rules start anew for a new lead (``from_dispatch``: a wrong dispatch costs it nothing)."""
        dept = self.departments.get(department)
        if dept is None:
            raise UnknownReference(f"unknown department {department!r}")
        c = self.rules.clocks
        sign_for, gaps = self.clock("sign_for", at, self._limit("sign_for", urgency))
        return_due, g = self._due(at, self._limit("return_window", urgency))
        gaps |= g | self.calendar.gap_years(at, return_due)
        restarted = {}
        for name in CASE_CLOCKS[1:] if restart else ():
            limit = c.limit(name, urgency)
            if limit is not None and c.restarts_at_dispatch(name, urgency):
                restarted[name], g = self.clock(name, at, limit)
                gaps |= g
        return DispatchPlan(department=department, department_name=dept.name, sign_for=sign_for,
                            return_due=return_due.astimezone(UTC), restarted=restarted, calendar_gaps=sorted(gaps))

    def render(self, template: str, context: dict) -> str:
        """Render one of this version's notice templates (or the default wording of a template the version
        predates); KeyError when neither exists."""
        source = self.rules.templates.get(template) or templates.DEFAULTS[template]
        return templates.render(source, context)

    def template_errors(self) -> list[tuple[str, str]]:
        """Templates that fail to render with a sample case."""
        out = []
        for name, source in self.rules.templates.items():
            err = templates.template_error(source)
            if err:
                out.append((f"templates.{name}", err))
        return out
