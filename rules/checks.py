"""Semantic checks of a rules version: references, duplicates, routing coverage, dispatch levels, keywords, templates.

Each check returns (YAML path, message) pairs; ``parse_rules`` adds line and column.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rules.parse import fill
from rules.schema import LEVELS, Category, Route, Rules, RulesError, category_paths, leaves

if TYPE_CHECKING:
    from rules.engine import RulesEngine

# every template the workflows send (rules/templates.DEFAULTS covers the ones versions before 2026.3 lack); the
# screening actions' templates are needed when the version screens, ``spike`` when it watches for spikes
REQUIRED_TEMPLATES = ("acceptance", "dispatch", "reminder", "supervise", "result", "rehandle", "calendar_gap",
                      "repeat", "arbitration", "partner_request", "partner_overdue", "extension_request",
                      "pause_request", "escalate", "supervisor_review", "merged")
Errors = list[tuple[str, str]]


def semantic_errors(rules: Rules) -> Errors:
    """Every cross-reference and consistency problem of an (expanded) rules version."""
    from rules.engine import RulesEngine  # local import: the engine depends on the schema

    engine = RulesEngine(rules)
    broken = reference_errors(rules)
    errors = duplicate_errors(rules) + broken + level_errors(rules) + keyword_overlaps(rules)
    needed = list(REQUIRED_TEMPLATES) + sorted({r.action.value for r in rules.screening})
    needed += ["spike"] if rules.spike else []
    errors += [(f"templates.{name}", "required template is missing") for name in needed if name not in rules.templates]
    errors += engine.template_errors()
    errors += provider_template_errors(rules)
    return errors if broken else errors + coverage_errors(rules, engine)


def provider_template_errors(rules: Rules) -> Errors:
    """Provider templates must belong to a notice template and fill their parameters from the notice context."""
    from rules.templates import SAMPLE_CONTEXT

    errors: Errors = []
    for name, provider in rules.delivery.sms_templates.items():
        path = f"delivery.sms_templates.{name}"
        if name not in rules.templates:
            errors.append((path, f"no notice template {name!r} in this version"))
        unknown = [p for p in provider.params if p not in SAMPLE_CONTEXT]
        if unknown:
            errors.append((f"{path}.params", f"unknown parameter {', '.join(unknown)}; use names of the notice "
                           "context (case_no, department_name, due_resolution, tracking_url, …)"))
    return errors


def coverage_errors(rules: Rules, engine: RulesEngine) -> Errors:
    """Leaf categories without a route in some district (screened-away categories need none)."""
    errors: Errors = []
    paths = category_paths(rules.categories)
    screened = {c for s in rules.screening for c in s.categories}
    for code, (major, _) in leaves(rules.categories).items():
        if screened & {code, major.code}:
            continue  # always routed away by screening: needs no department
        for district in rules.districts:
            if engine.route(code, district.code, None) is None:
                errors.append((paths[code][0], f"category {code!r} has no route for district {district.code!r}"))
                break
    return errors


def _dupes(items: Iterable[tuple[str, str]], what: str) -> Errors:
    """(path, key) pairs → an error at each repeated key's path."""
    seen: dict[str, str] = {}
    out: Errors = []
    for path, key in items:
        if key in seen:
            out.append((path, f"duplicate {what} {key!r} (first at {seen[key]})"))
        else:
            seen[key] = path
    return out


def duplicate_errors(rules: Rules) -> Errors:
    """Codes that appear twice: districts, departments, categories, screening rules, routes."""
    out = _dupes(((f"districts.{i}", d.code) for i, d in enumerate(rules.districts)), "district")
    out += _dupes(((f"departments.{d._source}", d.code) for d in rules.departments), "department")
    out += _dupes(_category_nodes(rules.categories, "categories"), "category")
    out += _dupes(((f"screening.{i}", r.code) for i, r in enumerate(rules.screening)), "screening rule")
    keys = ((f"routes.{i}", f"{r.category} @ {r.district}" + (f"/{r.street}" if r.street else ""))
            for i, r in enumerate(rules.routes))
    return out + _dupes(keys, "route")


def _category_nodes(categories: list[Category], prefix: str) -> Iterable[tuple[str, str]]:
    for i, c in enumerate(categories):
        yield f"{prefix}.{i}", c.code
        yield from _category_nodes(c.children, f"{prefix}.{i}.children")


