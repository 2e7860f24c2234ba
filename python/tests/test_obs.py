"""Logs and metrics (issue #17): exact counters after known traffic, read
through server.metrics(), server.metrics_text() and scraped over HTTP at the
metrics path; the core's records in the logger "weft"; the core's level
following the loggers; a raising handler; bad input. Real sockets on
127.0.0.1: the `websockets` client and raw HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
import websockets

import weft
from weft import _obs
from weft import lowlevel as _ll

from conftest import T, LoopErrors, http

URL = "ws://127.0.0.1:0/primus"
NO_KEY = (b"GET /primus HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Version: 13\r\n\r\n")


async def scrape(port: int) -> tuple[int, dict[str, str], str]:
    status, headers, body = await http(
        port, b"GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    return status, headers, body.decode()


async def until(cond: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(T):
        while not cond():
            await asyncio.sleep(0.01)


def series(text: str, name: str) -> int:
    """The value of one series of a text exposition."""
    values = [line[len(name) + 1:] for line in text.split("\n") if line.startswith(name + " ")]
    assert len(values) == 1, f"series {name}: {values}"
    return int(values[0])


async def known_traffic(server: weft.Server) -> None:
    """3 connections echoing 5 messages each, one handshake refused (400),
    one oversize message (close 1009); returns once every spark is gone."""
    server.on("connection", lambda spark: spark.on("data", spark.write))
    clients = [await websockets.connect(server.url) for _ in range(3)]
    for c in clients:
        for _ in range(5):
            await c.send('"hi"')
        for _ in range(5):
            assert await asyncio.wait_for(c.recv(), T) == '"hi"'
    status, _, _ = await http(server.port, NO_KEY)
    assert status == 400
    big = await websockets.connect(server.url)
    await big.send('"' + "x" * 200 + '"')
    with pytest.raises(websockets.ConnectionClosed) as info:
        await asyncio.wait_for(big.recv(), T)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    for c in clients:
        await c.close()
    await until(lambda: server.metrics().connections_open == 0, "every spark closed")


EXPECTED = weft.Metrics(
    connections_open=0,
    connections_total=4,
    handshakes_total=4,  # the 400 is refused before authorization
    refused_total=1,
    messages_in_total=15,
    messages_out_total=15,
    bytes_in_total=15 * 4,  # '"hi"'; the oversize message is no message
    bytes_out_total=15 * 4,
    queue_bytes=0,
    queue_refused_total=0,
    heartbeat_timeouts_total=0,
    errors_total=1,  # toobig
    polling_requests_total=0,  # no engine.io here
)

SERIES = {
    'weft_connections{transport="websockets"}': 0,
    'weft_connections_total{transport="websockets"}': 4,
    "weft_handshakes_total": 4,
    'weft_http_responses_total{code="400"}': 1,
    'weft_http_responses_total{code="404"}': 0,
    'weft_messages_received_total{transport="websockets"}': 15,
    'weft_messages_sent_total{transport="websockets"}': 15,
    'weft_received_bytes_total{transport="websockets"}': 60,
    'weft_sent_bytes_total{transport="websockets"}': 60,
    "weft_queue_bytes": 0,
    "weft_queue_refused_total": 0,
    "weft_heartbeat_timeouts_total": 0,
    'weft_errors_total{kind="toobig"}': 1,
    'weft_errors_total{kind="json"}': 0,
}


async def test_exact_counters_after_known_traffic() -> None:
    async with await weft.serve(
        URL, max_length=100, ping_interval=None, metrics_path="/metrics"
    ) as server:
        assert server.metrics() == weft.Metrics(*[0] * 13)
        await known_traffic(server)
        assert server.metrics() == EXPECTED
        text = server.metrics_text()
        for name, value in SERIES.items():
            assert series(text, name) == value, name
        assert series(text, 'weft_http_responses_total{code="200"}') == 0
        # Scraped: the page is made before its own 200 is counted.
        status, headers, body = await scrape(server.port)
        assert status == 200
        assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert body == text
        status, _, body = await scrape(server.port)
        assert series(body, 'weft_http_responses_total{code="200"}') == 1
        assert series(server.metrics_text(), 'weft_http_responses_total{code="200"}') == 2
        # Only GET and HEAD; a 405 is one more refusal.
        status, _, _ = await http(
            server.port, b"POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        assert status == 405
        assert server.metrics().refused_total == 2


async def test_no_metrics_path_by_default() -> None:
    async with await weft.serve(URL, ping_interval=None) as server:
        status, _, _ = await scrape(server.port)
        assert status == 404
        assert server.metrics().refused_total == 1


def by_event(records: list[logging.LogRecord], event: str) -> list[logging.LogRecord]:
    return [r for r in records if getattr(r, "weft_event", None) == event]


async def test_records_reach_the_weft_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="weft")
    async with await weft.serve(URL, max_length=100, ping_interval=None) as server:
        assert server._drv.log_level == _ll.WEFT_LOG_INFO
        ids: list[str] = []
        server.on("connection", lambda spark: ids.append(spark.id))
        ok = await websockets.connect(server.url)
        await until(lambda: len(ids) == 1, "connection")
        await ok.close()
        await until(lambda: len(server) == 0, "disconnection")
        assert (await http(server.port, NO_KEY))[0] == 400
        # Bytes from the network that are not UTF-8 reach the message escaped.
        assert (await http(server.port, b"GET /\xff HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))[0] == 404
        big = await websockets.connect(server.url)
        await big.send('"' + "x" * 200 + '"')
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(big.recv(), T)
        await until(lambda: len(server) == 0 and len(ids) == 2, "oversize closed")
    records = [r for r in caplog.records if r.name.startswith("weft")]
    assert {r.name for r in records} == {"weft.server"}
    (listen,) = by_event(records, "listen")
    assert listen.levelno == logging.INFO
    assert listen.getMessage() == f"listening on {server.url} (websockets)"
    conns = by_event(records, "connection")
    assert [r.weft_spark for r in conns] == ids  # type: ignore[attr-defined]
    assert all(r.levelno == logging.INFO and r.weft_kind is None  # type: ignore[attr-defined]
               for r in conns)
    assert conns[0].getMessage().startswith(f"spark {ids[0]} connected from 127.0.0.1:")
    gone = by_event(records, "disconnection")
    assert [r.weft_spark for r in gone] == ids  # type: ignore[attr-defined]
    refused = [r.getMessage() for r in by_event(records, "refused")]
    assert len(refused) == 2
    assert refused[0].startswith("400 Bad Request to 127.0.0.1:")
    assert refused[0].endswith(" for GET /primus")
    assert refused[1].endswith(" for GET /\\xff")
    (err,) = by_event(records, "error")
    assert err.levelno == logging.WARNING
    assert err.weft_kind == "toobig"  # type: ignore[attr-defined]
    assert err.weft_spark == ids[1]  # type: ignore[attr-defined]
    # In the core's order.
    order = [r.weft_event for r in records]  # type: ignore[attr-defined]
    assert order.index("listen") < order.index("connection") < order.index("disconnection")
    assert order.index("error") > order.index("refused")


async def test_client_records_go_to_weft_client(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="weft")
    async with await weft.serve(URL, ping_interval=None) as server:
        client = await weft.connect(server.url)
        await client.end()
    events = [r.weft_event for r in caplog.records  # type: ignore[attr-defined]
              if r.name == "weft.client"]
    assert events[0] == "open"
    assert "end" in events


class Collect(logging.Handler):
    """Keeps every record it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_core_level_follows_the_loggers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="weft")
    weft_logger = logging.getLogger("weft")
    got = Collect()
    weft_logger.addHandler(got)
    try:
        await level_follows(weft_logger, got)
    finally:
        weft_logger.removeHandler(got)


