"""The reconnecting client on the C core (Primus's client semantics)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, NamedTuple, overload

from . import ext as _x
from . import lowlevel as _ll
from . import streams as _st
from ._driver import Driver, emit, get_driver
from .errors import (
    ClosedError,
    Error,
    HTTPError,
    StateError,
    Unauthorized,
    check,
    error_from_code,
)
from . import _options
from . import plugin as _p
from .plugin import DROP, Plugin
from .spark import _F, Value, _add_listener, _MessageQueue

__all__ = ["connect", "Client", "Backoff", "Event", "EVENTS"]

def _core_events() -> tuple[str, ...]:
    names: list[str] = []
    while (name := _ll.weft_client_event_at(len(names))) is not None:
        names.append(name)
    return (*names, "channel")


EVENTS = _core_events()
"""The client's event names: the core's (weft_client_event_at), then the
channels extension's "channel"."""


@dataclass(frozen=True)
class Backoff:
    """Reconnection with randomized exponential backoff, as Primus: attempt n
    waits min((random + 1) * min * factor**(n-1), max) seconds. max=None is
    unbounded; retries is the number of attempts before giving up."""

    min: float = 0.5
    max: float | None = None
    retries: int = 10
    factor: float = 2.0


class Event(NamedTuple):
    """One client event as yielded by Client.events(): its name (see
    EVENTS) and arguments (data: the message; error: a weft.Error; reconnect
    events: (attempt, retries, delay seconds); id: the spark id)."""

    name: str
    args: tuple[Any, ...]


