"""Server, spark and client behaviour through real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import weft
from weft import _driver

from conftest import T, LoopErrors

URL = "ws://127.0.0.1:0/primus"


async def test_echo_async_for() -> None:
    async with await weft.serve(URL) as server:
        assert server.port > 0 and server.url.endswith(f":{server.port}/primus")

        async def echo() -> None:
            async for spark in server:
                async for msg in spark:
                    spark.write(msg)

        task = asyncio.ensure_future(echo())
        async with await weft.connect(server.url + "?room=a%20b") as client:
            msgs: list[Any] = [{"a": 1}, [1, 2.5], "s", 7, None, True]
            for m in msgs:
                client.write(m)
            got = [await asyncio.wait_for(client.__anext__(), T) for _ in msgs]
            assert got == msgs
            spark = server.sparks[0]
            assert spark.query == {"room": "a b"}
            assert spark.address == "127.0.0.1"
            assert "host" in spark.headers
            assert await asyncio.wait_for(client.id(), T) == spark.id
            assert server.spark(spark.id) is spark and len(server) == 1
        task.cancel()


async def test_callbacks_and_broadcast() -> None:
    server = await weft.serve(URL)
    joined: list[weft.Spark] = []
    left: list[str] = []
    data: list[Any] = []

    def on_connection(spark: weft.Spark) -> None:
        joined.append(spark)
        spark.on("data", lambda msg: data.append((spark.id, msg)))

    server.on("connection", on_connection)
    server.on("disconnection", lambda spark: left.append(spark.id))
    clients = [await weft.connect(server.url) for _ in range(3)]
    for i, c in enumerate(clients):
        c.write({"n": i})
    async with asyncio.timeout(T):
        while len(data) < 3:
            await asyncio.sleep(0.01)
    assert sorted(m["n"] for _, m in data) == [0, 1, 2]
    assert server.write({"all": True}) == 3
    for c in clients:
        assert await asyncio.wait_for(c.__anext__(), T) == {"all": True}
    await clients[0].end()
    async with asyncio.timeout(T):
        while len(left) < 1:
            await asyncio.sleep(0.01)
    assert len(server.sparks) == 2
    await server.close()
    for c in clients[1:]:
        await asyncio.wait_for(c.end(), T)  # the server told them: ended already
        assert c.ended


async def test_server_close_ends_clients_and_iterators() -> None:
    server = await weft.serve(URL)
    client = await weft.connect(server.url)
    spark = await asyncio.wait_for(server.__anext__(), T)
    events: list[str] = []
    client.on("end", lambda: events.append("end"))
    await asyncio.wait_for(server.close(), T)
    assert spark.closed
    with pytest.raises(StopAsyncIteration):
        await spark.__anext__()
    with pytest.raises(StopAsyncIteration):
        await server.__anext__()
    await asyncio.wait_for(client.wait_open(), T)
    async with asyncio.timeout(T):
        while not client.ended:
            await asyncio.sleep(0.01)
    assert events == ["end"]
    with pytest.raises(weft.ClosedError):
        spark.write("x")
    with pytest.raises(weft.ClosedError):
        server.write("x")
    with pytest.raises(weft.ClosedError):
        client.write("x")


async def test_spark_end_with_message() -> None:
    async with await weft.serve(URL) as server:
        client = await weft.connect(server.url)
        spark = await asyncio.wait_for(server.__anext__(), T)
        await asyncio.wait_for(spark.end({"bye": 1}), T)
        assert await asyncio.wait_for(client.__anext__(), T) == {"bye": 1}
        await asyncio.wait_for(client.end(), T)
        await spark.end()  # twice: nothing


async def test_authorize() -> None:
    async def auth(req: weft.AuthRequest) -> None:
        await asyncio.sleep(0.01)
        token = req.query("token")
        if token == "forbidden":
            raise weft.Unauthorized(403, "not you")
        if token != "good":
            raise weft.Unauthorized(401, "bad token")

    async with await weft.serve(URL, authorize=auth) as server:
        ok = await weft.connect(server.url + "?token=good")
        await ok.end()
        with pytest.raises(weft.Unauthorized) as info:
            await weft.connect(server.url + "?token=bad")
        assert info.value.status == 401 and info.value.message == "bad token"
        with pytest.raises(weft.HTTPError) as info2:
            await weft.connect(server.url + "?token=forbidden")
        assert info2.value.status == 403 and not isinstance(info2.value, weft.Unauthorized)


async def test_authorize_exception_denies_500(loop_errors: LoopErrors) -> None:
    def auth(req: weft.AuthRequest) -> None:
        raise RuntimeError("auth bug")

    async with await weft.serve(URL) as server:
        server.authorize(auth)
        with pytest.raises(weft.HTTPError) as info:
            await weft.connect(server.url)
        assert info.value.status == 500
        assert any(isinstance(e, RuntimeError) for e in loop_errors.exceptions)
        server.authorize(None)
        c = await weft.connect(server.url)
        await c.end()


async def test_plugins_transform_and_drop(loop_errors: LoopErrors) -> None:
    def upper(spark: weft.Spark | None, msg: Any) -> Any:
        if msg == "drop me":
            return weft.DROP
        if msg == "boom":
            raise ValueError("transform bug")
        if isinstance(msg, str):
            return msg.upper()
        if isinstance(msg, dict):
            msg["seen"] = True  # changed in place and returned: still applied
        return msg

    def stamp(spark: weft.Spark | None, msg: Any) -> Any:
        return {"out": msg}

    plugins = [weft.Plugin("upper", incoming=upper), weft.Plugin("stamp", outgoing=stamp)]
    async with await weft.serve(URL, plugins=plugins) as server:
        got: list[Any] = []
        kinds: list[str] = []
        server.on("connection", lambda s: s.on("data", got.append))
        server.on("error", lambda spark, err: kinds.append(err.kind))
        client = await weft.connect(server.url)
        for m in ["drop me", "boom", "abc", {"k": 1}]:
            client.write(m)
        async with asyncio.timeout(T):
            while len(got) < 2:
                await asyncio.sleep(0.01)
        assert got == ["ABC", {"k": 1, "seen": True}]
        assert "transform" in kinds
        assert any(isinstance(e, ValueError) for e in loop_errors.exceptions)
        server.write("hi")
        assert await asyncio.wait_for(client.__anext__(), T) == {"out": "hi"}
        await client.end()


async def test_plugin_incoming_types() -> None:
    seen: dict[str, list[Any]] = {"maps": [], "texts": [], "all": [], "client": []}

    def maps(spark: weft.Spark | None, msg: Any) -> Any:
        seen["maps"].append(msg)
        return "was a map" if msg.get("swap") else msg

    def texts(spark: weft.Spark | None, msg: Any) -> Any:
        seen["texts"].append(msg)
        return msg

    def every(spark: weft.Spark | None, msg: Any) -> Any:
        seen["all"].append(msg)
        return msg

    def client_maps(client: Any, msg: Any) -> Any:
        seen["client"].append(msg)
        return msg

    plugins = [
        weft.Plugin("maps", incoming=maps, incoming_types=(dict,)),
        weft.Plugin("texts", incoming=texts, incoming_types=[str]),
        weft.Plugin("all", incoming=every),
    ]
    async with await weft.serve(URL, plugins=plugins) as server:
        got: list[Any] = []
        server.on("connection", lambda s: s.on("data", got.append))
        client = await weft.connect(
            server.url, plugins=[weft.Plugin("cm", incoming=client_maps, incoming_types={dict})]
        )
        sent = ["a", {"k": 1}, 5, True, [1], None, 1.5, {"swap": 1}]
        for m in sent:
            client.write(m)
        async with asyncio.timeout(T):
            while len(got) < len(sent):
                await asyncio.sleep(0.01)
        # a transform that replaces the message is matched by the replacement
        assert got == ["a", {"k": 1}, 5, True, [1], None, 1.5, "was a map"]
        assert seen["maps"] == [{"k": 1}, {"swap": 1}]
        assert seen["texts"] == ["a", "was a map"]
        assert seen["all"] == got
        server.write("hi")
        server.write({"m": 2})
        assert await asyncio.wait_for(client.__anext__(), T) == "hi"
        assert await asyncio.wait_for(client.__anext__(), T) == {"m": 2}
        assert seen["client"] == [{"m": 2}]
        await client.end()

    # only the texts: the core skips the transform step for other types
    async with await weft.serve(URL, plugins=[plugins[1]]) as server:
        got = []
        server.on("connection", lambda s: s.on("data", got.append))
        client = await weft.connect(server.url)
        seen["texts"].clear()
        for m in [{"k": 1}, "b", 2]:
            client.write(m)
        async with asyncio.timeout(T):
            while len(got) < 3:
                await asyncio.sleep(0.01)
        assert got == [{"k": 1}, "b", 2]
        assert seen["texts"] == ["b"]
        await client.end()


async def test_plugin_incoming_types_in_the_core(monkeypatch: pytest.MonkeyPatch) -> None:
    # The Python chain told to filter nothing: what the transform still
    # misses, the core kept from it (the mask given to weft_plugin_ops).
    from weft import plugin as _p

    whole = _p.chain
    monkeypatch.setattr(_p, "chain", lambda fns, owner=None, types=None: whole(fns, owner))
    seen: list[Any] = []

    def lists(spark: weft.Spark | None, msg: Any) -> Any:
        seen.append(msg)
        return msg

    plugins = [weft.Plugin("lists", incoming=lists, incoming_types=(list, type(None)))]
    async with await weft.serve(URL, plugins=plugins) as server:
        got: list[Any] = []
        server.on("connection", lambda s: s.on("data", got.append))
        client = await weft.connect(server.url)
        for m in ["a", [1, 2], {"k": 1}, None, 3]:
            client.write(m)
        async with asyncio.timeout(T):
            while len(got) < 5:
                await asyncio.sleep(0.01)
        assert got == ["a", [1, 2], {"k": 1}, None, 3]
        assert seen == [[1, 2], None]
        await client.end()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"incoming": lambda s, m: m, "incoming_types": ()},
        {"incoming": lambda s, m: m, "incoming_types": (set,)},
        {"incoming": lambda s, m: m, "incoming_types": 5},
        {"incoming": lambda s, m: m, "incoming_types": iter([dict])},
        {"incoming": lambda s, m: m, "incoming_types": "dict"},
        {"incoming_types": (dict,)},
    ],
)
async def test_plugin_incoming_types_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(weft.InvalidArgument):
        await weft.serve(URL, plugins=[weft.Plugin("bad", **kwargs)])
    with pytest.raises(weft.InvalidArgument):
        await weft.connect("ws://127.0.0.1:9/primus", plugins=[weft.Plugin("bad", **kwargs)])


async def test_callback_exception_is_reported_not_fatal(loop_errors: LoopErrors) -> None:
    async with await weft.serve(URL) as server:
        seen: list[Any] = []

        def bad(msg: Any) -> None:
            seen.append(msg)
            raise KeyError("callback bug")

        server.on("connection", lambda s: s.on("data", bad))
        client = await weft.connect(server.url)
        client.write(1)
        client.write(2)
        async with asyncio.timeout(T):
            while len(seen) < 2:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        errs = loop_errors.exceptions
        flat: list[BaseException] = []
        for e in errs:
            flat.extend(e.exceptions if isinstance(e, BaseExceptionGroup) else [e])
        assert [type(e) for e in flat] == [KeyError, KeyError]
        client.write(3)  # still works
        async with asyncio.timeout(T):
            while len(seen) < 3:
                await asyncio.sleep(0.01)
        await client.end()


async def test_on_as_decorator() -> None:
    async with await weft.serve(URL) as server:

        @server.on("connection")
        def joined(spark: weft.Spark) -> None:
            @spark.on("data")
            def echo(msg: Any) -> None:
                spark.write(["decorated", msg])

        client = await weft.connect(server.url)
        opened: list[str] = []
        client.on("close")(lambda: opened.append("close"))
        client.write(1)
        assert await asyncio.wait_for(client.__anext__(), T) == ["decorated", 1]
        await client.end()
        assert opened == ["close"]
        with pytest.raises(TypeError):
            server.on("error", 42)


async def test_async_callbacks_become_tasks(
    loop_errors: LoopErrors, caplog: pytest.LogCaptureFixture
) -> None:
    """A coroutine connection listener runs as a task; its exception is the
    spark handler's failure (test_failure.py): logged on "weft", not left
    to the loop's exception handler."""
    caplog.set_level(logging.ERROR, logger="weft")
    async with await weft.serve(URL) as server:
        done = asyncio.Event()

        async def on_connection(spark: weft.Spark) -> None:
            msg = await spark.__anext__()
            spark.write({"echo": msg})
            done.set()
            raise RuntimeError("after the echo")

        server.on("connection", on_connection)
        client = await weft.connect(server.url)
        client.write("x")
        assert await asyncio.wait_for(client.__anext__(), T) == {"echo": "x"}
        await asyncio.wait_for(done.wait(), T)
        await asyncio.sleep(0.01)
        assert not any(isinstance(e, RuntimeError) for e in loop_errors.exceptions)
        failed = [r for r in caplog.records if r.name == "weft" and r.exc_info]
        assert len(failed) == 1 and isinstance(failed[0].exc_info[1], RuntimeError)
        await client.end()


