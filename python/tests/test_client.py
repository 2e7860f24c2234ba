"""Client bad-input paths against hand-made peers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import websockets

import weft

from conftest import T


async def test_client_survives_bad_json_from_server() -> None:
    async def handler(ws: Any) -> None:
        await ws.send("{bad json")
        await ws.send('"ok"')
        await ws.wait_closed()

    async with websockets.serve(handler, "127.0.0.1", 0) as wss:
        port = wss.sockets[0].getsockname()[1]
        errors: list[weft.Error] = []
        client = await weft.connect(f"ws://127.0.0.1:{port}/primus", ping_timeout=0, wait=False)
        client.on("error", errors.append)
        assert await asyncio.wait_for(client.__anext__(), T) == "ok"
        assert [e.kind for e in errors] == ["json"]
        assert isinstance(errors[0], weft.Error) and client.last_error is errors[0]
        await client.end()


async def test_client_times_out_on_silent_server() -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept, read nothing, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        events: list[str] = []
        with pytest.raises(weft.Error):
            client = await weft.connect(f"ws://127.0.0.1:{port}/primus", timeout=0.2,
                                        reconnect=None, wait=False)
            client.on("timeout", lambda: events.append("timeout"))
            await asyncio.wait_for(client.wait_open(), T)
        assert events == ["timeout"]
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()


async def test_reconnect_timeout_abandons_a_hanging_retry() -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        seen: list[tuple[str, int]] = []
        client = await weft.connect(f"ws://127.0.0.1:{port}/primus", timeout=0.2, wait=False,
                                    reconnect=weft.Backoff(min=0.01, max=0.02, retries=2))
        client.on("error", lambda err: None)
        for name in ("timeout", "reconnect scheduled", "reconnect timeout"):
            client.on(name, lambda *a, name=name: seen.append((name, a[0] if a else 0)))
        deadline = asyncio.get_running_loop().time() + T
        while ("reconnect scheduled", 2) not in seen:
            assert asyncio.get_running_loop().time() < deadline, seen
            await asyncio.sleep(0.01)
        assert seen[:4] == [("timeout", 0), ("reconnect scheduled", 1), ("reconnect timeout", 1),
                            ("reconnect scheduled", 2)]
        await asyncio.wait_for(client.end(), T)
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()


async def test_offline_queue_limit() -> None:
    server = await weft.serve("ws://127.0.0.1:0/primus")
    port = server.port
    await server.close()
    client = await weft.connect(f"ws://127.0.0.1:{port}/primus", wait=False, queue_limit=64,
                                reconnect=weft.Backoff(min=5, retries=1))
    client.write("small")
    with pytest.raises(weft.QueueFull):
        client.write("x" * 1000)
    assert client.buffered_amount > 0
    await asyncio.wait_for(client.end(), T)
    with pytest.raises(weft.ClosedError):
        client.write("after end")
    with pytest.raises(weft.ClosedError):
        await client.id()


async def test_bad_backoff_values() -> None:
    with pytest.raises(ValueError):
        await weft.connect("ws://127.0.0.1:1/primus", reconnect=weft.Backoff(min=-1))
    with pytest.raises(ValueError):
        await weft.connect("ws://127.0.0.1:1/primus", reconnect=weft.Backoff(factor=0.5))
    with pytest.raises(weft.InvalidArgument):
        await weft.connect("ws://127.0.0.1:1/primus", strategy="sometimes")


TLS = Path(__file__).resolve().parents[2] / "tests" / "data" / "tls"


async def test_wss_with_ca_file_and_bad_cert() -> None:
    cert, key = str(TLS / "cert.pem"), str(TLS / "key.pem")
    async with await weft.serve("wss://127.0.0.1:0/primus", tls=(cert, key)) as server:
        assert server.url.startswith("wss://")
        server.on("connection", lambda s: s.on("data", s.write))
        async with await weft.connect(server.url, ca_file=cert) as client:
            client.write({"tls": True})
            assert await asyncio.wait_for(client.__anext__(), T) == {"tls": True}
        # Without the CA the certificate does not verify: a "tls" error.
        with pytest.raises(weft.Error) as info:
            await weft.connect(server.url, reconnect=None, ping_timeout=0)
        assert info.value.kind == "tls"
    with pytest.raises(weft.InvalidArgument):
        await weft.serve("wss://127.0.0.1:0/primus", tls=(key, key))
