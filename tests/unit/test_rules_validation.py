"""Invalid rules documents (every problem with YAML path, line and column) and re-planning under another version."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

import rules
from core.contracts import CaseInput, CaseKind, CaseStatus, Channel, ClockChange, ClockState, RebaseRequest, Urgency
from rules.engine import RulesEngine
from rules.migration import rebase
from rules.parse import parse_rules
from rules.schema import Limit, Problem, RulesError
from workflows.clocks import start_clock

SH = ZoneInfo("Asia/Shanghai")
VERSIONS = Path(rules.__file__).parent / "versions"
TEXT = (VERSIONS / "2026.2.yaml").read_text(encoding="utf-8")
ROUTES = yaml.safe_load(TEXT)["routes"]


def replaced(old: str, new: str, text: str = TEXT) -> str:
    """``text`` with the one occurrence of ``old`` replaced (fails loudly when the shipped text changes)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, line: str) -> int:
    """1-based number of the line that is exactly ``line``."""
    lines = text.splitlines()
    assert lines.count(line) == 1, f"{line!r} occurs {lines.count(line)} times"
    return lines.index(line) + 1


def column_of(line: str, value: str) -> int:
    """1-based column of ``value`` in ``line``."""
    assert line.count(value) == 1
    return line.index(value) + 1


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(RulesError) as info:
        parse_rules(text)
    assert info.value.problems, "RulesError without problems"
    return info.value.problems


def only_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def modified(change: Callable[[dict], object]) -> str:
    """The shipped 2026.2 document with one change applied, as YAML text (for tests where lines do not matter)."""
    doc = yaml.safe_load(TEXT)
    change(doc)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def route_index(category: str, **fields: str) -> int:
    return next(i for i, r in enumerate(ROUTES)
                if r["category"] == category and all(r.get(k) == v for k, v in fields.items()))


# --- shipped versions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2026.1", "2026.2"])
def test_shipped_versions_parse(version: str) -> None:
    parsed = parse_rules((VERSIONS / f"{version}.yaml").read_text(encoding="utf-8"))
    assert parsed.version == version


def test_round_trip_of_2026_2_still_parses() -> None:
    assert parse_rules(modified(lambda d: None)).version == "2026.2"


# --- YAML level ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "follower", "token"), [
    # inside the unclosed [ the next line's "timezone:" is read as a plain scalar: the ':' is unexpected
    ("title: 12345", "title: [12345", "timezone: Asia/Shanghai", ":"),
    # inside the unclosed { the next route's '{' is unexpected
    ("  - {category: JTGL02, lead: bj-jtw}", "  - {category: JTGL02, lead: bj-jtw",
     "  - {category: JTGL03, lead: \"{district}-cgw\", candidates: [bj-jtw]}", "{"),
])
def test_yaml_syntax_error_unclosed_bracket(old: str, new: str, follower: str, token: str) -> None:
    bad = replaced(old, new)
    opened = next(i for i, line in enumerate(bad.splitlines(), 1) if line.startswith(new))
    problem = only_problem(bad)
    assert problem.path == "$"
    assert "not valid YAML" in problem.message
    # PyYAML notices the missing bracket on the next line; the message names the line where it was opened
    assert f"line {opened}" in problem.message
    assert problem.line == opened + 1
    assert bad.splitlines()[problem.line - 1] == follower
    assert problem.column == follower.index(token) + 1


@pytest.mark.parametrize(("old", "new", "key", "first"), [
    ("\ndistricts:\n", "\ntimezone: Asia/Chongqing\n\ndistricts:\n", "timezone", "timezone: Asia/Shanghai"),
    ("\nkpi: ", "\nversion: \"2026.9\"\nkpi: ", "version", "version: \"2026.2\""),
])
def test_duplicate_top_level_key(old: str, new: str, key: str, first: str) -> None:
    bad = replaced(old, new)
    second = new.strip("\n").splitlines()[0]
    problem = only_problem(bad)
    assert problem.path == "$"
    assert f"duplicate key '{key}'" in problem.message
    assert f"first at line {line_of(bad, first)}" in problem.message
    assert (problem.line, problem.column) == (line_of(bad, second), 1)


