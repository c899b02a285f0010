"""Record a finished workflow's history as tests/histories/<name>.json (replayed by tests/test_replay.py).

Only when JIESU_RECORD_HISTORIES is set (`jiesu histories record`); tests that record are marked `history`.
Released histories stay as recorded: an existing file is rewritten only when the variable is ``overwrite``
(`jiesu histories record --overwrite`), which is for paths whose workflow code has not been released yet.
"""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import WorkflowHandle

DIR = Path(__file__).parent / "histories"
ENV = "JIESU_RECORD_HISTORIES"


async def record(name: str, handle: WorkflowHandle) -> Path | None:
    """Wait for the workflow to finish, then write its complete history; a no-op unless recording."""
    if not os.environ.get(ENV):
        return None
    await handle.result()
    DIR.mkdir(exist_ok=True)
    path = DIR / f"{name}.json"
    if path.exists() and os.environ[ENV] != "overwrite":
        return None
    path.write_text((await handle.fetch_history()).to_json())
    return path
