"""The Temporal client factory: every process (worker, API, CLI, tools, tests) connects through here."""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.settings import Settings

log = logging.getLogger("jiesu.temporal")


async def connect(settings: Settings, wait: float = 0.0, address: str | None = None) -> Client:
    """A client with the pydantic data converter. ``wait`` > 0: keep trying that many seconds while the server
    is not up or not healthy yet (a dev server answers its port before its frontend is ready)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return await Client.connect(address or settings.temporal_address, namespace=settings.temporal_namespace,
                                        data_converter=pydantic_data_converter)
        except RuntimeError as exc:  # the SDK's "Failed client connect: …"
            if time.monotonic() >= deadline:
                raise
            log.info("Temporal at %s not ready (%s); retrying", address or settings.temporal_address, exc)
            await asyncio.sleep(0.5)
