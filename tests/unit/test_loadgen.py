"""The benches' load generator against a small HTTP/1.1 server: JSON bodies both ways, Content-Length and chunked
answers, connections kept alive, one the server closed after its answer replaced by a new one, and a server that
hangs up before answering reported as ConnectionLost."""

from __future__ import annotations

import asyncio
import json

import pytest

from tools.bench.loadgen import ConnectionLost, LoadClient


async def serve(handler) -> tuple[asyncio.Server, str, list[int]]:  # type: ignore[no-untyped-def]
    """A server on a free port; each connection's requests go to ``handler(request_bytes, n)``, which writes the
    answer and says whether to keep the connection; the list counts the connections opened."""
    opened: list[int] = []

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(1)
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                n += 1
                keep = await handler(head + body, n, writer)
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", opened


def answer(writer: asyncio.StreamWriter, status: int, payload: object, *extra: str) -> None:
    body = json.dumps(payload).encode()
    head = "".join(f"{h}\r\n" for h in (f"HTTP/1.1 {status} X", f"content-length: {len(body)}", *extra))
    writer.write(head.encode() + b"\r\n" + body)


async def test_json_both_ways_on_a_kept_alive_connection() -> None:
    async def echo(request: bytes, n: int, writer: asyncio.StreamWriter) -> bool:
        head, _, body = request.partition(b"\r\n\r\n")
        answer(writer, 201, {"n": n, "got": json.loads(body) if body else None,
                             "auth": b"authorization: bearer t" in head.lower()})
        return True

    server, url, opened = await serve(echo)
    async with server, LoadClient(url, 4, {"Authorization": "Bearer t"}) as http:
        first = await http.post("/x", json={"名": "值"})
        second = await http.get("/y")
    assert (first.status_code, first.json()) == (201, {"n": 1, "got": {"名": "值"}, "auth": True})
    assert second.json()["n"] == 2 and len(opened) == 1  # the same connection


async def test_a_chunked_answer_is_read_whole() -> None:
    async def chunked(request: bytes, n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n")
        return True

    server, url, _ = await serve(chunked)
    async with server, LoadClient(url, 1) as http:
        assert (await http.get("/")).json() == {"a": 1}
        assert (await http.get("/")).json() == {"a": 1}


async def test_a_connection_the_server_closed_is_replaced() -> None:
    async def once(request: bytes, n: int, writer: asyncio.StreamWriter) -> bool:
        answer(writer, 200, {"n": n})
        return False  # hangs up after each answer, without saying so (as after a keep-alive timeout)

    server, url, opened = await serve(once)
    async with server, LoadClient(url, 1) as http:
        for _ in range(3):
            assert (await http.get("/")).json() == {"n": 1}
    assert len(opened) == 3


async def test_a_server_that_hangs_up_before_answering_is_a_lost_connection() -> None:
    async def rude(request: bytes, n: int, writer: asyncio.StreamWriter) -> bool:
        return False

    server, url, _ = await serve(rude)
    async with server, LoadClient(url, 1) as http:
        with pytest.raises(ConnectionLost):
            await http.post("/", json={})
