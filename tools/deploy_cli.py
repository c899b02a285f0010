"""`jiesu deploy …`: roll a new worker build out with Temporal's Worker Deployments (worker versioning).

A release: start the new build's workers beside the old ones (JIESU_BUILD_ID=<new>), optionally `ramp` a share of
new cases to it, then make it `current`; running cases move at their next task (AUTO_UPGRADE, replay-safe), the old
workers drain and stop."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table
from temporalio.service import RPCError

from core.settings import get_settings

deploy_app = typer.Typer(help="Worker versioning: which build runs new and running cases", no_args_is_help=True)
console = Console()


def _run(step):  # type: ignore[no-untyped-def]
    """Connect, run ``step(client, deployment)``, turn a refusal into a clear error and exit 1."""
    from core.temporal import connect

    settings = get_settings()

    async def go():  # type: ignore[no-untyped-def]
        return await step(await connect(settings, wait=10), settings.deployment_name)

    try:
        return asyncio.run(go())
    except RPCError as exc:
        console.print(f"[red]{exc.status.name if exc.status else 'error'}: {exc.message}[/red]")
        raise typer.Exit(1) from exc


@deploy_app.command("current")
def deploy_current(build_id: str = typer.Argument(..., help="the build whose workers take new and running cases"),
                   wait: float = typer.Option(60.0, help="seconds to wait for the build's workers to poll")) -> None:
    """Make a build current: new cases start on it, running cases move to it at their next task."""
    from services.deployments import set_current

    previous = _run(lambda client, name: set_current(client, name, build_id, wait))
    console.print(f"{get_settings().deployment_name}: current build {build_id} (was {previous or 'unversioned'})")


@deploy_app.command("ramp")
def deploy_ramp(build_id: str = typer.Argument(..., help="the build to try ('' with 0: stop ramping)"),
                percentage: float = typer.Argument(..., min=0, max=100, help="share of new cases, in %"),
                wait: float = typer.Option(60.0, help="seconds to wait for the build's workers to poll")) -> None:
    """Send a share of new cases to a build before making it current."""
    from services.deployments import set_ramping

    _run(lambda client, name: set_ramping(client, name, build_id, percentage, wait))
    console.print(f"{get_settings().deployment_name}: {percentage:g}% of new cases to build {build_id or '-'}")


@deploy_app.command("show")
def deploy_show() -> None:
    """The deployment's routing and its builds."""
    from services.deployments import describe

    state = _run(describe)
    table = Table(title=f"worker deployment {get_settings().deployment_name}")
    table.add_column("build")
    table.add_column("status")
    for build, status in sorted(state.builds.items()):
        table.add_row(build, status + (f" ({state.ramp_percentage:g}%)" if build == state.ramping else ""))
    console.print(table)
    console.print(f"current: {state.current or 'unversioned'}; ramping: {state.ramping or '-'}")
