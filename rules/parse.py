"""Reading a rules document: parse and check it (YAML positions on every problem), expand per-district
departments, and the content hash that names its exact text."""

from __future__ import annotations

import hashlib

from pydantic import ValidationError

from rules.schema import Department, Problem, Rules, RulesError


def content_hash(text: str) -> str:
    """SHA-256 of a rules document's exact text."""
    return hashlib.sha256(text.encode()).hexdigest()


def parse_rules(text: str) -> Rules:
    """Parse and check a rules document; raise RulesError with YAML paths, lines and columns on any problem."""
    from rules.checks import semantic_errors  # local import: the checks evaluate the engine built on this module
    from rules.yamlpos import YamlProblem, load_strict, locate

    try:
        doc, root = load_strict(text)
    except YamlProblem as exc:
        raise RulesError([Problem("$", f"not valid YAML: {exc.message}", exc.line, exc.column)]) from exc
    if not isinstance(doc, dict):
        raise RulesError([Problem("$", "the document must be a mapping", 1, 1)])
    try:
        rules = Rules.model_validate(doc)
        rules = expand(rules)
        errors = semantic_errors(rules)
    except ValidationError as exc:
        errors = [(yaml_path(err["loc"]), err["msg"]) for err in exc.errors()]
        errors += partial_semantic_errors(doc, [p for p, _ in errors])
    except RulesError as exc:
        errors = exc.errors
    if errors:
        raise RulesError([Problem(path, msg, *(locate(root, path) or (None, None))) for path, msg in errors])
    return rules


# what a broken required section is checked as, so the other sections' references can still be checked
STAND_INS: dict[str, object] = {
    "clocks": {"sign_for": {"hours": 1}, "first_contact": {"hours": 1}, "resolution": {"working_days": 1},
               "review": {"working_days": 1}},
    "templates": {},
}


def partial_semantic_errors(doc: dict, broken_paths: list[str]) -> list[tuple[str, str]]:
    """The semantic problems of a document with schema errors, so one validation lists both: the parts that passed
    are checked, a broken list item is left out, a broken section stands at its default (or a stand-in). None when
    a broken section has neither (the references cannot be checked without it); problems inside a broken section
    are left to its schema errors."""
    from rules.checks import semantic_errors

    broken = {p.split(".")[0] for p in broken_paths}
    fields = Rules.model_fields
    if any(fields[name].is_required() and name not in STAND_INS for name in broken if name in fields):
        return []
    kept: dict = {}
    for name, value in doc.items():
        items = {int(p.split(".")[1]) for p in broken_paths if p.startswith(f"{name}.") and p.split(".")[1].isdigit()}
        if name not in broken:
            kept[name] = value
        elif isinstance(value, list) and items:  # only some items are broken: check the others
            kept[name] = [v for i, v in enumerate(value) if i not in items]
        elif name in STAND_INS:
            kept[name] = STAND_INS[name]
    try:
        rules = expand(Rules.model_validate(kept))
        found = semantic_errors(rules)
    except (ValidationError, RulesError):
        return []
    return [(path, msg) for path, msg in found if path.split(".")[0].split("[")[0] not in broken]


def yaml_path(loc: tuple) -> str:
    """A validation error's location as the document writes it: a clock's ``limit`` and ``by_urgency`` are
    folded into the clock in YAML (``clocks.resolution.一般.working_days``)."""
    parts = [str(p) for p in loc]
    if len(parts) > 2 and parts[0] == "clocks" and parts[2] in ("limit", "by_urgency"):
        del parts[2]
    return ".".join(parts) or "$"


def fill(template: str, path: str, **values: str) -> str:
    """Fill {district}-style placeholders; an unknown placeholder is a RulesError at ``path``."""
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        allowed = ", ".join("{" + k + "}" for k in values)
        raise RulesError([(path, f"bad placeholder in {template!r}: {exc}; allowed here: {allowed}")]) from exc


def expand(rules: Rules) -> Rules:
    """Expand per-district department templates into one department per district (each keeps its source index)."""
    departments: list[Department] = []
    for i, dept in enumerate(rules.departments):
        if not dept.per_district:
            made = [dept.model_copy()]
        else:
            path = f"departments.{i}"
            made = [Department(
                code=fill(dept.code, f"{path}.code", district=d.code),
                name=fill(dept.name, f"{path}.name", district_name=d.name),
                level=dept.level,
                parent=fill(dept.parent, f"{path}.parent", district=d.code) if dept.parent else None,
                phone=dept.phone, email=dept.email,
            ) for d in rules.districts]
        for m in made:
            m._source = i
        departments.extend(made)
    return rules.model_copy(update={"departments": departments})
