"""rules.yamlpos: strict YAML loading (syntax errors, duplicate keys) and dotted path / pydantic loc → line, column."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from rules.yamlpos import YamlProblem, load_strict, locate

DOC = """\
version: "2026.1"
routes:
  - code: A
    lead: dept-a
  - code: B
    lead:   dept-b
  - {code: C, lead: dept-c}
clocks:
  resolution:
    一般: 5
    紧急: 1
"""


def problem(text: str) -> YamlProblem:
    """The YamlProblem load_strict raises for text."""
    with pytest.raises(YamlProblem) as info:
        load_strict(text)
    return info.value


def test_loads_data_and_nodes_from_one_parse() -> None:
    data, root = load_strict(DOC)
    assert data["routes"][1] == {"code": "B", "lead": "dept-b"}
    assert data["clocks"]["resolution"] == {"一般": 5, "紧急": 1}
    assert root is not None


def test_empty_document_is_none_none() -> None:
    assert load_strict("") == (None, None)
    assert load_strict("# only a comment\n") == (None, None)
    assert load_strict("---\n") == (None, None)


def test_non_mapping_document_is_allowed() -> None:
    data, root = load_strict("- 1\n- 2\n")
    assert data == [1, 2]
    assert locate(root, "1") == (2, 3)


def test_bad_indentation_is_a_problem_on_the_offending_line() -> None:
    exc = problem("a:\n  b: 1\n c: 2\n")
    assert (exc.line, exc.column) == (3, 2)
    assert "line 1" in exc.message  # the mapping being parsed
    assert str(exc).startswith("line 3, column 2: ")


def test_unclosed_bracket_is_a_problem_naming_where_it_opened() -> None:
    exc = problem("a: 1\nb: [1, 2\nc: 3\n")
    assert exc.line == 3
    assert "flow sequence at line 2" in exc.message


def test_mapping_value_in_plain_scalar_is_a_problem_at_its_column() -> None:
    exc = problem("a: 1\nb: c: d\n")
    assert (exc.line, exc.column) == (2, 5)


def test_unknown_tag_and_bad_character_are_problems() -> None:
    assert problem("a: !foo 1\n").line == 1
    exc = problem("a: 1\nb: x\x07\n")
    assert (exc.line, exc.column) == (2, 5)


def test_duplicate_top_level_key() -> None:
    exc = problem("version: 1\nroutes: []\nclocks: {}\nroutes: [1]\n")
    assert (exc.line, exc.column) == (4, 1)
    assert exc.message == "duplicate key 'routes' (first at line 2)"


def test_duplicate_key_nested_in_a_list_item() -> None:
    exc = problem("routes:\n  - code: A\n    lead: x\n  - code: B\n    lead: y\n    lead: z\n")
    assert (exc.line, exc.column) == (6, 5)
    assert exc.message == "duplicate key 'lead' (first at line 5)"


def test_duplicate_keys_compare_as_loaded_values() -> None:
    assert problem("1: a\n0x1: b\n").message == "duplicate key '0x1' (first at line 1)"
    data, _ = load_strict("1: a\n'1': b\n")  # int 1 and str '1' are different keys
    assert data == {1: "a", "1": "b"}


def test_the_earliest_duplicate_is_reported() -> None:
    exc = problem("a:\n  x: 1\n  x: 2\nb: 1\nb: 2\n")
    assert exc.line == 3


def test_merge_keys_are_not_duplicates() -> None:
    data, root = load_strict("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n")
    assert data["m"] == {"x": 1, "y": 3}
    assert locate(root, "m.y") == (4, 6)


def test_recursive_alias_does_not_hang() -> None:
    data, _ = load_strict("a: &r {b: *r}\n")
    assert data["a"]["b"] is data["a"]


def test_locate_value_of_dotted_path() -> None:
    _, root = load_strict(DOC)
    assert locate(root, "routes.1.lead") == (6, 13)
    assert locate(root, "routes.0.code") == (3, 11)
    assert locate(root, "version") == (1, 10)


def test_locate_pydantic_loc_tuple() -> None:
    _, root = load_strict(DOC)
    assert locate(root, ("clocks", "resolution", "一般")) == (10, 9)
    assert locate(root, ("routes", 1, "lead")) == (6, 13)


def test_locate_with_a_real_validation_error() -> None:
    class Route(BaseModel):
        code: str
        lead: int

    class Doc(BaseModel):
        routes: list[Route]

    data, root = load_strict("routes:\n  - code: A\n    lead: 1\n  - code: B\n    lead: nope\n")
    with pytest.raises(ValidationError) as info:
        Doc.model_validate(data)
    (err,) = info.value.errors()
    assert locate(root, err["loc"]) == (5, 11)
    assert locate(root, ".".join(str(p) for p in err["loc"])) == (5, 11)


def test_missing_key_gives_the_parent_mapping() -> None:
    _, root = load_strict(DOC)
    assert locate(root, "routes.1.owner") == (5, 5)
    assert locate(root, "clocks.resolution.不存在") == (10, 5)
    assert locate(root, "nowhere.deeper") == (1, 1)


def test_out_of_range_index_gives_the_sequence() -> None:
    _, root = load_strict(DOC)
    assert locate(root, "routes.9.lead") == (3, 3)
    assert locate(root, ("routes", 9)) == (3, 3)


def test_path_past_a_scalar_gives_the_scalar() -> None:
    _, root = load_strict(DOC)
    assert locate(root, "version.x.y") == (1, 10)


def test_root_path() -> None:
    _, root = load_strict(DOC)
    assert locate(root, "$") == (1, 1)
    assert locate(root, "") == (1, 1)
    assert locate(root, ()) == (1, 1)
    _, later = load_strict("# header\n\n---\nkey: 1\n")
    assert locate(later, "$") == (4, 1)


def test_flow_mapping_value_column() -> None:
    _, root = load_strict(DOC)
    assert locate(root, "routes.2.code") == (7, 12)
    assert locate(root, "routes.2.lead") == (7, 21)
    assert locate(root, "routes.2") == (7, 5)


def test_empty_value_gives_the_key() -> None:
    _, root = load_strict("a:\n  lead:\n  code: x\n")
    assert locate(root, "a.lead") == (2, 3)
    assert locate(root, "a.lead.deeper") == (2, 3)


def test_integer_looking_keys_and_keys_with_dots() -> None:
    _, root = load_strict("limits:\n  1: one\n  '2': two\ntemplates:\n  sms.notice: hi\n")
    assert locate(root, "limits.1") == (2, 6)
    assert locate(root, ("limits", 2)) == (3, 8)
    assert locate(root, "templates.sms.notice") == (5, 15)


def test_none_node() -> None:
    assert locate(None, "routes.1") is None
