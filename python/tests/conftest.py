"""Shared helpers: real peers as subprocesses, on 127.0.0.1 with port 0."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
INTEROP = ROOT / "tests" / "interop"
HAVE_PRIMUS = NODE is not None and (INTEROP / "node_modules" / "primus").is_dir()
needs_node = pytest.mark.skipif(not HAVE_PRIMUS, reason="node and tests/interop/node_modules needed")

# Generous bounds: every wait in the suite is bounded.
T = 10.0


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A fresh folder for Unix sockets (mkdtemp; removed afterwards). Short:
    a socket path may have at most 107 bytes."""
    d = Path(tempfile.mkdtemp(prefix="weft-py-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


class LoopErrors:
    """Collects what reaches the event loop's exception handler."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def __call__(self, loop: asyncio.AbstractEventLoop, ctx: dict[str, Any]) -> None:
        self.contexts.append(ctx)

    @property
    def exceptions(self) -> list[BaseException]:
        return [c["exception"] for c in self.contexts if "exception" in c]


@pytest.fixture
async def loop_errors() -> AsyncIterator[LoopErrors]:
    """Installs a collecting exception handler on the running loop."""
    errs = LoopErrors()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(errs)
    yield errs
    loop.set_exception_handler(None)


async def run_node_client(url: str, msgs: list[Any], parser: str = "json",
                          expect: int | None = None, env: dict[str, str] | None = None) -> list[str]:
    """Runs the npm Primus client; returns its output lines. `env` adds
    variables (PRIMUS_TRANSFORMER, PRIMUS_WEBSOCKETS: see primus_client.js)."""
    assert NODE
    args = [NODE, str(Path(__file__).parent / "primus_client.js"), url, parser, json.dumps(msgs)]
    if expect is not None:
        args.append(str(expect))
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE,
                                                env={**os.environ, **(env or {})})
    try:
        out, err = await asyncio.wait_for(proc.communicate(), T + 5)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, (out, err)
    return out.decode().splitlines()


class PrimusServer:
    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url
        self.lines: list[str] = []


@pytest.fixture
async def primus_server() -> AsyncIterator[Any]:
    """A factory for the reference npm Primus server (echo)."""
    started: list[asyncio.subprocess.Process] = []

    async def start(*extra: str) -> PrimusServer:
        assert NODE
        proc = await asyncio.create_subprocess_exec(
            NODE, str(INTEROP / "primus_server.js"), "--port", "0", *extra,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        started.append(proc)
        assert proc.stdout
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), T)).decode()
            if not line:
                raise RuntimeError("primus_server exited")
            m = re.match(r"^listening on (ws://\S+)", line)
            if m:
                return PrimusServer(proc, m.group(1))

    yield start
    for proc in started:
        if proc.returncode is None:
            proc.terminate()  # only the PIDs we started
        try:
            await asyncio.wait_for(proc.wait(), T)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()




def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Every async test runs on the default asyncio loop and on uvloop."""
    factories: dict[str, Any] = {"asyncio": asyncio.new_event_loop}
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in requirements-dev
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories


async def http(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection: (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), T)  # the server closes
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body
