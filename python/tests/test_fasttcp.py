"""tcp:// and ipc:// (fast-tcp's wire, issue #20) from Python: the host
serves and connects through the core with the same API as on ws://."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from pathlib import Path

import pytest

import weft
from conftest import INTEROP, NODE, T, LoopErrors, needs_node


def listen_url(scheme: str) -> str:
    """An address to listen on: tcp:// on a free port, or ipc:// in a temp folder."""
    if scheme == "tcp":
        return "tcp://127.0.0.1:0"
    return f"ipc://{Path(tempfile.mkdtemp(prefix='weft-py-ft-')) / 's.sock'}"


@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
async def test_serve_and_connect(scheme: str, loop_errors: LoopErrors) -> None:
    url = listen_url(scheme)
    server = await weft.serve(url, ping_interval=None, emitter=True)
    assert server.url.startswith(f"{scheme}://")

    @server.on_event("add")
    def add(spark: weft.Spark, a: int, b: int) -> int:
        return a + b

    got: list[object] = []
    async with server:
        client = await weft.connect(server.url, emitter=True)
        client.on("data", got.append)
        assert await asyncio.wait_for(client.emit("add", 2, 40, ack=True), T) == 42
        await client.end()


@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
async def test_rooms_policy_and_refusals(scheme: str, loop_errors: LoopErrors) -> None:
    # Room requests leave as fast-tcp's messages with weft's ack flag: the
    # policy's verdict comes back; a refused request rejects as on ws://.
    url = listen_url(scheme)
    server = await weft.serve(url, ping_interval=None, emitter=True, rooms=True)
    sparks: list[weft.Spark] = []
    server.on("connection", sparks.append)
    server.rooms_policy(lambda spark, room, join: room.startswith("ok"))

    @server.on_event("nope")
    def nope(spark: weft.Spark) -> None:
        raise weft.Rejected("no")

    async with server:
        client = await weft.connect(server.url, emitter=True)
        await asyncio.wait_for(client.join("ok-1"), T)
        await asyncio.wait_for(client.join("ok-2"), T)
        assert sorted(sparks[0].rooms) == ["ok-1", "ok-2"]
        with pytest.raises(weft.Rejected):
            await asyncio.wait_for(client.join("secret"), T)
        with pytest.raises(weft.InvalidArgument):
            await asyncio.wait_for(client.join(""), T)
        await asyncio.wait_for(client.leave("ok-1"), T)
        assert sparks[0].rooms == ["ok-2"]
        await asyncio.wait_for(client.leave_all(), T)
        assert sparks[0].rooms == []
        with pytest.raises(weft.Rejected):
            await asyncio.wait_for(client.emit("nope", ack=True), T)
        await client.end()


@needs_node
async def test_client_against_npm_fast_tcp_server(loop_errors: LoopErrors) -> None:
    assert NODE
    proc = await asyncio.create_subprocess_exec(
        NODE, str(INTEROP / "lib" / "fasttcp_server.js"), "--exit-with-stdin",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout
        line = (await asyncio.wait_for(proc.stdout.readline(), T)).decode()
        m = re.match(r"^listening on (tcp://\S+)", line)
        assert m, line
        client = await weft.connect(m.group(1), emitter=True)
        got: list[object] = []
        client.on("data", got.append)
        assert await asyncio.wait_for(client.emit("sum", {"a": 2, "b": 40}, ack=True), T) == 42
        client.write({"plain": [1, 2]})
        for _ in range(500):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == [{"plain": [1, 2]}]
        await client.end()
    finally:
        proc.terminate()
        await proc.wait()


@needs_node
@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
async def test_server_against_npm_fast_tcp_client(scheme: str, loop_errors: LoopErrors) -> None:
    assert NODE
    url = listen_url(scheme)
    server = await weft.serve(url, ping_interval=None, emitter=True)

    @server.on_event("sum")
    def add(spark: weft.Spark, d: dict[str, int]) -> int:
        return d["a"] + d["b"]

    @server.on_event("echo")
    async def echo(spark: weft.Spark, *args: object) -> object:
        # fast-tcp's null arrives as no argument; every other value as one
        spark.emit("echo", *args)
        return args[0] if args else None

    server.on("connection", lambda spark: spark.on("data", spark.write))
    async with server:
        # every value of the fast-tcp set (tests/interop/lib/ft_values.js)
        # as an event and as an ack, both ways
        proc = await asyncio.create_subprocess_exec(
            NODE, str(INTEROP / "lib" / "fasttcp_client.js"), server.url, "--values",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 35)
        assert proc.returncode == 0, err
        assert json.loads(out) == {"sum": 42, "echo": {"plain": [1, 2]}, "values": []}
