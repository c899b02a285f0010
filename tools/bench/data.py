"""Synthetic closed cases for the reports benchmark (``jiesu bench reports``): set-based SQL on PostgreSQL.

Rows are marked by ``external_id = 'bench-<n>'`` (case_no ``B<n:015>``) and numbered on from the existing ones.
On PostgreSQL every value is derived from ``hashint8extended(n, seed)``, so a row depends only on its number and
the seed (not on batch boundaries); elsewhere (SQLite, small tests) rows come from ``random.Random(seed)``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.models import Case, PartnerTaskRow
from core.settings import PROJECT_ROOT
from rules.engine import RulesEngine
from rules.parse import parse_rules

PREFIX = "bench-"
TZ = ZoneInfo("Asia/Shanghai")
RULES_FILE = PROJECT_ROOT / "rules" / "versions" / "2026.2.yaml"
POOL_SIZE = 4096  # (category, district, street) slots, each combination repeated in proportion to its volume
# Requests per 大类, Beijing 12345 in 2020 (shared/data/beijing.yaml); the others get less than the tenth largest.
VOLUME = {"市场管理": 980_000, "公共服务": 648_000, "住房": 612_000, "城乡建设": 548_000, "交通管理": 472_000}
OTHER_VOLUME = 300_000
# Cumulative shares: a uniform draw u takes the first value whose bound exceeds it.
Table = Sequence[tuple[str, float]]
OUTCOME: Table = (("resolved", .88), ("unrated", .93), ("finding", .97), ("terminated", 1.0))
RESOLUTION: Table = (("解决", .80), ("部分解决", .92), ("未解决", 1.0))
SATISFACTION: dict[str, Table] = {
    "解决": (("满意", .75), ("基本满意", .95), ("不满意", 1.0)),
    "部分解决": (("满意", .20), ("基本满意", .65), ("不满意", 1.0)),
    "未解决": (("满意", .05), ("基本满意", .20), ("不满意", 1.0)),
}
KIND: Table = (("诉求", .40), ("投诉", .70), ("求助", .80), ("咨询", .92), ("举报", .97), ("建议", 1.0))
CHANNEL: Table = (("hotline", .75), ("app", .83), ("wechat", .91), ("web", .97), ("email", .98), ("window", .99),
                  ("merged_line", 1.0))
P = {"contacted": .97, "late_sign_for": .03, "late_first_contact": .05, "late_resolution": .07, "escalated": .02,
     "round2": .07, "returned": .08, "repeat_flag": .04, "repeat2": .14, "urgent": .03, "with_partner": .30,
     "partner_overdue": .05}
DRAWS = ("pick", "day", "tod", "outcome", "res", "sat", "span", "reply", "speed", "contacted", "late_sign_for",
         "late_first_contact", "late_resolution", "round2", "returned", "repeat", "kind", "channel", "urgent",
         "partner", "partner_overdue", "partner_at", "reply_hours")
POOL_COLUMNS = ("category", "district", "street", "lead", "partner", "urgency")
DUE_DAYS = {"紧急": 1, "复杂": 21}  # rough calendar days of the resolution limit (一般: 7)
CASE_COLUMNS = (
    "case_no, external_id, tracking_code, kind, channel, category, district, street, address, description, "
    "name_enc, phone_enc, phone_hash, name_masked, phone_masked, intake_hash, urgency, status, lead_department, "
    "rules_version, round, due, due_resolution, contacted, resolution, satisfaction, received_at, closed_at, "
    "workflow_started, last_seq, created_at, updated_at, clocks, overdue, escalation_level, paused, dispatch_count, "
    "return_count, outcome, repeat_count, repeat_flag, special_groups, priority, received_date, replied_at, "
    "reply_text, handling_days, valid_review, late_sign_for, late_first_contact, late_resolution")
PARTNER_COLUMNS = ("case_no, department, round, question, status, requested_at, requested_date, due_at, replied_at, "
                   "reply, overdue, reply_hours")


def _pick(u: float, table: Table) -> str:
    return next((v for v, bound in table if u < bound), table[-1][0])


def _sql_pick(col: str, table: Table) -> str:
    whens = " ".join(f"WHEN {col} < {bound} THEN '{v}'" for v, bound in table[:-1])
    return f"CASE {whens} ELSE '{table[-1][0]}' END"


@lru_cache(maxsize=1)
def _pool() -> tuple[str, list[tuple[str, str, str | None, str, str, str]]]:
    """The rules version and (category, district, street, lead, partner, urgency) slots weighted by volume."""
    engine = RulesEngine(parse_rules(RULES_FILE.read_text(encoding="utf-8")))
    majors = [major for major, _ in engine.categories.values()]
    combos: list[tuple[float, tuple[str, str, str | None, str, str, str]]] = []
    for leaf, (major, _) in engine.categories.items():
        if engine.screen(leaf, "") is not None:  # 不予受理 etc.: never handled, never closed with a review
            continue
        weight = VOLUME.get(major.name, OTHER_VOLUME) / majors.count(major)
        for district in engine.districts.values():
            streets: list[str | None] = list(district.streets) or [None]
            for street in streets:
                route = engine.route(leaf, district.code, street)
                if route is None:
                    continue
                helpers = [d for d in (*route.partners, *route.candidates, f"{district.code}-gov") if d != route.lead]
                combos.append((weight / len(streets), (leaf, district.code, street, route.lead, helpers[0],
                                                       engine.urgency(leaf, None).value)))
    total = sum(w for w, _ in combos)
    return engine.version, [c for w, c in combos for _ in range(max(1, round(w / total * POOL_SIZE)))]


def _u(k: int) -> str:
    return f"(hashint8extended(n, :salt + {k}) & 2147483647)::float8 / 2147483648 AS u_{DRAWS[k]}"


def _pg_sql() -> str:
    sat = " ".join(f"WHEN '{r}' THEN {_sql_pick('u_sat', t)}" for r, t in SATISFACTION.items())
    due = " ".join(f"WHEN '{k}' THEN {v}" for k, v in DUE_DAYS.items())
    replied = "received_at + span * interval '1 day' - back * interval '1 hour'"
    late = "u_late_resolution < :late_resolution"
    returned = "(u_returned < :returned)::int"
    return f"""
