"""Interop with independent peers: the npm Primus client and server, and the
`websockets` package speaking raw Primus frames."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

import weft

from conftest import T, needs_node, run_node_client

URL = "ws://127.0.0.1:0/primus"


@needs_node
@pytest.mark.parametrize("parser", ["json", "msgpack"])
async def test_npm_primus_client_against_python_server(parser: str) -> None:
    async with await weft.serve(URL, parser=parser) as server:
        ids: list[str] = []

        def on_connection(spark: weft.Spark) -> None:
            ids.append(spark.id)
            spark.on("data", lambda msg: spark.write({"echo": msg}))

        server.on("connection", on_connection)
        msgs: list[Any] = [{"a": [1, 2]}, "text", 3.5, None, {"nested": {"x": True}}]
        lines = await run_node_client(f"ws://127.0.0.1:{server.port}/primus", msgs, parser)
        assert lines[0] == "open" and lines[-1] == "end"
        data = [json.loads(line[5:]) for line in lines if line.startswith("data ")]
        assert data == [{"echo": m} for m in msgs]
        assert len(ids) == 1


@needs_node
async def test_npm_primus_client_gets_broadcast_and_server_close() -> None:
    server = await weft.serve(URL)
    server.on("connection", lambda spark: server.write({"welcome": spark.id}))
    lines = await run_node_client(f"ws://127.0.0.1:{server.port}/primus", [], "json", 1)
    assert any(line.startswith('data {"welcome":') for line in lines)
    await server.close()


@needs_node
@pytest.mark.parametrize("parser", ["json", "msgpack"])
@pytest.mark.parametrize("transformer", ["websockets", "engine.io"])
async def test_python_client_against_npm_primus_server(
    primus_server: Any, parser: str, transformer: str
) -> None:
    peer = await primus_server("--parser", parser, "--transformer", transformer)
    async with await weft.connect(peer.url, parser=parser, transformer=transformer) as client:
        msgs: list[Any] = [{"hello": "primus"}, [1, "two"], 42, "s", "x" * 70000]
        for m in msgs:
            client.write(m)
        got = [await asyncio.wait_for(client.__anext__(), T) for _ in msgs]
        assert got == msgs
        spark_id = await asyncio.wait_for(client.id(), T)
        assert spark_id
        # The Primus server ends the spark: primus::server::close ends the client.
        client.write({"__weft_test": "end"})
        async with asyncio.timeout(T):
            while not client.ended:
                await asyncio.sleep(0.01)


@needs_node
async def test_python_client_refused_by_npm_primus_server(primus_server: Any) -> None:
    peer = await primus_server("--auth", "sesame")
    with pytest.raises(weft.Unauthorized) as info:
        await weft.connect(peer.url + "?token=wrong")
    assert info.value.status == 401
    ok = await weft.connect(peer.url + "?token=sesame")
    await ok.end()


async def test_websockets_client_raw_primus_frames() -> None:
    async with await weft.serve(URL, ping_interval=0.1) as server:
        server.on("connection", lambda s: s.on("data", s.write))
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/primus") as ws:
            await ws.send(json.dumps({"raw": [1, 2]}))
            assert json.loads(await asyncio.wait_for(ws.recv(), T)) == {"raw": [1, 2]}
            # Heartbeats: answer three primus::ping with primus::pong; the
            # spark stays open past several ping intervals.
            pongs = 0
            async with asyncio.timeout(T):
                while pongs < 3:
                    frame = await ws.recv()
                    assert isinstance(frame, str)
                    msg = json.loads(frame)
                    if isinstance(msg, str) and msg.startswith("primus::ping::"):
                        await ws.send(json.dumps("primus::pong::" + msg[len("primus::ping::"):]))
                        pongs += 1
            assert len(server.sparks) == 1
            await ws.send(json.dumps("primus::id::"))
            async with asyncio.timeout(T):
                while True:
                    msg = json.loads(await ws.recv())
                    if isinstance(msg, str) and msg.startswith("primus::id::"):
                        assert msg == "primus::id::" + server.sparks[0].id
                        break


async def test_websockets_client_that_never_pongs_is_dropped() -> None:
    async with await weft.serve(URL, ping_interval=0.05) as server:
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/primus") as ws:
            spark = await asyncio.wait_for(server.__anext__(), T)
            await asyncio.wait_for(spark.wait_closed(), T)
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(T):
                    while True:
                        await ws.recv()