def test_empty_document() -> None:
    assert only_problem("# nothing here\n") == Problem("$", "the document must be a mapping", 1, 1)


# --- schema level -------------------------------------------------------------------------------------------------


def test_wrong_type_of_a_limit() -> None:
    bad_line = '    一般: {working_days: "five"}'
    bad = replaced("    一般: {working_days: 5}", bad_line)
    problem = only_problem(bad)
    assert problem.path == "clocks.resolution.一般.working_days"
    assert "integer" in problem.message
    assert (problem.line, problem.column) == (line_of(bad, bad_line), column_of(bad_line, '"five"'))


def test_missing_required_section() -> None:
    start = TEXT.index("\nclocks:\n") + 1
    end = TEXT.index("\ndispatch:") + 1
    bad = TEXT[:start] + TEXT[end:]
    assert "\nclocks:" not in bad
    problem = only_problem(bad)
    assert problem.path == "clocks"
    assert "required" in problem.message.lower()
    # a missing key is reported at the mapping that lacks it: the document, whose first key is version
    assert (problem.line, problem.column) == (line_of(bad, 'version: "2026.2"'), 1)


def test_transfer_without_target() -> None:
    bad = replaced('    target: "110"\n', "")
    problem = only_problem(bad)
    assert problem.path == "screening.1"
    assert "target" in problem.message
    assert (problem.line, problem.column) == (line_of(bad, "  - code: EMERGENCY_110"), 5)


def test_kpi_weights_not_adding_up_to_one() -> None:
    bad_line = "  weights: {response: 0.1, resolution: 0.5, satisfaction: 0.5}"
    bad = replaced("  weights: {response: 0.1, resolution: 0.5, satisfaction: 0.4}", bad_line)
    problem = only_problem(bad)
    assert problem.path == "kpi"
    assert "add up to 1" in problem.message
    assert "1.1" in problem.message
    assert (problem.line, problem.column) == (line_of(bad, bad_line), 3)


def test_schema_and_semantic_problems_are_listed_together() -> None:
    bad = replaced("    一般: {working_days: 5}", '    一般: {working_days: "five"}')  # schema
    bad = replaced("satisfaction: 0.4}", "satisfaction: 0.5}", bad)  # schema
    bad = replaced("  - {category: JTGL02, lead: bj-jtw}", "  - {category: JTGL02, lead: bj-nope}", bad)  # semantic
    paths = {p.path for p in problems_of(bad)}
    assert {"clocks.resolution.一般.working_days", "kpi"} <= paths
    assert any(p.startswith("routes") for p in paths), paths  # the unknown department, in the same answer


def test_several_schema_errors_are_all_reported() -> None:
    bad = replaced("    一般: {working_days: 5}", '    一般: {working_days: "five"}')
    bad = replaced("satisfaction: 0.4}", "satisfaction: 0.5}", bad)
    bad = replaced('    target: "110"\n', "", bad)
    problems = problems_of(bad)
    assert {p.path for p in problems} == {"clocks.resolution.一般.working_days", "kpi", "screening.1"}
    assert all(p.line is not None and p.column is not None for p in problems)


# --- semantic level -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "field", "value", "named"), [
    ('{category: JTGL03, lead: "{district}-cgw"', "{category: JTGL03, lead: bj-nowhere", "lead", "bj-nowhere",
     "'bj-nowhere'"),
    ('{category: JTGL03, lead: "{district}-cgw"', '{category: JTGL03, lead: "{district}-nowhere"', "lead",
     '"{district}-nowhere"', "'dongcheng-nowhere' (district dongcheng)"),
    ("candidates: [bj-jtw]}", "candidates: [bj-jtw, bj-nowhere]}", "candidates.1", "bj-nowhere", "'bj-nowhere'"),
])
def test_route_to_unknown_department(old: str, new: str, field: str, value: str, named: str) -> None:
    bad = replaced(old, new)
    line = next(x for x in bad.splitlines() if "category: JTGL03" in x)
    problem = only_problem(bad)
    assert problem.path == f"routes.{route_index('JTGL03')}.{field}"
    assert problem.message == f"unknown department {named}"
    assert (problem.line, problem.column) == (line_of(bad, line), column_of(line, value))


