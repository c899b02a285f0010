"""Rules templates cannot hurt the service: time, output and size limits, no include, every error a rules problem
(a 422 at validation with the template's path and line), never an exception that escapes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

import rules
from rules.parse import parse_rules
from rules.schema import RulesError
from rules.templates import MAX_OUTPUT, TemplateLimit, render, template_error

SHIPPED = (Path(rules.__file__).parent / "versions" / "2026.3.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("source", [
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",  # would loop for hours
    "{{ 'x' * 100000000 }}",  # a gigantic string
    "{{ 9 ** 999999 }}",  # a gigantic number
    "{% for i in range(5000) %}{{ '0123456789' }}{% endfor %}",  # output far beyond a notice
    "{{ 1 / 0 }}",
    "{% include 'other.txt' %}",
    "{{ received_at[:10] }}",  # a datetime at run time: not sliceable
    "{{ nope }}",
    "{% if %}",
])
def test_a_hostile_or_broken_template_is_a_problem_found_quickly(source: str) -> None:
    started = time.monotonic()
    assert template_error(source) is not None
    assert time.monotonic() - started < 2


def test_limits_while_rendering() -> None:
    with pytest.raises(TemplateLimit):
        render("{% for i in range(2000) %}{{ '0123456789' }}{% endfor %}", {})
    assert len(render("{% for i in range(10) %}{{ i }}{% endfor %}", {})) == 10
    assert MAX_OUTPUT >= 1000  # a long staff notice still fits


def test_validation_names_the_template_and_the_line() -> None:
    doc = yaml.safe_load(SHIPPED)
    doc["templates"]["reminder"] = "{{ 1 / 0 }}"
    doc["templates"]["supervise"] = "第一行\n{% if %}"
    with pytest.raises(RulesError) as refused:
        parse_rules(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    problems = {p.path: p for p in refused.value.problems}
    assert "ZeroDivisionError" in problems["templates.reminder"].message
    assert problems["templates.supervise"].message.startswith("line 2 of the template")
    assert problems["templates.reminder"].line is not None

