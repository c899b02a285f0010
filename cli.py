"""`jiesu`: dev, worker, api, codec-server, migrate, rules, keys, audit, deploy, bench."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from core.contracts import Role
from core.db import get_engine, session_scope
from core.settings import get_settings
from tools.admin_cli import audit_app, keys_app
from tools.bench.cli import bench_app
from tools.deploy_cli import deploy_app
from tools.histories import histories_app

app = typer.Typer(help="jiesu — the 12345 接诉即办 case engine", no_args_is_help=True)
rules_app = typer.Typer(help="Handling rules versions", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(histories_app, name="histories")
app.add_typer(bench_app, name="bench")
app.add_typer(deploy_app, name="deploy")
console = Console()


@app.command()
def dev(api_workers: int = typer.Option(1, min=1, help="API processes (more than 1: uvicorn workers)"),
        workers: int = typer.Option(1, min=1, help="worker processes")) -> None:
    """Start the Temporal dev server, the worker(s), the API and the sender in the foreground (Ctrl-C stops all).
    With more than one API or worker process each runs as its own process (use PostgreSQL for that)."""
    from tools import devstack

    devstack.run(get_settings(), console, api_workers=api_workers, workers=workers)


@app.command()
def worker() -> None:
    """Run a worker against the configured Temporal server (SIGTERM: finish the running activities, then stop)."""
    from core.logs import configure_logging
    from worker import serve

    configure_logging()
    asyncio.run(serve(get_settings()))


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000,
        workers: int = typer.Option(1, min=1, help="API processes sharing the port (uvicorn workers)")) -> None:
    """Run the API server (JSON-line logs; uvicorn's access log off: requests carry tokens in headers only, but a
    query string could hold personal data)."""
    import uvicorn

    from core.logs import configure_logging

    configure_logging()
    uvicorn.run("api.main:app", host=host, port=port, log_config=None, access_log=False, workers=workers)


@app.command()
def sender() -> None:
    """Deliver notices from the outbox: SMS to complainants through the configured adapter, staff notices to the
    inbox; retries with backoff, dead letters to the supervisor (several senders may run on PostgreSQL)."""
    from core.logs import configure_logging
    from services.delivery import run_sender

    configure_logging()
    settings = get_settings()
    try:
        run_sender(get_engine(settings), settings)
    except ValueError as exc:  # the adapter's settings are incomplete
        typer.echo(f"jiesu sender: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command("codec-server")
def codec_server(host: str = "127.0.0.1", port: int = 8234) -> None:
    """Serve the payload codec to the Temporal UI (decodes for supervisors and auditors only; each recorded)."""
    import uvicorn

    from api.codec_server import create_codec_app

    uvicorn.run(create_codec_app(get_settings()), host=host, port=port)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic upgrade head)."""
    from core.migrate import upgrade
    from tools.devstack import private_data_dir

    settings = get_settings()
    private_data_dir(settings.data_dir)  # SQLite lives there: created 0700, its files 0600
    upgrade(settings.db_url)
    console.print("database is up to date")


@rules_app.command("import")
def rules_import(directory: Path = typer.Option(None, help="folder of *.yaml versions")) -> None:
    """Store the shipped rules versions that the database does not have yet."""
    from services.rules_store import import_shipped

    settings = get_settings()
    with session_scope(get_engine(settings)) as session:
        added = import_shipped(session, directory or settings.rules_dir)
    console.print(f"imported: {', '.join(added) or 'nothing new'}")


@rules_app.command("list")
def rules_list() -> None:
    """List published versions, newest first (* = active)."""
    from services.rules_store import list_versions

    with session_scope(get_engine(get_settings())) as session:
        rows = [(r.active, r.version, r.sha256, r.source, r.title) for r in list_versions(session)]
    for active, version, digest, source, title in rows:
        console.print(f"{'*' if active else ' '} {version}  {digest[:12]}  {source}  {title}", highlight=False)


@rules_app.command("activate")
def rules_activate(version: str) -> None:
    """Make a stored version the one new cases use (open cases keep theirs)."""
    from services.rules_store import RulesNotFound, activate

    try:
        with session_scope(get_engine(get_settings())) as session:
            previous = activate(session, version, "cli")
    except RulesNotFound as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"{version} is active (was {previous or 'none'})")


