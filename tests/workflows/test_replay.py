"""Every recorded history in tests/histories/ must replay against the current workflow code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.codec import data_converter
from tests.helpers import LATEST_PATCH, TEST_KEY
from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))
# every lifecycle path and the file that records it (`jiesu histories record` writes new ones)
REQUIRED = {
    "happy": "happy_path",
    "re-handled": "rehandled",
    "returned": "return_and_partner",
    "co-handled": "return_and_partner",
    "co-handling child": "co_handling_child",
    "terminated": "terminated",
    "merged": "merged",
    "merged parent": "merged_parent",
    "screened": "screened",
    "rules migrated": "rules_migrated",
    "urgent, handling started": "urgent_handled",
    "provisional deadline in a round": "provisional_round",
    "screening proposal overruled": "screening_overruled",
    "appeal after closing": "appealed",
}
# paths first recorded under LATEST_PATCH: one file each (none since the batched projection: every path has one)
NEW_WITH_LATEST: set[str] = set()


def test_histories_exist() -> None:
    assert HISTORIES, "record at least the happy path: jiesu histories record"


def test_every_lifecycle_path_has_a_history() -> None:
    """Each path has its released history and one under the newest workflow.patched() generation."""
    have = {p.stem for p in HISTORIES}
    wanted = [*REQUIRED.values(),
              *(f"{name}.{LATEST_PATCH}" for name in REQUIRED.values() if name not in NEW_WITH_LATEST)]
    missing = [name for name in wanted if name not in have]
    assert not missing, f"no recorded history for {missing}: jiesu histories record"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    # the codec decodes what was recorded encrypted and passes the older, unencrypted histories through
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter([TEST_KEY.encode()]))
    history = WorkflowHistory.from_json(f"replay-{path.stem}", json.loads(path.read_text()))
    await replayer.replay_workflow(history)