def test_leaf_category_without_route() -> None:
    new_line = "      - {code: CXJS04, name: 小区绿化}"
    bad = replaced("      - {code: CXJS03, name: 小区配套设施}\n",
                   "      - {code: CXJS03, name: 小区配套设施}\n" + new_line + "\n")
    problem = only_problem(bad)
    assert problem.path == "categories.0.children.3"
    assert problem.message == "category 'CXJS04' has no route for district 'dongcheng'"
    assert (problem.line, problem.column) == (line_of(bad, new_line), column_of(new_line, "{"))


@pytest.mark.parametrize(("name", "variable"), [("result", "complainant_name"), ("repeat", "complainant_phone")])
def test_template_that_does_not_render(name: str, variable: str) -> None:
    key_line = f"  {name}: |-"
    bad = replaced(key_line + "\n", f"{key_line}\n    {{{{ {variable} }}}}\n")
    problem = only_problem(bad)
    assert problem.path == f"templates.{name}"
    assert variable in problem.message
    assert (problem.line, problem.column) == (line_of(bad, key_line), column_of(key_line, "|-"))


def test_overlapping_keyword_rules() -> None:
    bad = replaced("keywords: [起火, 着火, 火灾]", "keywords: [起火, 着火, 火灾, 燃气]")
    line = "    - {keywords: [燃气泄漏, 煤气泄漏, 燃气味], urgency: 紧急}"
    problems = problems_of(bad)
    assert [p.path for p in problems] == ["urgency.keywords.0.keywords.0", "urgency.keywords.0.keywords.2"]
    for problem, word in zip(problems, ["燃气泄漏", "燃气味"], strict=True):
        assert f"'{word}'" in problem.message
        assert "'燃气'" in problem.message
        assert "EMERGENCY_119" in problem.message
        assert (problem.line, problem.column) == (line_of(bad, line), column_of(line, word))


def test_overlapping_keywords_of_two_urgency_rules() -> None:
    bad = replaced("[井盖缺失, 电线脱落, 树木倒伏]", "[井盖缺失, 电线脱落, 树木倒伏, 泄漏]")
    problems = problems_of(bad)
    assert [p.path for p in problems] == ["urgency.keywords.1.keywords.3"]
    assert "'泄漏'" in problems[0].message and "'燃气泄漏'" in problems[0].message


def test_duplicate_department_code() -> None:
    new_line = "  - {code: bj-jtw, name: 北京市交通运输委员会, level: 市}"
    bad = replaced("  - {code: bj-rqjt, name: 北京市燃气集团, level: 市}\n",
                   "  - {code: bj-rqjt, name: 北京市燃气集团, level: 市}\n" + new_line + "\n")
    problem = only_problem(bad)
    assert problem.path == "departments.8"
    assert problem.message == "duplicate department 'bj-jtw' (first at departments.0)"
    assert (problem.line, problem.column) == (line_of(bad, new_line), 5)


def test_duplicate_per_district_department() -> None:
    line = '  - {code: "{district}-cgw", name: "{district_name}城市管理委员会", level: 区, per_district: true}'
    bad = replaced("  # 街道级 (examples)\n", line + "\n  # 街道级 (examples)\n")
    problems = problems_of(bad)
    assert {p.path for p in problems} == {"departments.15"}
    assert len(problems) == 16  # one per expanded district
    assert "'dongcheng-cgw'" in problems[0].message
    assert all(p.line == line_of(bad, line) for p in problems)