def reference_errors(rules: Rules) -> Errors:
    """Unknown departments, categories, districts and streets anywhere they are named."""
    errors: Errors = []
    dept_codes = {d.code for d in rules.departments}
    districts = {d.code: d for d in rules.districts}
    cat_codes = set(category_paths(rules.categories))
    for d in rules.departments:
        if d.parent and d.parent not in dept_codes:
            errors.append((f"departments.{d._source}.parent", f"unknown department {d.parent!r}"))
    for i, r in enumerate(rules.routes):
        if r.category not in cat_codes:
            errors.append((f"routes.{i}.category", f"unknown category {r.category!r}"))
        if r.district != "*" and r.district not in districts:
            errors.append((f"routes.{i}.district", f"unknown district {r.district!r}"))
        elif r.street and (r.district == "*" or r.street not in districts[r.district].streets):
            errors.append((f"routes.{i}.street", f"unknown street {r.street!r} in district {r.district!r}"))
        for field, code in _targets(r, partners=True):
            errors.extend(_route_target_errors(rules, r, f"routes.{i}.{field}", code, dept_codes))
    named = [(f"screening.{i}.categories.{j}", c) for i, s in enumerate(rules.screening)
             for j, c in enumerate(s.categories)]
    named += [(f"urgency.keywords.{i}.categories.{j}", c) for i, k in enumerate(rules.urgency.keywords)
              for j, c in enumerate(k.categories)]
    errors += [(path, f"unknown category {code!r}") for path, code in named if code not in cat_codes]
    return errors


def _targets(route: Route, partners: bool) -> list[tuple[str, str]]:
    out = [("lead", route.lead)] + [(f"candidates.{j}", c) for j, c in enumerate(route.candidates)]
    return out + ([(f"partners.{j}", c) for j, c in enumerate(route.partners)] if partners else [])


def _route_target_errors(rules: Rules, route: Route, path: str, code: str, dept_codes: set[str]) -> Errors:
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


def min_level(rules: Rules, category: str) -> str | None:
    """The highest min_level on the way from the 大类 down to ``category`` (children inherit)."""
    found: str | None = None

    def walk(nodes: list[Category], inherited: str | None) -> None:
        nonlocal found
        for c in nodes:
            own = [lv for lv in (c.min_level, inherited) if lv]
            level = min(own, key=LEVELS.index) if own else None  # a child may tighten, never loosen
            if c.code == category:
                found = level
            walk(c.children, level)

    walk(rules.categories, None)
    return found


def level_errors(rules: Rules) -> Errors:
    """Department-level work (category min_level 区 or 市) must not be dispatched to a lower level (街道)."""
    depts = {d.code: d for d in rules.departments}
    errors: Errors = []
    for i, r in enumerate(rules.routes):
        level = min_level(rules, r.category)
        if level is None:
            continue
        for field, code in _targets(r, partners=False):
            for d in _route_districts(rules, r):
                try:
                    dept = depts.get(code.format(district=d))
                except (KeyError, IndexError, ValueError):
                    break  # a bad placeholder: reference_errors reports it
                if dept and dept.depth > LEVELS.index(level):
                    errors.append((f"routes.{i}.{field}", f"category {r.category!r} is {level}-level work: it must "
                                   f"not be dispatched to {dept.level} department {dept.code!r}"))
                    break
    return errors


def keyword_overlaps(rules: Rules) -> Errors:
    """Keyword rules (screening, urgency) whose keywords contain one another: one text would match both."""
    pool: list[tuple[str, str, str]] = []  # (path of the keyword, rule label, keyword)
    for i, s in enumerate(rules.screening):
        pool += [(f"screening.{i}.keywords.{j}", f"screening.{i} ({s.code})", k) for j, k in enumerate(s.keywords)]
    for i, u in enumerate(rules.urgency.keywords):
        pool += [(f"urgency.keywords.{i}.keywords.{j}", f"urgency.keywords.{i} ({u.urgency.value})", k)
                 for j, k in enumerate(u.keywords)]
    errors: Errors = []
    for n, (path, rule, word) in enumerate(pool):
        if not word.strip():
            errors.append((path, "empty keyword"))
            continue
        for _, other_rule, other in pool[:n]:
            if other_rule != rule and (word in other or other in word):
                errors.append((path, f"keyword {word!r} overlaps {other!r} of {other_rule}: a complaint "
                               f"containing {max(word, other, key=len)!r} would match both rules"))
                break
    return errors
