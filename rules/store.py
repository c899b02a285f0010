"""Rule versions in the database: import the shipped files, activate, load (cached: versions are immutable)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from core.models import RuleVersion, utcnow
from rules.engine import RulesEngine
from rules.schema import content_hash, parse_rules

_engines: dict[str, RulesEngine] = {}


class RulesNotFound(LookupError):
    """No such rules version, or no active version."""


def import_shipped(session: Session, rules_dir: Path) -> list[str]:
    """Store every shipped YAML version not yet in the DB; activate the newest when none is active."""
    added = []
    for path in sorted(rules_dir.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        rules = parse_rules(text)
        existing = session.get(RuleVersion, rules.version)
        if existing is None:
            session.add(RuleVersion(version=rules.version, sha256=content_hash(text), yaml_text=text,
                                    source=f"shipped:{path.name}"))
            added.append(rules.version)
        elif existing.sha256 != content_hash(text):
            raise ValueError(f"{path.name}: version {rules.version} is published with other content; "
                             "published versions are immutable — give the changed file a new version")
    session.flush()
    if session.exec(select(RuleVersion).where(RuleVersion.active)).first() is None and added:
        activate(session, added[-1])
    return added


def activate(session: Session, version: str) -> None:
    """Make ``version`` the one new cases use."""
    row = session.get(RuleVersion, version)
    if row is None:
        raise RulesNotFound(f"no rules version {version!r}")
    session.execute(sa.update(RuleVersion).where(sa.column("active") == sa.true()).values(active=False))
    row.active, row.activated_at = True, utcnow()
    session.add(row)


def active_version(session: Session) -> str:
    """The version new cases pin."""
    row = session.exec(select(RuleVersion.version).where(RuleVersion.active)).first()
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