async def test_bad_input_and_misuse() -> None:
    with pytest.raises(weft.InvalidArgument):
        await weft.serve(URL, parser="yaml")
    with pytest.raises(weft.URLError):
        await weft.serve("ws://127.0.0.1:99999/x")
    with pytest.raises(ValueError):
        await weft.serve(URL, max_length=0)
    async with await weft.serve(URL) as server:
        with pytest.raises(weft.AddressInUseError):
            await weft.serve(f"ws://127.0.0.1:{server.port}/primus")
        with pytest.raises(ValueError):
            server.on("nope", print)  # type: ignore[arg-type]
        client = await weft.connect(server.url)
        spark = await asyncio.wait_for(server.__anext__(), T)
        with pytest.raises(TypeError):
            spark.write(object())
        with pytest.raises(OverflowError):
            client.write(2**64)
        with pytest.raises(TypeError):
            server.write({"x": {1, 2}})
        with pytest.raises(ValueError):
            client.on("nope", print)
        await client.end()
    with pytest.raises(weft.URLError):
        await weft.connect("not a url")
    with pytest.raises(weft.InvalidArgument):
        await weft.connect("ws://127.0.0.1:1/primus", parser="yaml")
    with pytest.raises(ValueError):
        await weft.connect("ws://127.0.0.1:1/primus", timeout=-1)


