"""The slow-consumer policy: a spark whose outbound queue is full is closed
(the default, 1008) or keeps going with that message dropped ("drop"); an
error event of kind "queue" says so either way. Real sockets on 127.0.0.1:
the `websockets` client does not read while the server writes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets

import weft

from conftest import T

URL = "ws://127.0.0.1:0/primus"


async def flood(server: weft.Server, policy: str) -> tuple[int, list[str], Any]:
    """Connects a client, writes until the queue refuses, and returns how
    many writes were taken, the error kinds seen, and the client."""
    kinds: list[str] = []
    server.on("error", lambda spark, err: kinds.append(err.kind))
    client = await websockets.connect(server.url, max_size=None)
    spark = await asyncio.wait_for(server.__anext__(), T)
    taken = 0
    with pytest.raises(weft.QueueFull):
        for _ in range(100):
            spark.write("z" * 1000)
            taken += 1
    return taken, kinds, client


async def test_full_queue_closes_the_spark_by_default() -> None:
    async with await weft.serve(URL, max_queue=8192, ping_interval=None) as server:
        taken, kinds, client = await flood(server, "close")
        assert 1 <= taken <= 8
        assert kinds == ["queue"]
        async with asyncio.timeout(T):
            with pytest.raises(websockets.ConnectionClosed) as info:
                while True:
                    await client.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1008
        assert len(server) == 0


async def test_drop_policy_keeps_the_spark() -> None:
    async with await weft.serve(
        URL, max_queue=8192, queue_policy="drop", ping_interval=None
    ) as server:
        taken, kinds, client = await flood(server, "drop")
        assert kinds == ["queue"]
        got = [await asyncio.wait_for(client.recv(), T) for _ in range(taken)]
        assert len(got) == taken
        (spark,) = server.sparks
        spark.write("after")
        assert await asyncio.wait_for(client.recv(), T) == '"after"'
        await client.close()


async def test_bad_queue_policy() -> None:
    with pytest.raises(weft.InvalidArgument):
        await weft.serve(URL, queue_policy="sometimes")  # type: ignore[arg-type]
