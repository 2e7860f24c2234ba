"""Connection-state recovery's options (decision #23): serve(recovery=,
recovery_messages=) and connect(recovery=) reach the core's table; bad
values raise; a resumed spark and client say so (spark.recovered,
client.recovered). Resuming across nodes is tested in C
(test_recovery_cluster)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import weft
from weft import Backoff


async def test_recovery_options() -> None:
    server = await weft.serve(recovery=True, recovery_messages=16)
    client = await weft.connect(server.url, recovery=True)
    await client.end()
    await server.close()
    server = await weft.serve(recovery=2.5)
    await server.close()


async def test_recovery_bad_values() -> None:
    with pytest.raises(ValueError):
        await weft.serve(recovery=-1)
    with pytest.raises(weft.RangeError):
        await weft.serve(recovery=True, recovery_messages=0)
    with pytest.raises(weft.RangeError):
        await weft.serve(recovery=True, recovery_messages=65537)


async def _relay(port: int) -> tuple[asyncio.Server, list[asyncio.StreamWriter]]:
    """A TCP relay to 127.0.0.1:port; closing its writers cuts the client."""
    writers: list[asyncio.StreamWriter] = []

    async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
        except (ConnectionError, OSError):
            pass
        w.close()

    async def serve(down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", port)
        writers.extend((down_w, up_w))
        await asyncio.gather(pipe(down_r, up_w), pipe(up_r, down_w))

    return await asyncio.start_server(serve, "127.0.0.1", 0), writers


async def until(cond: Any, what: str) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), 5)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_spark_and_client_recovered() -> None:
    """Cut through a relay, 20 room messages while away: the spark and the
    client say recovered, same id and rooms, the messages in order; a forged
    resume (someone's id, a made-up token) is a fresh spark."""
    server = await weft.serve(recovery=5, rooms=True, ping_interval=None)
    sparks: list[weft.Spark] = []
    server.on("connection", sparks.append)
    relay, writers = await _relay(server.port)
    port = relay.sockets[0].getsockname()[1]
    client = await weft.connect(
        f"ws://127.0.0.1:{port}/primus", recovery=True, reconnect=Backoff(min=0.05, max=0.2)
    )
    got: list[Any] = []
    client.on("data", got.append)
    await until(lambda: sparks, "the connection")
    assert sparks[0].recovered is False
    sparks[0].join("r1")
    away = asyncio.get_running_loop().create_future()
    server.on("disconnection", lambda sp: away.done() or away.set_result(None))
    for w in writers:
        w.transport.abort()
    await asyncio.wait_for(away, 5)
    await asyncio.sleep(0.05)  # detached once the disconnection has returned
    for i in range(1, 21):
        server.to("r1").write(i)
    await until(lambda: len(sparks) == 2 and len(got) == 20, "the resumed spark, its messages")
    assert sparks[1].recovered is True
    assert sparks[1].id == sparks[0].id
    assert sparks[1].rooms == ["r1"]
    assert got == list(range(1, 21))
    assert client.recovered is True
    forged = await weft.connect(
        f"{server.url}?weft_rs={sparks[0].id}.AAAAAAAAAAAAAAAAAAAAAA.0", reconnect=None
    )
    await until(lambda: len(sparks) == 3, "the forged connection")
    assert sparks[2].recovered is False and sparks[2].id != sparks[0].id
    await forged.end()
    await client.end()
    relay.close()
    await server.close()
