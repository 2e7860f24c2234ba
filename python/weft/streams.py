"""Binary streams (issue #20; fast-tcp's ``stream(event, info, ack)``): a
stream a peer opens is an async iterator of ``bytes`` chunks, one this side
opens has asyncio's writer shape (``write`` / ``drain`` / ``close`` /
``wait_closed``). On with ``streams=True`` (needs ``emitter=True``).

Flow control is the core's. Reading: when more than ``limit`` bytes wait
unread, the stream pauses its connection's reading (every stream and
message of that connection waits) until the reader catches up. Writing:
the connection may hold its window (the server's ``high_water_mark``; 1 MiB
on a client); past it ``write`` keeps the chunk here and ``drain()`` waits
for the core's drain. So a slow reader slows the writer and memory stays
bounded by the window plus what the application hands to ``write`` without
awaiting ``drain()``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from . import lowlevel as _ll
from .errors import ClosedError, check
from .ext import Reply, ack_future

if TYPE_CHECKING:
    from ._driver import Driver
    from .spark import Spark

__all__ = ["IncomingStream", "OutgoingStream"]

_ENOBUFS = -30000 + 20  # WEFT_ENOBUFS (include/weft/weft.h's order)


class _StreamReply(Reply):
    """A stream's Reply: answered from anywhere (not from inside a
    handler the driver steps after), so it steps the driver itself."""

    __slots__ = ("_drv",)

    def __init__(self, drv: Driver, cap: Any) -> None:
        super().__init__(cap)
        self._drv = drv

    def _answer(self, how: int, value: Any) -> bool:
        try:
            return super()._answer(how, value)
        finally:
            self._drv.kick()


class IncomingStream:
    """A stream a peer opened: ``event``, ``info``, ``spark`` (servers),
    ``reply`` (a weft.Reply when the sender asked for an ack: answer it when
    you want, typically at the end; None otherwise). ``async for chunk in
    stream`` until its end; raises weft.ClosedError when the connection went
    before the end."""

    def __init__(self, drv: Driver, ptr: Any, event: str, info: Any, spark: Spark | None,
                 cap: Any, limit: int = 1 << 20) -> None:
        self._drv = drv
        self._ptr = ptr
        self.event = event
        self.info = info
        self.spark = spark
        self.reply: Reply | None = None if cap is None else _StreamReply(drv, cap)
        self._limit = limit
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._ended = False
        self._aborted = False
        self._waiter: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<weft.IncomingStream {self.event!r} {'ended' if self._ended else 'open'}>"

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _on_stream_data(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > self._limit and not self._paused and self._ptr is not None:
            self._paused = True
            _ll.weft_stream_pause(self._ptr)
        self._wake()

    def _on_stream_end(self, aborted: int) -> None:
        self._ended = True
        self._aborted = bool(aborted)
        self._ptr = None
        self._wake()

    def __aiter__(self) -> IncomingStream:
        return self

    async def __anext__(self) -> bytes:
        while not self._chunks:
            if self._ended:
                if self._aborted:
                    raise ClosedError("the connection went before the stream ended", ClosedError.code)
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._paused and self._buffered <= self._limit // 2 and self._ptr is not None:
            self._paused = False
            _ll.weft_stream_resume(self._ptr)
            self._drv.kick()
        return chunk

    async def read(self) -> bytes:
        """Everything until the end, as one bytes."""
        return b"".join([c async for c in self])


class OutgoingStream:
    """A stream this side opened. ``write(data)`` never blocks (what the
    window cannot take waits here); ``await drain()`` waits until the core
    took it all; ``close()`` sends the end once everything is sent;
    ``await wait_closed()`` waits for that. ``ack`` is a future of the
    peer's answer when one was asked for (else None)."""

    def __init__(self, drv: Driver, event: str, ack: asyncio.Future[Any] | None) -> None:
        self._drv = drv
        self.event = event
        self.ack = ack
        self._ptr: Any = None
        self._held: deque[bytes] = deque()
        self._blocked = False
        self._closing = False
        self._error: BaseException | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def __repr__(self) -> str:
        return f"<weft.OutgoingStream {self.event!r} {'ended' if self._ptr is None else 'open'}>"

    @property
    def pending(self) -> int:
        """Bytes its connection holds queued (what the window counts)."""
        return 0 if self._ptr is None else int(_ll.pyweft_ostream_pending(self._ptr))

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Sends a chunk (copied; not empty) or keeps it until there is credit."""
        if self._closing or self._ptr is None:
            raise ClosedError("stream closed", ClosedError.code)
        if self._error is not None:
            raise self._error
        if len(data) == 0:
            raise ValueError("a stream chunk must not be empty")
        self._held.append(bytes(data))
        if not self._blocked:
            self._pump()

    def _pump(self) -> None:
        self._drv.kick()  # what is written leaves on the core's next step
        while self._held and self._ptr is not None:
            rc = _ll.pyweft_ostream_write(self._ptr, self._held[0])
            if rc == _ENOBUFS:
                self._blocked = True
                return
            if rc < 0:
                try:
                    check(rc, "stream write")
                except BaseException as e:  # noqa: BLE001 - kept for drain()
                    self._error = e
                self._held.clear()
                break
            self._held.popleft()
            if rc == 1:
                self._blocked = True
                return
        self._blocked = False
        if self._closing and self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            rc = _ll.pyweft_ostream_end(ptr)
            if rc < 0 and self._error is None:
                try:
                    check(rc, "stream end")
                except BaseException as e:  # noqa: BLE001
                    self._error = e
        for w in self._waiters:
            if not w.done():
                w.set_result(None)
        self._waiters.clear()

    def _on_drain(self) -> None:
        self._pump()

    async def drain(self) -> None:
        """Waits until every chunk written was handed to the core."""
        while (self._held or self._blocked) and self._ptr is not None and self._error is None:
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            await fut
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Sends the end after what is still held."""
        if self._closing:
            return
        self._closing = True
        if not self._blocked:
            self._pump()

    async def wait_closed(self) -> None:
        """Waits until the end was sent."""
        while self._ptr is not None and self._error is None:
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            await fut
        if self._error is not None:
            raise self._error


def open_stream(drv: Driver, ext: Any, spark_ptr: Any, client_ptr: Any, event: str, info: Any,
                ack: bool, target: dict[str, Any] | None) -> OutgoingStream:
    """Opens a stream from a spark (spark_ptr) or a client (client_ptr)."""
    if not isinstance(event, str) or not event:
        raise TypeError("a stream's event must be a non-empty str")
    if ack and target is not None:
        raise ValueError("a routed stream has no ack (as fast-tcp's)")
    fut, settle = ack_future(drv) if ack else (None, None)
    st = OutgoingStream(drv, event, fut)
    rc, ptr = _ll.pyweft_ostream_open(ext, spark_ptr, client_ptr, event, info, target, settle, st)
    check(rc, "stream")
    st._ptr = ptr
    drv.kick()
    return st