@pytest.mark.parametrize(("original", "copy", "key"), [
    ("  - {category: JTGL02, lead: bj-jtw}", "  - {category: JTGL02, lead: bj-jgj}", "JTGL02 @ *"),
    ("  - {category: HJBH02, district: chaoyang, street: 三里屯街道, lead: chaoyang-sanlitun, candidates: "
     "[chaoyang-cgzf]}",
     "  - {category: HJBH02, district: chaoyang, street: 三里屯街道, lead: chaoyang-cgzf}",
     "HJBH02 @ chaoyang/三里屯街道"),
])
def test_duplicate_route(original: str, copy: str, key: str) -> None:
    bad = replaced(original + "\n", original + "\n" + copy + "\n")
    first = line_of(TEXT, original) - line_of(TEXT, "routes:") - 1
    problem = only_problem(bad)
    assert problem.path == f"routes.{first + 1}"
    assert problem.message == f"duplicate route '{key}' (first at routes.{first})"
    assert (problem.line, problem.column) == (line_of(bad, copy), 5)


def test_same_category_in_other_district_is_not_a_duplicate() -> None:
    def change(d: dict) -> None:
        d["routes"].append({"category": "JTGL02", "district": "haidian", "lead": "haidian-cgw"})

    assert parse_rules(modified(change)).routes[-1].district == "haidian"


def test_unknown_category_in_screening() -> None:
    bad_line = "    categories: [FZZN, XX99]"
    bad = replaced("    categories: [FZZN]", bad_line)
    problem = only_problem(bad)
    assert problem.path == "screening.5.categories.1"
    assert problem.message == "unknown category 'XX99'"
    assert (problem.line, problem.column) == (line_of(bad, bad_line), column_of(bad_line, "XX99"))


def test_unknown_category_in_urgency_keywords() -> None:
    def change(d: dict) -> None:
        d["urgency"]["keywords"][1]["categories"] = ["JTGL", "XX99"]

    problems = problems_of(modified(change))
    assert [(p.path, p.message) for p in problems] == [("urgency.keywords.1.categories.1", "unknown category 'XX99'")]


def test_several_semantic_errors_are_all_reported() -> None:
    bad = replaced('{category: JTGL03, lead: "{district}-cgw"', "{category: JTGL03, lead: bj-nowhere")
    gas = "  - {code: bj-rqjt, name: 北京市燃气集团, level: 市}\n"
    bad = replaced(gas, gas + "  - {code: bj-jtw, name: 另一个, level: 市}\n", bad)
    bad = replaced("keywords: [起火, 着火, 火灾]", "keywords: [起火, 着火, 火灾, 燃气]", bad)
    bad = replaced("  result: |-\n", "  result: |-\n    {{ complainant_name }}\n", bad)
    bad = replaced("categories: [FZZN]", "categories: [FZZN, XX99]", bad)
    problems = problems_of(bad)
    assert {p.path for p in problems} == {
        "departments.8", f"routes.{route_index('JTGL03')}.lead", "screening.5.categories.1",
        "urgency.keywords.0.keywords.0", "urgency.keywords.0.keywords.2", "templates.result"}
    assert all(p.line is not None and p.column is not None for p in problems)
    lines = bad.splitlines()
    assert all(lines[p.line - 1].strip() for p in problems if p.line)


def test_problem_text_and_errors() -> None:
    bad = replaced("    categories: [FZZN]", "    categories: [XX99]")
    with pytest.raises(RulesError) as info:
        parse_rules(bad)
    problem = info.value.problems[0]
    assert str(problem) == f"line {problem.line}, column {problem.column}: screening.5.categories.0: unknown " \
                           "category 'XX99'"
    assert info.value.errors == [("screening.5.categories.0", "unknown category 'XX99'")]


# --- rules migration (rebase) -------------------------------------------------------------------------------------

E2 = RulesEngine(parse_rules(TEXT))
E1 = RulesEngine(parse_rules((VERSIONS / "2026.1.yaml").read_text(encoding="utf-8")))


def _v3(d: dict) -> None:
    d["version"] = "2026.3"
    d["clocks"]["resolution"]["一般"] = {"working_days": 3}
    d["clocks"]["sign_for"] = {"hours": 1}
    next(r for r in d["routes"] if r["category"] == "JTGL02")["lead"] = "{district}-cgw"


E3 = RulesEngine(parse_rules(modified(_v3)))
RECEIVED = datetime(2026, 11, 2, 10, 0, tzinfo=SH)  # Monday; no holidays in November 2026


