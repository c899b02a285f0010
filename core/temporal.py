"""The Temporal client factory: every process (worker, API, CLI, tools, tests) connects through here."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowUpdateHandle,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from core.codec import data_converter
from core.crypto import settings_secret
from core.settings import Settings
from core.signing import sign, signing_key

log = logging.getLogger("jiesu.temporal")


class ActorSigner(Interceptor):
    """Signs the actor of every Update this client sends (core/signing.py)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        """Wrap the client's outbound calls."""
        return _Signing(next, self.key)


class _Signing(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, key: bytes) -> None:
        super().__init__(next)
        self.key = key

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        input.args = [sign(self.key, input.id, input.update, a) for a in input.args]
        return await super().start_workflow_update(input)


def actor_key(settings: Settings) -> bytes:
    """The key the API signs actors with and the worker checks them against."""
    return signing_key(settings_secret(settings))


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS for the Temporal connection: mTLS with a client certificate, a private CA, or system roots; False for
    plain (the dev server on loopback)."""
    files = (settings.temporal_tls_ca, settings.temporal_tls_cert, settings.temporal_tls_key)
    if not (settings.temporal_tls or any(files)):
        return False
    if bool(settings.temporal_tls_cert) != bool(settings.temporal_tls_key):
        raise ValueError("temporal_tls_cert and temporal_tls_key go together (mTLS)")
    ca, cert, key = (f.read_bytes() if f else None for f in files)
    return TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key,
                     domain=settings.temporal_tls_server_name)


def converter(settings: Settings) -> DataConverter:
    """The data converter every client uses: pydantic, with the payload codec unless switched off."""
    if not settings.payload_encryption:
        return pydantic_data_converter
    older = [*settings.previous_encryption_keys, *settings.payload_previous_keys]
    return data_converter([settings_secret(settings), *(k.encode() for k in older)])


_runtimes: dict[str, Any] = {}


def metrics_runtime(address: str) -> Any:
    """The SDK runtime that serves its own metrics (workflow tasks, activity latency, pollers, cache) at
    ``address`` in Prometheus format; None (the default runtime) when no address is set."""
    if not address:
        return None
    if address not in _runtimes:
        from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

        _runtimes[address] = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    return _runtimes[address]


async def connect(settings: Settings, wait: float = 0.0, address: str | None = None) -> Client:
    """A client with the pydantic data converter and the payload codec (core/codec.py). ``wait`` > 0: keep
    trying that many seconds while the server is not up or not healthy yet (a dev server answers its port before
    its frontend is ready)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return await Client.connect(address or settings.temporal_address, namespace=settings.temporal_namespace,
                                        data_converter=converter(settings),
                                        interceptors=[ActorSigner(actor_key(settings))],
                                        tls=tls_config(settings), api_key=settings.temporal_api_key or None,
                                        runtime=metrics_runtime(settings.sdk_metrics_address))
        except RuntimeError as exc:  # the SDK's "Failed client connect: …"
            if time.monotonic() >= deadline:
                raise
            log.info("Temporal at %s not ready (%s); retrying", address or settings.temporal_address, exc)
            await asyncio.sleep(0.5)
