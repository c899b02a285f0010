"""Every template the workflows send is required (or has a default wording for older versions); validation renders
with the run-time types; a notice that still fails is kept as failed, the supervisor is told, the case goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlmodel import Session, select

import rules
from activities.notices import NoticeActivities
from core.contracts import NoticeInput
from core.models import Notice
from rules.checks import REQUIRED_TEMPLATES
from rules.engine import RulesEngine
from rules.parse import parse_rules
from rules.schema import RulesError
from tests.helpers import stored_case

SHIPPED = (Path(rules.__file__).parent / "versions" / "2026.3.yaml").read_text(encoding="utf-8")


def variant(change) -> str:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(SHIPPED)
    change(doc)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@pytest.mark.parametrize("name", REQUIRED_TEMPLATES)
def test_a_version_without_a_template_the_workflows_send_is_refused(name: str) -> None:
    with pytest.raises(RulesError) as refused:
        parse_rules(variant(lambda d: d["templates"].pop(name)))
    assert (f"templates.{name}", "required template is missing") in refused.value.errors


def test_sixteen_templates_are_required_and_the_shipped_versions_have_them() -> None:
    assert len(REQUIRED_TEMPLATES) == 16
    for path in (Path(rules.__file__).parent / "versions").glob("*.yaml"):
        parsed = parse_rules(path.read_text(encoding="utf-8"))
        assert set(REQUIRED_TEMPLATES) <= set(parsed.templates), path.name


def test_validation_renders_with_datetimes_as_at_run_time() -> None:
    year = variant(lambda d: d["templates"].__setitem__("reminder", "{{ due.year }}年 {{ due | cn_datetime }}"))
    assert parse_rules(year).templates["reminder"].startswith("{{ due.year }}")
    sliced = variant(lambda d: d["templates"].__setitem__("reminder", "{{ due[:10] }}"))  # text slicing: not a date
    with pytest.raises(RulesError) as refused:
        parse_rules(sliced)
    assert any(path == "templates.reminder" for path, _ in refused.value.errors)


def test_older_versions_get_the_default_wording_of_newer_templates() -> None:
    old = RulesEngine(parse_rules((Path(rules.__file__).parent / "versions" / "2026.2.yaml").read_text("utf-8")))
    text = old.render("contact_denied", {"case_no": "2026120100000001", "category_name": "违法建设",
                                         "department_name": "西城区城市管理综合行政执法局", "rounds": 1})
    assert "未与其联系" in text and "2026120100000001" in text


def test_a_notice_that_cannot_render_is_kept_as_failed_and_the_supervisor_told(engine, settings) -> None:
    case = stored_case(engine, settings)
    activities = NoticeActivities(engine, settings)
    broken = NoticeInput(case_no=case.case_no or "", template="no_such_template", recipient="complainant",
                         department=None, key="broken-1", rules_version=case.rules_version, context={})
    notice_id = activities.queue_notice(broken)  # no exception: the workflow goes on
    assert activities.queue_notice(broken) == notice_id  # a retry is a no-op
    with Session(engine) as session:
        rows = session.exec(select(Notice).where(Notice.case_no == case.case_no)).all()
    failed = next(n for n in rows if n.key == "broken-1")
    assert failed.status == "failed" and "no_such_template" in failed.body
    alert = next(n for n in rows if n.template == "template_failed")
    assert alert.recipient == "supervisor" and "no_such_template" in alert.body and alert.status == "pending"
    ok = activities.queue_notice(broken.model_copy(update={"template": "acceptance", "key": "fine-1"}))
    with Session(engine) as session:
        assert session.get(Notice, ok).status == "pending"  # type: ignore[union-attr]
