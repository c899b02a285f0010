"""The seeded mix of the lifecycle bench: which path each case takes, the bench's holiday rules, actors."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session
from temporalio.client import WorkflowHandle

from core.contracts import (
    Actor,
    Role,
)
from rules.engine import RulesEngine
from services.rules_store import activate, active_version, get_version, publish

TZ = ZoneInfo("Asia/Shanghai")
INTAKE = Actor(id="bench-intake", role=Role.INTAKE)
SUPERVISOR = Actor(id="bench-supervisor", role=Role.SUPERVISOR)


@dataclass
class CasePath:
    """What happens to one case."""

    co: bool = False
    silent: bool = False
    dissatisfied: bool = False
    returned: bool = False
    handle: WorkflowHandle | None = None
    lead: str = ""
    partner: str = ""
    district: str = ""
    defaults: list[str] = field(default_factory=list)  # the route's default partners, asked at sign-for
    tags: list[str] = field(default_factory=list)

    def label(self) -> str:
        """A short name of the path (for the events-per-case table)."""
        parts = [n for n, on in (("returned", self.returned), ("co-handled", self.co and not self.silent),
                                 ("silent partner", self.silent), ("re-handled", self.dissatisfied)) if on]
        return " + ".join(parts) or "direct"


def mix(n: int, seed: int) -> list[CasePath]:
    """The seeded mix of paths."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        co = rng.random() < 0.30
        out.append(CasePath(co=co, silent=co and rng.random() < 0.05 / 0.30, dissatisfied=rng.random() < 0.15,
                         returned=rng.random() < 0.10))
    return out


def holiday_rules(session: Session) -> str:
    """Publish and activate ``<active>-bench``: the active rules plus New Year's Day of the coming year (元旦 is a
    statutory holiday; the year's full schedule is not published yet), in the bench database only."""
    base = active_version(session)
    if base.endswith("-bench"):  # an earlier run in this database published it
        return base
    year = datetime.now(TZ).year + 1
    text = get_version(session, base).yaml_text
    head, _, rest = text.partition("\ncalendar:")
    _, _, tail = rest.partition("\n\n")
    version = f"{base}-bench"
    text = (head.replace(f'version: "{base}"', f'version: "{version}"') +
            f'\ncalendar:\n  holidays: ["{year}-01-01"]\n  workdays: []\n  years: [{year}]\n\n' + tail)
    publish(session, text, actor="bench")
    activate(session, version, actor="bench")
    return version


def handler(department: str) -> Actor:
    """A handler of ``department``."""
    return Actor(id=f"bench-{department}", role=Role.HANDLER, department=department)


def partner_for(rules: RulesEngine, taken: list[str], district: str) -> str:
    """A partner department of the same district (or the city) not already on the case."""
    for code in (f"{district}-sthj", f"{district}-zjw", f"{district}-cgzf", f"{district}-gov", "bj-sthjj"):
        if code in rules.departments and code not in taken:
            return code
    return next(c for c in rules.departments if c not in taken)
