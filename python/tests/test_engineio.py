"""The engine.io transformer from Python: the npm Primus client (engine.io,
polling then the upgrade, or polling only) against a Python server, and a
server serving websockets and engine.io side by side. The Python client
against the npm Primus server on engine.io is in test_interop.py, beside
websockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import weft

from conftest import T, needs_node, run_node_client

URL = "ws://127.0.0.1:0/primus"


def test_engineio_is_a_transformer() -> None:
    assert "engine.io" in weft.transformers()


@needs_node
@pytest.mark.parametrize("parser", ["json", "msgpack"])
@pytest.mark.parametrize("websockets", [True, False])
async def test_npm_primus_client_engineio_against_python_server(parser: str, websockets: bool) -> None:
    async with await weft.serve(URL, transformer="engine.io", parser=parser) as server:
        ids: list[str] = []

        def on_connection(spark: weft.Spark) -> None:
            ids.append(spark.id)
            spark.on("data", lambda msg: spark.write({"echo": msg}))

        server.on("connection", on_connection)
        # (No U+2028 here: the client prints JSON lines that splitlines() would cut.)
        msgs: list[Any] = [{"a": [1, 2]}, "text é😀", 3.5, None, {"nested": {"x": True}}]
        env = {"PRIMUS_TRANSFORMER": "engine.io"}
        if not websockets:
            env["PRIMUS_WEBSOCKETS"] = "false"
        lines = await run_node_client(f"ws://127.0.0.1:{server.port}/primus", msgs, parser, env=env)
        assert lines[0] == "open" and lines[-1] == "end"
        data = [json.loads(line[5:]) for line in lines if line.startswith("data ")]
        assert data == [{"echo": m} for m in msgs]
        assert len(ids) == 1 and len(ids[0]) == 20  # the engine.io sid


async def test_websockets_and_engineio_side_by_side() -> None:
    async with await weft.serve(URL, transformer="websockets,engine.io") as server:
        assert len(server.urls) == 1
        url = server.urls[0]
        async with await weft.connect(url) as a, \
                await weft.connect(url, transformer="engine.io") as b:
            await asyncio.wait_for(a.id(), T)
            await asyncio.wait_for(b.id(), T)
            assert len(server.sparks) == 2
            server.write({"to": "all"})
            assert await asyncio.wait_for(a.__anext__(), T) == {"to": "all"}
            assert await asyncio.wait_for(b.__anext__(), T) == {"to": "all"}


async def test_bad_transformer_lists_are_refused() -> None:
    with pytest.raises(ValueError):
        await weft.serve(URL, transformer="engine.io,engine.io")
    with pytest.raises(weft.Unsupported):
        await weft.serve(URL, transformer="websockets,sockjs")
