"""Test data builders."""

from __future__ import annotations

import uuid
from typing import Any

PHONE = "13812345678"
NAME = "王小明"


def complaint(**over: Any) -> dict[str, Any]:
    """A valid intake body (违法建设 in 西城区 金融街街道 → 西城区城市管理综合行政执法局)."""
    body: dict[str, Any] = {
        "external_id": f"ext-{uuid.uuid4()}",
        "channel": "hotline",
        "kind": "投诉",
        "category": "CXJS01",
        "district": "xicheng",
        "street": "金融街街道",
        "address": "西城区金融街街道某小区3号楼楼顶",
        "description": "3号楼顶有人私搭乱建彩钢房，存在安全隐患，希望尽快处理。",
        "complainant": {"name": NAME, "phone": PHONE},
    }
    body.update(over)
    return body