def case_input(category: str = "JTGL02", version: str = "2026.2") -> CaseInput:
    return CaseInput(case_no="2026110200000042", kind=CaseKind.COMPLAINT, channel=Channel.HOTLINE, category=category,
                     district="haidian", received_at=RECEIVED, rules_version=version)


def limit_of(engine: RulesEngine, name: str, urgency: Urgency) -> Limit:
    limit = engine.limit(name, urgency)
    assert limit is not None
    return limit


def running(engine: RulesEngine, name: str, start: datetime = RECEIVED, urgency: Urgency = Urgency.NORMAL,
            round_: int = 1) -> ClockState:
    return start_clock(engine.clock(name, start, limit_of(engine, name, urgency))[0], round_)


def request(status: CaseStatus, clocks: dict[str, ClockState], *, category: str = "JTGL02", version: str = "2026.2",
            lead: str | None = None, dispatch_count: int = 1, urgency: Urgency = Urgency.NORMAL,
            at: datetime = RECEIVED + timedelta(minutes=30)) -> RebaseRequest:
    if lead is None:
        route = E2.route(category, "haidian", None)
        lead = route.lead if route else None
    return RebaseRequest(case=case_input(category, version), to_version="2026.3", status=status, lead=lead,
                         dispatch_count=dispatch_count, urgency=urgency, clocks=clocks, at=at)


def test_migration_premises() -> None:
    assert (E2.version, E3.version) == ("2026.2", "2026.3")
    assert E3.limit("resolution", Urgency.NORMAL) == Limit(working_days=3)
    assert E3.limit("sign_for", Urgency.NORMAL) == Limit(hours=1)
    assert E2.route("JTGL02", "haidian", None).lead == "bj-jtw"  # type: ignore[union-attr]
    assert E3.route("JTGL02", "haidian", None).lead == "haidian-cgw"  # type: ignore[union-attr]
    # the old resolution clock: 5 working days after Mon 11.2 → 11.3, 11.4, 11.5, 11.6, 11.9 → 11.9 18:00
    assert running(E2, "resolution").due_at == datetime(2026, 11, 9, 18, 0, tzinfo=SH)


@pytest.mark.parametrize(("start", "round_", "old_due", "new_due"), [
    # Mon 11.2 10:00: 5 working days → 11.9 18:00; 3 working days (11.3, 11.4, 11.5) → 11.5 18:00
    (RECEIVED, 1, datetime(2026, 11, 9, 18, 0, tzinfo=SH), datetime(2026, 11, 5, 18, 0, tzinfo=SH)),
    # a second round started Wed 11.4 14:00: 5 → 11.5, 11.6, 11.9, 11.10, 11.11; 3 → 11.5, 11.6, 11.9
    (datetime(2026, 11, 4, 14, 0, tzinfo=SH), 2, datetime(2026, 11, 11, 18, 0, tzinfo=SH),
     datetime(2026, 11, 9, 18, 0, tzinfo=SH)),
])
def test_resolution_clock_moves_to_the_new_limit(start: datetime, round_: int, old_due: datetime,
                                                 new_due: datetime) -> None:
    clock = running(E2, "resolution", start, round_=round_)
    assert clock.due_at == old_due
    req = request(CaseStatus.HANDLING, {"resolution": clock}, at=start + timedelta(hours=1))
    result = rebase(E3, req)
    assert result.skipped is None
    assert (result.case_no, result.from_version, result.to_version) == ("2026110200000042", "2026.2", "2026.3")
    assert result.clock_changes == [ClockChange(name="resolution", round=round_, old_due=old_due, new_due=new_due)]
    moved = result.clocks["resolution"]
    assert set(result.clocks) == {"resolution"}
    assert moved.due_at == new_due
    assert moved.started_at == start
    assert moved.round == round_
    assert moved.limit == "3 个工作日"
    assert moved.working is True
    assert [r.threshold for r in moved.reminders] == [0.5, 0.75, 0.9]
    assert all(start < r.at < new_due for r in moved.reminders)
    assert result.dispatch is None and result.old_department is None
    assert result.changed is True
    assert req.clocks["resolution"].due_at == old_due  # the request is not modified


