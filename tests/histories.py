"""Record a finished workflow's history as tests/histories/<name>.json (replayed by tests/test_replay.py).

Only when JIESU_RECORD_HISTORIES is set (`jiesu histories record`); tests that record are marked `history`.
Released histories stay as recorded: an existing file is rewritten only when the variable is ``overwrite``
(`jiesu histories record --overwrite`), which is for paths whose workflow code has not been released yet.
When ``<name>.json`` exists, the recording goes to ``<name>.<LATEST_PATCH>.json`` instead (once), so each
workflow.patched() generation keeps a history of every path.
"""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import WorkflowHandle

from workflows.io_steps import PATCH_LOCAL_IO

DIR = Path(__file__).parent / "histories"
ENV = "JIESU_RECORD_HISTORIES"
LATEST_PATCH = PATCH_LOCAL_IO  # the newest workflow.patched() id: update when a newer patch is added


async def record(name: str, handle: WorkflowHandle) -> Path | None:
    """Wait for the workflow to finish, then write its complete history; a no-op unless recording."""
    if not os.environ.get(ENV):
        return None
    await handle.result()
    DIR.mkdir(exist_ok=True)
    path = DIR / f"{name}.json"
    if path.exists() and os.environ[ENV] != "overwrite":
        path = DIR / f"{name}.{LATEST_PATCH}.json"
        if path.exists():
            return None
    path.write_text((await handle.fetch_history()).to_json())
    return path
