"""The system as separate processes — Temporal dev server, worker, API — for benchmarks and fault tests.

Each piece is a child process that can be killed (``kill -9``) and started again on the same data, the way an
operator would see it fail: the dev server keeps its history in a SQLite file, the worker and the API read the
same settings from the environment.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.settings import PROJECT_ROOT, Settings
from tools.devstack import SQLITE_WAL, port_open, stop_process, temporal_binary, wait_until


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIESU_") and k != "DATABASE_URL"}
    env |= {
        "JIESU_DATABASE_URL": settings.db_url, "JIESU_TEMPORAL_ADDRESS": settings.temporal_address,
        "JIESU_TEMPORAL_NAMESPACE": settings.temporal_namespace, "JIESU_TASK_QUEUE": settings.task_queue,
        "JIESU_DATA_DIR": str(settings.data_dir), "JIESU_RULES_DIR": str(settings.rules_dir),
        "JIESU_INTAKE_PLAN_WAIT_SECONDS": str(settings.intake_plan_wait_seconds),
        "JIESU_PUBLIC_BASE_URL": settings.public_base_url,
    }
    if settings.encryption_key:
        env["JIESU_ENCRYPTION_KEY"] = settings.encryption_key
    return env


def peak_rss_mib(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a live process in MiB, from /proc (None where /proc is missing)."""
    return _status_mib(pid, "VmHWM")


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command, the fields after it) of every live process in /proc: state, ppid, pgrp, session, …,
    utime (index 11), stime (12); nothing where /proc is missing."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, IndexError, ValueError):
            continue
        yield int(stat.parent.name), name, rest.split()


def cpu_seconds_where(sid: int | None = None, command: str | None = None) -> float:
    """CPU seconds (user + system) used so far by the live processes of session ``sid`` (a child started in its
    own session: uvicorn's worker processes count with their parent) or named ``command`` (``postgres``: the
    database's backends); 0.0 where /proc is missing."""
    total = sum(int(fields[11]) + int(fields[12]) for _, name, fields in _processes()
                if (sid is not None and int(fields[3]) == sid) or (command is not None and name == command))
    return total / os.sysconf("SC_CLK_TCK")


def largest_peak_rss_mib(sid: int) -> float | None:
    """The largest peak resident memory (VmHWM) among the live processes of session ``sid``, MiB: with
    ``--api-workers N`` that is one of uvicorn's workers, not the small supervisor that started them."""
    peaks = [peak_rss_mib(pid) for pid, _, fields in _processes() if int(fields[3]) == sid]
    return max((p for p in peaks if p is not None), default=None)


def _status_mib(pid: int, field: str) -> float | None:
    """A memory line of /proc/<pid>/status in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Stack:
    """Temporal dev server + worker + API as child processes sharing ``settings`` (ports chosen free)."""

    settings: Settings
    log_dir: Path
    temporal_address: str = ""  # an outside server (e.g. the time-skipping test server); else our own dev server
    temporal_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.settings = self.settings.model_copy(update={
            "temporal_address": self.temporal_address or f"127.0.0.1:{self.temporal_port}",
            "api_port": self.api_port})

    @property
    def api_url(self) -> str:
        """Base URL of the API process."""
        return f"http://127.0.0.1:{self.api_port}"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "ab") as log:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=settings_env(self.settings),
                                    cwd=PROJECT_ROOT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def start_temporal(self, in_memory: bool = False) -> None:
        """Start (or restart) the dev server on its port, history in <log_dir>/temporal.db (or in memory)."""
        store = [] if in_memory else ["--db-filename", str(self.log_dir / "temporal.db"), *SQLITE_WAL]
        proc = self._spawn("temporal", [
            temporal_binary(), "server", "start-dev", *store,
            "--ip", "127.0.0.1", "--port", str(self.temporal_port), "--headless", "--log-level", "error",
            "--namespace", self.settings.temporal_namespace])
        wait_until(lambda: port_open("127.0.0.1", self.temporal_port), "Temporal dev server", proc=proc)

    def start_worker(self, name: str = "worker") -> None:
        """Start a worker process (`python worker.py`): reconciler, schedules, workflows and activities."""
        self._spawn(name, [sys.executable, "worker.py"])

    def start_api(self, workers: int = 1) -> None:
        """Start the API under uvicorn (``workers`` processes on one port) and wait for /api/v1/health."""
        proc = self._spawn("api", [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                                   "--port", str(self.api_port), "--log-level", "warning", "--no-access-log",
                                   *(["--workers", str(workers)] if workers > 1 else [])])
        wait_until(self._healthy, "API", proc=proc)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/api/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (default SIGKILL, as a crash) to a child's process group and reap it."""
        stop_process(self.procs.pop(name, None), sig, timeout=30)

    def alive(self, name: str) -> bool:
        """Whether a child is running."""
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def rss_mib(self, name: str) -> float | None:
        """Resident memory of a running child now, MiB (VmRSS)."""
        proc = self.procs.get(name)
        return _status_mib(proc.pid, "VmRSS") if proc and proc.poll() is None else None

    def peak_rss_mib(self, name: str) -> float | None:
        """Peak resident memory of a running child, MiB: of its largest process (uvicorn's workers are the API
        child's own children, in its session)."""
        proc = self.procs.get(name)
        return largest_peak_rss_mib(proc.pid) if proc and proc.poll() is None else None

    def max_peak_rss_mib(self, prefix: str) -> float | None:
        """The largest peak resident memory among the running children named ``prefix…`` (worker, worker-2 …),
        MiB; None without a reading."""
        peaks = [self.peak_rss_mib(name) for name in self.procs if name.startswith(prefix)]
        return max((p for p in peaks if p is not None), default=None)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds each running child (with its own children) and the local PostgreSQL have used so far."""
        used = {name: cpu_seconds_where(sid=proc.pid) for name, proc in self.procs.items() if proc.poll() is None}
        return used | {"postgres": cpu_seconds_where(command="postgres")}

    def stop(self) -> None:
        """Stop every child: API and worker first, the server last (SIGTERM, SIGKILL after 30 s)."""
        for name in ["api", *(n for n in self.procs if n.startswith("worker")), "temporal"]:
            self.kill(name, signal.SIGTERM)