async def test_connect_refused_without_reconnect() -> None:
    # A port that was just free: nothing listens there.
    server = await weft.serve(URL)
    port = server.port
    await server.close()
    with pytest.raises(weft.Error):
        await asyncio.wait_for(weft.connect(f"ws://127.0.0.1:{port}/primus", reconnect=None), T)


async def test_invalid_json_and_too_big_from_peer() -> None:
    import websockets

    async with await weft.serve(URL, max_length=64) as server:
        kinds: list[str] = []
        server.on("error", lambda spark, err: kinds.append(err.kind))
        async with websockets.connect(server.url) as ws:
            await ws.send("{not json")
            await ws.send('"still open"')
            spark = await asyncio.wait_for(server.__anext__(), T)
            assert await asyncio.wait_for(spark.__anext__(), T) == "still open"
            await ws.send('"' + "x" * 200 + '"')
            await asyncio.wait_for(spark.wait_closed(), T)
        assert "json" in kinds


async def test_backpressure_drain() -> None:
    async with await weft.serve(URL, high_water_mark=1024) as server:
        client = await weft.connect(server.url)
        spark = await asyncio.wait_for(server.__anext__(), T)
        blob = "x" * 4096
        assert spark.write(blob) is False
        await asyncio.wait_for(spark.drain(), T)
        assert await asyncio.wait_for(client.__anext__(), T) == blob
        await spark.drain()  # below the mark: returns at once
        await client.end()


