"""Servers and sparks on the C core."""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeAlias, TypeVar, overload

from . import lowlevel as _ll
from ._driver import Driver, emit, get_driver
from ._obs import Metrics
from . import _options
from . import plugin as _p
from .plugin import DROP, Plugin
from . import ext as _x
from . import streams as _st
from .spark import _F, Spark, Value, _add_listener, _MessageQueue
from .errors import (
    ClosedError,
    Error,
    InvalidArgument,
    Rejected,
    StateError,
    Unauthorized,
    Unsupported,
    check,
    error_from_code,
)

__all__ = ["serve", "Server", "Spark", "AuthRequest", "Plugin", "DROP", "Value", "transformers"]



def transformers() -> list[str]:
    """The transformer (transport) names this build of the core has, in the
    core's order (weft_transformer_at): ["websockets"]."""
    names: list[str] = []
    while (name := _ll.weft_transformer_at(len(names))) is not None:
        names.append(name)
    return names


def check_transformer(rc: int, name: str) -> None:
    """Raises for a weft_*_set_transformer code: weft.Unsupported (a
    ValueError) naming the available transformers when `name` is unknown."""
    if rc == Unsupported.code:
        available = ", ".join(transformers())
        raise Unsupported(f"unknown transformer {name!r} (available: {available})", Unsupported.code)
    check(rc, f"transformer {name!r}")


