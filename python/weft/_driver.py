"""Drives the C core from an asyncio event loop: no thread, no busy-polling.

The core's loop fd (an epoll fd, readable when the core has work) is
registered with ``loop.add_reader``; one timer follows ``weft_loop_timeout()``;
and a run-once is scheduled after every call into the core (new watchers only
reach epoll inside a step). An idle core leaves no timer and no reader
activity, so it costs zero wake-ups.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from . import _obs
from . import lowlevel as _ll
from .errors import check

_drivers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Driver] = (
    weakref.WeakKeyDictionary()
)


class Driver:
    """One weft loop per asyncio loop, alive while servers or clients are."""

    def __init__(self, aloop: asyncio.AbstractEventLoop) -> None:
        self.aloop = aloop
        self.core: _ll.CoreLoop | None = _ll.pyweft_loop_new()
        self.loop: _ll.LoopHandle = _ll.pyweft_loop_get(self.core)
        self.fd = _ll.pyweft_loop_fd(self.core)
        self._soon: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._handles = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        self.steps = 0
        self.log_level = _ll.WEFT_LOG_OFF
        aloop.add_reader(self.fd, self._step)
        _obs.watch(self)
        self.sync_log()

    def sync_log(self) -> None:
        """Sets the core's log level to what the "weft" loggers want
        (weft._obs.core_level): records the core would format for nobody
        are never made."""
        level = _obs.core_level()
        if self.core is None or level == self.log_level:
            return
        check(_ll.pyweft_loop_set_log(self.core, level, _obs.emit if level else None), "log")
        self.log_level = level

    # -- lifetime ---------------------------------------------------------
    def acquire(self) -> None:
        self._handles += 1

    def release(self) -> None:
        self._handles -= 1
        self.kick()

    def _try_close(self) -> None:
        if self._handles > 0 or self.core is None:
            return
        if _ll.pyweft_loop_close(self.core) != 0:
            return  # libuv handles still closing: the next steps finish them
        self.core = None
        self.aloop.remove_reader(self.fd)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        if _drivers.get(self.aloop) is self:
            del _drivers[self.aloop]

    # -- stepping ---------------------------------------------------------
    def kick(self) -> None:
        """Schedules one step soon (after any call into the core)."""
        if self._soon is None and self.core is not None:
            self._soon = self.aloop.call_soon(self._step)

    def _step(self) -> None:
        self._soon = None
        if self.core is None:
            return
        self.steps += 1
        try:
            _ll.pyweft_loop_run_once(self.core)
        except Exception as exc:  # raised in a callback: report, never lose
            self.aloop.call_exception_handler(
                {"message": "exception in a weft callback", "exception": exc}
            )
        if self._handles == 0:
            self._try_close()
        self._rearm()

    def _rearm(self) -> None:
        if self.core is None:
            return
        timeout = _ll.pyweft_loop_timeout(self.core)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if timeout == 0:
            self.kick()
        elif timeout > 0:
            self._timer = self.aloop.call_later(timeout / 1000.0, self._step)

    # -- callbacks --------------------------------------------------------
    def run_callback(self, fn: Callable[..., Any], *args: Any) -> None:
        """Calls a user callback; a coroutine it returns becomes a task whose
        exception is reported to the loop's exception handler. A synchronous
        exception propagates (the C layer stores it and re-raises it after the
        step)."""
        res = fn(*args)
        if inspect.isawaitable(res):
            self.spawn(res)

    def spawn(
        self, aw: Awaitable[Any], on_error: Callable[[BaseException], None] | None = None
    ) -> asyncio.Future[Any]:
        """A task for `aw`; its exception goes to `on_error` when given, else
        to the loop's exception handler."""
        task = asyncio.ensure_future(aw)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, on_error))
        return task

    def _task_done(
        self, task: asyncio.Future[Any], on_error: Callable[[BaseException], None] | None
    ) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            if on_error is not None:
                on_error(task.exception())  # type: ignore[arg-type]
                return
            self.aloop.call_exception_handler(
                {
                    "message": "exception in a weft callback task",
                    "exception": task.exception(),
                    "future": task,
                }
            )


def get_driver() -> Driver:
    """The driver of the running asyncio loop, created on first use."""
    aloop = asyncio.get_running_loop()
    drv = _drivers.get(aloop)
    if drv is None or drv.core is None:
        drv = Driver(aloop)
        _drivers[aloop] = drv
    return drv


def emit(drv: Driver, listeners: list[Callable[..., Any]], *args: Any) -> None:
    """Calls every listener; the first exception is raised after all ran."""
    first: BaseException | None = None
    for fn in list(listeners):
        try:
            drv.run_callback(fn, *args)
        except Exception as exc:
            if first is None:
                first = exc
    if first is not None:
        raise first
