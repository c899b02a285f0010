"""What the benchmarks share: a fresh bench data folder, realistic complaints, percentiles, JSON results."""

from __future__ import annotations

import json
import random
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from rich.console import Console

from core.settings import PROJECT_ROOT, Settings
from rules.engine import RulesEngine

RESULTS = PROJECT_ROOT / "bench" / "results"
TEXTS = [
    "小区楼顶有人私搭乱建彩钢房，存在安全隐患，希望尽快处理。",
    "路口信号灯长时间不亮，早晚高峰拥堵严重。",
    "楼下餐馆油烟直排，晚上噪音大，影响休息。",
    "小区门口道路破损，积水严重，老人出行不便。",
    "超市出售过期食品，要求查处并退款。",
    "施工工地夜间施工扰民，已持续一周。",
]


def bench_settings(base: Settings, name: str, database: str | None) -> Settings:
    """Settings of one bench run: its own folder under .data/bench, key and task queue; the database is
    ``database`` (a scratch database: the bench's complaints are encrypted with the run's own key), else a fresh
    SQLite file in the folder. Never the configured database."""
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    folder = base.data_dir / "bench" / f"{name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    return base.model_copy(update={
        "data_dir": folder, "database_url": database or "", "encryption_key": Fernet.generate_key().decode(),
        "task_queue": f"bench-{name}-{stamp}", "intake_plan_wait_seconds": 30.0})


def places(rules: RulesEngine) -> list[tuple[str, str, str | None]]:
    """(category, district, street) of every complaint that routes to a department and is not screened away."""
    out = []
    for code in sorted(rules.categories):
        for district in rules.districts.values():
            if rules.screen(code, "") is None and rules.route(code, district.code, None) is not None:
                out.append((code, district.code, district.streets[0] if district.streets else None))
    return out


def complaints(rules: RulesEngine, n: int, prefix: str, seed: int = 12345) -> list[dict[str, Any]]:
    """``n`` intake bodies spread over categories and districts (seeded), each with its own caller."""
    rng = random.Random(seed)
    where = places(rules)
    out = []
    for i in range(n):
        category, district, street = rng.choice(where)
        body: dict[str, Any] = {
            "external_id": f"{prefix}-{i:07d}", "channel": rng.choice(["hotline", "hotline", "hotline", "web", "app"]),
            "kind": rng.choice(["投诉", "求助", "建议", "咨询"]), "category": category, "district": district,
            "address": f"{rules.districts[district].name}某小区{rng.randint(1, 30)}号楼",
            "description": rng.choice(TEXTS),
            "complainant": {"name": "测试来电人", "phone": f"139{rng.randint(0, 99_999_999):08d}"},
        }
        if street:
            body["street"] = street
        out.append(body)
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max of a sample (seconds, rounded to 0.1 ms)."""
    if not values:
        return {}
    qs = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    return {"p50": round(qs[49], 4), "p95": round(qs[94], 4), "p99": round(qs[98], 4), "max": round(max(values), 4)}


def save(name: str, report: dict[str, Any], console: Console) -> Path:
    """Write a result as bench/results/<name>-<time>.json and say where."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now():%Y%m%d-%H%M%S}.json"
    report = {"bench": name, "at": datetime.now().isoformat(timespec="seconds")} | report
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    console.print(f"written {path.relative_to(PROJECT_ROOT)}")
    return path


async def wait_for_cases(engine: Any, prefix: str, n: int, condition: Any, progress: Any, label: str,
                         limit: float = 3600, every: float = 0.5) -> float:
    """Wait until ``n`` cases whose external_id starts with ``prefix`` meet ``condition`` (a SQL expression on
    the case row); the ``perf_counter`` time it was reached. Fails after ``limit`` seconds."""
    import asyncio
    import time

    from sqlalchemy import func, select
    from sqlmodel import Session, col

    from core.models import Case

    task = progress.add_task(label, total=n)
    deadline, done = time.monotonic() + limit, 0
    while time.monotonic() < deadline:
        with Session(engine) as session:
            done = session.execute(select(func.count()).select_from(Case).where(
                col(Case.external_id).startswith(f"{prefix}-"), condition)).scalar_one()
        progress.update(task, completed=done)
        if done >= n:
            return time.perf_counter()
        await asyncio.sleep(every)
    raise RuntimeError(f"{label}: only {done} of {n} in {limit:g} s")


def cpu_per_case(before: dict[str, float], after: dict[str, float], cases: int) -> dict[str, float]:
    """CPU milliseconds each process (the workers summed) spent per case between two readings."""
    out: dict[str, float] = {}
    for name, seconds in after.items():
        key = "worker" if name.startswith("worker") else name
        out[key] = out.get(key, 0.0) + (seconds - before.get(name, 0.0)) * 1000 / cases
    return {k: round(v, 2) for k, v in out.items()}
