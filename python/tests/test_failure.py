"""Host-native failure modes (issue #15, item 6), through real sockets on
127.0.0.1 with the `websockets` client as the peer:

- a connection handler that raises (inside ``async for msg in spark`` or
  before) ends its spark with 1011 within 1 s and logs the exception on the
  logger "weft"; other sparks go on;
- a spark's receive queue is bounded: full, the spark stops reading (the
  peer's messages wait in the kernel), and reading resumes as the
  iteration consumes; nothing is lost or reordered.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import websockets

import weft

from conftest import T

URL = "ws://127.0.0.1:0/primus"


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "weft" and r.exc_info]


async def expect_close(ws: websockets.ClientConnection, within: float) -> int:
    """Reads until the server closes; returns the close code it sent."""
    with pytest.raises(websockets.ConnectionClosed) as info:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    assert info.value.rcvd is not None
    return info.value.rcvd.code


async def test_raising_iteration_handler_closes_1011(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="weft")
    async with await weft.serve(URL, ping_interval=None) as server:

        @server.on("connection")
        async def handler(spark: weft.Spark) -> None:
            async for msg in spark:
                if msg == "boom":
                    raise ValueError("handler bug")
                spark.write(msg)

        async with websockets.connect(server.url) as ok, websockets.connect(server.url) as bad:
            await ok.send('"hello"')
            assert await asyncio.wait_for(ok.recv(), T) == '"hello"'
            t0 = time.monotonic()
            await bad.send('"boom"')
            assert await expect_close(bad, 1.0) == 1011
            assert time.monotonic() - t0 < 1.0
            # The failure is logged once, with its traceback, on "weft".
            (rec,) = failures(caplog)
            assert rec.levelno == logging.ERROR
            assert rec.exc_info is not None and isinstance(rec.exc_info[1], ValueError)
            # The other spark is untouched.
            await ok.send('"still here"')
            assert await asyncio.wait_for(ok.recv(), T) == '"still here"'
            assert len(server) == 1


async def test_raising_sync_handler_closes_1011(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="weft")
    async with await weft.serve(URL, ping_interval=None) as server:

        def handler(spark: weft.Spark) -> None:
            raise KeyError("sync bug")

        server.on("connection", handler)
        async with websockets.connect(server.url) as ws:
            assert await expect_close(ws, 1.0) == 1011
        (rec,) = failures(caplog)
        assert rec.exc_info is not None and isinstance(rec.exc_info[1], KeyError)


async def test_handler_raising_after_the_end_logs_only(caplog: pytest.LogCaptureFixture) -> None:
    """The spark is gone already: the failure is logged, nothing else."""
    caplog.set_level(logging.ERROR, logger="weft")
    async with await weft.serve(URL, ping_interval=None) as server:
        done = asyncio.Event()

        @server.on("connection")
        async def handler(spark: weft.Spark) -> None:
            async for _ in spark:
                pass
            done.set()
            raise RuntimeError("after the end")

        async with websockets.connect(server.url) as ws:
            await ws.send('"x"')
        await asyncio.wait_for(done.wait(), T)
        await asyncio.sleep(0.05)
        assert len(failures(caplog)) == 1


@pytest.mark.parametrize("bad", [0, -1, 2.5, "8", True])
async def test_receive_queue_bad_input(bad: object) -> None:
    with pytest.raises(ValueError):
        await weft.serve(URL, receive_queue=bad)  # type: ignore[arg-type]


async def test_bounded_receive_queue_pauses_and_resumes() -> None:
    limit, n = 8, 400
    async with await weft.serve(URL, receive_queue=limit, ping_interval=None) as server:
        async with websockets.connect(server.url) as ws:
            spark = await asyncio.wait_for(server.__anext__(), T)
            assert not spark.paused
            for i in range(n):
                await ws.send(f'{{"i":{i},"pad":"{"x" * 1000}"}}')
            async with asyncio.timeout(T):
                while not spark.paused:
                    await asyncio.sleep(0.01)
            # Paused: the queue holds `limit` messages and the core reads no
            # more (the rest waits in the kernel), however long we wait.
            await asyncio.sleep(0.3)
            assert spark.paused
            assert len(spark._queue) == limit
            assert server.metrics().messages_in_total == limit
            # Consuming resumes reading; every message arrives, in order.
            seen_resume = False
            got: list[int] = []
            async with asyncio.timeout(T):
                async for msg in spark:
                    got.append(msg["i"])
                    seen_resume = seen_resume or not spark.paused
                    assert len(spark._queue) <= limit
                    if len(got) == n:
                        break
            assert got == list(range(n))
            assert seen_resume
            assert server.metrics().messages_in_total == n
            # Unbounded (None): the old behaviour, nothing pauses.
        async with await weft.serve(URL, receive_queue=None, ping_interval=None) as server2:
            async with websockets.connect(server2.url) as ws2:
                spark2 = await asyncio.wait_for(server2.__anext__(), T)
                for i in range(50):
                    await ws2.send(f'"{i}"')
                async with asyncio.timeout(T):
                    while server2.metrics().messages_in_total < 50:
                        await asyncio.sleep(0.01)
                assert len(spark2._queue) == 50 and not spark2.paused
