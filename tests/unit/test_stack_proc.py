"""What the benches read from /proc about a child started in its own session: the memory of its largest process
(uvicorn's workers are the API child's children) and the CPU of the whole session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tools.stack import cpu_seconds_where, largest_peak_rss_mib, peak_rss_mib

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
# a parent that holds little, and a child of it that holds 80 MiB and spins a little
PARENT = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
                  "import time; t = time.process_time()\\nwhile time.process_time() - t < 0.3: pass\\n"
                  "print('ready', flush=True); time.sleep(60)"], stdout=sys.stdout)
time.sleep(60)
"""


def test_the_largest_process_of_a_session_and_its_whole_cpu_are_counted() -> None:
    proc = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        largest, own = largest_peak_rss_mib(proc.pid), peak_rss_mib(proc.pid)
        assert largest is not None and own is not None
        assert largest >= 80 > own  # the child's memory, not the parent's
        assert cpu_seconds_where(sid=proc.pid) >= 0.3  # the child's CPU counts with the session
        assert largest_peak_rss_mib(2**22 + 12345) is None  # no such session
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
