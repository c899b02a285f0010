"""A loopback TCP proxy that can cut a service off and bring it back (fault tests: database outage).

The proxy runs its own event loop in a background thread: the code under test may block the test's loop with
synchronous database calls (an ``async def`` route calling SQLAlchemy), and a proxy on that same loop would then
never forward the bytes it waits for.

``cut()`` resets every live connection (as a crashed server does), then handles new connections by ``mode``:
"refuse" closes the listening socket (refused, as by a stopped server), "reset" accepts and resets each at once,
"hang" accepts and never answers (a hung server). "reset" and "hang" count them in ``refused`` (how often clients
tried). ``restore()`` forwards again, on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any

CHUNK = 64 * 1024


class TcpProxy:
    """Forward 127.0.0.1:<port> to ``target_host:target_port`` until cut."""

    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self.accepted = 0  # connections forwarded so far
        self.refused = 0  # connections that arrived while cut in "reset" or "hang" mode
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcpproxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._reserved: socket.socket | None = None  # holds the port while cut in "refuse" mode
        self._live: set[asyncio.StreamWriter] = set()
        self._hung: set[asyncio.StreamWriter] = set()  # connections left unanswered in "hang" mode
        self._cut = False
        self._mode = "refuse"

    # ---- control (called from any thread) ------------------------------------------------------------

    def start(self) -> TcpProxy:
        """Listen on a free loopback port (``self.port``)."""
        self._thread.start()
        self._call(self._listen())
        return self

    def cut(self, mode: str = "refuse") -> None:
        """Reset the live connections; refuse new ones, or accept and reset them, or accept and never answer."""
        if mode not in ("refuse", "reset", "hang"):
            raise ValueError(f"unknown cut mode {mode!r}")
        self._mode = mode
        self._call(self._do_cut(stop_listening=mode == "refuse"))

    def restore(self) -> None:
        """Accept and forward connections again (same port)."""
        self._call(self._do_restore())

    def close(self) -> None:
        """Stop everything and end the thread."""
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    @property
    def is_cut(self) -> bool:
        return self._cut

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    # ---- inside the proxy's loop ---------------------------------------------------------------------

    def _bind(self) -> socket.socket:
        """A socket bound to the proxy's port (SO_REUSEPORT: it may be bound while the listener still is)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        return sock

    async def _listen(self) -> None:
        sock, self._reserved = self._reserved or self._bind(), None
        self._server = await asyncio.start_server(self._handle, sock=sock)

    async def _do_cut(self, stop_listening: bool = True) -> None:
        self._cut = True
        if stop_listening and self._server is not None:
            # Keep the port bound but not listening: a connect is refused, and no outgoing connection can take
            # the port as its ephemeral port meanwhile (restore() listens on this very socket).
            self._reserved = self._bind()
            self._server.close()
            self._server = None
        for writer in list(self._live):
            _reset(writer)
        self._live.clear()

    def _release_hung(self) -> None:
        for writer in self._hung:
            _reset(writer)
        self._hung.clear()

    async def _shutdown(self) -> None:
        await self._do_cut()
        self._release_hung()
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _do_restore(self) -> None:
        self._release_hung()
        if self._server is None:
            await self._listen()
        self._cut = False

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            self.refused += 1
            if self._mode == "hang":
                self._hung.add(writer)  # read nothing, answer nothing
            else:
                _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        if self._cut:  # cut while connecting upstream
            _reset(writer)
            _reset(up_writer)
            return
        self.accepted += 1
        self._live.update((writer, up_writer))
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        except asyncio.CancelledError:
            pass  # close(): the task ends here anyway (and asyncio's stream callback chokes on a cancelled task)
        finally:
            for w in (writer, up_writer):
                self._live.discard(w)
                with contextlib.suppress(Exception):
                    w.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until EOF or an error; then half-close (or drop) the other side."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):  # reset by the peer or by cut(); RuntimeError: transport already closed
        _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close at once without a graceful FIN (the peer sees a reset)."""
    transport = writer.transport
    if not transport.is_closing():
        with contextlib.suppress(Exception):
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
