"""Issue #20: the Python client against npm fast-tcp 3.3.2's server
(tests/interop/lib/fasttcp_server.js, its own process): every data type
with its edge values as events, acks and acks the server asks; the
server's emits to all, others, a room, an id; reconnect after the server
is killed and restarted on the same port, queued emits delivered once, in
order."""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
from typing import Any

import weft
from conftest import INTEROP, NODE, T, LoopErrors, needs_node

SERVER = str(INTEROP / "lib" / "fasttcp_server.js")
BIG = os.urandom(1 << 20)
# (label, value, what comes back when it differs): fast-tcp sends None as
# "empty" (no argument) and -0.0 as the integer 0.
CASES: list[tuple[Any, ...]] = [
    ("string", "héllo"), ("empty string", ""), ("1 MiB string", "x" * (1 << 20)),
    ("U+2028", "a\u2028b"), ("emoji", "😀 \U0001F469\u200D\U0001F4BB"),
    ("empty bytes", b""), ("1 MiB bytes", BIG),
    ("2^47-1", 2**47 - 1), ("-(2^47-1)", -(2**47 - 1)), ("-2^47", -(2**47)), ("zero", 0),
    ("-0.0", -0.0, 0), ("1.5", 1.5), ("-1.5e-300", -1.5e-300), ("5e-324", 5e-324),
    ("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf),
    ("true", True), ("false", False), ("None", None),
    ("nested", {"a": {"b": [1, "x", True, None, {"c": 2.5}]}, "\u2028": "😀", "n": 2**53}),
    ("list", [1, [2, [3, []]], {}]), ("empty dict", {}),
]


def same(got: Any, want: Any) -> bool:
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return type(got) is type(want) and got == want


async def start_server(port: int = 0) -> tuple[asyncio.subprocess.Process, str]:
    assert NODE
    proc = await asyncio.create_subprocess_exec(
        NODE, SERVER, "--port", str(port), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout
    line = (await asyncio.wait_for(proc.stdout.readline(), T)).decode()
    m = re.match(r"^listening on (tcp://\S+)", line)
    assert m, line
    return proc, m.group(1)


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
    await proc.wait()


async def until(pred: Any, what: str) -> None:
    for _ in range(500):
        if pred():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out: {what}")


def backoff() -> weft.Backoff:
    return weft.Backoff(min=0.05, max=0.2, retries=100)


@needs_node
async def test_values_events_acks_and_asked(loop_errors: LoopErrors) -> None:
    proc, url = await start_server()
    try:
        client = await weft.connect(url, emitter=True, reconnect=backoff())
        got: dict[str, list[Any]] = {"echo": [], "ctl:answer": []}
        client.on_event("echo", lambda *a: got["echo"].append(a[0] if a else None))
        client.on_event("ctl:answer", lambda *a: got["ctl:answer"].append(a[0] if a else None))
        client.on_event("question", lambda *a: a[0] if a else None)
        for case in CASES:
            label, value = case[0], case[1]
            back = case[2] if len(case) > 2 else value
            client.emit("echo", value)
            await until(lambda: got["echo"], f"echo {label}")
            assert same(got["echo"].pop(), back), label
            acked = await asyncio.wait_for(client.emit("echo", value, ack=True), T)
            assert same(acked, back), f"ack {label}"
            assert await asyncio.wait_for(client.emit("ctl:ask", value, ack=True), T) is True
            await until(lambda: got["ctl:answer"], f"answer {label}")
            assert same(got["ctl:answer"].pop(), back), f"asked {label}"
        edge = [2**47, -(2**47) - 1, 2**53, 2**47 - 0.5, 2**47 - 1, -(2**47)]
        for n in edge:
            client.emit("q", n)
        assert await asyncio.wait_for(client.emit("ctl:log", ack=True), T) == edge
        await client.end()
    finally:
        await stop(proc)


@needs_node
async def test_rooms_and_server_emits_reach_the_client(loop_errors: LoopErrors) -> None:
    # join()/leave()/leave_all() leave as fast-tcp's room messages; npm
    # fast-tcp's server never answers them, so weft settles each once it is
    # on the wire.
    proc, url = await start_server()
    try:
        cl = [await weft.connect(url, emitter=True, reconnect=backoff()) for _ in range(3)]
        got: list[list[Any]] = [[], [], []]
        for i, c in enumerate(cl):
            c.on_event("news", lambda d, i=i: got[i].append(d))
        a, b, c = cl
        await asyncio.wait_for(a.join("r1"), T)
        await asyncio.wait_for(a.join("r2"), T)
        await asyncio.wait_for(b.join("r2"), T)
        assert await asyncio.wait_for(a.emit("ctl:rooms", ack=True), T) == ["r1", "r2"]
        await asyncio.wait_for(a.leave("r1"), T)
        assert await asyncio.wait_for(a.emit("ctl:rooms", ack=True), T) == ["r2"]
        await asyncio.wait_for(c.join("r3"), T)
        await asyncio.wait_for(c.join("r4"), T)
        assert await asyncio.wait_for(c.emit("ctl:rooms", ack=True), T) == ["r3", "r4"]
        await asyncio.wait_for(c.leave_all(), T)
        assert await asyncio.wait_for(c.emit("ctl:rooms", ack=True), T) == []
        cid = await asyncio.wait_for(c.emit("ctl:id", ack=True), T)
        for args in (["news", "all", {}], ["news", "others", {"except": ["self"]}],
                     ["news", "room", {"rooms": ["r2"], "except": ["self"]}],
                     ["news", "room with sender", {"rooms": ["r2"]}],
                     ["news", "id", {"sockets": [cid]}], ["news", "end", {}]):
            await asyncio.wait_for(a.emit("ctl:send", args, ack=True), T)
        await until(lambda: all("end" in g for g in got), "news")
        assert got == [["all", "room with sender", "end"],
                       ["all", "others", "room", "room with sender", "end"],
                       ["all", "others", "id", "end"]]
        for c in cl:
            await c.end()
    finally:
        await stop(proc)


@needs_node
async def test_reconnect_after_kill_queued_emits_once_in_order(loop_errors: LoopErrors) -> None:
    first, url = await start_server()
    port = int(url.rsplit(":", 1)[1])
    second = None
    try:
        client = await weft.connect(url, emitter=True, reconnect=backoff())
        seen: list[str] = []
        client.on("close", lambda *a: seen.append("close"))
        client.on("reconnected", lambda *a: seen.append("reconnected"))
        client.emit("q", "before")
        assert await asyncio.wait_for(client.emit("ctl:log", ack=True), T) == ["before"]
        os.kill(first.pid, signal.SIGKILL)
        await first.wait()
        await until(lambda: "close" in seen, "close")
        for i in range(1, 21):
            client.emit("q", i)
        await asyncio.sleep(0.3)
        second, url2 = await start_server(port)
        assert url2 == url
        await until(lambda: "reconnected" in seen, "reconnected")
        assert await asyncio.wait_for(client.emit("ctl:log", ack=True), T) == list(range(1, 21))
        await client.end()
    finally:
        await stop(first)
        if second:
            await stop(second)
