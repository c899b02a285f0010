"""The Temporal client factory: every process (worker, API, CLI, tools, tests) connects through here."""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from core.codec import data_converter
from core.crypto import settings_secret
from core.settings import Settings

log = logging.getLogger("jiesu.temporal")


def converter(settings: Settings) -> DataConverter:
    """The data converter every client uses: pydantic, with the payload codec unless switched off."""
    if not settings.payload_encryption:
        return pydantic_data_converter
    return data_converter([settings_secret(settings), *(k.encode() for k in settings.payload_previous_keys)])


async def connect(settings: Settings, wait: float = 0.0, address: str | None = None) -> Client:
    """A client with the pydantic data converter and the payload codec (core/codec.py). ``wait`` > 0: keep
    trying that many seconds while the server is not up or not healthy yet (a dev server answers its port before
    its frontend is ready)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return await Client.connect(address or settings.temporal_address, namespace=settings.temporal_namespace,
                                        data_converter=converter(settings))
        except RuntimeError as exc:  # the SDK's "Failed client connect: …"
            if time.monotonic() >= deadline:
                raise
            log.info("Temporal at %s not ready (%s); retrying", address or settings.temporal_address, exc)
            await asyncio.sleep(0.5)
