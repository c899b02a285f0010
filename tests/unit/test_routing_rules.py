"""Rules 2026.2: routing table (派单目录), dispatch levels, urgency assessment, special groups, screening."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import yaml

import rules
from core.contracts import CaseInput, CaseKind, Channel, Urgency
from rules.checks import min_level
from rules.engine import Dispatch, RulesEngine
from rules.errors import LevelProhibited, UnknownReference
from rules.parse import parse_rules
from rules.schema import RulesError

SH = ZoneInfo("Asia/Shanghai")
TEXT = (Path(rules.__file__).parent / "versions" / "2026.2.yaml").read_text(encoding="utf-8")
ENGINE = RulesEngine(parse_rules(TEXT))

# Monday 2 November 2026, 10:00 Beijing: no holiday within the following weeks
MONDAY = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
# Wednesday 30 September 2026, 10:00 Beijing: the last working day before the National Day holiday
BEFORE_NATIONAL_DAY = datetime(2026, 9, 30, 10, 0, tzinfo=SH)


def modified(change: Callable[[dict], object]) -> str:
    """The shipped 2026.2 document with one change applied, as YAML text."""
    doc = yaml.safe_load(TEXT)
    change(doc)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def engine_of(change: Callable[[dict], object]) -> RulesEngine:
    return RulesEngine(parse_rules(modified(change)))


def errors_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(RulesError) as info:
        parse_rules(text)
    assert info.value.errors, "RulesError without errors"
    return info.value.errors


def case(
    category: str,
    district: str = "haidian",
    street: str | None = None,
    urgency: Urgency | None = None,
    received_at: datetime = MONDAY,
) -> CaseInput:
    return CaseInput(
        case_no="2026110200000001",
        kind=CaseKind.COMPLAINT,
        channel=Channel.HOTLINE,
        category=category,
        district=district,
        street=street,
        urgency=urgency,
        received_at=received_at,
        rules_version="2026.2",
    )


def test_engine_is_2026_2() -> None:
    assert ENGINE.version == "2026.2"


# --- district / street overrides ----------------------------------------------------------------------------------


def test_street_route_in_chaoyang_sanlitun() -> None:
    assert ENGINE.route("HJBH02", "chaoyang", "三里屯街道") == Dispatch("chaoyang-sanlitun", ("chaoyang-cgzf",))


@pytest.mark.parametrize("street", [None, "望京街道", "建外街道", "双井街道"])
def test_elsewhere_in_chaoyang_uses_the_leaf_route(street: str | None) -> None:
    assert ENGINE.route("HJBH02", "chaoyang", street) == Dispatch("chaoyang-cgzf", ("chaoyang-sthj",))


def test_street_route_needs_its_district() -> None:
    # a street of the same name given with another district does not match the chaoyang street route
    assert ENGINE.route("HJBH02", "haidian", "三里屯街道") == Dispatch("haidian-cgzf", ("haidian-sthj",))


def test_plan_uses_the_street_route() -> None:
    plan = ENGINE.plan(case("HJBH02", "chaoyang", "三里屯街道"))
    assert plan.lead_department == "chaoyang-sanlitun"
    assert plan.lead_department_name == "朝阳区三里屯街道办事处"
    assert plan.candidates == ["chaoyang-cgzf"]


def test_district_route_beats_the_any_district_route_for_that_district_only() -> None:
    def change(d: dict) -> None:
        d["routes"].append({"category": "HJBH02", "district": "haidian", "lead": "haidian-sthj",
                            "candidates": ["bj-sthjj"]})

    eng = engine_of(change)
    assert eng.route("HJBH02", "haidian", None) == Dispatch("haidian-sthj", ("bj-sthjj",))
    assert eng.route("HJBH02", "haidian", "中关村街道") == Dispatch("haidian-sthj", ("bj-sthjj",))
    # other districts keep the "*" route
    assert eng.route("HJBH02", "xicheng", None) == Dispatch("xicheng-cgzf", ("xicheng-sthj",))
    assert eng.route("HJBH02", "chaoyang", "望京街道") == Dispatch("chaoyang-cgzf", ("chaoyang-sthj",))
    # the street route in chaoyang is still the most specific there
    assert eng.route("HJBH02", "chaoyang", "三里屯街道") == Dispatch("chaoyang-sanlitun", ("chaoyang-cgzf",))


# --- candidates and 大类 fallback -----------------------------------------------------------------------------------


def test_route_has_ordered_candidates() -> None:
    assert ENGINE.route("CXJS01", "haidian", None) == Dispatch("haidian-cgzf", ("haidian-zjw",))
    plan = ENGINE.plan(case("CXJS01", "haidian"))
    assert plan.lead_department == "haidian-cgzf"
    assert plan.candidates == ["haidian-zjw"]


def test_candidates_keep_document_order() -> None:
    def change(d: dict) -> None:
        route = next(r for r in d["routes"] if r["category"] == "CXJS01" and "district" not in r)
        route["candidates"] = ["{district}-zjw", "bj-zjw", "{district}-gov"]

    eng = engine_of(change)
    assert eng.route("CXJS01", "fengtai", None) == Dispatch("fengtai-cgzf", ("fengtai-zjw", "bj-zjw", "fengtai-gov"))


def test_route_partners() -> None:
    assert ENGINE.route("CXJS02", "dongcheng", None) == Dispatch("dongcheng-zjw", ("dongcheng-cgzf",),
                                                                 ("dongcheng-sthj",))


@pytest.mark.parametrize(("category", "district"), [("SCGL02", "haidian"), ("SCGL02", "tongzhou"),
                                                     ("SCGL03", "yanqing"), ("SCGL01", "chaoyang")])
def test_leaf_without_own_route_uses_its_major_category_route(category: str, district: str) -> None:
    assert ENGINE.route(category, district, None) == Dispatch(f"{district}-scjg", ("bj-scjgj",))


def test_major_category_route_fills_the_district_name() -> None:
    plan = ENGINE.plan(case("SCGL02", "tongzhou", "北苑街道"))
    assert plan.lead_department == "tongzhou-scjg"
    assert plan.lead_department_name == "通州区市场监督管理局"


def test_screened_category_has_no_route() -> None:
    assert ENGINE.route("FZZN01", "haidian", None) is None


# --- street-level prohibition (min_level) -------------------------------------------------------------------------


def test_department_level_work_may_not_go_to_a_street() -> None:
    with pytest.raises(LevelProhibited, match="SCGL01.*区-level.*街道.*chaoyang-sanlitun"):
        ENGINE.check_level("SCGL01", "chaoyang-sanlitun")


@pytest.mark.parametrize("department", ["chaoyang-scjg", "chaoyang-gov", "bj-scjgj"])
def test_department_level_work_may_go_to_district_and_city(department: str) -> None:
    ENGINE.check_level("SCGL01", department)  # does not raise


@pytest.mark.parametrize(("category", "department"), [("CXJS01", "chaoyang-sanlitun"),
                                                      ("CXJS01", "xicheng-shichahai"),
                                                      ("HJBH02", "chaoyang-sanlitun")])
def test_category_without_min_level_may_go_to_a_street(category: str, department: str) -> None:
    ENGINE.check_level(category, department)  # does not raise


def test_level_prohibited_is_a_value_error() -> None:
    assert issubclass(LevelProhibited, ValueError)


@pytest.mark.parametrize("category", ["SCGL", "SCGL01", "SCGL02", "SCGL03"])
def test_children_inherit_min_level_of_their_major_category(category: str) -> None:
    assert min_level(ENGINE.rules, category) == "区"


@pytest.mark.parametrize("category", ["SCGL02", "SCGL03"])
def test_inherited_min_level_prohibits_streets(category: str) -> None:
    with pytest.raises(LevelProhibited):
        ENGINE.check_level(category, "xicheng-shichahai")


@pytest.mark.parametrize("category", ["CXJS", "CXJS01", "HJBH02", "GGFW03"])
def test_no_min_level(category: str) -> None:
    assert min_level(ENGINE.rules, category) is None


def _add_scgl01_route(**fields: object) -> Callable[[dict], None]:
    def change(d: dict) -> None:
        d["routes"].append({"category": "SCGL01", "district": "chaoyang", **fields})

    return change


def _index_of_new_route() -> int:
    return len(yaml.safe_load(TEXT)["routes"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"lead": "chaoyang-sanlitun"}, "lead"),
        ({"lead": "chaoyang-scjg", "candidates": ["chaoyang-sanlitun"]}, "candidates.0"),
    ],
)
def test_rules_routing_department_level_work_to_a_street_fail(fields: dict, field: str) -> None:
    errors = errors_of(modified(_add_scgl01_route(**fields)))
    path = f"routes.{_index_of_new_route()}.{field}"
    assert [p for p, _ in errors] == [path]
    message = errors[0][1]
    assert "区-level" in message
    assert "街道" in message
    assert "chaoyang-sanlitun" in message


def test_street_route_to_a_major_category_with_min_level_fails() -> None:
    def change(d: dict) -> None:
        d["routes"].append({"category": "SCGL", "district": "chaoyang", "street": "三里屯街道",
                            "lead": "chaoyang-sanlitun"})

    errors = errors_of(modified(change))
    assert [p for p, _ in errors] == [f"routes.{_index_of_new_route()}.lead"]


def test_min_level_set_on_a_major_category_applies_to_routes_of_its_leaves() -> None:
    def change(d: dict) -> None:
        next(c for c in d["categories"] if c["code"] == "HJBH")["min_level"] = "区"

    # the shipped street route of HJBH02 (chaoyang 三里屯街道 → chaoyang-sanlitun) becomes invalid
    index = next(i for i, r in enumerate(yaml.safe_load(TEXT)["routes"])
                 if r["category"] == "HJBH02" and r.get("street") == "三里屯街道")
    errors = errors_of(modified(change))
    assert [p for p, _ in errors] == [f"routes.{index}.lead"]
    assert "HJBH02" in errors[0][1]


def test_child_min_level_cannot_loosen_its_major_category() -> None:
    # rules/checks.py min_level: "The highest min_level on the way from the 大类 down to ``category``" — a 大类
    # marked 市-level work stays 市-level in a child that says 区.
    def change(d: dict) -> None:
        scgl = next(c for c in d["categories"] if c["code"] == "SCGL")
        scgl["min_level"] = "市"
        scgl["children"][0]["min_level"] = "区"  # SCGL01
        next(r for r in d["routes"] if r["category"] == "SCGL").update(lead="bj-scjgj", candidates=[])

    eng = engine_of(change)
    assert min_level(eng.rules, "SCGL02") == "市"
    assert min_level(eng.rules, "SCGL01") == "市"
    with pytest.raises(LevelProhibited):
        eng.check_level("SCGL01", "chaoyang-scjg")


# --- emergency keywords -------------------------------------------------------------------------------------------


def test_national_day_2026_calendar_premise() -> None:
    # State Council 2026: 国庆 10.1–10.7 off; 10.8 and 10.9 are working days, Saturday 10.10 is a 调休 working day
    assert all(not chinese_calendar.is_workday(date(2026, 10, day)) for day in range(1, 8))
    assert chinese_calendar.is_workday(date(2026, 9, 30))
    assert chinese_calendar.is_workday(date(2026, 10, 8))
    assert chinese_calendar.is_workday(date(2026, 10, 9))
    assert chinese_calendar.is_workday(date(2026, 10, 10))
    assert not chinese_calendar.is_workday(date(2026, 10, 11))


def test_gas_leak_keyword_makes_a_water_case_urgent() -> None:
    assessed = ENGINE.assess("GGFW01", "停水后闻到楼道里燃气泄漏", [], None)
    assert assessed.urgency is Urgency.URGENT
    assert assessed.reason is not None and "燃气泄漏" in assessed.reason
    assert assessed.screening is None


def test_plan_with_gas_leak_keyword() -> None:
    plan = ENGINE.plan(case("GGFW01", "haidian", received_at=BEFORE_NATIONAL_DAY), text="楼里燃气泄漏，水也停了")
    assert plan.urgency is Urgency.URGENT
    assert plan.urgency_reason is not None and "燃气泄漏" in plan.urgency_reason
    assert plan.lead_department == "bj-zls"
    assert plan.clocks["first_contact"].limit == "1 小时"
    # received 9.30 10:00 → 1 hour
    assert plan.clocks["first_contact"].due_at == datetime(2026, 9, 30, 11, 0, tzinfo=SH)
    assert plan.clocks["resolution"].limit == "1 个工作日"
    # 1 working day after 9.30: 10.1–10.7 holiday, 10.8 (Thu) is the first working day → 10.8 18:00
    assert plan.clocks["resolution"].due_at == datetime(2026, 10, 8, 18, 0, tzinfo=SH)


def test_plan_with_gas_leak_keyword_on_an_ordinary_monday() -> None:
    plan = ENGINE.plan(case("GGFW01", "haidian"), text="燃气泄漏")
    # received Mon 11.2 10:00: contact by 11:00, resolution at the end of Tue 11.3
    assert plan.clocks["first_contact"].due_at == MONDAY + timedelta(hours=1)
    assert plan.clocks["resolution"].due_at == datetime(2026, 11, 3, 18, 0, tzinfo=SH)


@pytest.mark.parametrize("requested", [Urgency.NORMAL, Urgency.COMPLEX])
def test_life_safety_keyword_beats_the_requested_urgency(requested: Urgency) -> None:
    assessed = ENGINE.assess("GGFW01", "燃气泄漏", [], requested)
    assert assessed.urgency is Urgency.URGENT
    plan = ENGINE.plan(case("GGFW01", "haidian", urgency=requested), text="燃气泄漏")
    assert plan.urgency is Urgency.URGENT
    assert plan.clocks["first_contact"].due_at == MONDAY + timedelta(hours=1)


@pytest.mark.parametrize("word", ["煤气泄漏", "燃气味", "井盖缺失", "电线脱落", "树木倒伏"])
def test_every_shipped_urgency_keyword(word: str) -> None:
    assessed = ENGINE.assess("JTGL03", f"路口{word}，很危险", [], None)
    assert assessed.urgency is Urgency.URGENT
    assert assessed.reason is not None and word in assessed.reason


def test_text_without_keywords_stays_normal() -> None:
    plan = ENGINE.plan(case("GGFW01", "haidian", received_at=BEFORE_NATIONAL_DAY), text="小区停水三天了")
    assert plan.urgency is Urgency.NORMAL
    assert plan.urgency_reason is None
    assert plan.clocks["first_contact"].limit == "24 小时"
    assert plan.clocks["first_contact"].due_at == datetime(2026, 10, 1, 10, 0, tzinfo=SH)
    assert plan.clocks["resolution"].limit == "5 个工作日"
    # 5 working days after 9.30: 10.8, 10.9, 10.10 (Saturday, 调休 working day), 10.12, 10.13 → 10.13 18:00
    assert plan.clocks["resolution"].due_at == datetime(2026, 10, 13, 18, 0, tzinfo=SH)


def test_requested_urgency_is_kept_without_keywords() -> None:
    assert ENGINE.assess("GGFW01", "停水", [], Urgency.COMPLEX).urgency is Urgency.COMPLEX
    assert ENGINE.assess("GGFW03", "燃气表走字快", [], None).urgency is Urgency.URGENT  # category default


def _pipe_burst_rule(categories: list[str]) -> Callable[[dict], None]:
    def change(d: dict) -> None:
        d["urgency"]["keywords"].append({"keywords": ["水管爆裂"], "urgency": "紧急", "categories": categories})

    return change


@pytest.mark.parametrize(("categories", "category", "urgency"), [
    (["GGFW01"], "GGFW01", Urgency.URGENT),
    (["GGFW01"], "GGFW02", Urgency.NORMAL),
    (["GGFW01"], "CXJS03", Urgency.NORMAL),
    (["GGFW"], "GGFW02", Urgency.URGENT),  # a 大类 code covers its leaves
    (["GGFW"], "ZF01", Urgency.NORMAL),
    ([], "ZF01", Urgency.URGENT),  # no categories: every category
])
def test_keyword_rule_limited_to_categories(categories: list[str], category: str, urgency: Urgency) -> None:
    eng = engine_of(_pipe_burst_rule(categories))
    assessed = eng.assess(category, "楼上水管爆裂，家里被淹", [], None)
    assert assessed.urgency is urgency
    assert (assessed.reason is not None) is (urgency is Urgency.URGENT)


# --- special groups (绿色通道) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("category", "default"), [("CXJS01", Urgency.NORMAL), ("ZF02", Urgency.COMPLEX)])
def test_elderly_raise_priority_only(category: str, default: Urgency) -> None:
    assessed = ENGINE.assess(category, "", ["elderly"], None)
    assert assessed.priority == 1
    assert assessed.urgency is default
    assert assessed.reason is None


def test_elderly_living_alone_are_urgent() -> None:
    assessed = ENGINE.assess("CXJS03", "", ["elderly_alone"], None)
    assert assessed.priority == 2
    assert assessed.urgency is Urgency.URGENT
    assert assessed.reason is not None and "独居老人" in assessed.reason
    plan = ENGINE.plan(case("CXJS03", "haidian", urgency=Urgency.NORMAL), groups=["elderly_alone"])
    assert plan.priority == 2
    assert plan.urgency is Urgency.URGENT
    assert plan.clocks["first_contact"].due_at == MONDAY + timedelta(hours=1)
    assert plan.clocks["resolution"].due_at == datetime(2026, 11, 3, 18, 0, tzinfo=SH)


def test_highest_priority_of_several_groups() -> None:
    assessed = ENGINE.assess("CXJS01", "", ["disabled", "elderly_alone", "elderly"], None)
    assert assessed.priority == 2
    assert assessed.urgency is Urgency.URGENT


@pytest.mark.parametrize(("groups", "priority"), [(["martian"], 0), (["martian", "disabled"], 1), ([], 0)])
def test_unknown_groups_are_ignored(groups: list[str], priority: int) -> None:
    assessed = ENGINE.assess("CXJS01", "", groups, None)
    assert assessed.priority == priority
    assert assessed.urgency is Urgency.NORMAL
    plan = ENGINE.plan(case("CXJS01", "haidian"), groups=groups)
    assert plan.priority == priority


def test_plan_without_groups_has_priority_zero() -> None:
    assert ENGINE.plan(case("CXJS01", "haidian")).priority == 0


# --- screening (甄别) ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "code", "target", "matched"), [
    ("楼下饭馆着火了", "EMERGENCY_119", "119", "着火"),
    ("小区门口有人打架", "EMERGENCY_110", "110", "打架"),
    ("有老人晕倒在路边", "EMERGENCY_120", "120", "晕倒"),
    ("路口两车追尾", "EMERGENCY_122", "122", "追尾"),
])
def test_emergency_transfer(text: str, code: str, target: str, matched: str) -> None:
    plan = ENGINE.plan(case("CXJS01", "haidian"), text=text)
    assert plan.screening is not None
    assert plan.screening.action == "transfer"
    assert plan.screening.code == code
    assert plan.screening.target == target
    assert plan.screening.matched == matched
    assert target in plan.screening.reply
    # a proposal: the screening clock (30 minutes) and the clocks the case gets if the proposal is overruled
    assert plan.clocks["screening"].due_at - plan.clocks["screening"].started_at == timedelta(minutes=30)
    assert plan.clocks["screening"].reminders == [] and "resolution" in plan.clocks


def test_legal_channel() -> None:
    plan = ENGINE.plan(case("ZF03", "chaoyang"), text="房东不退押金，我想起诉他")
    assert plan.screening is not None
    assert plan.screening.action == "legal_channel"
    assert plan.screening.code == "LEGAL_CHANNEL"
    assert plan.screening.target is None
    assert plan.screening.matched == "起诉"
    assert set(plan.clocks) >= {"screening", "sign_for", "resolution"}


def test_not_accepted_category_plans_without_a_route() -> None:
    plan = ENGINE.plan(case("FZZN01", "haidian"), text="合伙人欠钱不还")
    assert plan.screening is not None
    assert plan.screening.action == "not_accepted"
    assert plan.screening.code == "NOT_OUR_FUNCTION"
    assert plan.screening.matched == "FZZN"  # matched by its 大类
    assert "screening" in plan.clocks
    assert plan.lead_department == ""
    assert plan.candidates == []


def test_first_matching_rule_wins_in_document_order() -> None:
    text = "先是有人打架，后来着火了"  # the 110 keyword comes first in the text, the 119 rule first in the rules
    screening = ENGINE.screen("CXJS01", text)
    assert screening is not None and screening.code == "EMERGENCY_119"

    def swap(d: dict) -> None:
        d["screening"][0], d["screening"][1] = d["screening"][1], d["screening"][0]

    screening = engine_of(swap).screen("CXJS01", text)
    assert screening is not None and screening.code == "EMERGENCY_110"


def test_category_rule_and_keyword_rule_order() -> None:
    # FZZN01 with a fire: the 119 keyword rule comes before the category rule
    screening = ENGINE.screen("FZZN01", "仓库着火")
    assert screening is not None and screening.code == "EMERGENCY_119"


@pytest.mark.parametrize("text", ["", "小区停水三天了", "燃气泄漏"])
def test_no_screening_without_keywords(text: str) -> None:
    assert ENGINE.screen("GGFW01", text) is None
    plan = ENGINE.plan(case("GGFW01", "haidian"), text=text)
    assert plan.screening is None
    assert set(plan.clocks) == {"sign_for", "first_contact", "resolution"}


def test_screening_in_assessment() -> None:
    assessed = ENGINE.assess("CXJS01", "违建着火了", [], None)
    assert assessed.screening is not None
    assert assessed.screening.target == "119"


# --- dispatch ----------------------------------------------------------------------------------------------------


def test_dispatch_to_gives_sign_for_clock_and_return_window() -> None:
    at = MONDAY
    plan = ENGINE.dispatch_to("haidian-cgzf", at)
    assert plan.department == "haidian-cgzf"
    assert plan.department_name == "海淀区城市管理综合行政执法局"
    assert plan.sign_for.name == "sign_for"
    assert plan.sign_for.label == "签收"
    assert plan.sign_for.limit == "2 小时"
    assert plan.sign_for.started_at == at
    assert plan.sign_for.due_at == at + timedelta(hours=2)
    assert [r.threshold for r in plan.sign_for.reminders] == [0.5, 0.75, 0.9]
    assert plan.sign_for.reminders[0].at == at + timedelta(hours=1)
    # return window: 2 office hours → 12:00 the same day
    assert plan.return_due == datetime(2026, 11, 2, 12, 0, tzinfo=SH)


def test_dispatch_late_on_friday() -> None:
    at = datetime(2026, 11, 6, 17, 0, tzinfo=SH)  # Friday
    plan = ENGINE.dispatch_to("bj-jtw", at)
    assert plan.sign_for.due_at == datetime(2026, 11, 6, 19, 0, tzinfo=SH)  # natural hours
    # 2 office hours: Fri 17:00–18:00, then Mon 11.9 09:00–10:00
    assert plan.return_due == datetime(2026, 11, 9, 10, 0, tzinfo=SH)


def test_dispatch_to_unknown_department() -> None:
    with pytest.raises(UnknownReference, match="bj-nowhere"):
        ENGINE.dispatch_to("bj-nowhere", MONDAY)
