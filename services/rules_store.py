"""Rule versions in the database: publish (immutable, content-hashed), activate, load (cached per version).

Every publish, activation and migration leaves a row in ``rule_audit``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.admin_models import RuleAudit, RuleVersion
from core.columns import utcnow
from rules.engine import RulesEngine
from rules.parse import content_hash, parse_rules

_engines: dict[str, RulesEngine] = {}


class RulesNotFound(LookupError):
    """No such rules version, or no active version."""


class VersionConflict(ValueError):
    """The version is already published with other content (versions are immutable)."""


def version_key(version: str) -> tuple:
    """Natural order of version strings: 2026.2 < 2026.10."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[._-]", version))


def audit(session: Session, action: str, version: str, actor: str, **detail: Any) -> None:
    """Append one entry to the rules audit log."""
    session.add(RuleAudit(action=action, version=version, actor=actor, detail=detail))


def publish(session: Session, text: str, actor: str, source: str = "api") -> tuple[RuleVersion, bool]:
    """Store a checked new version (RulesError if invalid); (row, False) when the identical text is there already."""
    rules, digest = parse_rules(text), content_hash(text)
    existing = session.get(RuleVersion, rules.version)
    if existing is not None:
        if existing.sha256 != digest:
            raise VersionConflict(f"version {rules.version} is already published with other content "
                                  f"(sha256 {existing.sha256[:12]}…); versions are immutable — publish a new version")
        return existing, False
    row = RuleVersion(version=rules.version, sha256=digest, yaml_text=text, source=source, title=rules.title,
                      published_by=actor)
    session.add(row)
    audit(session, "publish", rules.version, actor, sha256=digest, title=rules.title, source=source)
    session.flush()
    return row, True


def import_shipped(session: Session, rules_dir: Path) -> list[str]:
    """Store every shipped YAML version not yet in the DB; activate the newest when none is active."""
    added = []
    paths = sorted(rules_dir.glob("*.yaml"), key=lambda p: version_key(p.stem))
    for path in paths:
        try:
            row, created = publish(session, path.read_text(encoding="utf-8"), "shipped", f"shipped:{path.name}")
        except VersionConflict as exc:
            raise ValueError(f"{path.name}: {exc}") from exc
        if created:
            added.append(row.version)
    if session.exec(select(RuleVersion).where(RuleVersion.active)).first() is None and added:
        activate(session, added[-1], "shipped")
    return added


def activate(session: Session, version: str, actor: str = "cli") -> str | None:
    """Make ``version`` the one new cases use; returns the version that was active before."""
    row = session.get(RuleVersion, version)
    if row is None:
        raise RulesNotFound(f"no rules version {version!r}")
    previous = session.exec(select(RuleVersion.version).where(RuleVersion.active)).first()
    session.execute(sa.update(RuleVersion).where(sa.column("active") == sa.true()).values(active=False))
    row.active, row.activated_at = True, utcnow()
    session.add(row)
    audit(session, "activate", version, actor, previous=previous)
    return previous


def list_versions(session: Session) -> list[RuleVersion]:
    """Every published version, newest first."""
    rows = session.exec(select(RuleVersion)).all()
    return sorted(rows, key=lambda r: version_key(r.version), reverse=True)


def get_version(session: Session, version: str) -> RuleVersion:
    """One published version (RulesNotFound if absent)."""
    row = session.get(RuleVersion, version)
    if row is None:
        raise RulesNotFound(f"no rules version {version!r}")
    return row


_ACTIVE = select(RuleVersion.version).where(RuleVersion.active)  # built once: every intake asks


def active_version(session: Session) -> str:
    """The version new cases pin."""
    row = session.execute(_ACTIVE).scalar()
    if row is None:
        raise RulesNotFound("no active rules version: run `jiesu rules import`")
    return row


def load_engine(session: Session, version: str) -> RulesEngine:
    """The evaluated rules of one version (parsed once per process)."""
    engine = _engines.get(version)
    if engine is None:
        row = session.get(RuleVersion, version)
        if row is None:
            raise RulesNotFound(f"no rules version {version!r}")
        engine = _engines[version] = RulesEngine(parse_rules(row.yaml_text))
    return engine
