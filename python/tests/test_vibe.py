"""Vibe from Python (issue #21, decision #32): connect(transport=) over
ws, httpstream and httplongpoll with acks both ways against a weft Vibe
server with serve(vibe_heartbeat=, vibe_heartbeat_wait=), and the bad
input of both: an unknown transport, a URL whose transport= query names
another, a wait not below the heartbeat."""

from __future__ import annotations

import asyncio

import pytest

import weft
from conftest import T

URL = "http://127.0.0.1:0/vibe"


async def vibe_server() -> weft.Server:
    server = await weft.serve(
        URL, transformer="vibe", emitter=True, vibe_heartbeat=3, vibe_heartbeat_wait=1
    )
    server.on_event("sum", lambda spark, pair: pair[0] + pair[1])  # one datum per Vibe event
    return server


@pytest.mark.parametrize("transport", ["ws", "httpstream", "httplongpoll"])
async def test_transport_option_acks_both_ways(transport: str) -> None:
    sparks: list[weft.Spark] = []
    async with await vibe_server() as server:
        server.on("connection", sparks.append)
        client = await weft.connect(server.url, transformer="vibe", transport=transport, emitter=True)
        client.on_event("double", lambda n: n * 2)
        assert await asyncio.wait_for(client.emit("sum", [20, 22], ack=True), T) == 42
        spark = sparks[0]
        assert await asyncio.wait_for(spark.emit("double", 7, ack=True), T) == 14
        await client.end()


async def test_transport_option_bad_input() -> None:
    async with await vibe_server() as server:
        url = server.url + "?transport=longpoll"
        client = await weft.connect(url, transformer="vibe", transport="httplongpoll", emitter=True)
        assert await asyncio.wait_for(client.emit("sum", [1, 2], ack=True), T) == 3
        await client.end()
        with pytest.raises(weft.InvalidArgument, match="transport 'ws'.*URL's transport="):
            await weft.connect(url, transformer="vibe", transport="ws")
        with pytest.raises(weft.RangeError, match="httplongpoll"):
            await weft.connect(server.url, transformer="vibe", transport="carrier")
    with pytest.raises(weft.InvalidArgument, match="vibe_heartbeat_wait"):
        await weft.serve(URL, transformer="vibe", vibe_heartbeat=1, vibe_heartbeat_wait=1)