async def test_offline_queue_and_reconnect() -> None:
    async with await weft.serve(URL) as server:
        client = await weft.connect(server.url, wait=False,
                                    reconnect=weft.Backoff(min=0.05, max=0.2, retries=5))
        events: list[str] = []
        for name in ("open", "reconnect scheduled", "reconnected", "close"):
            client.on(name, lambda *a, n=name: events.append(n))
        client.write("queued 1")
        client.write("queued 2")
        spark = await asyncio.wait_for(server.__anext__(), T)
        assert [await asyncio.wait_for(spark.__anext__(), T) for _ in range(2)] == [
            "queued 1", "queued 2"]
        await spark.end(reconnect=True)
        client.write("while away")
        spark2 = await asyncio.wait_for(server.__anext__(), T)
        assert await asyncio.wait_for(spark2.__anext__(), T) == "while away"
        assert events[:1] == ["open"] and "reconnected" in events and "close" in events
        await client.end()


async def test_client_events_iterator() -> None:
    async with await weft.serve(URL) as server:
        client = await weft.connect(server.url, wait=False)
        names: list[str] = []

        async def collect() -> None:
            async for ev in client.events():
                names.append(ev.name)

        task = asyncio.ensure_future(collect())
        await asyncio.sleep(0)
        await client.wait_open()
        spark = await asyncio.wait_for(server.__anext__(), T)
        spark.write(1)
        await asyncio.wait_for(client.__anext__(), T)
        await client.end()
        await asyncio.wait_for(task, T)
        assert names == ["open", "data", "close", "end"]


