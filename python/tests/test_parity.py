"""Capabilities the Python host gained for parity (issue #15, item 4), each
through real sockets on 127.0.0.1 with its bad-input path: spark ids from
a generator, static files and assets, the built-in browser client, client
compression, manual open and destroy, client plugins (transforms and
open/close hooks), server plugins' connection hooks, and serve()/connect()
against the core's option tables."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

import weft
from weft import _options

from conftest import T, LoopErrors, http

URL = "ws://127.0.0.1:0/primus"


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode()


async def next_spark(server: weft.Server) -> weft.Spark:
    return await asyncio.wait_for(server.__anext__(), T)


async def test_id_generator(loop_errors: LoopErrors) -> None:
    n = 0

    def ids() -> str:
        nonlocal n
        n += 1
        if n == 3:
            raise RuntimeError("generator bug")
        return f"py-{n}" if n != 4 else ""  # "" falls back to the default too

    async with await weft.serve(URL, id_generator=ids, ping_interval=None) as server:
        got = []
        for _ in range(4):
            async with await weft.connect(server.url) as client:
                got.append((await next_spark(server)).id)
                assert await asyncio.wait_for(client.id(), T) == got[-1]
        assert got[:2] == ["py-1", "py-2"]
        assert len(got[2]) == 21 and len(got[3]) == 21  # the default ids
        await asyncio.sleep(0.01)
        assert any(isinstance(e, RuntimeError) for e in loop_errors.exceptions)
    with pytest.raises(TypeError):
        await weft.serve(URL, id_generator="py-1")  # type: ignore[arg-type]


async def test_static_files_and_assets(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("the index")
    (tmp_path / "page.html").write_text("a page")
    assets = {"/primus/hello.txt": ("text/plain", b"hello asset")}
    async with await weft.serve(URL, static_dir=str(tmp_path), assets=assets) as server:
        status, _, body = await http(server.port, get("/"))
        assert (status, body) == (200, b"the index")
        status, _, body = await http(server.port, get("/page.html"))
        assert (status, body) == (200, b"a page")
        status, headers, body = await http(server.port, get("/primus/hello.txt"))
        assert (status, body, headers["content-type"]) == (200, b"hello asset", "text/plain")
        assert (await http(server.port, get("/missing.html")))[0] == 404
        assert (await http(server.port, get("/%00")))[0] == 400  # a bad escape
    with pytest.raises(weft.NotFoundError):
        await weft.serve(URL, static_dir=str(tmp_path / "nope"))
    with pytest.raises(weft.InvalidArgument):
        await weft.serve(URL, assets={"no-slash": ("text/plain", b"x")})
    # The application's asset at the client library's path wins over it.
    mine = {"/primus/weft.js": ("text/javascript", b"mine")}
    async with await weft.serve(URL, assets=mine) as server:
        assert (await http(server.port, get("/primus/weft.js")))[2] == b"mine"
    with pytest.raises(TypeError):
        await weft.serve(URL, assets={"/a": ("text/plain", "not bytes")})  # type: ignore[dict-item]


async def test_serves_the_browser_client() -> None:
    async with await weft.serve(URL) as server:
        status, headers, body = await http(server.port, get("/primus/weft.js"))
        assert status == 200 and b"Weft" in body
        assert "javascript" in headers["content-type"]
        status, _, body = await http(server.port, get("/primus/primus.js"))
        assert status == 200 and b"Primus" in body
    async with await weft.serve(URL, client_library=False) as server:
        assert (await http(server.port, get("/primus/weft.js")))[0] != 200
    with pytest.raises(weft.InvalidArgument):
        await weft.serve(URL, client_library="yes")  # type: ignore[arg-type]


async def test_client_compression() -> None:
    async with await weft.serve(URL, compression=True, ping_interval=None) as server:
        async with await weft.connect(server.url, compression=True) as client:
            spark = await next_spark(server)
            assert "permessage-deflate" in spark.headers["sec-websocket-extensions"]
            client.write("squeeze " * 100)
            assert await asyncio.wait_for(spark.__anext__(), T) == "squeeze " * 100
        async with await weft.connect(server.url) as plain:
            spark = await next_spark(server)
            assert "sec-websocket-extensions" not in spark.headers
            del plain
    with pytest.raises(weft.InvalidArgument):
        await weft.connect("ws://127.0.0.1:1/primus", compression=2)  # type: ignore[arg-type]


async def test_kept_headers() -> None:
    """The core trims its copy of the request after the connection event;
    the spark's own copy, made at that event, is whole."""
    async with await weft.serve(URL, kept_headers=["User-Agent"], keep_url=False) as server:
        async with await weft.connect(server.url + "?x=1"):
            spark = await next_spark(server)
            assert "host" in spark.headers and spark.url.startswith("/primus?x=1")
            assert spark.query["x"] == "1"
    async with await weft.serve(URL, kept_headers=[]) as server:
        async with await weft.connect(server.url):
            assert "host" in (await next_spark(server)).headers
    with pytest.raises(weft.InvalidArgument):
        await weft.serve(URL, kept_headers=["user agent"])
    with pytest.raises(weft.InvalidArgument):
        await weft.serve(URL, kept_headers=[""])
    with pytest.raises(TypeError):
        await weft.serve(URL, kept_headers="cookie")  # type: ignore[arg-type]


