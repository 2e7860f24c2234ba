"""Extensions on the C core (include/weft/ext.h): named events with
acknowledgements (the emitter), rooms, channels.

The classes here are reached through Server, Spark and Client (see their
``emit``, ``on_event``, ``join``, ``to``, ``channel`` methods); they are not
made directly.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, overload

from . import lowlevel as _ll
from ._driver import Driver, emit
from .errors import ClosedError, Rejected, StateError, Timeout, check, error_from_code

if TYPE_CHECKING:
    from .server import Spark

__all__ = ["Reply", "Channel", "Broadcast", "EventHandler", "DEFAULT_TIMEOUT"]

EventHandler = Callable[..., Any]
"""An event handler: on a server ``fn(spark, *args)``, on a client
``fn(*args)``; the wildcard "*" gets the event name before the arguments.
Its return value (awaited when it is awaitable) answers an event that asks
for an acknowledgement; raising ``weft.Rejected(reason)`` rejects it, and any
other exception rejects it with ``str(exc)`` (and is reported to the event
loop's exception handler)."""

DEFAULT_TIMEOUT = 0xFFFFFFFF  # WEFT_EMIT_DEFAULT_TIMEOUT


def timeout_ms(timeout: float | None) -> int:
    """Seconds to the C ack timeout: None keeps the emitter's default, 0
    waits forever."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if timeout < 0:
        raise ValueError("timeout must not be negative")
    ms = int(round(timeout * 1000))
    if timeout > 0 and ms == 0:
        ms = 1
    if ms >= DEFAULT_TIMEOUT:
        raise ValueError("timeout is too large")
    return ms


def check_name(name: str, what: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str")


def set_handler(handlers: dict[str, Any], event: str, fn: Any) -> Any:
    """on_event's body for servers and clients: stores fn as the handler of
    `event` and returns it; without fn, returns a decorator that does."""
    check_name(event, "an event name")
    if not event:
        raise ValueError("empty event name")

    def put(f: Any) -> Any:
        if not callable(f):
            raise TypeError("a handler must be callable")
        handlers[event] = f
        return f

    return put if fn is None else put(fn)


class Reply:
    """The answer handle of one received event that asks for an
    acknowledgement. Answer once with resolve() or reject(); a Reply that is
    garbage-collected unanswered is rejected with "no answer" (the core's
    WEFT_REPLY_DROPPED, the same text from every host). Answering
    after the sender disconnected does nothing (returns False)."""

    __slots__ = ("_cap", "__weakref__")

    def __init__(self, cap: Any) -> None:
        self._cap = cap

    @property
    def pending(self) -> bool:
        """True until answered."""
        return bool(_ll.pyweft_reply_pending(self._cap))

    def _answer(self, how: int, value: Any) -> bool:
        return self._checked(_ll.pyweft_reply_answer(self._cap, how, value))

    @staticmethod
    def _checked(rc: int) -> bool:
        if rc == StateError.code:
            raise StateError("reply answered already", rc)
        if rc == ClosedError.code:
            return False
        check(rc, "reply")
        return True

    def resolve(
        self,
        value: Any = None,
        callback: Callable[[Exception | None, Any, Reply | None], Any] | None = None,
        timeout: float | None = None,
    ) -> bool:
        """Answers with `value`. Returns False when the sender is gone.
        Raises weft.StateError when answered already, TypeError for a value
        that cannot be sent (the reply stays unanswered).

        With `callback` the answer carries it (nmsg's remote callbacks, to
        any depth): the sender may call it back, and then
        callback(None, value, reply) runs, `reply` a Reply when that call
        carries a callback in turn (else None); a callback never called is
        released: callback(weft.Timeout, None, None) after `timeout` seconds
        (None: the emitter's timeout, 0: none) or
        callback(weft.ClosedError, None, None) when the connection goes. A
        coroutine function's result is run as a task."""
        if callback is None:
            return self._answer(1, value)
        if not callable(callback):
            raise TypeError("callback must be callable")
        return self._checked(
            _ll.pyweft_reply_answer_cb(self._cap, value, _carried(callback), timeout_ms(timeout))
        )

    def reject(self, reason: Any = "rejected") -> bool:
        """Rejects with `reason` (None sends "rejected")."""
        return self._answer(0, reason)

    def close(self) -> None:
        """Drops the reply when still unanswered: the sender's emit is
        rejected with "no answer" (weft_reply_drop)."""
        if self.pending:
            self._answer(-1, None)


class Answer(tuple):  # type: ignore[type-arg]
    """What an emit resolves with when the answer carries a callback:
    (value, reply); reply.resolve(v[, callback]) calls it back."""

    __slots__ = ()

    def __new__(cls, value: Any, reply: Reply) -> Answer:
        return tuple.__new__(cls, (value, reply))

    @property
    def value(self) -> Any:
        return self[0]

    @property
    def reply(self) -> Reply:
        reply: Reply = self[1]
        return reply


def _outcome_error(status: int, value: Any) -> Exception:
    if status == Rejected.code:
        return Rejected(value)
    if status == Timeout.code:
        return Timeout("no answer in time", status)
    if status == ClosedError.code:
        return ClosedError("the connection closed before the answer", status)
    return error_from_code(status)


def _carried(fn: Callable[..., Any]) -> Callable[..., None]:
    """The C callback of a callback an answer carries: fn(err, value, reply)."""

    def settle(status: int, value: Any, cap: Any = None) -> None:
        reply = Reply(cap) if cap is not None else None
        err = None if status == 0 else _outcome_error(status, value)
        res = fn(err, None if err else value, reply)
        if inspect.isawaitable(res):
            asyncio.ensure_future(res)

    return settle


def ack_future(drv: Driver) -> tuple[asyncio.Future[Any], Callable[..., None]]:
    """A future for an emit's outcome and the C callback that settles it.
    An answer that carries a callback resolves it with Answer(value, reply)."""
    fut: asyncio.Future[Any] = drv.aloop.create_future()

    def settle(status: int, value: Any, cap: Any = None) -> None:
        if fut.done():
            if cap is not None:
                Reply(cap).close()
            return
        if status == 0 and cap is not None:
            fut.set_result(Answer(value, Reply(cap)))
        elif status == 0:
            fut.set_result(value)
        elif status == Rejected.code:
            fut.set_exception(Rejected(value))
        elif status == Timeout.code:
            fut.set_exception(Timeout("no acknowledgement in time", status))
        elif status == ClosedError.code:
            fut.set_exception(ClosedError("the connection closed before the answer", status))
        else:
            fut.set_exception(error_from_code(status))

    return fut, settle


def dispatch_event(
    drv: Driver,
    handlers: dict[str, EventHandler],
    replies: Any,
    lead: tuple[Any, ...],
    name: str,
    args: list[Any],
    cap: Any,
) -> None:
    """Runs the handler of one received event and answers its reply."""
    reply = Reply(cap) if cap is not None else None
    fn = handlers.get(name)
    call_args: tuple[Any, ...] = (*lead, *args)
    if fn is None:
        fn = handlers.get("*")
        call_args = (*lead, name, *args)
    if fn is None:
        if reply is not None:
            reply.reject(f"no handler for {name}")
        return
    if reply is None:
        drv.run_callback(fn, *call_args)  # an exception is stored and re-raised
        return
    replies.add(reply)
    try:
        res = fn(*call_args)
    except Exception as exc:
        _answer_exc(drv, reply, exc)
        return
    if inspect.isawaitable(res):
        drv.spawn(_answer_later(drv, reply, res))
    else:
        _answer_value(drv, reply, res)


class Carry:
    """What an event handler returns to answer with a value and a callback
    the sender may call back (Reply.resolve(value, callback, timeout))."""

    __slots__ = ("value", "callback", "timeout")

    def __init__(
        self,
        value: Any,
        callback: Callable[[Exception | None, Any, Reply | None], Any],
        timeout: float | None = None,
    ) -> None:
        if not callable(callback):
            raise TypeError("callback must be callable")
        self.value = value
        self.callback = callback
        self.timeout = timeout


def _answer_value(drv: Driver, reply: Reply, value: Any) -> None:
    try:
        if isinstance(value, Carry):
            reply.resolve(value.value, callback=value.callback, timeout=value.timeout)
        else:
            reply.resolve(value)
    except (TypeError, ValueError, OverflowError) as exc:
        _answer_exc(drv, reply, exc)
    drv.kick()


def _answer_exc(drv: Driver, reply: Reply, exc: Exception) -> None:
    if isinstance(exc, Rejected):
        try:
            reply.reject(exc.reason)
        except (TypeError, ValueError, OverflowError):
            reply.reject(str(exc))
    else:
        reply.reject(str(exc) or type(exc).__name__)
        drv.aloop.call_exception_handler(
            {"message": "exception in a weft event handler", "exception": exc}
        )
    drv.kick()


async def _answer_later(drv: Driver, reply: Reply, aw: Awaitable[Any]) -> None:
    try:
        value = await aw
    except Exception as exc:
        if reply.pending:
            _answer_exc(drv, reply, exc)
        return
    if reply.pending:
        _answer_value(drv, reply, value)


def drop_replies(replies: Any) -> None:
    """Answers (and so frees) every reply still pending on a connection that
    went away."""
    for reply in list(replies):
        if reply.pending:
            reply.close()
    replies.clear()


class Channel:
    """A named channel multiplexed over one spark or client connection,
    with its own data, drain and end events and per-channel flow control.

    ``write(msg)`` returns False when the message waits for credit (await
    ``drain()``). Received messages: ``async for msg in channel`` (until the
    channel ends) or ``channel.on("data", fn)`` (then nothing is queued).
    Iteration applies backpressure: once a window of messages is waiting
    unread, the channel pauses (grants no credit) until the reader catches
    up. ``pause()``/``resume()`` do the same by hand. ``await end()`` ends the
    channel (a handshake with the peer). Events for ``on``: "data" (msg),
    "drain", "end". A channel ends when its connection goes away.
    """

    def __init__(self, drv: Driver, name: str, spark: Spark | None, window: int) -> None:
        from .spark import _MessageQueue

        self._drv = drv
        self.name = name
        self.spark = spark
        """The spark it runs over (servers), or None (clients)."""
        self._ptr: Any = None
        self._window = window
        self._queue = _MessageQueue()
        self._queued = 0
        self._user_paused = False
        self._auto_paused = False
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._ended: asyncio.Future[None] = drv.aloop.create_future()
        self._drain: asyncio.Future[None] | None = None
        self._above = False
        self._on_gone: Callable[[Channel], None] | None = None

    def __repr__(self) -> str:
        return f"<weft.Channel {self.name!r} {'ended' if self.closed else 'open'}>"

    @property
    def closed(self) -> bool:
        """True once the channel ended."""
        return self._ptr is None

    @property
    def queued(self) -> int:
        """Messages written and waiting for credit."""
        return 0 if self._ptr is None else _ll.weft_channel_queued(self._ptr)

    @overload
    def on(self, event: str, fn: Callable[..., Any]) -> Callable[..., Any]: ...
    @overload
    def on(self, event: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...
    def on(self, event: str, fn: Any = None) -> Any:
        """Adds a listener ("data", "drain", "end"); without fn, returns a
        decorator."""
        from .spark import _add_listener

        if event not in ("data", "drain", "end"):
            raise ValueError(f"unknown channel event {event!r}")
        return _add_listener(self._listeners, event, fn)

    def _need(self) -> Any:
        if self._ptr is None:
            raise ClosedError("channel ended", ClosedError.code)
        return self._ptr

    def write(self, msg: Any) -> bool:
        """Sends a message; returns False when it waits for the peer's
        credit (await drain()). Raises weft.ClosedError once ending."""
        rc = _ll.pyweft_channel_write(self._need(), msg)
        self._drv.kick()
        check(rc, "channel write")
        if rc == 1:
            self._above = True
        return rc == 0

    async def drain(self) -> None:
        """Waits until no written message waits for credit."""
        if not self._above:
            return
        self._need()
        if self._drain is None:
            self._drain = self._drv.aloop.create_future()
        await asyncio.shield(self._drain)

    def pause(self) -> None:
        """Stops granting credit: the peer may send at most one more window."""
        self._user_paused = True
        self._sync_pause()

    def resume(self) -> None:
        """Grants credit again."""
        self._user_paused = False
        self._sync_pause()

    def _sync_pause(self) -> None:
        if self._ptr is None:
            return
        if self._user_paused or self._auto_paused:
            check(_ll.weft_channel_pause(self._ptr), "pause")
        else:
            check(_ll.weft_channel_resume(self._ptr), "resume")
        self._drv.kick()

    async def end(self) -> None:
        """Ends the channel and waits for the peer's answer (the end event).
        Writes still waiting for credit are dropped."""
        if self._ptr is not None:
            rc = _ll.weft_channel_end(self._ptr)
            self._drv.kick()
            if rc < 0 and rc != ClosedError.code:
                check(rc, "channel end")
        await asyncio.shield(self._ended)

    async def wait_closed(self) -> None:
        """Waits for the end event."""
        await asyncio.shield(self._ended)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        msg = await self._queue.get()
        self._queued -= 1
        if self._auto_paused and self._queued <= self._window // 2:
            self._auto_paused = False
            self._sync_pause()
        return msg

    # -- from the C layer -------------------------------------------------
    def _on_data(self, msg: Any) -> None:
        fns = self._listeners.get("data")
        if fns:
            emit(self._drv, fns, msg)
            return
        self._queue.put(msg)
        self._queued += 1
        if not self._auto_paused and self._queued >= self._window:
            self._auto_paused = True
            self._sync_pause()

    def _on_drain(self) -> None:
        self._above = False
        if self._drain is not None:
            if not self._drain.done():
                self._drain.set_result(None)
            self._drain = None
        emit(self._drv, self._listeners.get("drain", []))

    def _on_end(self) -> None:
        self._ptr = None
        self._queue.close()
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(ClosedError("channel ended", ClosedError.code))
            self._drain.exception()
        if not self._ended.done():
            self._ended.set_result(None)
        if self._on_gone is not None:
            self._on_gone(self)
        emit(self._drv, self._listeners.get("end", []))


def open_channel(
    drv: Driver,
    ext: Any,
    channels: dict[str, Channel],
    spark: Spark | None,
    spark_ptr: Any,
    name: str,
    window: int,
) -> Channel:
    """Finds or opens the channel `name` of one connection."""
    check_name(name, "a channel name")
    ch = channels.get(name)
    if ch is not None and not ch.closed:
        return ch
    if ext is None:
        raise StateError("channels are not enabled (channels=True)", StateError.code)
    ch = Channel(drv, name, spark, window)
    rc, ptr = _ll.pyweft_channel_open(ext, spark_ptr, name, ch)
    check(rc, f"channel {name!r}")
    bind_channel(ch, ptr, channels)
    return ch


def bind_channel(ch: Channel, ptr: Any, channels: dict[str, Channel]) -> None:
    ch._ptr = ptr
    channels[ch.name] = ch

    def gone(c: Channel) -> None:
        if channels.get(c.name) is c:
            del channels[c.name]

    ch._on_gone = gone


class Broadcast:
    """A selection of a server's sparks: ``server.to("a", "b")`` (members of
    any of the rooms), ``server.except_(id, ...)`` (every spark but these),
    ``server.only(id, ...)``, chained with ``.except_(ids...)``. Each spark
    gets a message once; the frame is encoded once. write()/emit() return
    the number of sparks reached."""

    def __init__(
        self,
        server: Any,
        rooms: Sequence[str] | None,
        ids: Sequence[str] | None = None,
        excluded: Sequence[str] = (),
    ) -> None:
        self._server = server
        self._rooms = list(rooms) if rooms is not None else None
        self._ids = list(ids) if ids is not None else None
        self._except = list(excluded)

    def except_(self, *spark_ids: str) -> Broadcast:
        """Leaves these spark ids out."""
        for i in spark_ids:
            check_name(i, "a spark id")
        return Broadcast(self._server, self._rooms, self._ids, [*self._except, *spark_ids])

    def _send(self, event: str | None, payload: Any) -> int:
        srv = self._server
        ptr = srv._need_ptr()
        if self._rooms is not None and (srv._ext is None or not srv._rooms_on):
            raise StateError("rooms are not enabled (rooms=True)", StateError.code)
        if self._ids is not None and not self._ids:
            return 0  # only() of nobody
        rc = _ll.pyweft_server_send(ptr, self._rooms, self._ids, self._except, event, payload)
        srv._drv.kick()
        return check(rc, "emit" if event else "write")

    def write(self, msg: Any) -> int:
        """Writes `msg` to the selected sparks."""
        return self._send(None, msg)

    def emit(self, event: str, *args: Any) -> int:
        """Emits an event (no acknowledgement) to the selected sparks."""
        check_name(event, "an event name")
        return self._send(event, list(args))

