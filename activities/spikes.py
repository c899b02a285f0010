"""Spike check activity: 诉求激增预警 over the projection (the day before is checked again: it may have grown)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from temporalio import activity

from core.db import session_scope
from services.reports import TZ
from services.rules_store import active_version, load_engine
from services.spikes import detect
from workflows.spike_watch import ACT_DETECT_SPIKES


class SpikeActivities:
    """Runs the spike check with the active rules version's thresholds."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @activity.defn(name=ACT_DETECT_SPIKES)
    def detect_spikes(self, now: datetime) -> int:
        """New warnings for yesterday and today (Beijing days); idempotent: a running spike is only updated."""
        today = now.astimezone(TZ).date()
        with session_scope(self.engine) as session:
            rules = load_engine(session, active_version(session))
            return sum(len(detect(session, day, rules)) for day in (today - timedelta(days=1), today))