def test_reminders_are_re_placed_under_the_new_limit() -> None:
    result = rebase(E3, request(CaseStatus.HANDLING, {"resolution": running(E2, "resolution")}))
    # 3 working days from Mon 11.2 10:00: 8 h on 11.2 + 3 × 9 h = 35 office hours; half of it (17.5 h):
    # 11.2 10–18 (8 h), 11.3 9–18 (9 h), then 0.5 h on 11.4 → 11.4 09:30
    assert result.clocks["resolution"].reminders[0].at == datetime(2026, 11, 4, 9, 30, tzinfo=SH)


def test_granted_extension_is_kept() -> None:
    extended = E2.extend(running(E2, "resolution"), 2)
    # 5 + 2 working days: … 11.9, 11.10, 11.11 → 11.11 18:00
    assert extended.due_at == datetime(2026, 11, 11, 18, 0, tzinfo=SH)
    assert extended.extended_days == 2
    result = rebase(E3, request(CaseStatus.HANDLING, {"resolution": extended}))
    moved = result.clocks["resolution"]
    # 3 + 2 working days: 11.3, 11.4, 11.5, then 11.6, 11.9 → 11.9 18:00
    assert moved.due_at == datetime(2026, 11, 9, 18, 0, tzinfo=SH)
    assert moved.extended_days == 2
    assert moved.limit == "3 个工作日，延期 2 个工作日"
    assert result.clock_changes == [ClockChange(name="resolution", old_due=extended.due_at, new_due=moved.due_at)]


def test_granted_extension_is_kept_when_the_working_day_ends_at_midnight() -> None:
    # workday_end_hour 24: "N working days" ends at 24:00 (= 00:00 of the next day) of the Nth working day
    def at_midnight(version: Callable[[dict], None] | None) -> Callable[[dict], None]:
        def change(d: dict) -> None:
            if version:
                version(d)
            d["workday_end_hour"] = 24

        return change

    e2, e3 = RulesEngine(parse_rules(modified(at_midnight(None)))), RulesEngine(parse_rules(modified(at_midnight(_v3))))
    # old clock: 5 + 2 working days from Mon 11.2: 11.3 … 11.6, 11.9, 11.10, 11.11 → 24:00 on 11.11 = 11.12 00:00
    old = ClockState(name="resolution", label="办理", started_at=RECEIVED, limit="5 个工作日，延期 2 个工作日",
                     due_at=datetime(2026, 11, 12, 0, 0, tzinfo=SH), working=True, extended_days=2)
    assert e2.deadline(RECEIVED, Limit(working_days=7)) == old.due_at
    result = rebase(e3, request(CaseStatus.HANDLING, {"resolution": old}))
    # new: 3 + 2 working days: 11.3, 11.4, 11.5, 11.6, 11.9 → 24:00 on 11.9 = 11.10 00:00
    expected = datetime(2026, 11, 10, 0, 0, tzinfo=SH)
    assert e3.deadline(RECEIVED, Limit(working_days=5)) == expected
    assert result.clocks["resolution"].due_at == expected


def test_paused_time_is_kept() -> None:
    paused, seconds = E2.shift(running(E2, "resolution"), datetime(2026, 11, 3, 14, 0, tzinfo=SH),
                               datetime(2026, 11, 3, 17, 0, tzinfo=SH))
    assert seconds == 3 * 3600
    # 11.9 18:00 + 3 office hours → 11.10 12:00, a working-day deadline: the end of 11.10
    assert paused.due_at == datetime(2026, 11, 10, 18, 0, tzinfo=SH)
    result = rebase(E3, request(CaseStatus.HANDLING, {"resolution": paused}))
    moved = result.clocks["resolution"]
    # 11.5 18:00 + 3 office hours → 11.6 12:00 → the end of 11.6
    assert moved.due_at == datetime(2026, 11, 6, 18, 0, tzinfo=SH)
    assert moved.paused_seconds == 3 * 3600
    assert result.clock_changes == [ClockChange(name="resolution", old_due=paused.due_at, new_due=moved.due_at)]


