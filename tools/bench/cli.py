"""`jiesu bench intake|lifecycle|reports`: benchmarks that print numbers (results under bench/results/)."""

from __future__ import annotations

import typer
from rich.console import Console

from core.settings import get_settings

bench_app = typer.Typer(help="Benchmarks that print numbers (results under bench/results/)", no_args_is_help=True)
console = Console()


@bench_app.command("reports")
def bench_reports(rows: int = typer.Option(1_000_000, help="closed cases to have in the database"),
                  repeat: int = typer.Option(5, help="timed runs per report (after one cold run)")) -> None:
    """Fill the database with closed cases (synthetic, marked bench-*) and time every report (use PostgreSQL)."""
    from tools.bench import reports as bench

    settings = get_settings()
    if not settings.db_url.startswith("postgresql"):
        console.print("[yellow]warning: not PostgreSQL — the target is measured on PostgreSQL[/yellow]")
    bench.run(settings, rows, repeat, console)


@bench_app.command("intake")
def bench_intake(cases: int = typer.Option(2000, help="complaints to post"),
                 concurrency: int = typer.Option(32, help="requests in flight"),
                 database: str = typer.Option("", help="URL of a scratch database (default: a fresh "
                                              "SQLite file); never your configured one"),
                 temporal: str = typer.Option("file", help="file: a dev server with its history in a SQLite file "
                                              "(as make run); memory: in memory; or HOST:PORT of a server"),
                 workers: int = typer.Option(1, help="worker processes"),
                 rate: float = typer.Option(0.0, help="open loop: POST at this rate (per second) instead of "
                                            "--concurrency in flight; latency at half the measured maximum"),
                 api_workers: int = typer.Option(1, help="API processes (uvicorn workers on one port)"),
                 raw: int = typer.Option(2000, help="empty workflows (a) starts to measure the raw rate (at most "
                                         "--cases): a whole day's worth would leave the server 66,000 timeouts "
                                         "to process during (b)")) -> None:
    """Raw SDK workflow starts vs end-to-end POST /api/v1/cases through the HTTP server (same Temporal and DB)."""
    from tools.bench import intake as bench_intake

    bench_intake.run(get_settings(), cases, concurrency, database or None, console, temporal, workers, rate,
                     api_workers, min(raw, cases))


@bench_app.command("lifecycle")
def bench_lifecycle(cases: int = typer.Option(500, help="cases to run from intake to archive"),
                    concurrency: int = typer.Option(32, help="cases driven at once"),
                    seed: int = typer.Option(2026, help="seed of the mix"),
                    database: str = typer.Option("", help="URL of a scratch database (default: a fresh "
                                                 "SQLite file); never your configured one"),
                    http: bool = typer.Option(False, help="over real HTTP against the file-backed dev server, in "
                                              "real time (no silent partner), instead of the time-skipping server"),
                    workers: int = typer.Option(1, help="--http: worker processes"),
                    open_cases: int = typer.Option(0, "--open", help="--http: then file this many cases, leave "
                                                   "them open and read the worker's memory")) -> None:
    """A realistic mix (协办, silent partner, 重办, 退单, a holiday on the way) run to archive: cases/s, events/case."""
    if http:
        from tools.bench import lifecycle_http

        lifecycle_http.run(get_settings(), cases, concurrency, database or None, console, workers, open_cases, seed)
        return
    from tools.bench import lifecycle as bench_lifecycle

    bench_lifecycle.run(get_settings(), cases, concurrency, seed, database or None, console)


@bench_app.command("console")
def bench_console(rows: int = typer.Option(10_000, help="open cases of one department"),
                  repeat: int = typer.Option(10, help="timed runs per page (after one warm-up)")) -> None:
    """Time the console's work lists over many open cases (server time, in-process; use PostgreSQL)."""
    from tools.bench import console as bench

    bench.run(get_settings(), rows, repeat, console)