async def test_idle_server_has_zero_wakeups() -> None:
    async with await weft.serve(URL, ping_interval=None) as server:
        client = await weft.connect(server.url, ping_timeout=0)
        drv = _driver.get_driver()
        async with asyncio.timeout(T):  # the core's own short timers settle
            while _driver._ll.pyweft_loop_timeout(drv.core) != -1:
                await asyncio.sleep(0.05)
        before = drv.steps
        await asyncio.sleep(0.5)
        assert drv.steps == before
        await client.end()


async def test_loop_closes_when_idle() -> None:
    server = await weft.serve(URL)
    drv = _driver.get_driver()
    await server.close()
    async with asyncio.timeout(T):
        while drv.core is not None:
            await asyncio.sleep(0.01)


def test_uvloop_echo() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> Any:
        async with await weft.serve(URL) as server:
            server.on("connection", lambda s: s.on("data", s.write))
            async with await weft.connect(server.url) as client:
                client.write({"uv": [1, b"\x00"]})
                return await asyncio.wait_for(client.__anext__(), T)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(main()) == {"uv": [1, {"type": "Buffer", "data": [0]}]}


async def test_msgpack_binary_round_trip() -> None:
    async with await weft.serve(URL, parser="msgpack") as server:
        server.on("connection", lambda s: s.on("data", s.write))
        async with await weft.connect(server.url, parser="msgpack") as client:
            msg = {"bin": b"\x00\x01\xff", "n": -(2**63), "f": 0.25, "arr": [bytearray(b"z")]}
            client.write(msg)
            got = await asyncio.wait_for(client.__anext__(), T)
            assert got == {"bin": b"\x00\x01\xff", "n": -(2**63), "f": 0.25, "arr": [b"z"]}