class Client:
    """A weft client; made by ``await weft.connect(url, ...)``.

    ``async for msg in client`` yields messages until the client ends (when
    no "data" listener is set); ``async for ev in client.events()`` yields
    every event; ``client.on(name, fn)`` adds a callback. Writes made while
    offline are queued and sent in order on (re)connection.
    """

    def __init__(self, drv: Driver, url: str) -> None:
        self._drv = drv
        self._ptr: _ll.ClientHandle | None = None
        self.url = url
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._queue = _MessageQueue()
        self._event_queues: list[_MessageQueue] = []
        self._opened = drv.aloop.create_future()
        self._ended = drv.aloop.create_future()
        self._id_waiters: list[asyncio.Future[str]] = []
        self.last_error: Error | None = None
        """The last error event's error (why a connection failed)."""
        self._ext: Any = None
        self._channels_on = False
        self._window = 64
        self._handlers: dict[str, _x.EventHandler] = {}
        self._replies: weakref.WeakSet[_x.Reply] = weakref.WeakSet()
        self._channels: dict[str, _x.Channel] = {}
        self._incoming_channels = _MessageQueue()
        self._streams_on = False
        self._incoming_streams = _MessageQueue()
        self._plugins: dict[str, Plugin] = {}

    def __repr__(self) -> str:
        return f"<weft.Client {self.url} {self.state}>"

    # -- state ------------------------------------------------------------
    @property
    def state(self) -> str:
        """"closed", "opening" or "open"."""
        if self._ptr is None:
            return "closed"
        return ("closed", "opening", "open")[_ll.weft_client_state(self._ptr)]

    @property
    def ended(self) -> bool:
        """True once the client is closed for good."""
        return self._ended.done()

    @property
    def recovered(self) -> bool:
        """recovery=True: whether the current connection resumed its session
        (same spark id, rooms, missed messages). The server's answer comes
        first on each connection, before its messages."""
        return self._ptr is not None and _ll.weft_client_recovered(self._ptr) == 1

    @property
    def buffered_amount(self) -> int:
        """Bytes written and not yet handed to the kernel (offline queue
        included)."""
        return 0 if self._ptr is None else _ll.weft_client_buffered_amount(self._ptr)

    # -- events -----------------------------------------------------------
    @overload
    def on(self, event: str, fn: _F) -> _F: ...
    @overload
    def on(self, event: str) -> Callable[[_F], _F]: ...
    def on(self, event: str, fn: Any = None) -> Any:
        """Adds a listener for one of EVENTS and returns it; without fn,
        returns a decorator."""
        if event not in EVENTS:
            raise ValueError(f"unknown client event {event!r}")
        return _add_listener(self._listeners, event, fn)

    def off(self, event: str, fn: Callable[..., Any]) -> None:
        """Removes a listener added with on()."""
        fns = self._listeners.get(event, [])
        if fn in fns:
            fns.remove(fn)

    def __aiter__(self) -> AsyncIterator[Value]:
        return self

    async def __anext__(self) -> Value:
        return await self._queue.get()

    async def events(self) -> AsyncIterator[Event]:
        """Every event from now on, until the client ends (the "end" event
        is the last one yielded)."""
        q = _MessageQueue()
        if self._ended.done():
            return
        self._event_queues.append(q)
        try:
            while True:
                try:
                    ev: Event = await q.get()
                except StopAsyncIteration:
                    return
                yield ev
        finally:
            if q in self._event_queues:
                self._event_queues.remove(q)

    # -- actions ----------------------------------------------------------
    def _need(self) -> _ll.ClientHandle:
        if self._ptr is None or self._ended.done():
            raise ClosedError("client is closed", ClosedError.code)
        return self._ptr

    def write(self, msg: Value) -> None:
        """Sends a message, or queues it while not connected. Raises
        weft.ClosedError after end, weft.QueueFull past queue_limit,
        TypeError/OverflowError for values that cannot be sent."""
        rc = _ll.pyweft_client_write(self._need(), msg)
        self._drv.kick()
        check(rc, "write")

    def write_raw(self, data: bytes | bytearray | memoryview, binary: bool = False) -> None:
        """Sends bytes already encoded for the server's parser as one frame
        (text frames must be UTF-8: weft.UTF8Error), past the plugins'
        transforms; queued while not connected, as write()."""
        rc = _ll.weft_client_write_raw(self._need(), data, int(binary))
        self._drv.kick()
        check(rc, "write_raw")

    async def id(self) -> str:
        """Asks the server for this connection's spark id."""
        ptr = self._need()
        fut: asyncio.Future[str] = self._drv.aloop.create_future()
        self._id_waiters.append(fut)
        rc = _ll.weft_client_id(ptr)
        self._drv.kick()
        if rc < 0:
            self._id_waiters.remove(fut)
            check(rc, "id")
        return await fut

    def set_online(self, online: bool) -> None:
        """Tells the client the network went away (False) or came back."""
        check(_ll.weft_client_set_online(self._need(), 1 if online else 0), "online")
        self._drv.kick()

    # -- extensions -------------------------------------------------------
    def _need_emitter(self) -> Any:
        self._need()
        if self._ext is None or _ll.pyweft_ext_emitter(self._ext) is None:
            raise StateError("the emitter is not enabled (emitter=True)", StateError.code)
        return self._ext

    @overload
    def on_event(self, event: str, fn: _F) -> _F: ...
    @overload
    def on_event(self, event: str) -> Callable[[_F], _F]: ...
    def on_event(self, event: str, fn: Any = None) -> Any:
        """Sets the handler of a named event, ``fn(*args)`` ("*": the
        wildcard, ``fn(name, *args)``); returns fn, or without fn a
        decorator. The return value answers an event that asks for an
        acknowledgement; raising weft.Rejected(reason) rejects it."""
        return _x.set_handler(self._handlers, event, fn)

    def off_event(self, event: str) -> None:
        """Removes the handler of `event`."""
        self._handlers.pop(event, None)

    @overload
    def emit(
        self, event: str, *args: Value, ack: Literal[False] = False, timeout: float | None = None
    ) -> None: ...
    @overload
    def emit(
        self, event: str, *args: Value, ack: Literal[True], timeout: float | None = None
    ) -> asyncio.Future[Value]: ...
    def emit(
        self, event: str, *args: Value, ack: bool = False, timeout: float | None = None
    ) -> asyncio.Future[Value] | None:
        """Emits a named event to the server (needs emitter=True); queued
        while offline like any write. Without ack, returns None. With
        ack=True, returns a future of the server's answer: awaiting it
        gives the resolved value or raises weft.Rejected(reason),
        weft.Timeout (none within `timeout` seconds; None: the client's
        ack_timeout; 0: forever) or weft.ClosedError (the connection closed
        first)."""
        _x.check_name(event, "an event name")
        ext = self._need_emitter()
        fut, settle = _x.ack_future(self._drv) if ack else (None, None)
        rc = _ll.pyweft_emit(ext, None, event, list(args), _x.timeout_ms(timeout), settle)
        self._drv.kick()
        check(rc, f"emit {event!r}")
        return fut

    async def _membership(self, room: str, join: int) -> None:
        if join >= 0:
            _x.check_name(room, "a room name")
        ext = self._need_emitter()
        fut, settle = _x.ack_future(self._drv)
        rc = _ll.pyweft_emit_membership(ext, room, join, settle)
        self._drv.kick()
        check(rc, "join" if join > 0 else "leave" if join == 0 else "leave_all")
        await fut

    async def join(self, room: str) -> None:
        """Asks the server to put this connection in `room`; raises
        weft.Rejected(reason) when the server's rooms policy refuses."""
        await self._membership(room, 1)

    async def leave(self, room: str) -> None:
        """Asks the server to take this connection out of `room`."""
        await self._membership(room, 0)

    async def leave_all(self) -> None:
        """Asks the server to take this connection out of every room it is
        in (fast-tcp's "leave all")."""
        await self._membership("", -1)

    def channel(self, name: str) -> _x.Channel:
        """The channel `name` over this connection, opened on first use
        (needs channels=True and an open connection)."""
        self._need()
        ext = self._ext if self._channels_on else None
        return _x.open_channel(self._drv, ext, self._channels, None, None, name, self._window)

    async def channels(self) -> AsyncIterator[_x.Channel]:
        """Channels opened by the server, as they open (when no "channel"
        listener is set), until the client ends."""
        while True:
            try:
                ch: _x.Channel = await self._incoming_channels.get()
            except StopAsyncIteration:
                return
            yield ch

    def _on_emit(self, spark: Any, name: str, args: list[Any], cap: Any) -> None:
        _x.dispatch_event(self._drv, self._handlers, self._replies, (), name, args, cap)

    def _on_ext_error(self, spark: Any, code: int, kind: str, message: str) -> None:
        self._on_event("error", code, kind, message, 0, None)

    def route(
        self, event: str, *args: Value, broadcast: bool = False, rooms: Sequence[str] = (),
        sockets: Sequence[str] = (), with_sender: bool = False,
    ) -> None:
        """Asks the server to route an event (fast-tcp's broadcast, to rooms,
        to socket ids; over tcp:// its own messages): to everyone but this
        client (broadcast), to the members of `rooms` and the sparks in
        `sockets`; with_sender includes this client. The server's
        route_policy decides. Needs the emitter."""
        if self._ext is None or self._ptr is None:
            raise StateError("routes need the emitter (emitter=True)", StateError.code)
        check(_ll.pyweft_route(self._ext, event, list(args), int(broadcast), list(rooms),
                               list(sockets), int(with_sender)), "route")
        self._drv.kick()

    def stream(
        self, event: str, info: Value = None, *, ack: bool = False,
        to: dict[str, Any] | None = None,
    ) -> _st.OutgoingStream:
        """Opens a binary stream to the server (needs streams=True and an
        open connection): its event, info and, with ack=True, a future of
        the server's answer (stream.ack). `to` routes it through a fast-tcp
        server instead ({"sockets": [ids]}, {"rooms": [names]} or
        {"broadcast": True}; no ack)."""
        if not self._streams_on or self._ptr is None:
            raise StateError("streams are not enabled (streams=True)", StateError.code)
        return _st.open_stream(self._drv, self._ext, None, self._ptr, event, info, ack, to)

    def streams(self) -> AsyncIterator[_st.IncomingStream]:
        """Streams the server opens, as they open, until the client ends."""
        return self._incoming_streams.items()

    def _on_stream(self, spark: Any, ptr: Any, event: str, info: Any, cap: Any) -> _st.IncomingStream:
        st = _st.IncomingStream(self._drv, ptr, event, info, None, cap)
        self._incoming_streams.put(st)
        return st

    def _on_channel(self, spark: Any, ptr: Any) -> _x.Channel:
        name = _ll.weft_channel_name(ptr) or ""
        ch = _x.Channel(self._drv, name, None, self._window)
        _x.bind_channel(ch, ptr, self._channels)
        if not self._listeners.get("channel"):
            self._incoming_channels.put(ch)
        self._dispatch("channel", (ch,))
        return ch

    async def end(self, msg: Value = None) -> None:
        """Closes for good (writes msg first when given) and waits for the
        end event. Ending an ended client does nothing."""
        if self._ptr is not None and not self._ended.done():
            rc = _ll.pyweft_client_end(self._ptr, msg)
            self._drv.kick()
            if rc < 0 and rc != ClosedError.code:
                check(rc, "end")
        await asyncio.shield(self._ended)

    def open(self) -> None:
        """Starts connecting a client made with connect(manual=True).
        Raises weft.StateError when it is open or connecting already,
        weft.ClosedError once it ended."""
        check(_ll.weft_client_open(self._need()), "open")
        self._drv.kick()

    def destroy(self) -> None:
        """Ends the client at once for good (writes still queued are
        dropped; the end event follows from the loop) and frees it.
        Destroying an ended client does nothing."""
        if self._ptr is not None and not self._ended.done():
            _ll.weft_client_destroy(self._ptr)
            self._drv.kick()

    def plugin(self, name: str) -> Plugin | None:
        """The plugin given to connect() under `name`, or None."""
        return self._plugins.get(name)

    def _install_plugins(self, plugins: Sequence[Plugin]) -> None:
        self._plugins = _p.by_name(plugins)
        plugins = list(self._plugins.values())
        ins = _p.incoming_chain(plugins, self)
        outs = [p.outgoing for p in plugins if p.outgoing is not None]
        if ins is not None or outs:
            rc = _ll.pyweft_client_use(
                self._need(),
                self._drv.core,
                ins,
                _p.chain(outs, self),
                DROP,
                _p.incoming_mask(plugins),
            )
            check(rc, "plugins")

    async def wait_open(self) -> None:
        """Waits for the first open; raises the reason when the client ends
        before it opened."""
        await asyncio.shield(self._opened)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.end()

    # -- from the C layer -------------------------------------------------
    def _dispatch(self, name: str, args: tuple[Any, ...]) -> None:
        for q in self._event_queues:
            q.put(Event(name, args))
        emit(self._drv, self._listeners.get(name, []), *args)

    def _on_data(self, msg: Value) -> None:
        if not self._listeners.get("data"):
            self._queue.put(msg)
        self._dispatch("data", (msg,))

    def _on_event(self, name: str, *args: Any) -> None:
        if name == "close":
            _x.drop_replies(self._replies)  # dead since the close: frees them in C
        if name == "destroy":
            _x.drop_replies(self._replies)
            self._ext = None
            self._ptr = None
            self._drv.release()
            return
        if name == "error":
            code, kind, message, status, body = args
            err: Error
            if kind == "http":
                text = _error_text(body) or message
                err = Unauthorized(status, text) if status == 401 else HTTPError(status, text)
            else:
                err = error_from_code(code, f"{kind}: {message}" if kind else message)
            err.kind = kind
            self.last_error = err
            args = (err,)
        elif name.startswith("reconnect"):
            attempt, retries, delay_ms = args
            args = (attempt, retries, delay_ms / 1000.0)
        elif name == "id":
            for fut in self._id_waiters:
                if not fut.done():
                    fut.set_result(args[0] or "")
            self._id_waiters.clear()
        elif name in ("open", "close"):
            hooks = [getattr(p, name) for p in self._plugins.values() if getattr(p, name)]
            _p.run_hooks(self._report, hooks, self)
            if name == "open" and not self._opened.done():
                self._opened.set_result(None)
        elif name == "end":
            self._finish()
        try:
            self._dispatch(name, args)
        finally:
            if name == "end":
                for q in self._event_queues:
                    q.close()
                self._queue.close()
                self._incoming_channels.close()
                self._incoming_streams.close()
                # Free the C client outside of its own callback.
                self._drv.aloop.call_soon(self._destroy)

    def _report(self, exc: BaseException) -> None:
        self._drv.aloop.call_exception_handler(
            {"message": "exception in a weft plugin hook", "exception": exc}
        )

    def _finish(self) -> None:
        if not self._opened.done():
            reason = self.last_error or ClosedError("client ended before it opened", ClosedError.code)
            self._opened.set_exception(reason)
            self._opened.exception()  # retrieved here; wait_open re-raises it
        for fut in self._id_waiters:
            if not fut.done():
                fut.set_exception(ClosedError("client ended", ClosedError.code))
                fut.exception()
        self._id_waiters.clear()
        if not self._ended.done():
            self._ended.set_result(None)

    def _destroy(self) -> None:
        if self._ptr is not None:
            _ll.weft_client_destroy(self._ptr)
            self._drv.kick()


