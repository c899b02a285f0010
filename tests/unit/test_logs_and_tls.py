"""Logging is JSON lines and shows no secrets; the Temporal connection takes TLS / mTLS from settings."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from core.logs import JsonLines, safe_url
from core.settings import Settings
from core.temporal import tls_config


def test_a_record_is_one_json_line() -> None:
    record = logging.LogRecord("jiesu.test", logging.WARNING, __file__, 1, "case %s 甄别", ("2026",), None)
    line = JsonLines().format(record)
    assert "\n" not in line
    out = json.loads(line)
    assert out["level"] == "warning" and out["logger"] == "jiesu.test" and out["message"] == "case 2026 甄别"


def test_database_urls_are_shown_without_their_password() -> None:
    shown = safe_url("postgresql+psycopg://jiesu:s3cret-pw@db.internal:5432/jiesu")
    assert "s3cret-pw" not in shown and "db.internal" in shown and "***" in shown


def test_the_dev_server_stays_plain_and_tls_comes_from_settings(tmp_path: Path) -> None:
    assert tls_config(Settings(data_dir=tmp_path)) is False
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n")
    tls = tls_config(Settings(data_dir=tmp_path, temporal_tls_ca=ca, temporal_tls_server_name="temporal.internal"))
    assert isinstance(tls, TLSConfig) and tls.server_root_ca_cert == ca.read_bytes()
    assert tls.domain == "temporal.internal" and tls.client_cert is None
    cert = tmp_path / "client.pem"
    cert.write_bytes(b"cert")
    with pytest.raises(ValueError, match="go together"):
        tls_config(Settings(data_dir=tmp_path, temporal_tls_cert=cert))
    key = tmp_path / "client.key"
    key.write_bytes(b"key")
    mtls = tls_config(Settings(data_dir=tmp_path, temporal_tls_cert=cert, temporal_tls_key=key))
    assert isinstance(mtls, TLSConfig) and mtls.client_cert == b"cert" and mtls.client_private_key == b"key"
    assert tls_config(Settings(data_dir=tmp_path, temporal_tls=True)) == TLSConfig()
