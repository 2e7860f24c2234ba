"""Extensions through real sockets: events with acks, rooms, channels,
batching (issue #9)."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import weft
from conftest import T, LoopErrors


async def pair(**srv_opts: Any) -> tuple[weft.Server, list[weft.Spark]]:
    server = await weft.serve(ping_interval=None, **srv_opts)
    sparks: list[weft.Spark] = []
    server.on("connection", sparks.append)
    return server, sparks


async def until(cond: Any, what: str = "condition") -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), T)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_ack_client_to_server(loop_errors: LoopErrors) -> None:
    server, _ = await pair(emitter=True)
    seen: list[Any] = []

    @server.on_event("add")
    def add(spark: weft.Spark, a: int, b: int) -> int:
        return a + b

    @server.on_event("slow")
    async def slow(spark: weft.Spark, x: str) -> dict[str, str]:
        await asyncio.sleep(0.01)
        return {"echo": x, "id": spark.id}

    @server.on_event("no")
    def no(spark: weft.Spark) -> None:
        raise weft.Rejected({"why": "nope"})

    @server.on_event("boom")
    def boom(spark: weft.Spark) -> None:
        raise ValueError("kaboom")

    @server.on_event("*")
    def wildcard(spark: weft.Spark, name: str, *args: Any) -> str:
        seen.append((name, args))
        return name

    async with server:
        client = await weft.connect(server.url, emitter=True)
        assert await asyncio.wait_for(client.emit("add", 2, 3, ack=True), T) == 5
        res = await asyncio.wait_for(client.emit("slow", "hi", ack=True), T)
        assert res == {"echo": "hi", "id": await client.id()}
        with pytest.raises(weft.Rejected) as ei:
            await asyncio.wait_for(client.emit("no", ack=True), T)
        assert ei.value.reason == {"why": "nope"} and ei.value.name == "EREJECTED"
        with pytest.raises(weft.Rejected, match="kaboom"):
            await asyncio.wait_for(client.emit("boom", ack=True), T)
        assert await asyncio.wait_for(client.emit("other", 1, [2], ack=True), T) == "other"
        client.emit("boom")  # no ack: the exception is reported, never fatal
        assert client.emit("other", "noack") is None
        await until(lambda: ("other", ("noack",)) in seen, "wildcard")
        server.off_event("*")
        with pytest.raises(weft.Rejected, match="no handler for zzz"):
            await asyncio.wait_for(client.emit("zzz", ack=True), T)
        await client.end()
    assert sum(isinstance(e, ValueError) for e in loop_errors.exceptions) == 2


async def test_ack_server_to_client_outcomes() -> None:
    server, sparks = await pair(emitter=True)
    async with server:
        client = await weft.connect(server.url, emitter=True)
        client.on_event("mul", lambda a, b: a * b)

        @client.on_event("deny")
        async def deny() -> None:
            raise weft.Rejected("denied")

        @client.on_event("never")
        async def never() -> None:
            await asyncio.sleep(3600)

        await until(lambda: sparks, "connection")
        spark = sparks[0]
        assert await asyncio.wait_for(spark.emit("mul", 6, 7, ack=True), T) == 42
        with pytest.raises(weft.Rejected, match="denied"):
            await asyncio.wait_for(spark.emit("deny", ack=True), T)
        with pytest.raises(weft.Timeout):
            await asyncio.wait_for(spark.emit("never", ack=True, timeout=0.05), T)
        assert isinstance(weft.Timeout("x"), TimeoutError)
        # A pending ack fails with ECLOSED when the spark disconnects.
        pending = spark.emit("never", ack=True, timeout=0)
        await asyncio.sleep(0.02)
        await client.end()
        with pytest.raises(weft.ClosedError):
            await asyncio.wait_for(pending, T)
        with pytest.raises(weft.ClosedError):
            spark.emit("mul", 1, 2)


async def test_client_pending_ack_fails_on_close() -> None:
    server, sparks = await pair(emitter=True)

    @server.on_event("hang")
    async def hang(spark: weft.Spark) -> None:
        await asyncio.sleep(3600)

    async with server:
        client = await weft.connect(server.url, emitter=True, reconnect=None)
        fut = client.emit("hang", ack=True)
        await until(lambda: sparks, "connection")
        await sparks[0].end()
        with pytest.raises(weft.ClosedError):
            await asyncio.wait_for(fut, T)
        await client.end()


async def test_dropped_reply_is_rejected() -> None:
    server, _ = await pair(emitter=True)

    @server.on_event("cancel")
    async def cancel(spark: weft.Spark) -> None:
        raise asyncio.CancelledError  # the reply is never answered

    async with server:
        client = await weft.connect(server.url, emitter=True)
        fut = client.emit("cancel", ack=True, timeout=5)
        await asyncio.sleep(0.05)
        gc.collect()
        with pytest.raises(weft.Rejected, match="no answer"):
            await asyncio.wait_for(fut, T)
        await client.end()


async def test_emitter_bad_input() -> None:
    server, sparks = await pair(emitter=True)
    errors: list[weft.Error] = []
    server.on("error", lambda spark, err: errors.append(err))
    async with server:
        client = await weft.connect(server.url)  # no emitter: writes raw packets
        client.write({"type": 0, "data": 5})
        client.write({"type": 0, "data": [7]})
        client.write({"type": 1, "id": 99, "data": [None, 1]})
        await until(lambda: len(errors) >= 3, "emitter errors")
        # Malformed events are Primacron's "validation"; an unknown ack id "emitter".
        assert sorted(e.kind for e in errors) == ["emitter", "validation", "validation"]
        client.write("still open")
        await until(lambda: sparks, "connection")
        assert await asyncio.wait_for(sparks[0].__anext__(), T) == "still open"
        spark = sparks[0]
        with pytest.raises(weft.InvalidArgument):
            spark.emit("data", 1)  # reserved
        with pytest.raises(weft.InvalidArgument):
            spark.emit("", 1)
        with pytest.raises(TypeError):
            spark.emit("x", object())
        with pytest.raises(ValueError):
            spark.emit("x", ack=True, timeout=-1)
        with pytest.raises(TypeError):
            server.on_event("x", 5)  # type: ignore[call-overload]
        with pytest.raises(weft.StateError):
            client.emit("x")  # the client has no emitter
        with pytest.raises(weft.StateError):
            spark.join("room")  # no rooms
        with pytest.raises(weft.StateError):
            spark.channel("c")  # no channels
        await client.end()
    with pytest.raises(weft.ClosedError):
        server.emit("x")


async def test_malformed_packets_reach_clients_and_channels() -> None:
    server, sparks = await pair(channels=True)
    srv_errors: list[weft.Error] = []
    server.on("error", lambda spark, err: srv_errors.append(err))
    async with server:
        client = await weft.connect(server.url, emitter=True)
        cli_errors: list[weft.Error] = []
        client.on("error", cli_errors.append)
        await until(lambda: sparks, "connection")
        sparks[0].write({"type": 1, "id": 12345, "data": [None, 1]})  # unknown ack id
        await until(lambda: cli_errors, "client emitter error")
        assert cli_errors[0].kind == "emitter"
        client.write({"type": 2, "ch": 5, "data": 1})  # channel name not a string
        client.write({"type": 4, "ch": "x", "credit": "lots"})
        await until(lambda: len(srv_errors) >= 2, "channel errors")
        assert {e.kind for e in srv_errors} == {"channel"}
        client.write("alive")
        assert await asyncio.wait_for(sparks[0].__anext__(), T) == "alive"
        await client.end()


async def test_rooms_many_clients() -> None:
    server, sparks = await pair(rooms=True)
    async with server:
        clients = [await weft.connect(server.url, emitter=True) for _ in range(50)]
        got: list[list[Any]] = [[] for _ in clients]
        for i, c in enumerate(clients):
            c.on_event("news", lambda *a, i=i: got[i].append(a))
            c.on("data", lambda m, i=i: got[i].append(m))
        await until(lambda: len(sparks) == 50, "50 connections")
        ids = [await c.id() for c in clients]
        by_id = {s.id: s for s in sparks}
        for i, sid in enumerate(ids):
            by_id[sid].join(f"r{i % 5}")
        by_id[ids[0]].join("r1")  # in two rooms: still gets each message once
        by_id[ids[0]].join("r1")  # joining twice is no error
        assert sorted(server.rooms()) == ["r0", "r1", "r2", "r3", "r4"]
        assert sorted(by_id[ids[0]].rooms) == ["r0", "r1"]
        assert len(server.members("r1")) == 11
        assert server.members("nothing") == []
        n = server.to("r0", "r1").except_(ids[1], ids[5]).emit("news", 1)
        assert n == 20 - 2 + 0  # r0: 10, r1: 10 (+ client 0, already counted)
        assert server.to("r2").write({"m": 2}) == 10
        assert server.except_(ids[3]).emit("news", "all") == 49
        assert server.only(ids[4], "unknown").write("direct") == 1
        expect = [0] * 50
        for i in range(50):
            if i % 5 in (0, 1) and i not in (1, 5) or i == 0:
                expect[i] += 1
            if i % 5 == 2:
                expect[i] += 1
            if i != 3:
                expect[i] += 1
            if i == 4:
                expect[i] += 1
        await until(lambda: [len(g) for g in got] == expect, "room deliveries")
        assert got[0][0] == (1,) and got[2][0] == {"m": 2} and got[4][-1] == "direct"
        by_id[ids[0]].leave("r1")
        by_id[ids[0]].leave("never-joined")
        assert by_id[ids[0]].rooms == ["r0"]
        by_id[ids[0]].leave_all()
        assert by_id[ids[0]].rooms == []
        with pytest.raises(weft.InvalidArgument):
            by_id[ids[0]].join("")
        with pytest.raises(weft.InvalidArgument):
            server.to("x" * 300).write(1)
        with pytest.raises(ValueError):
            server.to()
        await asyncio.gather(*(c.end() for c in clients[:10]))
        await until(lambda: len(server.members("r0")) == 8, "members leave on disconnect")
        await asyncio.gather(*(c.end() for c in clients[10:]))


async def test_client_join_with_policy(loop_errors: LoopErrors) -> None:
    server, sparks = await pair(rooms=True)
    async with server:
        client = await weft.connect(server.url, emitter=True)
        with pytest.raises(weft.Rejected, match="may not"):
            await asyncio.wait_for(client.join("lobby"), T)
        asked: list[tuple[str, bool]] = []

        def policy(spark: weft.Spark, room: str, join: bool) -> bool:
            asked.append((room, join))
            if room == "raise":
                raise weft.Rejected("no")
            if room == "bug":
                raise RuntimeError("policy bug")
            return room.startswith("ok")

        server.rooms_policy(policy)
        await asyncio.wait_for(client.join("ok-1"), T)
        await until(lambda: sparks, "connection")
        assert sparks[0].rooms == ["ok-1"]
        for bad in ("secret", "raise"):
            with pytest.raises(weft.Rejected):
                await asyncio.wait_for(client.join(bad), T)
        with pytest.raises(weft.Rejected):
            await asyncio.wait_for(client.join("bug"), T)  # refused, reported
        with pytest.raises(weft.InvalidArgument):
            await asyncio.wait_for(client.join(""), T)
        await asyncio.wait_for(client.leave("ok-1"), T)
        assert sparks[0].rooms == []
        assert asked == [("ok-1", True), ("secret", True), ("raise", True), ("bug", True),
                         ("ok-1", False)]
        assert any(isinstance(e, RuntimeError) for e in loop_errors.exceptions)
        server.rooms_policy(None)
        with pytest.raises(weft.Rejected):
            await asyncio.wait_for(client.join("ok-2"), T)
        await client.end()


async def test_channels_backpressure_and_end() -> None:
    server, sparks = await pair(channels=True, channel_window=8)
    opened: list[weft.Channel] = []
    server.on("channel", opened.append)
    async with server:
        client = await weft.connect(server.url, channels=True, channel_window=8)
        await until(lambda: sparks, "connection")
        down = sparks[0].channel("down")
        assert sparks[0].channel("down") is down
        other = sparks[0].channel("other")
        results = [down.write(i) for i in range(40)]
        other.write("side")
        assert results[:8] == [True] * 8 and results[8:] == [False] * 32  # no credit yet
        assert down.queued == 32
        incoming = client.channels()
        ch1 = await asyncio.wait_for(incoming.__anext__(), T)
        ch2 = await asyncio.wait_for(incoming.__anext__(), T)
        by_name = {ch1.name: ch1, ch2.name: ch2}
        assert set(by_name) == {"down", "other"}
        got = []
        async for msg in by_name["down"]:
            got.append(msg)
            await asyncio.sleep(0.001)  # a slow reader
            if len(got) == 40:
                break
        assert got == list(range(40))
        await asyncio.wait_for(down.drain(), T)
        assert down.queued == 0
        assert await asyncio.wait_for(by_name["other"].__anext__(), T) == "side"
        # Opened by the client.
        up = client.channel("up")
        up.write({"hello": 1})
        await until(lambda: opened, "server channel event")
        assert opened[0].name == "up" and opened[0].spark is sparks[0]
        assert await asyncio.wait_for(opened[0].__anext__(), T) == {"hello": 1}
        # End handshake from the client side; the server side sees the end.
        await asyncio.wait_for(up.end(), T)
        assert up.closed and opened[0].closed
        with pytest.raises(weft.ClosedError):
            up.write(1)
        with pytest.raises(weft.InvalidArgument):
            client.channel("")
        # A pause by hand: nothing is granted until resume.
        p = by_name["other"]
        p.pause()
        p.resume()
        await client.end()
        await asyncio.wait_for(down.wait_closed(), T)
        assert down.closed and by_name["down"].closed


async def test_batching_on() -> None:
    server, sparks = await pair(batching=16384, emitter=True)
    got: list[Any] = []
    async with server:
        client = await weft.connect(server.url, batching=16384, emitter=True)
        client.on("data", got.append)
        await until(lambda: sparks, "connection")
        for i in range(100):
            sparks[0].write(i)
        await until(lambda: len(got) == 100, "100 batched messages")
        assert got == list(range(100))
        server.on_event("sum", lambda spark, *a: sum(a))
        futs = [client.emit("sum", i, i, ack=True) for i in range(20)]
        assert await asyncio.wait_for(asyncio.gather(*futs), T) == [2 * i for i in range(20)]
        await client.end()
    with pytest.raises(weft.Error):
        await weft.serve(parser="raw", batching=1024)


async def test_ack_client_script() -> None:
    server, _ = await pair(emitter=True)
    server.on_event("add", lambda spark, a, b: a + b)

    @server.on_event("no")
    def no(spark: weft.Spark, *a: Any) -> None:
        raise weft.Rejected("nope")

    script = str(Path(__file__).parent / "ack_client.py")

    async def run(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, script, *args, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(proc.communicate(), T + 5)
        assert proc.returncode is not None
        return proc.returncode, out.decode().strip()

    async with server:
        rc, out = await run(server.url, "add", "[1,2]", "resolved", "3")
        assert rc == 0 and json.loads(out) == {"status": "OK", "value": 3}
        rc, out = await run(server.url, "no", "[]", "rejected", '"nope"')
        assert rc == 0 and json.loads(out) == {"status": "EREJECTED", "value": "nope"}
        rc, out = await run(server.url, "add", "[1,2]", "resolved", "4")
        assert rc == 1
        rc, _ = await run(server.url, "add")
        assert rc == 2


async def test_channel_listeners_and_client_channel_event() -> None:
    server, sparks = await pair(channels=True)
    async with server:
        client = await weft.connect(server.url, channels=True)
        got: list[Any] = []
        ended: list[str] = []

        def opened(ch: weft.Channel) -> None:
            ch.on("data", got.append)
            ch.on("end", lambda: ended.append(ch.name))

        client.on("channel", opened)
        await until(lambda: sparks, "connection")
        ch = sparks[0].channel("feed")
        for i in range(100):  # past the window: the listener consumes, credit flows
            ch.write(i)
        await asyncio.wait_for(ch.drain(), T)
        await until(lambda: len(got) == 100, "100 channel messages")
        assert got == list(range(100))
        await asyncio.wait_for(ch.end(), T)
        await until(lambda: ended == ["feed"], "end listener")
        with pytest.raises(ValueError):
            ch.on("nope", print)
        await client.end()