class AuthRequest:
    """An upgrade request under authorization (valid while the authorization
    function runs)."""

    def __init__(self, ptr: _ll.AuthHandle) -> None:
        self._ptr: _ll.AuthHandle | None = ptr
        self.address: str = _ll.weft_auth_address(ptr) or ""
        self.url: str = _ll.weft_auth_url(ptr) or ""

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name, or None."""
        if self._ptr is None:
            raise ClosedError("request already answered", ClosedError.code)
        return _ll.weft_auth_header(self._ptr, name)

    def query(self, key: str) -> str | None:
        """A decoded query parameter, or None."""
        if self._ptr is None:
            raise ClosedError("request already answered", ClosedError.code)
        return _ll.weft_auth_query(self._ptr, key)


AuthorizeFn: TypeAlias = Callable[[AuthRequest], "Awaitable[None] | None"]
ServerEvent: TypeAlias = Literal["connection", "disconnection", "error", "close", "channel"]
RoomsPolicy: TypeAlias = Callable[[Spark, str, bool], bool]


class Server:
    """A listening weft server; made by ``await weft.serve(...)``.

    New sparks: ``async for spark in server`` (until the server closes), or
    ``server.on("connection", fn)`` (then nothing is queued for iteration).
    A connection listener is that spark's handler: when it raises, or the
    coroutine it returned does (e.g. inside ``async for msg in spark``), the
    exception is logged on the logger "weft" and the spark ends with 1011
    "internal error" (its client reconnects), as `websockets` does.
    Events for ``on``: "connection" (spark), "disconnection" (spark), "error"
    (spark or None, weft.Error), "close".
    """

    def __init__(self, drv: Driver) -> None:
        self._drv = drv
        self._ptr: _ll.ServerHandle | None = None
        self._sparks: dict[str, Spark] = {}
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._incoming: _MessageQueue = _MessageQueue()
        self._receive_queue: int | None = 64
        self._closed = drv.aloop.create_future()
        self._plugins: list[Plugin] = []
        self._ext: Any = None
        self._rooms_on = False
        self._channels_on = False
        self._window = 64
        self._handlers: dict[str, _x.EventHandler] = {}
        self._policy: RoomsPolicy | None = None
        self._incoming_channels: _MessageQueue = _MessageQueue()
        self._streams_on = False
        self._incoming_streams: _MessageQueue = _MessageQueue()
        self._route_fn: Callable[[Spark, dict[str, Any]], Any] | None = None
        self.port = 0
        """The first listener's port (0 for a Unix socket)."""
        self.pathname = "/primus"
        """The first listener's pathname ("/" serves every path)."""
        self.urls: list[str] = []
        """The URL each listener serves, in listening order, port resolved
        ("ws://127.0.0.1:41234/primus", "ws+unix:///run/app.sock:/primus")."""
        self.url = ""
        """The first of urls."""

    def __repr__(self) -> str:
        return f"<weft.Server {self.url} sparks={len(self._sparks)}>"

    # -- events -----------------------------------------------------------
    @overload
    def on(self, event: ServerEvent, fn: _F) -> _F: ...
    @overload
    def on(self, event: ServerEvent) -> Callable[[_F], _F]: ...
    def on(self, event: ServerEvent, fn: Any = None) -> Any:
        """Adds a listener and returns it: ``server.on("connection", fn)``,
        or as a decorator, ``@server.on("connection")``."""
        if event not in ("connection", "disconnection", "error", "close", "channel"):
            raise ValueError(f"unknown server event {event!r}")
        return _add_listener(self._listeners, event, fn)

    def off(self, event: ServerEvent, fn: Callable[..., Any]) -> None:
        """Removes a listener added with on()."""
        fns = self._listeners.get(event, [])
        if fn in fns:
            fns.remove(fn)

    # -- sparks -----------------------------------------------------------
    @property
    def sparks(self) -> list[Spark]:
        """The open sparks (a snapshot)."""
        return list(self._sparks.values())

    def __iter__(self) -> Iterator[Spark]:
        return iter(self.sparks)

    def __len__(self) -> int:
        return len(self._sparks)

    def spark(self, spark_id: str) -> Spark | None:
        """The open spark with this id, or None."""
        return self._sparks.get(spark_id)

    def __aiter__(self) -> AsyncIterator[Spark]:
        return self

    async def __anext__(self) -> Spark:
        spark: Spark = await self._incoming.get()
        return spark

    # -- actions ----------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._ptr is None

    def write(self, msg: Value) -> int:
        """Broadcasts to every open spark (encoded once); returns how many
        sparks it was queued on."""
        if self._ptr is None:
            raise ClosedError("server is closed", ClosedError.code)
        rc = _ll.pyweft_server_write(self._ptr, msg)
        self._drv.kick()
        return check(rc, "broadcast")

    def write_raw(self, data: bytes | bytearray | memoryview, binary: bool = False) -> int:
        """Broadcasts bytes already encoded for the parser as one frame
        (text frames must be UTF-8: weft.UTF8Error), past the plugins'
        transforms; returns how many sparks it was queued on."""
        rc = _ll.weft_server_write_raw(self._need_ptr(), data, int(binary))
        self._drv.kick()
        return check(rc, "write_raw")

    def authorize(self, fn: AuthorizeFn | None) -> None:
        """Sets the authorization function, called with an AuthRequest for
        every upgrade before a spark exists. Returning allows; raising
        ``weft.Unauthorized(status, message)`` denies with that status and
        {"error": message}; any other exception denies with 500 and is
        reported to the event loop. May be sync or async. None removes it."""
        if self._ptr is None:
            raise ClosedError("server is closed", ClosedError.code)
        hook: Any = None if fn is None else self._make_auth_hook(fn)
        check(_ll.pyweft_server_set_authorize(self._ptr, self._drv.core, hook), "authorize")

    def _make_auth_hook(self, fn: AuthorizeFn) -> Callable[[_ll.AuthHandle], None]:
        drv = self._drv

        def answer(req: AuthRequest, exc: BaseException | None) -> None:
            ptr = req._ptr
            req._ptr = None
            if ptr is None:
                return
            if exc is None:
                _ll.weft_auth_allow(ptr)
            elif isinstance(exc, Unauthorized):
                _ll.weft_auth_deny(ptr, exc.status, exc.message)
            else:
                _ll.weft_auth_deny(ptr, 500, "authorization failed")
                drv.aloop.call_exception_handler(
                    {"message": "exception in a weft authorization function", "exception": exc}
                )
            drv.kick()

        async def run(req: AuthRequest, aw: Awaitable[None]) -> None:
            try:
                await aw
            except Exception as exc:
                answer(req, exc)
            else:
                answer(req, None)

        def hook(ptr: _ll.AuthHandle) -> None:
            req = AuthRequest(ptr)
            try:
                res = fn(req)
            except Exception as exc:
                answer(req, exc)
                return
            if inspect.isawaitable(res):
                drv.spawn(run(req, res))
            else:
                answer(req, None)

        return hook

    async def close(self, end: bool = True, timeout: float = 1.0) -> None:
        """Stops listening and ends every spark (telling clients not to
        reconnect unless end=False), waits at most `timeout` seconds for
        their closing handshakes, then for the server to be freed."""
        if self._ptr is not None:
            ptr = self._ptr
            self._ptr = None
            ms = max(1, int(timeout * 1000))
            rc = _ll.pyweft_server_destroy(ptr, 0 if end else 1, ms)
            self._drv.kick()
            if rc < 0 and rc != ClosedError.code:
                check(rc, "close")
        await asyncio.shield(self._closed)

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    # -- metrics ----------------------------------------------------------
    def metrics(self) -> Metrics:
        """The server's counters and gauges now (see weft.Metrics). Raises
        weft.ClosedError once the server is closed."""
        return Metrics(**_ll.pyweft_server_metrics(self._need_ptr()))

    def metrics_text(self) -> str:
        """The same in Prometheus's text exposition format (0.0.4), with
        per-transport, per-status and per-error-kind series: what the
        metrics_path serves. Raises weft.ClosedError once closed."""
        text: str = _ll.pyweft_server_metrics_text(self._need_ptr())
        return text

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- extensions -------------------------------------------------------
    def _need_ptr(self) -> _ll.ServerHandle:
        if self._ptr is None:
            raise ClosedError("server is closed", ClosedError.code)
        return self._ptr

    def _need_emitter(self) -> Any:
        self._need_ptr()
        if self._ext is None or _ll.pyweft_ext_emitter(self._ext) is None:
            raise StateError("the emitter is not enabled (emitter=True)", StateError.code)
        return self._ext

    def _need_rooms(self) -> Any:
        self._need_ptr()
        if self._ext is None or not self._rooms_on:
            raise StateError("rooms are not enabled (rooms=True)", StateError.code)
        return _ll.pyweft_ext_rooms(self._ext)

    @overload
    def on_event(self, event: str, fn: _F) -> _F: ...
    @overload
    def on_event(self, event: str) -> Callable[[_F], _F]: ...
    def on_event(self, event: str, fn: Any = None) -> Any:
        """Sets the handler of a named event, ``fn(spark, *args)`` (one per
        name; "*" is the wildcard, ``fn(spark, name, *args)``, for events
        without a handler of their own). Returns fn; without fn, a
        decorator. See weft.ext.EventHandler for how answers work. An event
        that asks for an answer and has no handler is rejected with "no
        handler for <name>"."""
        return _x.set_handler(self._handlers, event, fn)

    def off_event(self, event: str) -> None:
        """Removes the handler of `event`."""
        self._handlers.pop(event, None)

    def emit(self, event: str, *args: Value) -> int:
        """Emits an event to every open spark (no acknowledgements; encoded
        once); returns how many sparks it was queued on."""
        _x.check_name(event, "an event name")
        ext = self._need_emitter()
        rc = _ll.pyweft_emit_broadcast(ext, event, list(args))
        self._drv.kick()
        return check(rc, f"emit {event!r}")

    def rooms(self) -> list[str]:
        """The rooms that exist (that have members)."""
        rs = self._need_rooms()
        n = max(0, _ll.weft_rooms_count(rs))
        names = [_ll.weft_rooms_name_at(rs, i) for i in range(n)]
        return [r for r in names if r is not None]

    def members(self, room: str) -> list[Spark]:
        """The sparks in `room` (empty for an unknown room)."""
        _x.check_name(room, "a room name")
        rs = self._need_rooms()
        n = check(_ll.weft_rooms_member_count(rs, room), f"room {room!r}")
        out: list[Spark] = []
        for i in range(n):
            sp = _ll.weft_rooms_member_at(rs, room, i)
            spark = self._sparks.get(_ll.weft_spark_id(sp) or "") if sp is not None else None
            if spark is not None:
                out.append(spark)
        return out

    async def presence(self, room: str) -> list[str]:
        """The spark ids in `room` across the cluster (option redis; this
        process only without it), sorted. Raises weft.IOError-like errors
        (the code's class) while Redis is away."""
        _x.check_name(room, "a room name")
        self._need_rooms()
        assert self._ptr is not None and self._ext is not None
        fut, settle = _x.ack_future(self._drv)
        rc = _ll.pyweft_presence(self._ext, self._ptr, room, settle)
        self._drv.kick()
        check(rc, "presence")
        ids: list[str] = await fut
        return ids

    def to(self, *rooms: str) -> _x.Broadcast:
        """The members of any of `rooms`: ``server.to("a", "b").except_(id)
        .emit("news", 1)`` (needs rooms=True)."""
        if not rooms:
            raise ValueError("to() needs at least one room")
        for r in rooms:
            _x.check_name(r, "a room name")
        return _x.Broadcast(self, rooms)

    def except_(self, *spark_ids: str) -> _x.Broadcast:
        """Every open spark but these: ``server.except_(spark.id).write(m)``
        sends to everyone but the sender."""
        return _x.Broadcast(self, None).except_(*spark_ids)

    def only(self, *spark_ids: str) -> _x.Broadcast:
        """The sparks with these ids (unknown ids are skipped)."""
        return _x.Broadcast(self, None, list(spark_ids))

    def rooms_policy(self, fn: RoomsPolicy | None) -> None:
        """Lets clients join and leave rooms themselves (``await
        client.join(room)``): ``fn(spark, room, join)`` returns True to
        allow; False, or raising weft.Rejected, refuses. Synchronous (the
        core asks synchronously). None: clients may not (the default)."""
        self._need_rooms()
        if fn is not None and not callable(fn):
            raise TypeError("a rooms policy must be callable")
        self._policy = fn
        check(_ll.pyweft_ext_set_policy(self._ext, 0 if fn is None else 1), "rooms_policy")

    async def channels(self) -> AsyncIterator[_x.Channel]:
        """Channels opened by clients, as they open (when no "channel"
        listener is set), until the server closes."""
        while True:
            try:
                ch: _x.Channel = await self._incoming_channels.get()
            except StopAsyncIteration:
                return
            yield ch

    def _install_ext(
        self, emitter: bool, rooms: bool, channels: bool, window: int | None,
        ack_timeout: float | None,
    ) -> None:
        assert self._ptr is not None
        if rooms:
            emitter = True  # rooms answer clients' requests through it
        if not (emitter or rooms or channels):
            return
        if window is not None and not 1 <= window <= 65536:
            raise ValueError("channel_window must be 1..65536")
        rc, ext = _ll.pyweft_ext_server(
            self._ptr, self._drv.core, self, int(emitter), int(rooms), int(channels), window or 0
        )
        check(rc, "extensions")
        self._ext = ext
        self._rooms_on = rooms
        self._channels_on = channels
        self._window = window or 64
        if emitter and ack_timeout is not None:
            ms = _x.timeout_ms(ack_timeout)
            check(_ll.weft_emitter_set_timeout(_ll.pyweft_ext_emitter(ext), ms), "ack_timeout")

    def _on_emit(self, spark: Spark | None, name: str, args: list[Any], cap: Any) -> None:
        if spark is None:
            if cap is not None:
                _ll.pyweft_reply_answer(cap, 0, "no spark")
            return
        _x.dispatch_event(self._drv, self._handlers, spark._replies, (spark,), name, args, cap)

    def _on_ext_error(self, spark: Spark | None, code: int, kind: str, message: str) -> None:
        self._on_error(spark, code, kind, message)

    def streams(self) -> AsyncIterator[_st.IncomingStream]:
        """Streams clients open (stream.spark says which), as they open,
        until the server closes."""
        return self._incoming_streams.items()

    def _on_stream(
        self, spark: Spark | None, ptr: Any, event: str, info: Any, cap: Any
    ) -> _st.IncomingStream | None:
        if spark is None:
            return None
        st = _st.IncomingStream(self._drv, ptr, event, info, spark, cap)
        self._incoming_streams.put(st)
        return st

    def _on_channel(self, spark: Spark | None, ptr: Any) -> _x.Channel | None:
        if spark is None or spark.closed:
            return None
        name = _ll.weft_channel_name(ptr) or ""
        ch = _x.Channel(self._drv, name, spark, self._window)
        _x.bind_channel(ch, ptr, spark._channels)
        fns = self._listeners.get("channel")
        if fns:
            emit(self._drv, fns, ch)
        else:
            self._incoming_channels.put(ch)
        return ch

    def route_policy(self, fn: Callable[[Spark, dict[str, Any]], Any] | None) -> None:
        """The server's say on routes clients ask for (fast-tcp's broadcast,
        to rooms, to socket ids; served by default): fn(spark, route) with
        route {"event", "args", "broadcast", "rooms", "sockets",
        "with_sender"} returns False (or raises weft.Rejected) to refuse it
        (the sender's ack is rejected, nothing is sent), a dict to change
        "broadcast" / "with_sender", anything true to serve it. Synchronous.
        None serves every route (the default). Needs the emitter."""
        self._need_emitter()
        if fn is not None and not callable(fn):
            raise TypeError("a route policy must be callable")
        self._route_fn = fn
        check(_ll.pyweft_route_policy(self._ext, 0 if fn is None else 1), "route_policy")

    def _route_policy(self, spark: Spark | None, route: dict[str, Any]) -> Any:
        fn = self._route_fn
        if fn is None or spark is None:
            return spark is not None
        try:
            res = fn(spark, route)
        except Rejected:
            return False
        return res if isinstance(res, dict) else bool(res)

    def _rooms_policy(self, spark: Spark | None, room: str, join: int) -> int:
        fn = self._policy
        if fn is None or spark is None:
            return Unauthorized.code
        try:
            ok = fn(spark, room, bool(join))
        except Rejected:
            return Unauthorized.code
        return 0 if ok else Unauthorized.code

    # -- plugins (before listening) --------------------------------------
    def _install_plugins(self, plugins: Sequence[Plugin]) -> None:
        assert self._ptr is not None
        self._plugins = list(_p.by_name(plugins).values())
        ins = _p.incoming_chain(self._plugins)
        outs = [p.outgoing for p in self._plugins if p.outgoing is not None]
        if ins is None and not outs:
            return
        rc = _ll.pyweft_server_use(
            self._ptr, self._drv.core, ins, _p.chain(outs), DROP, _p.incoming_mask(self._plugins)
        )
        check(rc, "plugins")

    def plugin(self, name: str) -> Plugin | None:
        """The plugin given to serve() under `name`, or None."""
        return next((p for p in self._plugins if p.name == name), None)

    def _hooks(self, which: str, spark: Spark) -> None:
        hooks = [getattr(p, which) for p in self._plugins if getattr(p, which) is not None]
        if hooks:
            _p.run_hooks(self._report, hooks, spark)

    def _report(self, exc: BaseException) -> None:
        self._drv.aloop.call_exception_handler(
            {"message": "exception in a weft plugin hook", "exception": exc}
        )

    # -- from the C layer -------------------------------------------------
    def _on_connection(self, ptr: _ll.SparkHandle) -> Spark:
        spark = Spark(self, ptr, self._receive_queue)
        self._sparks[spark.id] = spark
        return spark

    def _on_connected(self, spark: Spark) -> None:
        self._hooks("connection", spark)
        fns = self._listeners.get("connection")
        if fns:
            for fn in list(fns):
                spark._run_handler(fn)
        else:
            self._incoming.put(spark)

    def _spark_gone(self, spark: Spark) -> None:
        if self._sparks.get(spark.id) is spark:
            del self._sparks[spark.id]
        self._hooks("disconnection", spark)
        emit(self._drv, self._listeners.get("disconnection", []), spark)

    def _on_error(self, spark: Spark | None, code: int, kind: str, message: str) -> None:
        err = error_from_code(code, f"{kind}: {message}" if kind else message)
        err.kind = kind
        if spark is not None:
            spark._on_error(err)
        emit(self._drv, self._listeners.get("error", []), spark, err)

    def _on_close(self) -> None:
        self._ptr = None
        self._ext = None  # freed with the server
        self._incoming.close()
        self._incoming_channels.close()
        self._incoming_streams.close()
        if not self._closed.done():
            self._closed.set_result(None)
        self._drv.release()
        emit(self._drv, self._listeners.get("close", []))


