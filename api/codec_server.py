"""`jiesu codec-server`: the Temporal codec server protocol (POST /decode, POST /encode with
``{"payloads": [{"metadata": {…base64}, "data": base64}]}``) so the Temporal web UI can show encrypted payloads —
to supervisors and auditors only (bearer token as for the API), each decode recorded in the access log."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload

from api import errors
from api.auth import ArchiveReader
from core.db import get_engine
from core.settings import Settings, get_settings
from core.temporal import converter
from services.access import record_access


class PayloadsIn(BaseModel):
    """Payloads as the Temporal UI sends them (JSON protobuf: base64 fields)."""

    payloads: list[dict[str, Any]]


def _from_json(p: dict[str, Any]) -> Payload:
    return Payload(metadata={k: base64.b64decode(v) for k, v in (p.get("metadata") or {}).items()},
                   data=base64.b64decode(p.get("data") or ""))


def _to_json(p: Payload) -> dict[str, Any]:
    return {"metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
            "data": base64.b64encode(p.data).decode()}


def create_codec_app(settings: Settings | None = None) -> FastAPI:
    """The codec server app, allowing the configured Temporal UI origin (CORS, with the Authorization header)."""
    settings = settings or get_settings()
    app = FastAPI(title="jiesu codec server", description="Decodes jiesu's encrypted Temporal payloads.")
    app.state.settings = settings
    errors.install(app)
    ui = settings.temporal_ui_port
    app.add_middleware(CORSMiddleware, allow_origins=[f"http://127.0.0.1:{ui}", f"http://localhost:{ui}"],
                       allow_methods=["POST", "OPTIONS"], allow_credentials=True,
                       allow_headers=["Authorization", "Content-Type", "X-Namespace"])
    codec = converter(settings).payload_codec
    assert codec is not None

    @app.post("/decode")
    async def decode(body: PayloadsIn, actor: ArchiveReader) -> dict[str, Any]:
        """Decrypt payloads for the UI (a supervisor or an auditor; recorded)."""
        out = await codec.decode([_from_json(p) for p in body.payloads])
        record_access(get_engine(settings), actor, "payload_decode", rows=len(out))
        return {"payloads": [_to_json(p) for p in out]}

    @app.post("/encode")
    async def encode(body: PayloadsIn, actor: ArchiveReader) -> dict[str, Any]:
        """Encrypt payloads (the UI's signal and query inputs)."""
        return {"payloads": [_to_json(p) for p in await codec.encode([_from_json(p) for p in body.payloads])]}

    return app
