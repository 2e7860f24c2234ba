"""examples/handlers/app.py (issue #21): the same events as app.js serve
weft's Python client on websockets and on engine.io (primus-emitter's
packets), npm fast-tcp 3.3.2's client on tcp:// (tests/interop/) and the
reference Vibe client (vibe-protocol, tests/vibe/) over ws, httpstream and
httplongpoll, with acks and replies resolved and rejected both ways
(fast-tcp: a rejection as the ack's data)."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys

import pytest

import weft

from conftest import ROOT

APP = ROOT / "examples" / "handlers" / "app.py"
VIBE_CLIENT = ROOT / "tests" / "vibe" / "handlers_client.js"
needs_vibe = pytest.mark.skipif(
    not shutil.which("node")
    or not (ROOT / "tests" / "vibe" / "node_modules" / "vibe-protocol").is_dir()
    or not (ROOT / "tests" / "interop" / "node_modules" / "fast-tcp").is_dir(),
    reason="node, tests/vibe/node_modules and tests/interop/node_modules needed")


async def node_checks(script: object, url: str) -> object:
    """Runs the shared Node clients (Vibe, or fast-tcp for tcp://) against `url`; what it got."""
    node = await asyncio.create_subprocess_exec("node", str(script), url, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(node.communicate(), 30)
    assert node.returncode == 0
    return json.loads(out)


@needs_vibe
async def test_one_handler_file_serves_primus_engineio_fasttcp_and_vibe_peers() -> None:
    app = await asyncio.create_subprocess_exec(sys.executable, str(APP), "0", stdout=asyncio.subprocess.PIPE)
    try:
        assert app.stdout is not None
        urls: list[str] = []
        while len(urls) < 3:
            line = (await asyncio.wait_for(app.stdout.readline(), 10)).decode()
            assert line, "the app ended before listening"
            if line.startswith("listening on "):
                urls.append(line[13:].strip())
        primus_url, tcp_url, vibe_url = urls
        assert tcp_url.startswith("tcp://")
        fast_tcp = await node_checks(VIBE_CLIENT, tcp_url)
        assert fast_tcp == {"sum": 6.5, "bad": {"error": "not numbers"}, "answered": {"resolved": 42}}
        for transformer in ("websockets", "engine.io"):
            async with await weft.connect(primus_url, transformer=transformer, emitter=True) as client:
                assert await client.emit("sum", [1, 2, 3.5], ack=True, timeout=5.0) == 6.5
                with pytest.raises(weft.Rejected) as info:
                    await client.emit("sum", "x", ack=True, timeout=5.0)
                assert info.value.reason == "not numbers"
                answered: asyncio.Future[object] = asyncio.get_running_loop().create_future()
                client.on_event("question", lambda q: q * 2)

                def on_answered(a: object) -> None:
                    if not answered.done():
                        answered.set_result(a)

                client.on_event("answered", on_answered)
                client.emit("ask", 21)
                assert await asyncio.wait_for(answered, 5.0) == {"resolved": 42}
        got = await node_checks(VIBE_CLIENT, vibe_url)
        expected = {"sum": ["resolved", 6.5], "bad": ["rejected", "not numbers"], "answered": {"rejected": "no 7"}}
        assert got == {t: expected for t in ("ws", "httpstream", "httplongpoll")}
    finally:
        if app.returncode is None:
            app.terminate()
        assert await asyncio.wait_for(app.wait(), 10) == 0
