"""The case's alarm clock: sleep until the next reminder or breach, or until something moved the clocks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from temporalio import workflow


class Alarm:
    """``poke()`` after any change to the clocks; ``sleep_until()`` wakes at the instant, on a poke, or when done."""

    def __init__(self) -> None:
        self._poked = False

    def poke(self) -> None:
        """The clocks changed (started, stopped, moved): recompute the next wake-up."""
        self._poked = True

    async def sleep_until(self, wake_at: datetime | None, done: Callable[[], bool]) -> None:
        """Sleep until ``wake_at`` (forever when None), a poke, or ``done()``."""
        timeout = max((wake_at - workflow.now()).total_seconds(), 0) if wake_at else None
        self._poked = False
        try:
            await workflow.wait_condition(lambda: self._poked or done(), timeout=timeout)
        except TimeoutError:
            pass
