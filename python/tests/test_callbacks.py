"""nmsg's remote callbacks (issue #22): an answer carries a callback, the
sender calls it back with an answer that may carry one again (depths 1, 2,
3); a callback never called is released at its timeout and at the close."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import weft
from conftest import T


async def test_callbacks_depths_1_2_3() -> None:
    server = await weft.serve(ping_interval=None, emitter=True)
    calls: list[Any] = []

    def depth2(err: Exception | None, v: Any, reply: weft.Reply | None) -> None:
        calls.append(("server depth 2", err, v))
        assert reply is not None
        reply.resolve(f"v3:{v}")

    @server.on_event("chain")
    def chain(spark: weft.Spark, q: str) -> weft.Carry:
        return weft.Carry(f"v1:{q}", depth2)

    client = await weft.connect(server.url, emitter=True, reconnect=None)
    try:
        answer = await asyncio.wait_for(client.emit("chain", "q", ack=True), T)
        assert isinstance(answer, weft.Answer)
        assert answer.value == "v1:q"  # depth 1: the emit's callback, on the client
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        answer.reply.resolve(
            "v2", callback=lambda err, v, reply: done.set_result((err, v, reply))
        )
        assert await asyncio.wait_for(done, T) == (None, "v3:v2", None)  # depth 3
        assert calls == [("server depth 2", None, "v2")]
    finally:
        await client.end()
        await server.close()


async def test_uncalled_callbacks_are_released() -> None:
    server = await weft.serve(ping_interval=None, emitter=True)
    outcomes: list[str] = []

    def record(err: Exception | None, v: Any, reply: weft.Reply | None) -> None:
        outcomes.append(type(err).__name__)

    @server.on_event("short")
    def short(spark: weft.Spark) -> weft.Carry:
        return weft.Carry(1, record, timeout=0.05)

    @server.on_event("long")
    def long(spark: weft.Spark) -> weft.Carry:
        return weft.Carry(2, record, timeout=0)

    client = await weft.connect(server.url, emitter=True, reconnect=None)
    kept = [await client.emit("short", ack=True), await client.emit("long", ack=True)]
    for _ in range(200):
        if outcomes:
            break
        await asyncio.sleep(0.01)
    assert outcomes == ["Timeout"]
    await client.end()
    for _ in range(200):
        if len(outcomes) == 2:
            break
        await asyncio.sleep(0.01)
    assert outcomes == ["Timeout", "ClosedError"]
    # Bad input: a callback that is not callable; answering twice.
    with pytest.raises(TypeError):
        weft.Carry(1, "not callable")  # type: ignore[arg-type]
    assert kept[0].reply.resolve("late") is False  # the connection is gone
    with pytest.raises(weft.StateError):
        kept[0].reply.resolve("again")
    await server.close()