async def test_manual_open_and_destroy() -> None:
    async with await weft.serve(URL, ping_interval=None) as server:
        client = await weft.connect(server.url, manual=True)
        assert client.state == "closed"
        client.write("queued before open")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(server.__anext__(), 0.3)
        client.open()
        with pytest.raises(weft.StateError):
            client.open()
        spark = await next_spark(server)
        assert await asyncio.wait_for(spark.__anext__(), T) == "queued before open"
        await asyncio.wait_for(client.wait_open(), T)
        ended: list[str] = []
        client.on("end", lambda: ended.append("end"))
        client.destroy()
        client.destroy()  # twice: nothing more
        await asyncio.wait_for(spark.wait_closed(), T)
        await asyncio.wait_for(client.end(), T)
        assert ended == ["end"] and client.ended
        with pytest.raises(weft.ClosedError):
            client.open()
        with pytest.raises(asyncio.TimeoutError):  # destroyed: no reconnection
            await asyncio.wait_for(server.__anext__(), 0.4)


async def test_client_plugins(loop_errors: LoopErrors) -> None:
    seen: list[Any] = []

    def wrap_in(client: Any, msg: Any) -> Any:
        seen.append(client)
        return weft.DROP if msg == "drop" else {"in": msg}

    def failing_close(client: Any) -> None:
        raise RuntimeError("close hook bug")

    greeter = weft.Plugin("greeter", open=lambda c: c.write({"greeting": "hello"}),
                          close=failing_close)
    tag = weft.Plugin("tag", incoming=wrap_in, outgoing=lambda c, m: {"out": m})
    async with await weft.serve(URL, ping_interval=None) as server:
        client = await weft.connect(server.url, plugins=[greeter, tag])
        assert client.plugin("tag") is tag and client.plugin("nope") is None
        spark = await next_spark(server)
        assert await asyncio.wait_for(spark.__anext__(), T) == {"out": {"greeting": "hello"}}
        client.write(7)
        assert await asyncio.wait_for(spark.__anext__(), T) == {"out": 7}
        spark.write("drop")
        spark.write(8)
        assert await asyncio.wait_for(client.__anext__(), T) == {"in": 8}
        assert seen and all(c is client for c in seen)
        await client.end()
        assert any(isinstance(e, RuntimeError) for e in loop_errors.exceptions)
        with pytest.raises(weft.ExistsError):
            await weft.connect(server.url, plugins=[tag, tag])
        with pytest.raises(weft.InvalidArgument):
            await weft.connect(server.url, plugins=[42])  # type: ignore[list-item]


