"""The case lock of CaseWorkflow: releasing it projects what its holder recorded, in one write (PATCH_BATCHED)."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow


class FlushingLock:
    """The case lock. Releasing it projects what its holder recorded (PATCH_BATCHED), so every handler's events
    reach the database together, before another handler runs.

    ``reserved``: a case planned at intake is dispatched from its first moment, so an Update may arrive with the
    start and, in the first activation, run before ``run()``; the lock then waits until ``run()`` has opened the
    case (``opening()``: accepted and dispatched recorded)."""

    def __init__(self, flush: Any, reserved: bool = False) -> None:
        self._inner = asyncio.Lock()
        self._flush = flush
        self.reserved = reserved

    async def __aenter__(self) -> FlushingLock:
        if self.reserved:
            await workflow.wait_condition(lambda: not self.reserved)
        await self._inner.acquire()
        return self

    def opening(self) -> _Opening:
        """The lock for ``run()``'s first section: taken at once, the reservation lifted when it is released."""
        return _Opening(self)

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._flush()
        finally:
            self._inner.release()


class _Opening:
    def __init__(self, lock: FlushingLock) -> None:
        self.lock = lock

    async def __aenter__(self) -> FlushingLock:
        await self.lock._inner.acquire()
        return self.lock

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.lock._flush()
        finally:
            self.lock.reserved = False
            self.lock._inner.release()
