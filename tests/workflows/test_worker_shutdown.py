"""A worker process stops cleanly on SIGTERM (a rollout, a scale-down): it stops polling, lets its running
activities finish and exits 0, instead of dying by the signal."""

from __future__ import annotations

import asyncio
import signal
import uuid

import pytest

from tests.helpers import start_case
from tools.stack import Stack

pytestmark = pytest.mark.temporal


async def test_sigterm_ends_the_worker_cleanly(client, engine, settings, tmp_path) -> None:
    queue = f"shutdown-{uuid.uuid4().hex[:6]}"
    stack = Stack(settings.model_copy(update={"task_queue": queue}), tmp_path,
                  temporal_address=client.service_client.config.target_host)
    stack.start_worker()
    try:
        await start_case(client, engine, settings, queue)  # its plan is made: the process polls
        proc = stack.procs["worker"]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 40) == 0
        assert "worker stopped" in (tmp_path / "worker.log").read_text()
    finally:
        stack.stop()