async def test_server_plugin_hooks() -> None:
    order: list[str] = []
    greeter = weft.Plugin(
        "greeter",
        connection=lambda sp: (order.append("plugin"), sp.write({"greeting": "hello"})),
        disconnection=lambda sp: order.append("plugin gone"),
    )
    async with await weft.serve(URL, plugins=[greeter], ping_interval=None) as server:
        assert server.plugin("greeter") is greeter and server.plugin("x") is None
        server.on("connection", lambda sp: order.append("app"))
        gone = asyncio.Event()
        server.on("disconnection", lambda sp: (order.append("app gone"), gone.set()))
        client = await weft.connect(server.url)
        assert await asyncio.wait_for(client.__anext__(), T) == {"greeting": "hello"}
        await client.end()
        await asyncio.wait_for(gone.wait(), T)
        assert order == ["plugin", "app", "plugin gone", "app gone"]
    with pytest.raises(weft.InvalidArgument):
        await weft.serve(URL, plugins=[weft.Plugin("")])


def params(fn: Any) -> set[str]:
    return set(inspect.signature(fn).parameters)


def test_serve_and_connect_cover_the_option_tables() -> None:
    """Every core option is a keyword of serve()/connect() (or named in the
    host's translation below), so the tables and the API cannot drift."""
    host_spelling = {"tls_cert": "tls", "tls_key": "tls", "reconnect_min": "reconnect",
                     "reconnect_max": "reconnect", "retries": "reconnect", "factor": "reconnect"}
    for kind, fn in (("server", weft.serve), ("client", weft.connect)):
        rows = _options.table(kind)  # type: ignore[arg-type]
        assert rows, kind
        for row in rows:
            assert host_spelling.get(row.name, row.name) in params(fn), (kind, row.name)
            assert row.expects and row.doc


async def test_write_raw() -> None:
    async with await weft.serve(URL, ping_interval=None) as server:
        async with await weft.connect(server.url) as client:
            spark = await next_spark(server)
            assert spark.write_raw(b'{"pre":"encoded"}') is True
            assert await asyncio.wait_for(client.__anext__(), T) == {"pre": "encoded"}
            assert server.write_raw(bytearray(b"[1,2]")) == 1
            assert await asyncio.wait_for(client.__anext__(), T) == [1, 2]
            client.write_raw(memoryview(b'"up"'))
            assert await asyncio.wait_for(spark.__anext__(), T) == "up"
            with pytest.raises(weft.UTF8Error):
                spark.write_raw(b"\xff\xfe")
            with pytest.raises(TypeError):
                spark.write_raw("not bytes")  # type: ignore[arg-type]
            assert spark.write_raw(b"\x00\x01", binary=True) is True
        await asyncio.wait_for(spark.wait_closed(), T)
        with pytest.raises(weft.ClosedError):
            spark.write_raw(b"1")


async def test_engineio_session_options() -> None:
    """engine.io's heartbeat (seconds here, ms in the core) and sid cookie
    reach the handshake; bad values are refused before listening."""
    async with await weft.serve(
        URL, transformer="engine.io", ping_interval=None,
        session_ping_interval=0.5, session_ping_timeout=0.25, session_cookie="io",
    ) as server:  # fmt: skip
        async with await weft.connect(
            server.url, transformer="engine.io", transports="polling", ping_timeout=None
        ) as client:
            spark = await next_spark(server)
            client.write("over polling")
            assert await asyncio.wait_for(spark.__anext__(), T) == "over polling"
        # A handshake of our own (its session then expires unpolled).
        status, headers, body = await http(server.port, get("/primus/?EIO=4&transport=polling"))
        assert status == 200
        assert b'"pingInterval":500' in body and b'"pingTimeout":250' in body
        assert headers["set-cookie"].startswith("io=")
    with pytest.raises(ValueError):
        await weft.serve(URL, transformer="engine.io", session_ping_interval=0)
    with pytest.raises(weft.InvalidArgument):
        await weft.serve(URL, transformer="engine.io", session_cookie="no spaces")
    with pytest.raises(weft.InvalidArgument):
        await weft.connect("ws://127.0.0.1:1/primus", transformer="engine.io", transports="carrier")