def _recovery_ms(window: float | bool | None) -> int | None:
    """Recovery's window: True is 120 s; None and False leave it off."""
    if window is None or window is False:
        return None
    if window is True:
        return 120000
    if window < 0:
        raise ValueError("recovery must not be negative")
    return int(round(window * 1000))


def _session_ms(seconds: float | None, name: str) -> int | None:
    if seconds is None:
        return None
    ms = int(round(seconds * 1000))
    if ms < 1:
        raise ValueError(f"{name} must be at least 0.001 s")
    return ms


async def serve(
    url: str | Sequence[str] = "ws://127.0.0.1:0/primus",
    *,
    transformer: str = "websockets",
    parser: str = "json",
    ping_interval: float | None = 30.0,
    max_length: int | None = None,
    compression: bool = False,
    high_water_mark: int | None = None,
    max_queue: int | None = None,
    queue_policy: Literal["close", "drop"] = "close",
    receive_queue: int | None = 64,
    origins: Sequence[str] = (),
    trusted_proxies: Sequence[str] = (),
    tls: tuple[str, str] | None = None,
    plugins: Sequence[Plugin] = (),
    authorize: AuthorizeFn | None = None,
    emitter: bool = False,
    rooms: bool = False,
    channels: bool = False,
    channel_window: int | None = None,
    ack_timeout: float | None = None,
    batching: int | None = None,
    unix_mode: int | None = None,
    streams: bool = False,
    psk: bytes | None = None,
    metrics_path: str | None = None,
    max_connections: int | None = None,
    max_connections_per_ip: int | None = None,
    max_handshakes: int | None = None,
    kept_headers: Sequence[str] | None = None,
    keep_url: bool = True,
    static_dir: str | None = None,
    assets: Mapping[str, tuple[str, bytes]] | None = None,
    client_library: bool = True,
    id_generator: Callable[[], str] | None = None,
    session_ping_interval: float | None = None,
    session_ping_timeout: float | None = None,
    session_cookie: str | None = None,
    redis: str | None = None,
    redis_ttl: float | None = None,
    recovery: float | bool | None = None,
    recovery_messages: int | None = None,
    vibe_heartbeat: float | None = None,
    vibe_heartbeat_wait: float | None = None,
) -> Server:
    """Starts a server listening on `url`, or on each of a list of URLs:
    "ws://host:port/path" (port 0 picks a free port: read ``server.port``
    or ``server.urls``), "wss://…", or "ws+unix:///abs/app.sock:/path" (a
    Unix-domain socket; its file is removed when the server closes). A URL
    without a path serves "/primus"; "ws://host:port/" serves every path.

    transformer: the transport, "websockets" (weft.transformers() lists
    them; another name raises weft.Unsupported naming them).
    unix_mode: permissions of ws+unix socket files (e.g. 0o660; None keeps
    bind()'s 0o777 & ~umask).
    parser: "json", "msgpack" or "raw". ping_interval: seconds between
    heartbeats (None or 0 turns them off). max_length: largest message in
    bytes (10 MiB). high_water_mark / max_queue: per-spark queue limits in
    bytes (max_queue counts the memory the queue holds, each message's
    allocation and slot). queue_policy: what a full queue does, "close" (the
    spark, with 1008) or "drop" (that message); weft.QueueFull is raised and
    an error event of kind "queue" emitted either way. receive_queue: the
    messages a spark keeps for ``async for msg in spark`` before it stops
    reading its connection until the iteration catches up (64; None: no
    bound; see Spark). tls: (cert_file, key_file) for wss://. plugins: transforms, run in
    order. authorize: see Server.authorize.

    Extensions (off by default): emitter=True for named events with
    acknowledgements (Spark.emit, Server.on_event); rooms=True for rooms
    (implies the emitter); channels=True for named channels (Spark.channel;
    channel_window: messages of credit, 64). ack_timeout: seconds an emit
    waits for its acknowledgement by default (10; 0 waits forever).
    batching: bytes per batch frame; the writes of one loop turn to a spark
    leave as one frame (weft peers only; off by default). streams=True (with
    the emitter) for binary streams (Spark.stream, Server.streams: weft.streams).
    psk: a pre-shared key tcp:// and ipc:// clients must prove (weft's
    HMAC-SHA256 handshake, docs/fasttcp.md).

    max_connections / max_connections_per_ip / max_handshakes: connection
    limits (0 or None: the core's defaults).
    kept_headers / keep_url: what the core keeps of each spark's request
    once its connection event has run (an idle connection holds it: 150 B
    for a bare client, 350-650 B for a browser). kept_headers names the
    headers kept (case-insensitive; None or ["*"]: all, [] none); keep_url
    False drops the method and URL (the core's weft_spark_url() then gives
    None). A spark's ``headers`` and ``url`` are copied when it is made, at
    its connection event, so Python code sees them whole either way; the
    core's copy is what the option frees. static_dir: a folder whose
    files are served outside the endpoint's path ("/" is its index.html).
    assets: {path: (content_type, bytes)} served at those exact paths.
    session_ping_interval / session_ping_timeout: engine.io's heartbeat, in
    seconds (25 and 20, engine.io's defaults); session_cookie: the name of
    a cookie holding the engine.io sid, for sticky load balancers (off).
    vibe_heartbeat / vibe_heartbeat_wait: Vibe's heartbeat and _heartbeat
    in seconds (20 and 5; the wait below the heartbeat): the handshake
    tells each Vibe client to beat every heartbeat - wait seconds; a
    socket silent for vibe_heartbeat is closed.
    client_library: serve the browser client at <path>/weft.js and
    <path>/primus.js (on by default). id_generator: a function returning
    each new spark's id (a str; an exception or a bad value falls back to
    the default random id, and the exception is reported to the loop).
    redis: "redis://host:port" joins the nodes on that Redis (weft/adapter.h):
    broadcasts, rooms, ids and presence span them; rooms turn on.
    redis_ttl: seconds after which a dead node's sparks leave the registry
    (10). Redis faults are error events of kind "connect" / "disconnect".
    recovery: connection-state recovery (decision #23), the window in
    seconds (True: 120) within which a client that asked gets its spark id,
    rooms and missed messages back; recovery_messages: what a session keeps
    (1024).
    Every option the core knows goes through its table (weft/options.h):
    a value it refuses raises weft.RangeError, weft.ValueTypeError,
    weft.InvalidArgument or weft.Unsupported naming the option.

    metrics_path: serves ``metrics_text()`` on GET/HEAD of this exact path
    (e.g. "/metrics") on every listener, for Prometheus (off by default:
    expose it on purpose). A path that does not start with "/" or holds
    "?", "#", a space or a line break raises weft.InvalidArgument; another
    type, TypeError. The core's log records go to the logger "weft" (see
    weft.set_log_level).
    """
    if isinstance(kept_headers, (str, bytes)):
        raise TypeError("kept_headers must be a list of header names, not a single str")
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise ValueError("serve() needs at least one URL")
    if metrics_path is not None and not isinstance(metrics_path, str):
        raise TypeError(f"metrics_path must be a str, not {type(metrics_path).__name__}")
    if receive_queue is not None and (
        not isinstance(receive_queue, int) or isinstance(receive_queue, bool) or receive_queue < 1
    ):
        raise ValueError(f"receive_queue must be a positive int or None, not {receive_queue!r}")
    drv = get_driver()
    drv.sync_log()
    srv = Server(drv)
    srv._receive_queue = receive_queue
    rc, ptr = _ll.weft_server_new(drv.loop)
    check(rc, "server")
    srv._ptr = ptr
    drv.acquire()
    rc = _ll.pyweft_server_set_target(ptr, drv.core, srv)
    if rc < 0:  # no close event will reach us: release by hand
        _ll.pyweft_server_destroy(ptr, 1, 1)
        drv.release()
        check(rc, "events")
    try:
        ms = int(round((ping_interval or 0) * 1000))
        if ms < 0:
            raise ValueError("ping_interval must not be negative")
        if max_length is not None and max_length <= 0:
            raise ValueError("max_length must be positive")
        if queue_policy not in ("close", "drop"):
            raise InvalidArgument(f"queue_policy must be 'close' or 'drop', not {queue_policy!r}")
        if unix_mode is not None and unix_mode < 0:
            raise ValueError("unix_mode must not be negative")
        cert, key = tls if tls is not None else (None, None)
        _options.apply("server", ptr, {
            "recovery": _recovery_ms(recovery),
            "recovery_messages": recovery_messages,
            "transformer": transformer, "parser": parser, "ping_interval": ms,
            "max_length": max_length, "compression": compression or None,
            "high_water_mark": high_water_mark, "max_queue": max_queue,
            "queue_policy": queue_policy, "batching": batching or None,
            "origins": list(origins) or None, "trusted_proxies": list(trusted_proxies) or None,
            "tls_cert": cert, "tls_key": key, "unix_mode": unix_mode,
            "max_connections": max_connections, "max_connections_per_ip": max_connections_per_ip,
            "max_handshakes": max_handshakes, "metrics_path": metrics_path,
            "kept_headers": None if kept_headers is None else list(kept_headers),
            "keep_url": None if keep_url else False,
            "static_dir": static_dir, "client_library": client_library,
            "session_ping_interval": _session_ms(session_ping_interval, "session_ping_interval"),
            "session_ping_timeout": _session_ms(session_ping_timeout, "session_ping_timeout"),
            "session_cookie": session_cookie,
            "vibe_heartbeat": _session_ms(vibe_heartbeat, "vibe_heartbeat"),
            "vibe_heartbeat_wait": _session_ms(vibe_heartbeat_wait, "vibe_heartbeat_wait"),
        })  # fmt: skip
        if id_generator is not None:
            if not callable(id_generator):
                raise TypeError("id_generator must be callable")
            check(_ll.pyweft_server_set_id_generator(ptr, drv.core, id_generator), "id_generator")
        for path, (content_type, body) in (assets or {}).items():
            check(_ll.weft_server_add_asset(ptr, path, content_type, body), f"asset {path!r}")
        srv._install_ext(emitter, rooms or redis is not None, channels, channel_window, ack_timeout)
        if psk is not None:
            check(_ll.weft_server_set_psk(ptr, bytes(psk)), "psk")
        if streams:
            if not emitter:
                raise ValueError("streams=True needs emitter=True")
            check(_ll.pyweft_streams_server(ptr, srv._ext), "streams")
            srv._streams_on = True
        if redis is not None:  # after the rooms: a cluster's rooms are these
            _options.apply("server", ptr, {
                "redis": redis, "redis_ttl": _session_ms(redis_ttl, "redis_ttl"),
            })  # fmt: skip
        srv._install_plugins(plugins)
        if authorize is not None:
            srv.authorize(authorize)
        for u in urls:
            check(_ll.weft_server_listen(ptr, u), f"listen {u}")
    except BaseException:
        srv._ptr = None
        _ll.pyweft_server_destroy(ptr, 1, 1)
        drv.kick()
        await asyncio.shield(srv._closed)
        raise
    drv.kick()
    srv.port = _ll.weft_server_port(ptr)
    srv.pathname = _ll.weft_server_pathname(ptr) or "/primus"
    while (served := _ll.weft_server_url(ptr, len(srv.urls))) is not None:
        srv.urls.append(served)
    srv.url = srv.urls[0] if srv.urls else ""
    return srv
