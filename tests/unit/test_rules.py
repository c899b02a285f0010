"""Rules: parsing and checking the shipped YAML, routing (派单目录), urgency, clocks, notice templates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from jinja2 import TemplateError

import rules
from core.contracts import CaseInput, CaseKind, Channel, Urgency
from rules import templates
from rules.engine import Dispatch, RulesEngine
from rules.errors import UnknownReference
from rules.parse import parse_rules
from rules.schema import Limit, RulesError, leaves

SH = ZoneInfo("Asia/Shanghai")
SHIPPED = Path(rules.__file__).parent / "versions" / "2026.1.yaml"
TEXT = SHIPPED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def parsed():  # type: ignore[no-untyped-def]
    return parse_rules(TEXT)


@pytest.fixture(scope="module")
def engine(parsed) -> RulesEngine:  # type: ignore[no-untyped-def]
    return RulesEngine(parsed)


def case(
    category: str,
    district: str,
    street: str | None = None,
    urgency: Urgency | None = None,
    received_at: datetime | None = None,
) -> CaseInput:
    return CaseInput(
        case_no="2026093000000001",
        kind=CaseKind.COMPLAINT,
        channel=Channel.HOTLINE,
        category=category,
        district=district,
        street=street,
        urgency=urgency,
        received_at=received_at or datetime(2026, 9, 30, 10, 0, tzinfo=SH),
        rules_version="2026.1",
    )


def modified(change: Callable[[dict], object]) -> str:
    """The shipped document with one change applied, as YAML text."""
    doc = yaml.safe_load(TEXT)
    change(doc)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def errors_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(RulesError) as info:
        parse_rules(text)
    assert info.value.errors, "RulesError without errors"
    return info.value.errors


def paths(errors: list[tuple[str, str]]) -> set[str]:
    return {p for p, _ in errors}


# --- parsing the shipped version ----------------------------------------------------------------------------------


def test_shipped_rules_parse(parsed) -> None:  # type: ignore[no-untyped-def]
    assert parsed.version == "2026.1"
    assert parsed.timezone == "Asia/Shanghai"
    assert parsed.workday_end_hour == 18
    assert len(parsed.districts) == 16
    assert parsed.clocks.limit("resolution", Urgency.NORMAL) == Limit(working_days=5)
    assert parsed.clocks.limit("first_contact", Urgency.URGENT) == Limit(hours=1)
    assert {"acceptance", "result", "rehandle"} <= set(parsed.templates)


def test_safe_dump_round_trip_still_parses() -> None:
    assert parse_rules(modified(lambda d: None)).version == "2026.1"


def test_per_district_departments_are_expanded(parsed) -> None:  # type: ignore[no-untyped-def]
    depts = {d.code: d for d in parsed.departments}
    assert depts["haidian-cgzf"].name == "海淀区城市管理综合行政执法局"
    assert depts["haidian-cgzf"].level == "区"
    assert depts["haidian-cgzf"].parent == "haidian-gov"
    assert depts["yanqing-jtzd"].name == "延庆区公安交通管理支队"
    assert depts["yanqing-jtzd"].parent == "bj-jgj"
    assert depts["xicheng-gov"].parent is None
    assert not any("{" in code for code in depts)
    assert all(not d.per_district for d in parsed.departments)
    # 8 city-level + 7 templates × 16 districts + 2 street-level
    assert len(parsed.departments) == 8 + 7 * 16 + 2
    assert len(depts) == len(parsed.departments)


def test_leaves(parsed) -> None:  # type: ignore[no-untyped-def]
    lv = leaves(parsed.categories)
    assert len(lv) == 18
    assert "CXJS" not in lv
    parent, leaf = lv["ZF02"]
    assert (parent.code, leaf.code, leaf.name) == ("ZF", "ZF02", "房屋质量")


# --- routing ------------------------------------------------------------------------------------------------------


def test_names_of_codes_fall_back_to_the_code(engine: RulesEngine) -> None:
    assert engine.district_name("xicheng") == "西城区" and engine.district_name("atlantis") == "atlantis"
    assert engine.department_name("xicheng-cgzf") == "西城区城市管理综合行政执法局"
    assert engine.department_name(None) == "" and engine.department_name("gone") == "gone"
    assert engine.category_name("CXJS01") == "违法建设"  # a leaf
    assert engine.category_name("CXJS") == engine.categories["CXJS01"][0].name != "CXJS"  # its 大类
    assert engine.category_name("NOPE") == "NOPE" and engine.category_name("") == ""


def test_street_route_wins(engine: RulesEngine) -> None:
    assert engine.route("CXJS01", "xicheng", "什刹海街道") == Dispatch("xicheng-shichahai", ("xicheng-cgzf",))


@pytest.mark.parametrize("street", [None, "金融街街道", "德胜街道"])
def test_elsewhere_in_district_uses_generic_route(engine: RulesEngine, street: str | None) -> None:
    assert engine.route("CXJS01", "xicheng", street) == Dispatch("xicheng-cgzf", ("xicheng-zjw",))


def test_street_route_does_not_leak_to_other_district(engine: RulesEngine) -> None:
    assert engine.route("CXJS01", "dongcheng", "什刹海街道") == Dispatch("dongcheng-cgzf", ("dongcheng-zjw",))


def test_leaf_route_wins_over_major_category(engine: RulesEngine) -> None:
    assert engine.route("HJBH02", "haidian", None) == Dispatch("haidian-cgzf", ("haidian-sthj",))
    # other leaves of 环境保护 use the 大类 route
    assert engine.route("HJBH01", "haidian", None) == Dispatch("haidian-sthj", ("bj-sthjj",))
    assert engine.route("HJBH03", "fengtai", None) == Dispatch("fengtai-sthj", ("bj-sthjj",))


def test_leaf_street_route(engine: RulesEngine) -> None:
    assert engine.route("HJBH02", "chaoyang", "三里屯街道") == Dispatch("chaoyang-sanlitun", ("chaoyang-cgzf",))
    assert engine.route("HJBH02", "chaoyang", "望京街道") == Dispatch("chaoyang-cgzf", ("chaoyang-sthj",))


@pytest.mark.parametrize("district", ["dongcheng", "haidian", "yanqing"])
def test_city_level_route(engine: RulesEngine, district: str) -> None:
    assert engine.route("GGFW01", district, None) == Dispatch("bj-zls", ("bj-swj",))


def test_major_category_route_with_district_placeholder(engine: RulesEngine) -> None:
    assert engine.route("SCGL02", "tongzhou", "北苑街道") == Dispatch("tongzhou-scjg", ("bj-scjgj",))
    assert engine.route("ZF02", "miyun", None) == Dispatch("miyun-zjw", ("miyun-gov",))


def test_specificity_does_not_depend_on_route_order() -> None:
    def change(d: dict) -> None:
        # listed before the shipped routes, so a first-match or tie would pick these
        d["routes"][:0] = [
            {"category": "CXJS01", "district": "xicheng", "lead": "xicheng-zjw"},
            {"category": "HJBH", "district": "haidian", "lead": "haidian-gov"},
        ]

    eng = RulesEngine(parse_rules(modified(change)))
    assert eng.route("CXJS01", "xicheng", "什刹海街道") == Dispatch("xicheng-shichahai", ("xicheng-cgzf",))
    assert eng.route("CXJS01", "xicheng", "金融街街道") == Dispatch("xicheng-zjw", ())
    assert eng.route("CXJS01", "haidian", None) == Dispatch("haidian-cgzf", ("haidian-zjw",))
    # 大类 route for the district beats the 大类 route for any district ...
    assert eng.route("HJBH01", "haidian", None) == Dispatch("haidian-gov", ())
    assert eng.route("HJBH01", "xicheng", None) == Dispatch("xicheng-sthj", ("bj-sthjj",))
    # ... but a leaf route beats a 大类 route at the same or a more specific place
    assert eng.route("HJBH02", "haidian", None) == Dispatch("haidian-cgzf", ("haidian-sthj",))


def test_route_unknown_category_is_none(engine: RulesEngine) -> None:
    assert engine.route("XX99", "xicheng", None) is None


def test_every_leaf_has_a_route_in_every_district(engine: RulesEngine, parsed) -> None:  # type: ignore[no-untyped-def]
    for code in leaves(parsed.categories):
        for d in parsed.districts:
            dispatch = engine.route(code, d.code, None)
            assert dispatch is not None, (code, d.code)
            assert dispatch.lead in engine.departments
            assert all(c in engine.departments for c in dispatch.candidates)


# --- urgency and plans --------------------------------------------------------------------------------------------


def test_urgency_defaults(engine: RulesEngine) -> None:
    assert engine.urgency("GGFW03", None) is Urgency.URGENT
    assert engine.urgency("ZF02", None) is Urgency.COMPLEX
    assert engine.urgency("CXJS01", None) is Urgency.NORMAL
    assert engine.urgency("ZF02", Urgency.NORMAL) is Urgency.NORMAL  # requested wins over the default
    assert engine.urgency("CXJS01", Urgency.URGENT) is Urgency.URGENT


def test_plan_urgent_category(engine: RulesEngine) -> None:
    plan = engine.plan(case("GGFW03", "chaoyang", "望京街道"))
    assert plan.rules_version == "2026.1"
    assert plan.urgency is Urgency.URGENT
    assert plan.lead_department == "bj-rqjt"
    assert plan.lead_department_name == "北京市燃气集团"
    assert plan.candidates == ["chaoyang-cgw"]
    assert set(plan.clocks) == {"sign_for", "first_contact", "resolution"}
    fc = plan.clocks["first_contact"]
    assert fc.label == "首次联系"
    assert fc.limit == "1 小时"
    assert fc.started_at == datetime(2026, 9, 30, 10, 0, tzinfo=SH)
    assert fc.due_at == datetime(2026, 9, 30, 3, 0, tzinfo=UTC)  # 11:00 Beijing
    assert fc.due_at.utcoffset() is not None and fc.due_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert plan.clocks["sign_for"].due_at == datetime(2026, 9, 30, 4, 0, tzinfo=UTC)
    assert plan.clocks["sign_for"].limit == "2 小时"
    res = plan.clocks["resolution"]
    assert res.limit == "1 个工作日"
    assert res.due_at == datetime(2026, 10, 8, 18, 0, tzinfo=SH)  # National Day skipped
    assert plan.calendar_gaps == []


def test_plan_normal_category(engine: RulesEngine) -> None:
    plan = engine.plan(case("CXJS01", "xicheng", "什刹海街道"))
    assert plan.urgency is Urgency.NORMAL
    assert plan.lead_department == "xicheng-shichahai"
    assert plan.lead_department_name == "西城区什刹海街道办事处"
    assert plan.candidates == ["xicheng-cgzf"]
    assert plan.clocks["first_contact"].limit == "24 小时"
    assert plan.clocks["first_contact"].due_at == datetime(2026, 10, 1, 10, 0, tzinfo=SH)
    assert plan.clocks["resolution"].limit == "5 个工作日"
    assert plan.clocks["resolution"].due_at == datetime(2026, 10, 13, 18, 0, tzinfo=SH)


def test_plan_requested_urgent_gets_one_hour_contact(engine: RulesEngine) -> None:
    plan = engine.plan(case("CXJS01", "haidian", urgency=Urgency.URGENT))
    assert plan.urgency is Urgency.URGENT
    assert plan.clocks["first_contact"].due_at == datetime(2026, 9, 30, 11, 0, tzinfo=SH)


def test_plan_complex_category_fifteen_working_days(engine: RulesEngine) -> None:
    plan = engine.plan(case("ZF02", "haidian"))
    assert plan.urgency is Urgency.COMPLEX
    assert plan.lead_department == "haidian-zjw"
    assert plan.lead_department_name == "海淀区住房和城乡建设委员会"
    res = plan.clocks["resolution"]
    assert res.limit == "15 个工作日"
    # 10.8, 10.9, 10.10 (调休), 10.12–10.16, 10.19–10.23, 10.26, 10.27
    assert res.due_at == datetime(2026, 10, 27, 18, 0, tzinfo=SH)
    assert plan.clocks["first_contact"].limit == "24 小时"


def test_plan_reports_calendar_gap(engine: RulesEngine) -> None:
    plan = engine.plan(case("ZF02", "haidian", received_at=datetime(2026, 12, 30, 10, 0, tzinfo=SH)))
    assert plan.calendar_gaps == [2027]
    plan = engine.plan(case("ZF02", "haidian", received_at=datetime(2026, 12, 1, 10, 0, tzinfo=SH)))
    assert plan.calendar_gaps == []


def test_plan_street_not_needed_where_district_lists_none(engine: RulesEngine) -> None:
    plan = engine.plan(case("JTGL01", "fengtai", "某某街道"))
    assert plan.lead_department == "fengtai-jtzd"


@pytest.mark.parametrize(
    ("category", "district", "street", "match"),
    [
        ("XX99", "xicheng", None, "category"),
        ("CXJS", "xicheng", None, "category"),  # a 大类 is not dispatched
        ("CXJS01", "shanghai", None, "district"),
        ("CXJS01", "xicheng", "三里屯街道", "street"),
        ("CXJS01", "xicheng", "不存在街道", "street"),
    ],
)
def test_unknown_references(engine: RulesEngine, category: str, district: str, street: str | None, match: str) -> None:
    with pytest.raises(UnknownReference, match=match):
        engine.check_place(category, district, street)
    with pytest.raises(UnknownReference):
        engine.plan(case(category, district, street))


def test_unknown_reference_is_a_value_error() -> None:
    assert issubclass(UnknownReference, ValueError)


# --- templates ----------------------------------------------------------------------------------------------------


def test_cn_datetime() -> None:
    assert templates.cn_datetime("2026-11-28T10:00:00+00:00") == "2026年11月28日 18:00"
    assert templates.cn_datetime("2026-11-28T10:00:00Z") == "2026年11月28日 18:00"
    assert templates.cn_datetime(datetime(2026, 2, 28, 10, 0, tzinfo=UTC)) == "2026年2月28日 18:00"
    assert templates.cn_datetime(None) == "—"
    assert templates.cn_datetime("") == "—"


def test_render_acceptance(engine: RulesEngine) -> None:
    text = engine.render("acceptance", templates.SAMPLE_CONTEXT)
    assert text.startswith("【12345】您好，您反映的违法建设问题已受理，工单编号2026112100000001。")
    assert "西城区城市管理综合行政执法局" in text
    assert "2026年11月22日 10:00前与您联系" in text
    assert "预计2026年11月28日 18:00前答复" in text
    assert "K7Q2M9XR4T" in text


def test_render_rehandle_default_note(engine: RulesEngine) -> None:
    ctx = {k: v for k, v in templates.SAMPLE_CONTEXT.items() if k != "review_note"}
    assert engine.render("rehandle", ctx).endswith("回访意见：无")
    assert engine.render("rehandle", templates.SAMPLE_CONTEXT).endswith("回访意见：问题依旧存在")


def test_render_missing_variable_raises(engine: RulesEngine) -> None:
    ctx = {k: v for k, v in templates.SAMPLE_CONTEXT.items() if k != "case_no"}
    with pytest.raises(TemplateError):
        engine.render("result", ctx)


def test_template_error() -> None:
    assert templates.template_error("{{ case_no }}") is None
    err = templates.template_error("{{ complainant_phone }}")
    assert err is not None and "complainant_phone" in err
    assert templates.template_error("{{ case_no ") is not None
    assert templates.template_error("{{ ''.__class__.__mro__ }}") is not None  # sandboxed


def test_shipped_templates_have_no_errors(engine: RulesEngine) -> None:
    assert engine.template_errors() == []


# --- invalid documents --------------------------------------------------------------------------------------------


def test_yaml_syntax_error() -> None:
    errors = errors_of(TEXT.replace("title: 12345", "title: [12345", 1))
    assert len(errors) == 1
    path, message = errors[0]
    assert path == "$"
    assert "not valid YAML" in message
    assert "line 4" in message


def test_document_not_a_mapping() -> None:
    assert errors_of("- a\n- b\n") == [("$", "the document must be a mapping")]


def test_route_to_unknown_department() -> None:
    def change(d: dict) -> None:
        d["routes"][6]["lead"] = "bj-nowhere"  # JTGL03

    errors = errors_of(modified(change))
    assert paths(errors) == {"routes.6.lead"}
    assert all("bj-nowhere" in m for _, m in errors)


def test_route_candidate_to_unknown_department() -> None:
    def change(d: dict) -> None:
        d["routes"][12]["candidates"] = ["bj-swj", "bj-nowhere"]  # GGFW01

    assert paths(errors_of(modified(change))) == {"routes.12.candidates.1"}


def test_route_to_department_missing_in_one_district() -> None:
    def change(d: dict) -> None:
        d["routes"].append({"category": "CXJS02", "district": "haidian", "lead": "{district}-shichahai"})

    errors = errors_of(modified(change))
    assert paths(errors) == {"routes.15.lead"}
    assert any("haidian-shichahai" in m for _, m in errors)


def test_route_with_misspelt_placeholder_is_a_rules_error() -> None:
    """A typo in a {district} placeholder must be reported as RulesError, not crash with KeyError."""

    def change(d: dict) -> None:
        d["routes"][0]["lead"] = "{distrcit}-cgzf"

    errors = errors_of(modified(change))
    assert "routes.0.lead" in paths(errors)


def test_route_to_unknown_category_and_district() -> None:
    def change(d: dict) -> None:
        d["routes"].append({"category": "XX99", "lead": "bj-jtw"})
        d["routes"].append({"category": "GGFW02", "district": "shanghai", "lead": "bj-jtw"})

    errors = errors_of(modified(change))
    assert ("routes.15.category", "unknown category 'XX99'") in errors
    assert ("routes.16.district", "unknown district 'shanghai'") in errors


def test_unknown_department_parent() -> None:
    def change(d: dict) -> None:
        d["departments"][6]["parent"] = "bj-nowhere"  # bj-zls

    assert errors_of(modified(change)) == [("departments.6.parent", "unknown department 'bj-nowhere'")]


def test_category_without_route() -> None:
    def change(d: dict) -> None:
        d["routes"] = [r for r in d["routes"] if r["category"] != "GGFW01"]

    assert errors_of(modified(change)) == [("categories.5.children.0",
                                           "category 'GGFW01' has no route for district 'dongcheng'")]


def test_new_category_without_route() -> None:
    def change(d: dict) -> None:
        d["categories"].append({"code": "QT", "name": "其他", "children": [{"code": "QT01", "name": "其他诉求"}]})

    assert errors_of(modified(change)) == [("categories.6.children.0",
                                           "category 'QT01' has no route for district 'dongcheng'")]


def test_category_with_route_in_one_district_only() -> None:
    def change(d: dict) -> None:
        d["categories"].append({"code": "QT", "name": "其他", "children": [{"code": "QT01", "name": "其他诉求"}]})
        d["routes"].append({"category": "QT01", "district": "dongcheng", "lead": "dongcheng-gov"})

    assert errors_of(modified(change)) == [("categories.6.children.0",
                                           "category 'QT01' has no route for district 'xicheng'")]


def test_template_with_undefined_variable() -> None:
    def change(d: dict) -> None:
        d["templates"]["acceptance"] += "诉求人：{{ complainant_name }}"

    errors = errors_of(modified(change))
    assert paths(errors) == {"templates.acceptance"}
    assert "complainant_name" in errors[0][1]


def test_optional_template_with_undefined_variable() -> None:
    def change(d: dict) -> None:
        d["templates"]["progress"] = "{{ case_no }} {{ stage }}"

    errors = errors_of(modified(change))
    assert paths(errors) == {"templates.progress"}
    assert "stage" in errors[0][1]


def test_template_syntax_error() -> None:
    def change(d: dict) -> None:
        d["templates"]["result"] = "{{ case_no "

    assert paths(errors_of(modified(change))) == {"templates.result"}


@pytest.mark.parametrize("name", ["acceptance", "result"])
def test_missing_required_template(name: str) -> None:
    def change(d: dict) -> None:
        del d["templates"][name]

    assert errors_of(modified(change)) == [(f"templates.{name}", "required template is missing")]


def test_limit_with_hours_and_working_days() -> None:
    def change(d: dict) -> None:
        d["clocks"]["sign_for"] = {"hours": 2, "working_days": 1}

    errors = errors_of(modified(change))
    assert paths(errors) == {"clocks.sign_for"}
    assert "exactly one of minutes, hours, working_hours or working_days" in errors[0][1]


def test_resolution_limit_with_hours_and_working_days() -> None:
    def change(d: dict) -> None:
        d["clocks"]["resolution"]["一般"] = {"hours": 2, "working_days": 5}

    assert paths(errors_of(modified(change))) == {"clocks.resolution.一般"}


def test_limit_with_neither_and_non_positive() -> None:
    def change(d: dict) -> None:
        d["clocks"]["review"] = {}
        d["clocks"]["first_contact"] = {"hours": 0}

    assert paths(errors_of(modified(change))) == {"clocks.review", "clocks.first_contact.hours"}


def test_missing_resolution_urgency() -> None:
    def change(d: dict) -> None:
        del d["clocks"]["resolution"]["复杂"]

    errors = errors_of(modified(change))
    assert paths(errors) == {"clocks"}
    assert "复杂" in errors[0][1]


def test_schema_errors_have_dotted_paths() -> None:
    def change(d: dict) -> None:
        d["version"] = "bad version!"
        d["workday_end_hour"] = 25
        d["departments"][0]["level"] = "省"

    assert paths(errors_of(modified(change))) == {"version", "workday_end_hour", "departments.0.level"}


def test_limit_model() -> None:
    with pytest.raises(ValueError):
        Limit(hours=1, working_days=1)
    with pytest.raises(ValueError):
        Limit()
    assert Limit(hours=24).label() == "24 小时"
    assert Limit(working_days=5).label() == "5 个工作日"


def test_rules_error_message_lists_paths() -> None:
    err = RulesError([("a.b", "x"), ("c", "y")])
    assert str(err) == "a.b: x; c: y"
    assert isinstance(err, ValueError)


def test_calendar_overrides_from_yaml_are_used() -> None:
    def change(d: dict) -> None:
        d["calendar"] = {"holidays": ["2026-10-08"], "workdays": [], "years": []}
        d["workday_end_hour"] = 24

    eng = RulesEngine(parse_rules(modified(change)))
    plan = eng.plan(case("CXJS01", "haidian"))
    # 10.8 declared a holiday: 10.9 (1), 10.10 (2), 10.12 (3), 10.13 (4), 10.14 (5); end hour 24 → 10.15 00:00
    assert plan.clocks["resolution"].due_at == datetime(2026, 10, 15, 0, 0, tzinfo=SH)
