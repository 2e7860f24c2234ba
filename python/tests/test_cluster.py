"""Scale-out from Python (issue #19): presence without a cluster (this
process), its bad inputs, the redis option's bad values, and the error kind
"connect" on a Redis that is not there (a closed port on 127.0.0.1). The
cluster itself (four hosts on a real redis-server) is
tests/cross/cluster.test.js."""

from __future__ import annotations

import socket
from typing import Any

import pytest

import weft
from test_ext import until


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


async def test_presence_without_a_cluster() -> None:
    server = await weft.serve(ping_interval=None, rooms=True)
    sparks: list[weft.Spark] = []
    server.on("connection", sparks.append)
    async with server:
        assert await server.presence("lobby") == []
        clients = [await weft.connect(server.url) for _ in range(3)]
        await until(lambda: len(sparks) == 3, "3 connections")
        for s in sparks[:2]:
            s.join("lobby")
        assert await server.presence("lobby") == sorted(s.id for s in sparks[:2])
        with pytest.raises(ValueError):
            await server.presence("")
        for c in clients:
            await c.end()
    plain = await weft.serve(ping_interval=None)
    async with plain:
        with pytest.raises(weft.Error):
            await plain.presence("lobby")


async def test_redis_option_and_errors() -> None:
    with pytest.raises(weft.Error):
        await weft.serve(redis="http://127.0.0.1:1")
    with pytest.raises(weft.Error):
        await weft.serve(redis="redis://127.0.0.1:70000")
    server = await weft.serve(ping_interval=None, redis=f"redis://127.0.0.1:{closed_port()}")
    kinds: list[str] = []
    server.on("error", lambda spark, err: kinds.append(err.kind))
    async with server:
        await until(lambda: kinds.count("connect") >= 2, "two refused attempts")
        with pytest.raises(weft.Error):
            await server.presence("lobby")
        c = await weft.connect(server.url)
        got: list[Any] = []
        c.on("data", got.append)
        await until(lambda: len(server) == 1, "a connection")
        server.write("here")  # local delivery does not wait for Redis
        await until(lambda: got == ["here"], "local delivery")
        await c.end()
