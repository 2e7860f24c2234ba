"""Binary streams from Python (issue #20): an async iterator of chunks for
a stream a peer opens, an asyncio-writer-like object (write / drain /
close) for one this side opens, over tcp:// and ipc://; against npm
fast-tcp 3.3.2's client and server; a slow reader holds the writer back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

import weft
from conftest import INTEROP, NODE, T, LoopErrors, needs_node

BIG = 8 << 20
CHUNK = 65536


def _url(scheme: str) -> str:
    if scheme == "tcp":
        return "tcp://127.0.0.1:0"
    return f"ipc://{Path(tempfile.mkdtemp(prefix='weft-py-fts-')) / 's.sock'}"


async def _write_all(w: weft.OutgoingStream, data: bytes) -> None:
    for off in range(0, len(data), CHUNK):
        w.write(data[off : off + CHUNK])
        await w.drain()
    w.close()
    await w.wait_closed()


async def _hashed(st: weft.IncomingStream) -> dict[str, Any]:
    h = hashlib.sha256()
    n = 0
    async for chunk in st:
        h.update(chunk)
        n += len(chunk)
    return {"sha256": h.hexdigest(), "bytes": n}


async def _first(streams: Any) -> dict[str, Any]:
    """The first stream of an async iterator, read and answered."""
    return await _answer(await anext(streams))


async def _answer(st: weft.IncomingStream) -> dict[str, Any]:
    got = await _hashed(st)
    if st.reply is not None:
        st.reply.resolve(got)
    return {"event": st.event, "info": st.info, **got}


@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
async def test_both_ways(scheme: str, loop_errors: LoopErrors) -> None:
    data = os.urandom(BIG)
    want = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": BIG}
    server = await weft.serve(_url(scheme), ping_interval=None, emitter=True, streams=True)
    downs: list[weft.OutgoingStream] = []

    def on_connection(spark: weft.Spark) -> None:
        w = spark.stream("download", {"n": 2}, ack=True)
        downs.append(w)
        asyncio.ensure_future(_write_all(w, data))

    server.on("connection", on_connection)
    async with server:
        at_server_f = asyncio.ensure_future(_first(server.streams()))
        client = await weft.connect(server.url, emitter=True, streams=True)
        at_client = asyncio.ensure_future(_first(client.streams()))
        up = client.stream("upload", {"n": 1}, ack=True)
        await asyncio.wait_for(_write_all(up, data), T * 2)
        at_server = await asyncio.wait_for(at_server_f, T * 2)
        assert at_server == {"event": "upload", "info": {"n": 1}, **want}
        assert up.ack is not None and await asyncio.wait_for(up.ack, T) == want
        assert await asyncio.wait_for(at_client, T * 2) == {"event": "download", "info": {"n": 2}, **want}
        assert downs[0].ack is not None and await asyncio.wait_for(downs[0].ack, T) == want
        await client.end()


@needs_node
@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
async def test_server_against_npm_fast_tcp_client(scheme: str, loop_errors: LoopErrors) -> None:
    assert NODE
    data = os.urandom(BIG)
    server = await weft.serve(_url(scheme), ping_interval=None, emitter=True, streams=True)
    downs: list[weft.OutgoingStream] = []

    @server.on_event("want")
    def want(spark: weft.Spark, _n: int) -> None:
        w = spark.stream("download", {"n": 2}, ack=True)
        downs.append(w)
        asyncio.ensure_future(_write_all(w, data))

    async with server:
        at_server = asyncio.ensure_future(_first(server.streams()))
        proc = await asyncio.create_subprocess_exec(
            NODE, str(INTEROP / "lib" / "fasttcp_streams_peer.js"), "client", server.url, str(BIG),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), T * 4)
        assert proc.returncode == 0, err
        got = json.loads(out)
        up = await asyncio.wait_for(at_server, T)
        assert up == {"event": "upload", "info": {"n": 1}, "sha256": got["sent"]["sha256"], "bytes": BIG}
        assert got["ack"] == {"sha256": got["sent"]["sha256"], "bytes": BIG}
        sha = hashlib.sha256(data).hexdigest()
        assert got["got"] == {"sha256": sha, "bytes": BIG, "info": {"n": 2}}
        assert downs[0].ack is not None
        assert await asyncio.wait_for(downs[0].ack, T) == {"sha256": sha, "bytes": BIG}


@needs_node
async def test_client_against_npm_fast_tcp_server(loop_errors: LoopErrors) -> None:
    assert NODE
    data = os.urandom(BIG)
    proc = await asyncio.create_subprocess_exec(
        NODE, str(INTEROP / "lib" / "fasttcp_streams_peer.js"), "server", str(BIG),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout
        line = (await asyncio.wait_for(proc.stdout.readline(), T)).decode()
        m = re.match(r"^listening on (tcp://\S+)", line)
        assert m, line
        client = await weft.connect(m.group(1), emitter=True, streams=True)
        up = client.stream("upload", {"n": 1}, ack=True)
        await asyncio.wait_for(_write_all(up, data), T * 2)
        sha = hashlib.sha256(data).hexdigest()
        assert up.ack is not None and await asyncio.wait_for(up.ack, T) == {"sha256": sha, "bytes": BIG}
        down_f = asyncio.ensure_future(_first(client.streams()))
        client.emit("want", 1)
        down = await asyncio.wait_for(down_f, T * 2)
        got = json.loads(await asyncio.wait_for(proc.stdout.readline(), T))
        assert down == {"event": "download", "info": {"n": 2}, "sha256": got["sent"]["sha256"], "bytes": BIG}
        assert got["got"] == {"sha256": sha, "bytes": BIG, "info": {"n": 1}}
        assert got["ack"] == {"sha256": got["sent"]["sha256"], "bytes": BIG}
        await client.end()
    finally:
        proc.terminate()
        await proc.wait()


async def test_slow_reader_holds_the_writer(loop_errors: LoopErrors) -> None:
    data = os.urandom(BIG)
    window = 256 << 10
    server = await weft.serve(_url("ipc"), ping_interval=None, emitter=True, streams=True,
                              high_water_mark=window)
    progress = {"written": 0, "max_pending": 0}
    writers: list[asyncio.Future[None]] = []

    async def write(w: weft.OutgoingStream) -> None:
        for off in range(0, BIG, CHUNK):
            w.write(data[off : off + CHUNK])
            progress["max_pending"] = max(progress["max_pending"], w.pending)
            await w.drain()
            progress["written"] = off + CHUNK
        w.close()
        await w.wait_closed()

    server.on("connection", lambda spark: writers.append(asyncio.ensure_future(
        write(spark.stream("download")))))
    async with server:
        client = await weft.connect(server.url, emitter=True, streams=True)
        st = await asyncio.wait_for(anext(client.streams()), T)
        await asyncio.sleep(0.3)  # nobody reads: the writer stops and stays
        a = progress["written"]
        await asyncio.sleep(0.3)
        assert a < BIG // 2, a
        assert progress["written"] == a, "no progress while the reader does not read"
        assert progress["max_pending"] <= window + CHUNK + 64
        got = await asyncio.wait_for(_hashed(st), T * 2)
        assert got == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": BIG}
        await asyncio.wait_for(writers[0], T)
        await client.end()


async def test_misuse(loop_errors: LoopErrors) -> None:
    with pytest.raises(ValueError):
        await weft.serve("tcp://127.0.0.1:0", streams=True)
    server = await weft.serve("tcp://127.0.0.1:0", ping_interval=None, emitter=True, streams=True)
    async with server:
        with pytest.raises(ValueError):
            await weft.connect(server.url, streams=True)
        plain = await weft.connect(server.url, emitter=True)
        with pytest.raises(weft.StateError):
            plain.stream("x")
        await plain.end()
        client = await weft.connect(server.url, emitter=True, streams=True)
        with pytest.raises(TypeError):
            client.stream("")
        with pytest.raises(ValueError):
            client.stream("x", None, ack=True, to={"rooms": ["r"]})
        with pytest.raises(weft.InvalidArgument):
            client.stream("x", None, to={"rooms": ["a|b"]})
        with pytest.raises(weft.InvalidArgument):
            client.stream("weft::x")
        w = client.stream("x")
        with pytest.raises(ValueError):
            w.write(b"")
        w.close()
        await w.wait_closed()
        with pytest.raises(weft.ClosedError):
            w.write(b"x")
        await client.end()


async def test_psk(loop_errors: LoopErrors) -> None:
    """The pre-shared key from Python: the right key is served, a wrong one
    is refused (weft.HTTPError 401) and delivers nothing."""
    got: list[object] = []
    server = await weft.serve(_url("ipc"), ping_interval=None, emitter=True, psk=b"k" * 32)

    @server.on_event("hi")
    def hi(spark: weft.Spark, v: int) -> int:
        got.append(v)
        return v + 1

    async with server:
        client = await weft.connect(server.url, emitter=True, psk=b"k" * 32)
        assert await asyncio.wait_for(client.emit("hi", 1, ack=True), T) == 2
        await client.end()
        with pytest.raises(weft.HTTPError) as e:
            await asyncio.wait_for(weft.connect(server.url, emitter=True, psk=b"x" * 32), T)
        assert e.value.status == 401
        with pytest.raises(ValueError):
            await weft.serve("tcp://127.0.0.1:0", psk=b"k" * 257)
        assert got == [1]


async def test_route_policy(loop_errors: LoopErrors) -> None:
    """Routes clients ask for, from Python: client.route(); the server's
    route_policy refuses one and makes another reach its sender."""
    server = await weft.serve(_url("tcp"), ping_interval=None, emitter=True)
    seen: list[tuple[str, bool, bool]] = []

    def policy(spark: weft.Spark, route: dict[str, Any]) -> Any:
        seen.append((route["event"], route["broadcast"], route["with_sender"]))
        if route["event"] == "secret":
            return False
        if route["event"] == "all":
            return {"with_sender": True}
        return True

    server.route_policy(policy)
    with pytest.raises(TypeError):
        server.route_policy(5)  # type: ignore[arg-type]
    async with server:
        a = await weft.connect(server.url, emitter=True)
        b = await weft.connect(server.url, emitter=True)
        got: dict[str, list[str]] = {"a": [], "b": []}
        for k, c in (("a", a), ("b", b)):
            for ev in ("r", "secret", "all", "last"):
                c.on_event(ev, lambda v, k=k, ev=ev: got[k].append(f"{ev}:{v}"))
        a.route("r", 1, broadcast=True)
        a.route("secret", 2, broadcast=True)
        a.route("all", 3, broadcast=True)
        a.route("last", 4, broadcast=True)
        for _ in range(500):
            if "last:4" in got["b"]:
                break
            await asyncio.sleep(0.01)
        assert got == {"a": ["all:3"], "b": ["r:1", "all:3", "last:4"]}
        assert seen == [("r", True, False), ("secret", True, False), ("all", True, False),
                        ("last", True, False)]
        await a.end()
        await b.end()
