"""`jiesu rules validate` and `jiesu rules diff` on files (no database needed)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli import app

VERSIONS = Path(__file__).parent.parent.parent / "rules" / "versions"
runner = CliRunner()


def test_validate_prints_file_line_column_and_fails(tmp_path: Path) -> None:
    text = (VERSIONS / "2026.2.yaml").read_text(encoding="utf-8").replace("lead: bj-jtw}", "lead: bj-nowhere}")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "bj-nowhere" in t)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["rules", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:{line}:" in result.output and "routes.5.lead: unknown department 'bj-nowhere'" in result.output
    assert "nothing stored" in result.output


def test_validate_accepts_the_shipped_version() -> None:
    result = runner.invoke(app, ["rules", "validate", str(VERSIONS / "2026.2.yaml")])
    assert result.exit_code == 0 and "2026.2 is valid" in result.output


def test_diff_of_two_files() -> None:
    result = runner.invoke(app, ["rules", "diff", str(VERSIONS / "2026.1.yaml"), str(VERSIONS / "2026.2.yaml")])
    assert result.exit_code == 0
    assert "screening[EMERGENCY_119]" in result.output and "categories[SCGL].min_level" in result.output