WITH p AS MATERIALIZED (
  SELECT * FROM unnest(CAST(:a_category AS text[]), CAST(:a_district AS text[]), CAST(:a_street AS text[]),
                       CAST(:a_lead AS text[]), CAST(:a_partner AS text[]), CAST(:a_urgency AS text[]))
    WITH ORDINALITY AS t(category, district, street, lead, partner, urgency, k)
), g AS (
  SELECT n, {", ".join(_u(k) for k in range(len(DRAWS)))}
  FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS n
), h AS (
  SELECT g.*, p.category, p.district, p.street, p.lead, p.partner,
    CASE WHEN p.urgency = '一般' AND u_urgent < :urgent THEN '紧急' ELSE p.urgency END AS urgency,
    CAST(:start AS date) + floor(u_day * :days)::int AS received_date,
    CAST(:t0 AS timestamptz) + floor(u_day * :days) * interval '1 day' + (6 + 17 * u_tod) * interval '1 hour'
      AS received_at,
    {_sql_pick("u_outcome", OUTCOME)} AS outcome
  FROM g JOIN p ON p.k = 1 + floor(g.u_pick * :pool)::int
), s AS MATERIALIZED (
  SELECT h.*, CASE outcome WHEN 'resolved' THEN {_sql_pick("u_res", RESOLUTION)} WHEN 'finding' THEN '未解决' END
      AS resolution,
    CASE WHEN outcome = 'finding' OR u_round2 < :round2 THEN 2 ELSE 1 END AS rnd,
    CASE WHEN outcome = 'finding' OR u_round2 < :round2 THEN 5 + 5 * u_span ELSE 1 + 9 * u_span * u_span END AS span,
    1 + 19 * u_reply AS back
  FROM h
), c AS (
  INSERT INTO "case" ({CASE_COLUMNS})
  SELECT 'B' || lpad(n::text, 15, '0'), 'bench-' || n, 'BN' || lpad(n::text, 12, '0'), {_sql_pick("u_kind", KIND)},
    {_sql_pick("u_channel", CHANNEL)}, category, district, street, 'bench', 'bench', 'x', 'x', md5(n::text), '王*',
    '138****0000', '', urgency, 'archived', lead, :version, rnd, '{{}}'::json,
    received_at + CASE urgency {due} ELSE 7 END * interval '1 day', u_contacted < :contacted, resolution,
    CASE WHEN outcome = 'unrated' THEN '未评价' ELSE CASE resolution {sat} END END, received_at,
    received_at + span * interval '1 day', true, 8 + 4 * rnd, received_at, received_at + span * interval '1 day',
    '{{}}'::json, {late}, (u_late_resolution < :escalated)::int, false, 1 + {returned}, {returned}, outcome,
    CASE WHEN u_repeat < :repeat_flag THEN 3 WHEN u_repeat < :repeat2 THEN 2 ELSE 1 END, u_repeat < :repeat_flag,
    '[]'::json, 0, received_date, CASE WHEN outcome <> 'terminated' THEN {replied} END,
    CASE WHEN outcome <> 'terminated' THEN 'bench' END,
    CASE WHEN outcome <> 'terminated' THEN
      round(greatest(0.2, least(12, (span - back / 24) * 5 / 7 * (0.8 + 0.9 * u_speed)))::numeric, 3)::float8 END,
    resolution IS NOT NULL, u_late_sign_for < :late_sign_for, u_late_first_contact < :late_first_contact, {late}
  FROM s
)
INSERT INTO partner_task ({PARTNER_COLUMNS})
SELECT 'B' || lpad(n::text, 15, '0'), partner, 1, 'bench', 'replied', req, (req AT TIME ZONE 'Asia/Shanghai')::date,
  req + interval '1 day', req + hours * CASE WHEN late THEN 3 ELSE 1 END * interval '1 hour', 'bench', late, hours