def _checked(file: Path):  # type: ignore[no-untyped-def]
    """Parse a rules file or print every problem as file:line:column and exit 1."""
    from rules.parse import parse_rules
    from rules.schema import RulesError

    text = file.read_text(encoding="utf-8")
    try:
        return text, parse_rules(text)
    except RulesError as exc:
        for p in exc.problems:
            where = f"{file}:{p.line}:{p.column}" if p.line else str(file)
            console.print(f"[red]{where}: {p.path}: {p.message}[/red]", highlight=False, soft_wrap=True)
        console.print(f"[red]{len(exc.problems)} problem(s); nothing stored[/red]")
        raise typer.Exit(1) from exc


@rules_app.command("validate")
def rules_validate(file: Path) -> None:
    """Check a rules file; print each error as FILE:LINE:COLUMN: path: message."""
    _, rules = _checked(file)
    console.print(f"{file}: version {rules.version} is valid")


@rules_app.command("publish")
def rules_publish(file: Path) -> None:
    """Publish a rules file as a new immutable version (activate it separately)."""
    from services.rules_store import VersionConflict, publish

    text, _ = _checked(file)
    try:
        with session_scope(get_engine(get_settings())) as session:
            row, created = publish(session, text, "cli", f"cli:{file.name}")
            version, digest = row.version, row.sha256
    except VersionConflict as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    state = "published" if created else "already published (identical)"
    console.print(f"{version} {state}, sha256 {digest[:12]}; activate with `jiesu rules activate {version}`")


@rules_app.command("diff")
def rules_diff(old: str, new: str) -> None:
    """A readable diff of two versions (stored version names or YAML files)."""
    from rules import diff
    from services.rules_store import RulesNotFound, get_version

    def text_of(ref: str) -> str:
        if Path(ref).is_file():
            return Path(ref).read_text(encoding="utf-8")
        with session_scope(get_engine(get_settings())) as session:
            return get_version(session, ref).yaml_text

    try:
        changes = diff.diff_yaml(text_of(old), text_of(new))
    except RulesNotFound as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(diff.render_text(changes, old, new), highlight=False, markup=False, soft_wrap=True)


@rules_app.command("migrate")
def rules_migrate(version: str, dry_run: bool = typer.Option(False, "--dry-run", help="only list what changes"),
                  reason: str = typer.Option("", help="why (recorded in each case's timeline)")) -> None:
    """Move open cases to a version: those whose department or deadline changes are re-planned by their workflow."""
    from core.contracts import Actor
    from core.temporal import connect
    from services.rules_admin import plan_migration, run_migration

    if not dry_run and not reason:
        console.print("[red]a migration needs --reason (or use --dry-run)[/red]")
        raise typer.Exit(2)
    settings = get_settings()

    async def go():  # type: ignore[no-untyped-def]
        with session_scope(get_engine(settings)) as session:
            if dry_run:
                return plan_migration(session, version)
            client = await connect(settings)
            return await run_migration(session, client, version, reason, Actor(id="cli", role=Role.ADMIN))

    plan = asyncio.run(go())
    table = Table(title=f"rules {version}: {'dry run' if dry_run else 'migration ' + str(plan.migration_id)}")
    for col in ("case", "from", "department", "deadlines"):
        table.add_column(col)
    for r in plan.changes:
        dept = f"{r.old_department} → {r.dispatch.department}" if r.dispatch else ""
        clocks = "; ".join(f"{c.name}: {c.old_due:%m-%d %H:%M} → {c.new_due:%m-%d %H:%M} UTC" for c in r.clock_changes)
        table.add_row(r.case_no, r.from_version, dept, clocks)
    console.print(table)
    console.print(f"{len(plan.changes)} change, {plan.unchanged} unchanged, {len(plan.skipped)} cannot move"
                  + (f", {len(plan.failed)} not signalled: {', '.join(plan.failed)}" if plan.failed else ""))
    for r in plan.skipped:
        console.print(f"[yellow]{r.case_no}: {r.skipped}[/yellow]")


@rules_app.command("check")
def rules_check(version: str = typer.Option(None, help="default: the active version")) -> None:
    """Warn about gaps in the holiday calendar (next year missing while the year ends within 60 days)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from rules.calendar import calendar_warnings
    from services.rules_store import active_version, load_engine

    with session_scope(get_engine(get_settings())) as session:
        engine = load_engine(session, version or active_version(session))
    warnings = calendar_warnings(engine.calendar, datetime.now(ZoneInfo(engine.rules.timezone)).date())
    for w in warnings:
        console.print(f"[yellow]warning ({engine.version}): {w}[/yellow]")
    if not warnings:
        console.print(f"{engine.version}: calendar covers next year")


def main() -> None:
    """Entry point; ends with os._exit so the Temporal SDK cannot crash the interpreter at exit (#300). Files
    the process creates are private to its user (umask 077: the database, the Temporal file, keys, tokens)."""
    os.umask(0o077)
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