async def level_follows(weft_logger: logging.Logger, got: Collect) -> None:
    async with await weft.serve(URL, max_length=100, ping_interval=None) as server:
        drv = server._drv
        assert drv.log_level == _ll.WEFT_LOG_WARN
        c = await websockets.connect(server.url)
        await c.send('"' + "x" * 200 + '"')
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(c.recv(), T)
        await until(lambda: len(server) == 0, "closed")
        assert [r.weft_event for r in got.records] == ["error"]  # type: ignore[attr-defined]
        # Raised at run time: the loop follows.
        weft.set_log_level("DEBUG")
        assert weft_logger.level == logging.DEBUG
        assert drv.log_level == _ll.WEFT_LOG_DEBUG
        c = await websockets.connect(server.url)
        await until(lambda: len(server) == 1, "connection")
        assert by_event(got.records, "connection")
        await c.close()
        # Nobody hears the "weft" loggers (only their NullHandler): off.
        weft_logger.propagate = False
        weft_logger.removeHandler(got)
        try:
            weft.set_log_level()
            assert drv.log_level == _ll.WEFT_LOG_OFF
            assert _obs.core_level() == _ll.WEFT_LOG_OFF
        finally:
            weft_logger.propagate = True
            weft_logger.addHandler(got)
        weft.set_log_level()
        assert drv.log_level == _ll.WEFT_LOG_DEBUG
        # A child more verbose than "weft": the most verbose wins.
        weft.set_log_level("ERROR")
        assert drv.log_level == _ll.WEFT_LOG_ERROR
        logging.getLogger("weft.server").setLevel(logging.INFO)
        try:
            weft.set_log_level()
            assert drv.log_level == _ll.WEFT_LOG_INFO
        finally:
            logging.getLogger("weft.server").setLevel(logging.NOTSET)
        # logging.disable() above every level: off.
        logging.disable(logging.CRITICAL)
        try:
            assert _obs.core_level() == _ll.WEFT_LOG_OFF
        finally:
            logging.disable(logging.NOTSET)