FROM (SELECT n, partner, received_at + (1 + 4 * u_partner_at) * interval '1 hour' AS req,
        u_partner_overdue < :partner_overdue AS late,
        round((CASE WHEN u_partner_overdue < :partner_overdue THEN 9 + 3 * u_reply_hours
               ELSE 1 + 8 * u_reply_hours END)::numeric, 3)::float8 AS hours
      FROM s WHERE u_partner < :with_partner) AS t
"""


def _py_rows(n: int, r: random.Random, pool: list, version: str, start: date, t0: datetime, days: int
             ) -> tuple[dict, dict | None]:
    """One case row and maybe its partner task, with the distributions of the SQL above."""
    u = {name: r.random() for name in DRAWS}
    category, district, street, lead, partner, urgency = pool[int(u["pick"] * len(pool))]
    urgency = "紧急" if urgency == "一般" and u["urgent"] < P["urgent"] else urgency
    day = int(u["day"] * days)
    received = t0 + timedelta(days=day, hours=6 + 17 * u["tod"])
    outcome = _pick(u["outcome"], OUTCOME)
    resolution = {"resolved": _pick(u["res"], RESOLUTION), "finding": "未解决"}.get(outcome)
    satisfaction = "未评价" if outcome == "unrated" else resolution and _pick(u["sat"], SATISFACTION[resolution])
    rnd = 2 if outcome == "finding" or u["round2"] < P["round2"] else 1
    span = 5 + 5 * u["span"] if rnd == 2 else 1 + 9 * u["span"] ** 2
    back = 1 + 19 * u["reply"]
    closed = received + timedelta(days=span)
    done = outcome != "terminated"
    late, returned = u["late_resolution"] < P["late_resolution"], int(u["returned"] < P["returned"])
    case_no = f"B{n:015d}"
    row = dict(
        case_no=case_no, external_id=f"{PREFIX}{n}", tracking_code=f"BN{n:012d}", kind=_pick(u["kind"], KIND),
        channel=_pick(u["channel"], CHANNEL), category=category, district=district, street=street, address="bench",
        description="bench", name_enc="x", phone_enc="x", phone_hash=hashlib.md5(str(n).encode()).hexdigest(),
        name_masked="王*", phone_masked="138****0000", intake_hash="", urgency=urgency, status="archived",
        lead_department=lead, rules_version=version, round=rnd, due={},
        due_resolution=received + timedelta(days=DUE_DAYS.get(urgency, 7)), contacted=u["contacted"] < P["contacted"],
        resolution=resolution, satisfaction=satisfaction, received_at=received, closed_at=closed,
        workflow_started=True, last_seq=8 + 4 * rnd, created_at=received, updated_at=closed, clocks={}, overdue=late,
        escalation_level=int(u["late_resolution"] < P["escalated"]), paused=False, dispatch_count=1 + returned,
        return_count=returned, outcome=outcome,
        repeat_count=3 if u["repeat"] < P["repeat_flag"] else 2 if u["repeat"] < P["repeat2"] else 1,
        repeat_flag=u["repeat"] < P["repeat_flag"], special_groups=[], priority=0,
        received_date=start + timedelta(days=day), replied_at=closed - timedelta(hours=back) if done else None,
        reply_text="bench" if done else None,
        handling_days=round(max(0.2, min(12, (span - back / 24) * 5 / 7 * (0.8 + 0.9 * u["speed"]))), 3) if done
        else None, valid_review=resolution is not None, late_sign_for=u["late_sign_for"] < P["late_sign_for"],
        late_first_contact=u["late_first_contact"] < P["late_first_contact"], late_resolution=late)
    if u["partner"] >= P["with_partner"]:
        return row, None
    overdue = u["partner_overdue"] < P["partner_overdue"]
    hours = round(9 + 3 * u["reply_hours"] if overdue else 1 + 8 * u["reply_hours"], 3)
    req = received + timedelta(hours=1 + 4 * u["partner_at"])
    return row, dict(case_no=case_no, department=partner, round=1, question="bench", status="replied",
                     requested_at=req, requested_date=req.astimezone(TZ).date(), due_at=req + timedelta(days=1),
                     replied_at=req + timedelta(hours=hours * (3 if overdue else 1)), reply="bench", overdue=overdue,
                     reply_hours=hours)


def _last_number(conn: sa.Connection) -> int:
    return conn.execute(sa.text(
        "SELECT max(CAST(substr(external_id, :at) AS BIGINT)) FROM \"case\" WHERE external_id LIKE :like"),
        {"at": len(PREFIX) + 1, "like": PREFIX + "%"}).scalar() or 0


def generate_closed_cases(engine: sa.Engine, rows: int, *, start: date, days: int, seed: int = 7,
                          progress: Callable[[int], None] | None = None, batch: int = 50_000) -> int:
    """Insert ``rows`` closed cases spread over ``days`` days from ``start``; returns rows inserted."""
    version, pool = _pool()
    t0 = datetime.combine(start, time(), TZ)
    with engine.connect() as conn:
        first = _last_number(conn) + 1
    postgres = engine.dialect.name == "postgresql"
    params = {"version": version, "start": start, "t0": t0, "days": days, "pool": len(pool), "salt": seed * 1000,
              **{f"a_{k}": [c[i] for c in pool] for i, k in enumerate(POOL_COLUMNS)}, **P}
    sql, r, done = sa.text(_pg_sql()), random.Random(seed), 0
    while done < rows:
        lo, hi = first + done, first + min(rows, done + batch) - 1
        with engine.begin() as conn:
            if postgres:
                conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
                conn.execute(sql, {**params, "lo": lo, "hi": hi})
            else:
                made = [_py_rows(n, r, pool, version, start, t0, days) for n in range(lo, hi + 1)]
                conn.execute(sa.insert(Case.__table__), [c for c, _ in made])  # type: ignore[attr-defined]
                if tasks := [t for _, t in made if t is not None]:
                    conn.execute(sa.insert(PartnerTaskRow.__table__), tasks)  # type: ignore[attr-defined]
        done = hi - first + 1
        if progress is not None:
            progress(done)
    _analyze(engine)
    return done


def _analyze(engine: sa.Engine) -> None:
    """Fresh planner statistics; and the generated rows carry old update times, so the report rollup is rebuilt
    on its next refresh."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM rollup_mark"))
        conn.execute(sa.text('ANALYZE "case"'))
        conn.execute(sa.text("ANALYZE partner_task"))


def clear_generated(engine: sa.Engine) -> int:
    """Delete the generated rows (external_id LIKE 'bench-%') and their partner tasks; returns rows deleted."""
    like = {"like": PREFIX + "%"}
    with engine.begin() as conn:
        conn.execute(sa.text('DELETE FROM partner_task WHERE case_no IN (SELECT case_no FROM "case" '
                             "WHERE external_id LIKE :like)"), like)
        deleted = conn.execute(sa.text('DELETE FROM "case" WHERE external_id LIKE :like'), like).rowcount
    _analyze(engine)
    return deleted