def test_paused_natural_hours_clock_keeps_the_shift() -> None:
    sign_for = running(E2, "sign_for")
    paused = sign_for.model_copy(update={"paused_seconds": 1800.0,
                                         "due_at": sign_for.due_at + timedelta(minutes=30)})
    req = request(CaseStatus.DISPATCHED, {"sign_for": paused}, category="CXJS01", at=RECEIVED + timedelta(minutes=10))
    result = rebase(E3, req)
    assert result.dispatch is None  # CXJS01 keeps its route
    # 1 hour + 30 paused minutes from 10:00 → 11:30 (was 2 hours + 30 minutes → 12:30)
    assert result.clock_changes == [ClockChange(name="sign_for", old_due=datetime(2026, 11, 2, 12, 30, tzinfo=SH),
                                                new_due=datetime(2026, 11, 2, 11, 30, tzinfo=SH))]


def test_fired_reminders_stay_fired_and_are_not_re_placed() -> None:
    # a 2026.3 case (3 working days) moved back to 2026.2 (5 working days), after the 50 % reminder fired
    clock = running(E3, "resolution")
    half = clock.reminders[0]
    assert (half.threshold, half.at) == (0.5, datetime(2026, 11, 4, 9, 30, tzinfo=SH))
    clock = clock.model_copy(update={"fired": [0.5]})
    now = datetime(2026, 11, 4, 10, 0, tzinfo=SH)
    req = request(CaseStatus.HANDLING, {"resolution": clock}, version="2026.3", at=now)
    result = rebase(E2, req)
    moved = result.clocks["resolution"]
    assert moved.due_at == datetime(2026, 11, 9, 18, 0, tzinfo=SH)
    assert moved.fired == [0.5]
    assert [r.threshold for r in moved.reminders] == [0.5, 0.75, 0.9]
    # re-placing the fired one would put it at 11.5 09:30, in the future: it stays where it fired
    assert moved.reminders[0].at == half.at
    # 5 working days from 11.2 10:00: 53 office hours; 75 % = 39.75 h → 11.6 13:45; 90 % = 47.7 h → 11.9 12:42
    assert moved.reminders[1].at == datetime(2026, 11, 6, 13, 45, tzinfo=SH)
    assert moved.reminders[2].at == datetime(2026, 11, 9, 12, 42, tzinfo=SH)
    assert moved.next_alarm() == datetime(2026, 11, 6, 13, 45, tzinfo=SH)


def test_unsigned_case_goes_to_the_new_lead() -> None:
    at = RECEIVED + timedelta(minutes=30)
    clocks = {name: running(E2, name) for name in ("sign_for", "first_contact", "resolution")}
    result = rebase(E3, request(CaseStatus.DISPATCHED, clocks, lead="bj-jtw", at=at))
    assert result.old_department == "bj-jtw"
    assert result.dispatch is not None
    assert result.dispatch.department == "haidian-cgw"
    assert result.dispatch.department_name == "海淀区城市管理委员会"
    assert result.dispatch.sign_for.started_at == at
    assert result.dispatch.sign_for.due_at == at + timedelta(hours=1)  # the new version's sign-for limit
    assert result.dispatch.sign_for.limit == "1 小时"
    assert result.dispatch.return_due == at + timedelta(hours=2)  # 2 office hours, 10:30 → 12:30
    # the new dispatch replaces the old sign-for clock: no change of it is reported
    assert [c.name for c in result.clock_changes] == ["resolution"]
    assert "sign_for" not in result.clocks
    assert result.changed is True


def test_redispatched_case_keeps_its_department() -> None:
    clocks = {"sign_for": running(E2, "sign_for")}
    result = rebase(E3, request(CaseStatus.DISPATCHED, clocks, lead="bj-jtw", dispatch_count=2))
    assert result.dispatch is None
    assert result.old_department is None
    assert result.clock_changes == [ClockChange(name="sign_for", old_due=datetime(2026, 11, 2, 12, 0, tzinfo=SH),
                                                new_due=datetime(2026, 11, 2, 11, 0, tzinfo=SH))]


