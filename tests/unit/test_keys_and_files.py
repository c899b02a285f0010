"""Tokens live at most the configured days; files are private; the data key rotates without losing personal data
or repeat detection."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import Session, SQLModel

import core.admin_models  # noqa: F401
import core.models  # noqa: F401
from core.columns import utcnow
from core.contracts import Role
from core.crypto import Cipher
from core.models import Case
from core.settings import Settings
from services.keys import actor_of_token, create_key, key_problem, revoke_key, rotate_data_key

ROOT = Path(__file__).parents[2]


@pytest.fixture
def session(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'k.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as s:
        yield s


def test_a_token_lives_at_most_the_configured_days(session: Session) -> None:
    key, _ = create_key(session, role=Role.AUDITOR, department=None, max_days=30)
    assert key.expires_at is not None and timedelta(days=29) < key.expires_at - utcnow() <= timedelta(days=30)
    with pytest.raises(ValueError, match="at most 30 days"):
        create_key(session, role=Role.AUDITOR, department=None, expires_at=utcnow() + timedelta(days=31), max_days=30)
    with pytest.raises(ValueError, match="in the future"):
        create_key(session, role=Role.AUDITOR, department=None, expires_at=utcnow() - timedelta(days=1))


def test_a_token_is_told_apart_unknown_revoked_expired_and_valid(session: Session) -> None:
    """The same reason comes from the object check (console sign-in) and the API's narrow lookup."""
    key, token = create_key(session, role=Role.AUDITOR, department=None)
    session.commit()
    assert key_problem(None) == "the token is invalid or revoked"
    assert actor_of_token(session, "jsk_nobody")[1] == "the token is invalid or revoked"
    assert key_problem(key) is None
    actor, problem = actor_of_token(session, token)
    assert problem is None and actor is not None and (actor.id, actor.role) == (key.id, Role.AUDITOR)
    key.expires_at = utcnow() - timedelta(minutes=1)
    session.add(key)
    session.commit()
    assert key_problem(key) == actor_of_token(session, token)[1] == "the token has expired"
    revoke_key(session, key.id)
    session.commit()
    assert key_problem(key) == actor_of_token(session, token)[1] == "the token is invalid or revoked"


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, JIESU_DATA_DIR=str(tmp_path / "data"), JIESU_KEY_FILE=str(tmp_path / "keys" / "k"))
    env.pop("JIESU_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_files_are_private_and_expiry_is_refused_below_one_day(tmp_path: Path) -> None:
    out = run_cli(tmp_path, "migrate")
    assert out.returncode == 0, out.stderr
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "jiesu.db").stat().st_mode) == 0o600
    out = run_cli(tmp_path, "keys", "create", "--role", "auditor", "--expires-days", "0")
    assert out.returncode == 2 and "at least 1" in out.stdout
    out = run_cli(tmp_path, "keys", "create", "--role", "auditor")
    assert out.returncode == 0, out.stderr
    out = run_cli(tmp_path, "keys", "rotate-data-key")  # needs the key: it is generated now
    assert out.returncode == 0 and '"re_encrypted": 0' in out.stdout, out.stderr
    key_file = tmp_path / "keys" / "k"  # the key kept apart from the data directory
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (data / "secret.key").exists()
    listed = run_cli(tmp_path, "keys", "list")
    assert "expires 20" in listed.stdout


def test_the_data_key_rotates_and_repeat_detection_survives(tmp_path: Path, session: Session) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = Cipher(Settings(data_dir=tmp_path, encryption_key=old, phone_hash_key="hash-secret"))
    case = Case(case_no="2026120100000001", external_id="r-1", tracking_code="ROT0000001", kind="投诉",
                channel="hotline", category="CXJS01", district="xicheng", address="x", description="x",
                name_enc=before.encrypt("李雷"), phone_enc=before.encrypt("13912345678"),
                phone_hash=before.phone_hash("13912345678"), name_masked="李*", phone_masked="139****5678",
                rules_version="2026.3", received_at=utcnow())
    session.add(case)
    session.commit()
    after = Cipher(Settings(data_dir=tmp_path, encryption_key=new, previous_encryption_keys=[old],
                            phone_hash_key="hash-secret"))
    assert after.decrypt(case.name_enc) == "李雷"  # the old key still decrypts
    assert rotate_data_key(session, after, batch=1) == 1
    only_new = Cipher(Settings(data_dir=tmp_path, encryption_key=new, phone_hash_key="hash-secret"))
    session.refresh(case)
    assert only_new.decrypt(case.name_enc) == "李雷" and only_new.decrypt(case.phone_enc) == "13912345678"
    assert only_new.phone_hash("13912345678") == case.phone_hash  # repeats are still found
    with pytest.raises(ValueError):
        Cipher(Settings(data_dir=tmp_path, encryption_key=old)).decrypt(case.name_enc)
