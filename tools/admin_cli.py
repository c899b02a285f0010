"""`jiesu keys …` (API tokens, the data key) and `jiesu audit …` (chains of the timeline and the access log)."""

from __future__ import annotations

import json
from datetime import timedelta

import typer
from rich.console import Console
from rich.table import Table

from core.contracts import Role
from core.db import get_engine, session_scope
from core.settings import get_settings

keys_app = typer.Typer(help="API tokens", no_args_is_help=True)
audit_app = typer.Typer(help="Tamper-evidence checks", no_args_is_help=True)
console = Console()


@keys_app.command("create")
def keys_create(role: Role = typer.Option(...), department: str = typer.Option(None),
                name: str = typer.Option(""), expires_days: int = typer.Option(None)) -> None:
    """Create an API token; it is printed once and stored hashed."""
    from core.columns import utcnow
    from services.keys import create_key
    from services.rules_store import active_version, load_engine

    with session_scope(get_engine(get_settings())) as session:
        if department and department not in load_engine(session, active_version(session)).departments:
            console.print(f"[red]unknown department {department!r}[/red]")
            raise typer.Exit(2)
        if expires_days is not None and expires_days <= 0:
            console.print("[red]--expires-days must be at least 1[/red]")
            raise typer.Exit(2)
        settings = get_settings()
        expires = utcnow() + timedelta(days=expires_days) if expires_days else None
        try:
            key, token = create_key(session, role=role, department=department, name=name, expires_at=expires,
                                    max_days=settings.token_max_days)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    console.print(f"key id: {key.id}", style="dim", highlight=False)
    print(token)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (never the tokens)."""
    from services.keys import list_keys

    with session_scope(get_engine(get_settings())) as session:
        for k in list_keys(session):
            state = "revoked" if k.revoked_at else "active"
            expires = f"{k.expires_at:%Y-%m-%d}" if k.expires_at else "never"
            console.print(f"{k.id}  {k.role:<10} {k.department or '-':<20} {state:<8} expires {expires:<10} {k.name}",
                          highlight=False)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key."""
    from services.keys import revoke_key

    with session_scope(get_engine(get_settings())) as session:
        if revoke_key(session, key_id) is None:
            console.print(f"[red]no key {key_id}[/red]")
            raise typer.Exit(2)
    console.print(f"{key_id} revoked")


@keys_app.command("rotate-data-key")
def keys_rotate_data_key(batch: int = typer.Option(500, min=1, help="cases per transaction")) -> None:
    """Re-encrypt personal data under the current encryption key. First set the new key as JIESU_ENCRYPTION_KEY
    and the old one in JIESU_PREVIOUS_ENCRYPTION_KEYS (and JIESU_PHONE_HASH_KEY to the old hash secret, so repeat
    detection keeps working); afterwards the old key may go."""
    from core.crypto import Cipher
    from services.keys import rotate_data_key

    settings = get_settings()
    with session_scope(get_engine(settings)) as session:
        done = rotate_data_key(session, Cipher(settings), batch)
    console.print(json.dumps({"re_encrypted": done}))


@audit_app.command("verify")
def audit_verify(case_no: str = typer.Argument(None), all_cases: bool = typer.Option(False, "--all")) -> None:
    """Recompute hash chains and report altered or missing events."""
    from services.audit import verify_cases

    if not case_no and not all_cases:
        console.print("[red]give a case number or --all[/red]")
        raise typer.Exit(2)
    with session_scope(get_engine(get_settings())) as session:
        report = verify_cases(session, None if all_cases else [case_no])
    for no, problems in report.items():
        for p in problems:
            console.print(f"[red]{no}: {p}[/red]")
    bad = sum(1 for p in report.values() if p)
    console.print(json.dumps({"checked": len(report), "with_problems": bad}))
    raise typer.Exit(1 if bad else 0)


@audit_app.command("access-log")
def audit_access_log(limit: int = typer.Option(20, help="newest entries to show"),
                     actor: str = typer.Option(None, help="only this actor (API key id)")) -> None:
    """记录查阅: the newest reads of personal data, and whether the access log's chain holds."""
    from sqlmodel import select

    from core.admin_models import AccessLog
    from services.access import verify_access_log

    table = Table(title="access log")
    for col in ("at", "actor", "role", "action", "case", "rows", "detail"):
        table.add_column(col)
    with session_scope(get_engine(get_settings())) as session:
        q = select(AccessLog).order_by(AccessLog.id.desc()).limit(limit)  # type: ignore[union-attr]
        if actor:
            q = q.where(AccessLog.actor_id == actor)
        for row in session.exec(q).all():
            table.add_row(f"{row.at:%Y-%m-%d %H:%M:%S}", row.actor_id, row.role, row.action, row.case_no or "",
                          "" if row.rows is None else str(row.rows), json.dumps(row.detail, ensure_ascii=False))
        problems = verify_access_log(session)
    console.print(table)
    for p in problems:
        console.print(f"[red]{p}[/red]")
    console.print(json.dumps({"verified": not problems, "problems": len(problems)}))
    raise typer.Exit(1 if problems else 0)
