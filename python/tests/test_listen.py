"""Transformers by name, Unix-domain sockets, several listeners and servers
at "/" (from Python and from the CLI), through real sockets: 127.0.0.1 with
port 0, and Unix sockets in a temporary folder."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
from pathlib import Path
from typing import Any

import pytest
import websockets

import weft
from weft import _driver
from weft import lowlevel as _ll

from conftest import ROOT, T

URL = "ws://127.0.0.1:0/primus"
CLI = Path(os.environ.get("WEFT_CLI") or ROOT / "build" / "weft")


def echo(spark: weft.Spark) -> None:
    spark.on("data", spark.write)


async def wait_released() -> None:
    """Waits until this loop's weft driver has no server or client left (it
    then closes the core loop and goes away)."""
    aloop = asyncio.get_running_loop()
    async with asyncio.timeout(T):
        while (drv := _driver._drivers.get(aloop)) is not None and drv.core is not None:
            await asyncio.sleep(0.01)


async def roundtrip(client: weft.Client, msg: Any) -> Any:
    client.write(msg)
    return await asyncio.wait_for(client.__anext__(), T)


# -- transformers ---------------------------------------------------------


async def test_transformers_come_from_the_core() -> None:
    names = weft.transformers()
    assert "websockets" in names
    assert len(set(names)) == len(names)
    assert all(_ll.weft_transformer_exists(n) == 1 for n in names)
    async with await weft.serve(URL, transformer="websockets") as server:
        server.on("connection", echo)
        async with await weft.connect(server.url, transformer="websockets") as client:
            assert await roundtrip(client, {"t": "websockets"}) == {"t": "websockets"}


async def test_unknown_transformer_on_server() -> None:
    with pytest.raises(weft.Unsupported) as info:
        await weft.serve(URL, transformer="sockjs")
    available = ", ".join(weft.transformers())
    assert str(info.value) == f"unknown transformer 'sockjs' (available: {available})"
    assert isinstance(info.value, ValueError)
    assert info.value.name == "EUNSUPPORTED"
    with pytest.raises(weft.Unsupported, match=r"unknown transformer ''"):
        await weft.serve(URL, transformer="")
    await wait_released()


async def test_unknown_transformer_on_client() -> None:
    async with await weft.serve(URL) as server:
        with pytest.raises(weft.Unsupported) as info:
            await weft.connect(server.url, transformer="sockjs")
        available = ", ".join(weft.transformers())
        assert str(info.value) == f"unknown transformer 'sockjs' (available: {available})"
        assert isinstance(info.value, ValueError)
        assert len(server) == 0  # nothing dialed
    await wait_released()


# -- Unix-domain sockets ----------------------------------------------------


async def test_unix_socket_echo_and_cleanup(sock_dir: Path) -> None:
    path = sock_dir / "app.sock"
    url = f"ws+unix://{path}:/primus"
    server = await weft.serve(url)
    try:
        assert server.urls == [url] and server.url == url
        assert server.port == 0 and server.pathname == "/primus"
        assert stat.S_ISSOCK(path.stat().st_mode)
        server.on("connection", echo)
        async with await weft.connect(url) as client:
            msgs: list[Any] = [{"over": "unix"}, [1, 2.5], "s", None, b"\x00\xff"]
            for m in msgs:
                assert await roundtrip(client, m) == m
            spark = server.sparks[0]
            assert spark.address == "" and spark.port == 0
            assert spark.url.startswith("/primus")
            assert await asyncio.wait_for(client.id(), T) == spark.id
    finally:
        await server.close()
    assert not path.exists()
    await wait_released()


async def test_unix_socket_mode(sock_dir: Path) -> None:
    path = sock_dir / "mode.sock"
    async with await weft.serve(f"ws+unix://{path}:/primus", unix_mode=0o600):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.exists()
    with pytest.raises(weft.InvalidArgument):
        await weft.serve(f"ws+unix://{path}:/primus", unix_mode=0o10000)
    with pytest.raises(ValueError):
        await weft.serve(f"ws+unix://{path}:/primus", unix_mode=-1)
    assert not path.exists()
    await wait_released()


async def test_unix_socket_in_use_and_stale(sock_dir: Path) -> None:
    path = sock_dir / "busy.sock"
    url = f"ws+unix://{path}:/primus"
    async with await weft.serve(url):
        with pytest.raises(weft.AddressInUseError):
            await weft.serve(url)  # a live server accepts there
        assert path.exists()  # the failed server left the live one's file alone
    # A socket file nobody accepts on is replaced.
    import socket

    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    assert path.exists()
    async with await weft.serve(url) as server:
        server.on("connection", echo)
        async with await weft.connect(url) as client:
            assert await roundtrip(client, "fresh") == "fresh"
    # A plain file is never replaced.
    path.write_text("not a socket")
    with pytest.raises(weft.AddressInUseError):
        await weft.serve(url)
    assert path.read_text() == "not a socket"
    await wait_released()


async def test_bad_unix_urls(sock_dir: Path) -> None:
    too_long = f"ws+unix://{sock_dir}/{'s' * 120}.sock:/primus"
    for bad in ("ws+unix://", too_long):
        with pytest.raises(weft.URLError):
            await weft.serve(bad)
        with pytest.raises(weft.URLError):
            await weft.connect(bad, reconnect=None)
    # Well-formed, but nothing listens there: the first connection fails.
    with pytest.raises(weft.Error):
        await weft.connect(f"ws+unix://{sock_dir}/none.sock:/primus", reconnect=None)
    assert list(sock_dir.iterdir()) == []
    await wait_released()


async def test_several_listeners(sock_dir: Path) -> None:
    path = sock_dir / "both.sock"
    async with await weft.serve([URL, f"ws+unix://{path}:/unix"]) as server:
        tcp, unix = server.urls
        assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/primus", tcp)
        assert server.url == tcp and tcp.endswith(f":{server.port}/primus")
        assert unix == f"ws+unix://{path}:/unix"
        server.on("connection", echo)
        async with await weft.connect(tcp) as a, await weft.connect(unix) as b:
            assert await roundtrip(a, "tcp") == "tcp"
            assert await roundtrip(b, "unix") == "unix"
            assert sorted(s.address for s in server.sparks) == ["", "127.0.0.1"]
    assert not path.exists()
    with pytest.raises(ValueError):
        await weft.serve([])
    # A listener that fails closes the ones already listening.
    with pytest.raises(weft.URLError):
        await weft.serve([f"ws+unix://{path}:/ok", "ws+unix://"])
    assert not path.exists()
    await wait_released()


# -- a server at "/" ----------------------------------------------------------


async def test_root_path_serves_every_path_to_a_generic_client() -> None:
    async with await weft.serve("ws://127.0.0.1:0/", parser="raw") as server:
        assert server.pathname == "/"
        assert server.url == f"ws://127.0.0.1:{server.port}/"
        server.on("connection", echo)
        for path in ("/", "/x"):
            async with websockets.connect(f"ws://127.0.0.1:{server.port}{path}") as ws:
                await ws.send(f"text at {path}")
                assert await asyncio.wait_for(ws.recv(), T) == f"text at {path}"
                await ws.send(b"\x00\x01binary")
                assert await asyncio.wait_for(ws.recv(), T) == b"\x00\x01binary"
        # The weft client asks for "/" as well.
        async with await weft.connect(server.url, parser="json") as client:
            assert await roundtrip(client, "raw text") == "raw text"


async def test_cli_at_root_path_echoes_to_a_generic_client() -> None:
    assert os.access(CLI, os.X_OK), f"no weft CLI at {CLI} (python/test.sh builds it)"
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)  # the ASan run's preload is for this Python only
    proc = await asyncio.create_subprocess_exec(
        str(CLI), "serve", "--path", "/", "--parser", "raw", "--port", "0",
        "--ping-interval", "0", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), T)).decode()
        m = re.fullmatch(r"listening on (ws://127\.0\.0\.1:(\d+)/)\n", line)
        assert m, line
        url = m.group(1)
        async with websockets.connect(url) as ws:
            await ws.send("hello cli")
            assert await asyncio.wait_for(ws.recv(), T) == "hello cli"
            await ws.send(b"\xde\xad\xbe\xef")
            assert await asyncio.wait_for(ws.recv(), T) == b"\xde\xad\xbe\xef"
        async with websockets.connect(url + "deeper/path") as ws:
            await ws.send("at a deeper path")
            assert await asyncio.wait_for(ws.recv(), T) == "at a deeper path"
    finally:
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGTERM)  # only the PID we started
        try:
            await asyncio.wait_for(proc.wait(), T)
        except asyncio.TimeoutError:
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
    assert proc.returncode == 0
