"""The examples run and do what they say."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

import weft

from conftest import T

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


async def test_chat_example() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "chat.py"), "0", stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout
        line = (await asyncio.wait_for(proc.stdout.readline(), T)).decode()
        m = re.match(r"chat on (ws://\S+)", line)
        assert m, line
        ada = await weft.connect(m.group(1) + "?name=ada")
        assert await asyncio.wait_for(ada.__anext__(), T) == {"system": "ada joined", "online": 1}
        bob = await weft.connect(m.group(1) + "?name=bob")
        assert await asyncio.wait_for(bob.__anext__(), T) == {"system": "bob joined", "online": 2}
        assert await asyncio.wait_for(ada.__anext__(), T) == {"system": "bob joined", "online": 2}
        bob.write("hello")
        for c in (ada, bob):
            assert await asyncio.wait_for(c.__anext__(), T) == {"from": "bob", "text": "hello"}
        await bob.end()
        assert await asyncio.wait_for(ada.__anext__(), T) == {"system": "bob left", "online": 1}
        await ada.end()
    finally:
        if proc.returncode is None:
            proc.terminate()  # the PID we started
        await asyncio.wait_for(proc.wait(), T)


async def test_rooms_example() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "rooms.py"), "0", stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout
        line = (await asyncio.wait_for(proc.stdout.readline(), T)).decode()
        m = re.match(r"rooms on (ws://\S+)", line)
        assert m, line
        ada = await weft.connect(m.group(1) + "?name=ada", emitter=True)
        bob = await weft.connect(m.group(1) + "?name=bob", emitter=True)
        heard: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()
        bob.on_event("said", lambda *a: heard.put_nowait(a))
        with pytest.raises(weft.Rejected):
            await asyncio.wait_for(ada.join("secret"), T)
        for c in (ada, bob):
            await asyncio.wait_for(c.join("room:lobby"), T)
        assert await asyncio.wait_for(ada.emit("say", "room:lobby", "hi", ack=True), T) == 1
        assert await asyncio.wait_for(heard.get(), T) == ("room:lobby", "ada", "hi")
        with pytest.raises(weft.Rejected, match="not in room:x"):
            await asyncio.wait_for(ada.emit("say", "room:x", "hi", ack=True), T)
        await asyncio.gather(ada.end(), bob.end())
    finally:
        if proc.returncode is None:
            proc.terminate()  # the PID we started
        await asyncio.wait_for(proc.wait(), T)
