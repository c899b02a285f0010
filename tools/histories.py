"""`jiesu histories record`: run the scenario tests marked `history` and write tests/histories/."""

from __future__ import annotations

import json
import os
import sys

import typer
from rich.console import Console
from rich.table import Table

from core.settings import PROJECT_ROOT

histories_app = typer.Typer(help="Recorded workflow histories (tests/histories/)", no_args_is_help=True)
console = Console()


@histories_app.command("record")
def histories_record(overwrite: bool = typer.Option(
        False, help="also rewrite existing files (only for paths whose workflow code is not released yet)")) -> None:
    """Run the scenario tests marked `history`, write the histories of paths not yet recorded, list them."""
    import subprocess
    import time

    root, started = PROJECT_ROOT, time.time()
    status = subprocess.call([sys.executable, "-m", "pytest", "-m", "history", "-q", "-p", "no:cacheprovider"],
                             cwd=root, env=os.environ | {"JIESU_RECORD_HISTORIES": "overwrite" if overwrite else "1"})
    table = Table(title="histories written")
    for col in ("file", "bytes", "events"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for path in sorted((root / "tests" / "histories").glob("*.json")):
        if path.stat().st_mtime >= started:
            events = len(json.loads(path.read_text(encoding="utf-8")).get("events", []))
            table.add_row(path.name, str(path.stat().st_size), str(events))
    console.print(table)
    raise typer.Exit(status)
