"""Sparks: one connection to a server, its listeners and its receive queue."""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar, overload

from . import ext as _x
from . import lowlevel as _ll
from . import streams as _st
from ._driver import emit
from ._obs import logger
from .errors import ClosedError, Error, StateError, check

if TYPE_CHECKING:
    from .server import Server

__all__ = ["Spark", "Value"]

Value: TypeAlias = Any
"""A message: dict, list/tuple, str, int (int64), float, bool, None, or
bytes/bytearray/memoryview (binary). Incoming binary arrives as bytes."""

_SENTINEL = object()
_F = TypeVar("_F", bound=Callable[..., Any])


def _add_listener(listeners: dict[str, list[Callable[..., Any]]], event: str, fn: Any) -> Any:
    if fn is None:

        def decorator(f: _F) -> _F:
            listeners.setdefault(event, []).append(f)
            return f

        return decorator
    if not callable(fn):
        raise TypeError("a listener must be callable")
    listeners.setdefault(event, []).append(fn)
    return fn


class _MessageQueue:
    """An unbounded FIFO with one async reader, closed by a sentinel."""

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def put(self, item: Any) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self) -> None:
        self.closed = True
        self.put(_SENTINEL)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if item is _SENTINEL:
            self._items.appendleft(item)  # stays closed for every reader
            raise StopAsyncIteration
        return item

    async def items(self) -> AsyncIterator[Any]:
        """Each item as it comes, until the queue is closed."""
        while True:
            try:
                item = await self.get()
            except StopAsyncIteration:
                return
            yield item


class _ReceiveQueue(_MessageQueue):
    """A spark's messages for ``async for``, bounded: at `limit` messages
    the spark stops reading its connection (weft_spark_pause: the peer's
    data waits in the kernel, TCP slows the peer down), and reading resumes
    once a reader took the queue down to half of it. Nothing is dropped."""

    def __init__(self, spark: Spark, limit: int | None) -> None:
        super().__init__()
        self._spark = spark
        self.limit = limit
        self.paused = False

    def __len__(self) -> int:
        return len(self._items) - (1 if self.closed else 0)

    def put(self, item: Any) -> None:
        super().put(item)
        spark = self._spark
        if self.limit and not self.paused and not spark.closed and len(self) >= self.limit:
            self.paused = _ll.weft_spark_pause(spark._ptr) == 0

    async def get(self) -> Any:
        item = await super().get()
        if self.paused and self.limit and len(self) <= self.limit // 2:
            self.paused = False
            _ll.weft_spark_resume(self._spark._ptr)  # closed meanwhile: ECLOSED, nothing to do
            self._spark._drv.kick()
        return item