class Raising(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "weft_event", None) == "connection":
            raise RuntimeError("handler boom")


async def test_a_raising_handler_never_crashes(
    caplog: pytest.LogCaptureFixture, loop_errors: LoopErrors
) -> None:
    caplog.set_level(logging.INFO, logger="weft")
    handler = Raising()
    logging.getLogger("weft").addHandler(handler)
    try:
        async with await weft.serve(URL, ping_interval=None) as server:
            server.on("connection", lambda spark: spark.on("data", spark.write))
            c = await websockets.connect(server.url)
            await c.send('"still here"')
            assert await asyncio.wait_for(c.recv(), T) == '"still here"'
            await c.close()
            await until(lambda: len(server) == 0, "closed")
    finally:
        logging.getLogger("weft").removeHandler(handler)
    assert [str(e) for e in loop_errors.exceptions] == ["handler boom"]
    # The records after it were still delivered.
    assert by_event(caplog.records, "disconnection")


async def test_bad_input() -> None:
    with pytest.raises(ValueError):
        weft.set_log_level("LOUD")
    with pytest.raises(TypeError):
        weft.set_log_level(3.5)  # type: ignore[arg-type]
    for path in ("metrics", "/a b", "/m?x", "/m#x", "/m\r\nX: y"):
        with pytest.raises(weft.InvalidArgument):
            await weft.serve(URL, metrics_path=path)
    with pytest.raises(TypeError):
        await weft.serve(URL, metrics_path=5)  # type: ignore[arg-type]
    server = await weft.serve(URL)
    core = server._drv.core
    assert _ll.pyweft_loop_set_log(core, _ll.WEFT_LOG_INFO, 42) == weft.InvalidArgument.code
    assert _ll.pyweft_loop_set_log(core, _ll.WEFT_LOG_DEBUG + 1, _obs.emit) == \
        weft.InvalidArgument.code
    assert _ll.pyweft_loop_set_log(core, -1, _obs.emit) == weft.InvalidArgument.code
    await server.close()
    with pytest.raises(weft.ClosedError):
        server.metrics()
    with pytest.raises(weft.ClosedError):
        server.metrics_text()
