"""tcp:// and ipc:// (fast-tcp's wire, issue #20) from Python: the host
serves and connects through the core with the same API as on ws://."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

import weft
from conftest import T, LoopErrors


@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
async def test_serve_and_connect(scheme: str, loop_errors: LoopErrors) -> None:
    url = (
        "tcp://127.0.0.1:0"
        if scheme == "tcp"
        else f"ipc://{Path(tempfile.mkdtemp(prefix='weft-py-ft-')) / 's.sock'}"
    )
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