class Spark:
    """One connection to a server.

    Open from the server's connection event until its disconnection; after
    that it is ``closed`` and every call that would act on it raises
    ``weft.ClosedError``: the object holds a reference to the C spark
    (weft_spark_retain, released when the object is collected), so the core
    answers WEFT_ECLOSED instead of the package keeping guards.

    Messages: ``async for msg in spark`` (until it disconnects), or
    ``spark.on("data", fn)`` (then nothing is queued for iteration). The
    queue for iteration holds at most serve()'s `receive_queue` messages:
    when it is full the spark stops reading (``spark.paused``) until the
    iteration takes it down to half, so a slow reader slows its peer down
    instead of growing memory; nothing is dropped.
    Events for ``on``: "data" (msg), "drain", "error" (weft.Error), "end".
    """

    def __init__(self, server: Server, ptr: _ll.SparkHandle, receive_queue: int | None) -> None:
        self._server = server
        self._drv = server._drv
        check(_ll.weft_spark_retain(ptr), "retain")
        weakref.finalize(self, _ll.weft_spark_release, ptr)
        self._ptr: _ll.SparkHandle = ptr
        self._open = True
        self.id: str = _ll.weft_spark_id(ptr) or ""
        self.headers: dict[str, str] = {
            k.lower(): v for k, v in _ll.pyweft_spark_headers(ptr).items()
        }
        """Request headers by lower-case name (as Node's req.headers)."""
        self.address: str = _ll.weft_spark_address(ptr) or ""
        self.port: int = _ll.weft_spark_port(ptr)
        self.url: str = _ll.weft_spark_url(ptr) or ""
        self.query: dict[str, str] = _ll.pyweft_spark_query(ptr)
        self.recovered: bool = _ll.weft_spark_recovered(ptr) == 1
        """Connection-state recovery: True when this spark resumed a session
        (same id, its rooms, the missed messages queued before any new)."""
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._queue = _ReceiveQueue(self, receive_queue)
        self._closed = self._drv.aloop.create_future()
        self._above_hwm = False
        self._drain: asyncio.Future[None] | None = None
        self._replies: weakref.WeakSet[_x.Reply] = weakref.WeakSet()
        self._channels: dict[str, _x.Channel] = {}

    def __repr__(self) -> str:
        state = "open" if self._open else "closed"
        return f"<weft.Spark {self.id} {self.address} {state}>"

    @property
    def closed(self) -> bool:
        """True once the spark disconnected."""
        return not self._open

    @property
    def paused(self) -> bool:
        """True while the spark does not read because its receive queue
        is full (see serve()'s `receive_queue`)."""
        return self._queue.paused

    @property
    def buffered_amount(self) -> int:
        """Bytes queued and not yet handed to the kernel (0 when closed)."""
        return _ll.weft_spark_buffered_amount(self._ptr)

    @overload
    def on(self, event: str, fn: _F) -> _F: ...
    @overload
    def on(self, event: str) -> Callable[[_F], _F]: ...
    def on(self, event: str, fn: Any = None) -> Any:
        """Adds a listener ("data", "drain", "error", "end") and returns it;
        without fn, returns a decorator."""
        if event not in ("data", "drain", "error", "end"):
            raise ValueError(f"unknown spark event {event!r}")
        return _add_listener(self._listeners, event, fn)

    def off(self, event: str, fn: Callable[..., Any]) -> None:
        """Removes a listener added with on()."""
        fns = self._listeners.get(event, [])
        if fn in fns:
            fns.remove(fn)

    def write(self, msg: Value) -> bool:
        """Queues a message; never blocks. Returns True while the queue is
        under the high-water mark, False at or above it (await drain()).
        Raises weft.ClosedError, weft.QueueFull, TypeError/OverflowError for
        values that cannot be sent."""
        rc = _ll.pyweft_spark_write(self._ptr, msg)
        self._drv.kick()
        check(rc, "write")
        if rc == 1:
            self._above_hwm = True
        return rc == 0

    def write_raw(self, data: bytes | bytearray | memoryview, binary: bool = False) -> bool:
        """Queues bytes already encoded for the parser as one frame (text
        frames must be UTF-8: weft.UTF8Error), past the plugins' transforms;
        returns as write() does."""
        rc = _ll.weft_spark_write_raw(self._ptr, data, int(binary))
        self._drv.kick()
        check(rc, "write_raw")
        if rc == 1:
            self._above_hwm = True
        return rc == 0

    async def drain(self) -> None:
        """Waits until the queue is below the high-water mark again."""
        if not self._above_hwm:
            return
        if not self._open:
            raise ClosedError("spark is closed", ClosedError.code)
        if self._drain is None:
            self._drain = self._drv.aloop.create_future()
        await asyncio.shield(self._drain)

    async def end(self, msg: Value = None, *, reconnect: bool = False) -> None:
        """Ends the spark (writes msg first when given; with reconnect=True
        the client is told nothing and reconnects) and waits until it has
        disconnected. Ending a closed spark does nothing."""
        rc = _ll.pyweft_spark_end(self._ptr, msg, 1 if reconnect else 0)
        self._drv.kick()
        if rc < 0 and rc != ClosedError.code:
            check(rc, "end")
        await asyncio.shield(self._closed)

    async def wait_closed(self) -> None:
        """Waits for the disconnection."""
        await asyncio.shield(self._closed)

    def __aiter__(self) -> AsyncIterator[Value]:
        return self

    async def __anext__(self) -> Value:
        return await self._queue.get()

    # -- extensions -------------------------------------------------------
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
        """Emits a named event to this spark (needs emitter=True).

        Without ack, returns None once queued. With ack=True, returns a
        future: ``await spark.emit("x", 1, ack=True)`` gives the value the
        client resolved, or raises weft.Rejected(reason), weft.Timeout (no
        answer within `timeout` seconds; None: the server's ack_timeout; 0:
        wait forever) or weft.ClosedError (the spark disconnected first).
        Raises at once: weft.ClosedError, weft.InvalidArgument (a reserved
        or invalid name), TypeError for arguments that cannot be sent."""
        _x.check_name(event, "an event name")
        ext = self._server._need_emitter()
        ptr = self._ptr
        fut, settle = _x.ack_future(self._drv) if ack else (None, None)
        rc = _ll.pyweft_emit(ext, ptr, event, list(args), _x.timeout_ms(timeout), settle)
        self._drv.kick()
        check(rc, f"emit {event!r}")
        return fut

    def join(self, room: str) -> None:
        """Puts the spark in `room` (needs rooms=True). Joining twice is no
        error. Raises weft.InvalidArgument for an invalid name."""
        _x.check_name(room, "a room name")
        rc = _ll.weft_rooms_join(self._server._need_rooms(), self._ptr, room)
        check(rc, f"join {room!r}")

    def leave(self, room: str) -> None:
        """Takes the spark out of `room` (no error when it is not in it)."""
        _x.check_name(room, "a room name")
        rc = _ll.weft_rooms_leave(self._server._need_rooms(), self._ptr, room)
        check(rc, f"leave {room!r}")

    def leave_all(self) -> None:
        """Takes the spark out of every room."""
        check(_ll.weft_rooms_leave_all(self._server._need_rooms(), self._ptr), "leave_all")

    @property
    def rooms(self) -> list[str]:
        """The rooms the spark is in (empty once closed or without rooms)."""
        srv = self._server
        if srv._ext is None or not srv._rooms_on:
            return []
        rs = _ll.pyweft_ext_rooms(srv._ext)
        n = max(0, _ll.weft_rooms_of_spark_count(rs, self._ptr))
        out = [_ll.weft_rooms_of_spark_at(rs, self._ptr, i) for i in range(n)]
        return [r for r in out if r is not None]

    def stream(self, event: str, info: Value = None, *, ack: bool = False) -> _st.OutgoingStream:
        """Opens a binary stream to this spark's peer (needs streams=True):
        its event, info and, with ack=True, a future of the peer's answer
        (stream.ack)."""
        srv = self._server
        if not srv._streams_on or self._ptr is None:
            raise StateError("streams are not enabled (streams=True)", StateError.code)
        return _st.open_stream(self._drv, srv._ext, self._ptr, None, event, info, ack, None)

    def channel(self, name: str) -> _x.Channel:
        """The channel `name` over this spark, opened on first use (needs
        channels=True)."""
        srv = self._server
        ptr = self._ptr
        ext = srv._ext if srv._channels_on else None
        return _x.open_channel(self._drv, ext, self._channels, self, ptr, name, srv._window)

    # -- the connection handler ------------------------------------------
    def _run_handler(self, fn: Callable[[Spark], Any]) -> None:
        """Runs a connection listener for this spark: when it raises, or the
        coroutine it returned does, the exception is logged on the logger
        "weft" and the spark ends with 1011 (as the `websockets` library
        does), instead of leaving the peer waiting."""
        try:
            res = fn(self)
        except Exception as exc:
            self._handler_failed(exc)
            return
        if inspect.isawaitable(res):
            self._drv.spawn(res, self._handler_failed)

    def _handler_failed(self, exc: BaseException) -> None:
        logger.error("connection handler of spark %s failed", self.id, exc_info=exc)
        _ll.pyweft_spark_end(self._ptr, None, _ll.WEFT_END_ERROR)  # ECLOSED when gone
        self._drv.kick()

    # -- from the C layer -------------------------------------------------
    def _on_data(self, msg: Value) -> None:
        fns = self._listeners.get("data")
        if fns:
            emit(self._drv, fns, msg)
        else:
            self._queue.put(msg)

    def _on_drain(self) -> None:
        self._above_hwm = False
        if self._drain is not None:
            if not self._drain.done():
                self._drain.set_result(None)
            self._drain = None
        emit(self._drv, self._listeners.get("drain", []))

    def _on_error(self, err: Error) -> None:
        emit(self._drv, self._listeners.get("error", []), err)

    def _on_disconnection(self) -> None:
        _x.drop_replies(self._replies)  # dead with the connection: frees them in C
        self._open = False
        self._queue.close()
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(ClosedError("spark closed", ClosedError.code))
            self._drain.exception()  # retrieved: no "never retrieved" noise
        if not self._closed.done():
            self._closed.set_result(None)
        self._server._spark_gone(self)
        emit(self._drv, self._listeners.get("end", []))