def _error_text(body: str | None) -> str:
    if not body:
        return ""
    try:
        import json

        obj = json.loads(body)
        if isinstance(obj, dict) and isinstance(obj.get("error"), str):
            return str(obj["error"])
    except ValueError:
        pass
    return body


def _ms(seconds: float, what: str) -> int:
    if seconds < 0:
        raise ValueError(f"{what} must not be negative")
    ms = int(round(seconds * 1000))
    if ms > 0xFFFFFFFF:
        raise ValueError(f"{what} is too large")
    return ms


async def connect(
    url: str,
    *,
    transformer: str = "websockets",
    parser: str = "json",
    reconnect: Backoff | None = Backoff(),
    strategy: str | Sequence[str] | None = None,
    timeout: float | None = 10.0,
    ping_timeout: float | None = None,
    max_length: int | None = None,
    queue_limit: int | None = None,
    headers: Mapping[str, str] | None = None,
    retry_refused: bool = False,
    ca_file: str | None = None,
    verify: bool = True,
    wait: bool = True,
    emitter: bool = False,
    channels: bool = False,
    channel_window: int | None = None,
    ack_timeout: float | None = None,
    batching: int | None = None,
    compression: bool = False,
    manual: bool = False,
    streams: bool = False,
    psk: bytes | None = None,
    plugins: Sequence[Plugin] = (),
    transports: str | None = None,
    recovery: bool = False,
    transport: str | None = None,
) -> Client:
    """Connects to a weft or Primus server at `url`: "ws://host:port/path"
    (no path: "/primus"), "wss://…", or "ws+unix:///abs/app.sock:/path" over
    a Unix-domain socket. A malformed URL raises weft.URLError.

    transformer: the transport, "websockets" (weft.transformers() lists
    them; another name raises weft.Unsupported naming them). transports:
    on engine.io, "polling,websocket" (the default: polling, then the
    upgrade), "polling" or "websocket". transport: on vibe, "ws" (the
    default), "httpstream" or "httplongpoll"; the URL's ?transport=stream
    or ?transport=longpoll may say it instead, and with both they must
    agree (else weft.InvalidArgument).
    reconnect: a Backoff, or None never to reconnect. strategy: which
    failures reconnect ("disconnect", "online", "timeout"; default all).
    timeout: seconds for the first connection to open (None: no limit).
    ping_timeout: seconds without a heartbeat before the connection is taken
    for dead (default: from the server's spec). queue_limit: bytes of writes
    held while offline. With wait=True (the default) this returns once the
    connection is open and raises the reason (weft.Unauthorized,
    weft.HTTPError, weft.Error) when the client ends before; with wait=False
    it returns at once.

    Extensions (off by default, as on the server): emitter=True for named
    events with acknowledgements (Client.emit, on_event, join/leave);
    channels=True for named channels (Client.channel; channel_window:
    messages of credit, 64); ack_timeout: default seconds an emit waits for
    its answer (10; 0: forever); batching: bytes per batch frame (weft
    servers only); recovery=True: resume the session (spark id, rooms,
    missed messages) on reconnects, with servers that have recovery on.
    streams=True (with the emitter): binary streams (Client.stream,
    Client.streams: weft.streams). psk: the pre-shared key a tcp:// or
    ipc:// server asks for.

    compression: offer permessage-deflate. manual=True: nothing connects
    until client.open() (writes before it are queued and sent in order);
    connect() returns at once. plugins: weft.Plugin transforms (given the
    Client) and open/close hooks, in order (Client.plugin(name)). Every
    option the core knows goes through its table (weft/options.h): a value
    it refuses raises weft.RangeError, weft.ValueTypeError or
    weft.InvalidArgument naming the option.

    The client's log records (open, close, error, reconnect, end) go to the
    logger "weft.client" (see weft.set_log_level).
    """
    drv = get_driver()
    drv.sync_log()
    client = Client(drv, url)
    rc, ptr = _ll.weft_client_new(drv.loop, url)
    check(rc, f"client {url}")
    client._ptr = ptr
    drv.acquire()
    rc = _ll.pyweft_client_set_target(ptr, drv.core, client)
    if rc < 0:  # no destroy event will reach us: release by hand
        _ll.weft_client_destroy(ptr)
        drv.release()
        check(rc, "events")
    try:
        given: dict[str, Any] = {
            "transformer": transformer, "parser": parser,
            "timeout": 0 if timeout is None else _ms(timeout, "timeout"),
            "ping_timeout": None if ping_timeout is None else _ms(ping_timeout, "ping_timeout"),
            "max_length": max_length, "queue_limit": queue_limit,
            "retry_refused": retry_refused or None, "headers": dict(headers) if headers else None,
            "ca_file": ca_file, "verify": False if not verify else None,
            "compression": compression or None, "batching": batching or None,
            "transports": transports, "recovery": recovery or None,
            "transport": transport,
        }  # fmt: skip
        if max_length is not None and max_length <= 0:
            raise ValueError("max_length must be positive")
        if reconnect is None:
            given["strategy"] = "none"
        else:
            if reconnect.retries < 0 or reconnect.factor < 1:
                raise ValueError("bad Backoff")
            given.update(
                reconnect_min=_ms(reconnect.min, "Backoff.min"),
                reconnect_max=0 if reconnect.max is None else _ms(reconnect.max, "Backoff.max"),
                retries=reconnect.retries,
                factor=float(reconnect.factor),
            )
            if strategy is not None:
                given["strategy"] = strategy if isinstance(strategy, str) else ",".join(strategy)
        _options.apply("client", ptr, given)
        if psk is not None:
            check(_ll.weft_client_set_psk(ptr, bytes(psk)), "psk")
        client._install_plugins(plugins)
        if streams and not emitter:
            raise ValueError("streams=True needs emitter=True")
        if emitter or channels:
            if channel_window is not None and not 1 <= channel_window <= 65536:
                raise ValueError("channel_window must be 1..65536")
            rc, ext = _ll.pyweft_ext_client(
                ptr, drv.core, client, int(emitter), int(channels), channel_window or 0
            )
            check(rc, "extensions")
            client._ext = ext
            client._channels_on = channels
            client._window = channel_window or 64
            if streams:
                check(_ll.pyweft_streams_client(ptr, ext), "streams")
                client._streams_on = True
            if emitter and ack_timeout is not None:
                ms = _x.timeout_ms(ack_timeout)
                check(_ll.weft_emitter_set_timeout(_ll.pyweft_ext_emitter(ext), ms), "ack_timeout")
        if not manual:
            check(_ll.weft_client_open(ptr), "open")
    except BaseException:
        _ll.weft_client_destroy(ptr)
        drv.kick()
        raise
    drv.kick()
    if wait and not manual:
        try:
            await client.wait_open()
        except BaseException:
            await client.end()
            raise
    return client