@pytest.mark.parametrize("status", [CaseStatus.HANDLING, CaseStatus.REPLIED, CaseStatus.SUPERVISOR_REVIEW])
def test_signed_for_case_keeps_its_department(status: CaseStatus) -> None:
    clocks = {"first_contact": running(E2, "first_contact"), "resolution": running(E2, "resolution")}
    result = rebase(E3, request(status, clocks, lead="bj-jtw"))
    assert result.dispatch is None
    assert result.old_department is None
    assert [c.name for c in result.clock_changes] == ["resolution"]


def test_dispatched_case_with_unchanged_route_keeps_its_department() -> None:
    result = rebase(E3, request(CaseStatus.DISPATCHED, {"sign_for": running(E2, "sign_for")}, category="CXJS01"))
    assert result.dispatch is None
    assert [c.name for c in result.clock_changes] == ["sign_for"]
    assert result.clocks["sign_for"].due_at == datetime(2026, 11, 2, 11, 0, tzinfo=SH)


@pytest.mark.parametrize(("version", "status", "reason"), [
    ("2026.3", CaseStatus.HANDLING, "already on rules 2026.3"),
    ("2026.2", CaseStatus.CLOSED, "closed"),
    ("2026.2", CaseStatus.ARCHIVED, "archived"),
])
def test_skipped_cases(version: str, status: CaseStatus, reason: str) -> None:
    clocks = {"resolution": running(E2, "resolution")}
    result = rebase(E3, request(status, clocks, version=version))
    assert result.skipped is not None and reason in result.skipped
    assert result.clock_changes == []
    assert result.clocks == {}
    assert result.dispatch is None
    assert result.changed is False


def test_category_missing_from_the_target_version_is_skipped() -> None:
    clocks = {"resolution": running(E2, "resolution")}
    req = request(CaseStatus.HANDLING, clocks, category="FZZN01", lead="haidian-gov").model_copy(
        update={"to_version": "2026.1"})
    result = rebase(E1, req)
    assert result.skipped is not None
    assert "FZZN01" in result.skipped
    assert "2026.1" in result.skipped
    assert result.changed is False
    assert result.clock_changes == []


def test_stopped_clock_is_never_changed() -> None:
    stopped = running(E2, "resolution").model_copy(update={"stopped_at": RECEIVED + timedelta(hours=20)})
    sign_for = running(E2, "sign_for").model_copy(update={"stopped_at": RECEIVED + timedelta(minutes=5)})
    result = rebase(E3, request(CaseStatus.REPLIED, {"resolution": stopped, "sign_for": sign_for},
                                at=RECEIVED + timedelta(days=1)))
    assert result.skipped is None
    assert result.clock_changes == []
    assert result.clocks == {}
    assert result.changed is False


def test_stopped_clock_beside_a_running_one() -> None:
    stopped = running(E2, "sign_for").model_copy(update={"stopped_at": RECEIVED + timedelta(minutes=5)})
    result = rebase(E3, request(CaseStatus.HANDLING, {"sign_for": stopped, "resolution": running(E2, "resolution")}))
    assert set(result.clocks) == {"resolution"}
    assert [c.name for c in result.clock_changes] == ["resolution"]


@pytest.mark.parametrize(("status", "names", "urgency"), [
    (CaseStatus.HANDLING, ("first_contact", "resolution"), Urgency.URGENT),  # 紧急: 1 h and 1 working day in both
    (CaseStatus.HANDLING, ("resolution",), Urgency.COMPLEX),  # 复杂: 15 working days in both
    (CaseStatus.REPLIED, ("review",), Urgency.NORMAL),  # 回访: 3 working days in both
])
def test_unchanged_case(status: CaseStatus, names: tuple[str, ...], urgency: Urgency) -> None:
    clocks = {name: running(E2, name, urgency=urgency) for name in names}
    result = rebase(E3, request(status, clocks, category="CXJS01", urgency=urgency))
    assert result.skipped is None
    assert result.clock_changes == []
    assert result.clocks == {}
    assert result.dispatch is None
    assert result.changed is False
