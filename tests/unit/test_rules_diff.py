"""Rules diff: keyed lists, dotted paths, ordering, unified diffs of templates, the text report."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import rules
from rules.diff import Change, diff_documents, diff_yaml, render_text, summary

TEXT = (Path(rules.__file__).parent / "versions" / "2026.1.yaml").read_text(encoding="utf-8")
DOC: dict[str, Any] = yaml.safe_load(TEXT)


def modified() -> dict[str, Any]:
    """A deep copy of the shipped document, as the next version."""
    doc = copy.deepcopy(DOC)
    doc["version"] = "2026.2"
    return doc


def route(doc: dict[str, Any], category: str, district: str | None = None) -> dict[str, Any]:
    """The route of `category` in `district` (None: the catch-all route)."""
    return next(r for r in doc["routes"] if r["category"] == category and r.get("district") == district)


def test_identical_documents_have_no_changes() -> None:
    assert diff_yaml(TEXT, TEXT) == []
    assert diff_documents(DOC, modified()) == []  # the version is ignored


def test_shortened_resolution_limit_is_one_change() -> None:
    changes = diff_yaml(TEXT, TEXT.replace("一般: {working_days: 5}", "一般: {working_days: 3}"))
    assert changes == [Change("clocks", "clocks.resolution.一般.working_days", "changed", 5, 3)]


def test_new_route_is_one_added_change() -> None:
    new = modified()
    added = {"category": "JTGL01", "district": "haidian", "lead": "haidian-jtzd", "candidates": ["bj-jgj"]}
    new["routes"].insert(5, added)
    assert diff_documents(DOC, new) == [Change("routes", "routes[JTGL01 @ haidian]", "added", None, added)]


def test_removed_department_is_one_removed_change() -> None:
    new = modified()
    zls = next(d for d in new["departments"] if d["code"] == "bj-zls")
    new["departments"].remove(zls)
    assert diff_documents(DOC, new) == [Change("departments", "departments[bj-zls]", "removed", zls, None)]


def test_changed_route_lead_is_a_leaf_change() -> None:
    new = modified()
    route(new, "HJBH02", "chaoyang")["lead"] = "chaoyang-cgzf"
    route(new, "CXJS01")["candidates"] = ["{district}-zjw", "{district}-gov"]
    assert diff_documents(DOC, new) == [
        Change(
            "routes", "routes[CXJS01 @ *].candidates", "changed", ["{district}-zjw"], new["routes"][0]["candidates"]
        ),
        Change("routes", "routes[HJBH02 @ chaoyang/三里屯街道].lead", "changed", "chaoyang-sanlitun", "chaoyang-cgzf"),
    ]


def test_reordered_routes_have_no_changes() -> None:
    new = modified()
    new["routes"].reverse()
    new["departments"].reverse()
    assert diff_documents(DOC, new) == []


def test_changed_template_has_a_unified_diff() -> None:
    new_text = TEXT.replace("如有疑问请拨打12345。", "如有疑问请拨打12345热线。")
    (change,) = diff_yaml(TEXT, new_text)
    assert (change.section, change.path, change.kind) == ("templates", "templates.result", "changed")
    assert change.old == DOC["templates"]["result"]
    assert change.text_diff is not None
    assert "-如有疑问请拨打12345。感谢您对首都发展的关心与支持。" in change.text_diff.splitlines()
    assert "+如有疑问请拨打12345热线。感谢您对首都发展的关心与支持。" in change.text_diff.splitlines()
    assert " 办理结果：{{ reply }}" in change.text_diff.splitlines()  # context line


def test_short_scalar_change_has_no_text_diff() -> None:
    new = modified()
    new["title"] = "12345接诉即办办理规则（第二版）"
    new["repeat"]["auto_merge"] = True
    assert diff_documents(DOC, new) == [
        Change("title", "title", "changed", DOC["title"], new["title"]),
        Change("repeat", "repeat.auto_merge", "changed", False, True),
    ]


def test_nested_keyed_children() -> None:
    new = modified()
    cxjs = new["categories"][0]
    cxjs["children"].append({"code": "CXJS04", "name": "占道经营", "urgency": "一般"})
    cxjs["children"][1]["name"] = "夜间施工扰民"
    assert diff_documents(DOC, new) == [
        Change("categories", "categories[CXJS].children[CXJS02].name", "changed", "施工扰民", "夜间施工扰民"),
        Change("categories", "categories[CXJS].children[CXJS04]", "added", None, cxjs["children"][3]),
    ]


def test_new_and_removed_sections() -> None:
    new = modified()
    del new["retention"]
    new["screening"] = [{"code": "EMERGENCY_119", "action": "refer", "categories": ["GGFW03"]}]
    new["urgency"] = {"keywords": [{"keywords": ["燃气泄漏", "煤气"], "urgency": "紧急"}], "special_groups": {}}
    changes = diff_documents(DOC, new)
    assert [(c.section, c.path, c.kind) for c in changes] == [
        ("screening", "screening[EMERGENCY_119]", "added"),
        ("urgency", "urgency.keywords[0]", "added"),
        ("urgency", "urgency.special_groups", "added"),
        ("retention", "retention.default_years", "removed"),
        ("retention", "retention.by_category.SCGL01", "removed"),
        ("retention", "retention.by_outcome.terminated", "removed"),
        ("retention", "retention.by_outcome.merged", "removed"),
    ]
    assert changes[0].new == new["screening"][0]
    assert summary(changes) == {"screening": 1, "urgency": 2, "retention": 4}


def test_index_keyed_items_and_scalar_lists() -> None:
    keywords = [{"keywords": ["燃气"], "urgency": "紧急"}, {"keywords": ["停水"], "urgency": "一般"}]
    old: dict[str, Any] = {"urgency": {"keywords": keywords}}
    new = copy.deepcopy(old)
    new["urgency"]["keywords"][0]["keywords"].append("煤气")
    del new["urgency"]["keywords"][1]
    assert diff_documents(old, new) == [
        Change("urgency", "urgency.keywords[0].keywords", "changed", ["燃气"], ["燃气", "煤气"]),
        Change("urgency", "urgency.keywords[1]", "removed", {"keywords": ["停水"], "urgency": "一般"}, None),
    ]


def test_empty_list_filled_with_items_and_dates() -> None:
    old: dict[str, Any] = {"calendar": {"holidays": [], "extra": []}}
    new_text = "calendar:\n  holidays: [2026-10-08]\n  extra: [{day: 2026-10-09, name: 调休}]\n"
    assert diff_yaml(yaml.safe_dump(old), new_text) == [
        Change("calendar", "calendar.holidays", "changed", [], ["2026-10-08"]),
        Change("calendar", "calendar.extra[0]", "added", None, {"day": "2026-10-09", "name": "调休"}),
    ]


def test_removed_leaf_keeps_its_place_in_document_order() -> None:
    new = modified()
    del new["clocks"]["review"]
    new["clocks"]["max_rounds"] = 3
    assert [(c.path, c.kind) for c in diff_documents(DOC, new)] == [
        ("clocks.review.working_days", "removed"),  # mappings are flattened to their leaves
        ("clocks.max_rounds", "changed"),
    ]


def test_summary_counts_per_section() -> None:
    new = modified()
    new["clocks"]["sign_for"] = {"hours": 1}
    new["clocks"]["thresholds"] = [0.5, 0.8]
    new["departments"].pop()
    new["templates"]["acceptance"] += "\n退订回T"
    assert summary(diff_documents(DOC, new)) == {"departments": 1, "clocks": 2, "templates": 1}
    assert summary([]) == {}


def test_render_text() -> None:
    new = modified()
    new["clocks"]["resolution"]["一般"]["working_days"] = 3
    new["routes"].append({"category": "JTGL01", "district": "haidian", "lead": "haidian-jtzd"})
    new["departments"] = [d for d in new["departments"] if d["code"] != "bj-zls"]
    new["templates"]["repeat"] = new["templates"]["repeat"].replace("请关注", "请重点关注")
    text = render_text(diff_documents(DOC, new), "2026.1", "2026.2")
    lines = text.splitlines()
    assert lines[0] == "规则 2026.1 → 2026.2: 4 changes"
    assert "  ~ clocks.resolution.一般.working_days: 5 → 3" in lines
    assert '  + routes[JTGL01 @ haidian]: {"category":"JTGL01","district":"haidian","lead":"haidian-jtzd"}' in lines
    assert any(line.startswith("  - departments[bj-zls]") for line in lines)
    assert "  ~ templates.repeat:" in lines
    assert "      -前序工单{{ repeat_of }}。请关注。" in lines
    assert "      +前序工单{{ repeat_of }}。请重点关注。" in lines
    assert lines.index("clocks (1)") < lines.index("  ~ clocks.resolution.一般.working_days: 5 → 3")


def test_render_truncates_long_values() -> None:
    new = modified()
    new["termination_reasons"]["OTHER"] = "其他" * 200
    (line,) = [line for line in render_text(diff_documents(DOC, new), "a", "b").splitlines() if line.startswith("  +")]
    assert line.endswith("…") and len(line) < 160
    assert render_text([], "a", "b") == "规则 a → b: 0 changes\n"


def test_changes_are_json_able() -> None:
    new = yaml.safe_load(TEXT.replace("  holidays: []", "  holidays: [2026-10-08]"))
    new["departments"].append({"code": "bj-new", "name": "新部门", "level": "市"})
    for change in diff_documents(DOC, new):
        json.dumps([change.old, change.new])


def test_non_mapping_document_is_rejected() -> None:
    with pytest.raises(ValueError, match="mapping"):
        diff_yaml(TEXT, "- just\n- a list\n")
    assert diff_yaml("", "") == []
