"""The benches' HTTP load generator: kept-alive HTTP/1.1 connections on asyncio streams, JSON in and out.

The load generator shares this machine's two cores with the system it measures. httpx spent about 6 ms of CPU per
request here (a third of what the API itself spends on a complaint), so a bench with it measured the client as
much as the server. This client does only what the benches need: one request at a time per connection, bodies
with Content-Length or chunked, a connection the server closed (idle keep-alive timeout) reopened once.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class ConnectionLost(Exception):
    """The server closed the connection before it answered (the request may have been applied)."""


@dataclass
class Answer:
    """An HTTP answer: status code and body."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.content)


KEEP_ALIVE_SECONDS = 4.0  # uvicorn closes a connection idle for 5 s: older idle ones are not reused
ANSWER_TIMEOUT = 120.0  # seconds a request may take before the bench gives up on it


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used = time.monotonic()

    async def exchange(self, head: bytes, body: bytes) -> tuple[Answer, bool]:
        """Send one request, read its answer; whether the connection may be used again."""
        self.writer.write(head + body)
        try:
            await self.writer.drain()
            status_line, *lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ConnectionLost(str(exc)) from exc
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        try:
            if "content-length" in headers:
                content = await self.reader.readexactly(int(headers["content-length"]))
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                content = await self._chunked()
            else:
                content = b""
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ConnectionLost(str(exc)) from exc
        return Answer(int(status_line.split(" ", 2)[1]), content), headers.get("connection", "").lower() != "close"

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")  # no trailers from our server: the final empty line
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        self.writer.close()


class LoadClient:
    """Up to ``connections`` kept-alive connections to one server; every request carries ``headers``."""

    def __init__(self, base_url: str, connections: int, headers: dict[str, str] | None = None) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(connections)
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())

    async def request(self, method: str, path: str, json_body: Any = None,
                      headers: dict[str, str] | None = None) -> Answer:
        """Send a request (a JSON body when given) on an idle connection or a new one; a kept-alive connection the
        server had closed is replaced by a new one (ConnectionLost if that fails too)."""
        body = b"" if json_body is None else json.dumps(json_body, ensure_ascii=False).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        kind = "Content-Type: application/json\r\n" if json_body is not None else ""
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._headers}{extra}{kind}"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        async with self._slots:
            conn = self._reusable()
            if conn is not None:
                try:
                    return await self._exchange(conn, head, body)
                except ConnectionLost:  # the server closed it just before (its keep-alive timeout): a new one
                    pass
            return await self._exchange(_Connection(*await asyncio.open_connection(self.host, self.port)), head,
                                        body)

    def _reusable(self) -> _Connection | None:
        """The most recently used idle connection, if the server cannot have closed it for idleness yet."""
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.used < KEEP_ALIVE_SECONDS:
                return conn
            conn.close()
        return None

    async def _exchange(self, conn: _Connection, head: bytes, body: bytes) -> Answer:
        try:
            answer, keep = await asyncio.wait_for(conn.exchange(head, body), ANSWER_TIMEOUT)
        except BaseException:  # lost, timed out, or an answer it cannot read: the connection is done for
            conn.close()
            raise
        conn.used = time.monotonic()
        if keep:
            self._idle.append(conn)
        else:
            conn.close()
        return answer

    async def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Answer:
        """POST a JSON body."""
        return await self.request("POST", path, json, headers)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        """GET."""
        return await self.request("GET", path, None, headers)

    async def aclose(self) -> None:
        """Close every idle connection."""
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    async def __aenter__(self) -> LoadClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
