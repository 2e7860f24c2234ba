"""What an operator sees: the core's log records in the standard logging
module, and a server's metrics as a dataclass.

Records go to the logger "weft.server" (a server's: listen, connection,
disconnection, refused, error, timeout, queue) or "weft.client" (a
client's: open, close, error, reconnect, end), children of "weft", at the
level the core gave them (ERROR, WARNING, INFO, DEBUG), with the extra
attributes ``weft_event``, ``weft_spark`` and ``weft_kind`` on the
LogRecord. "weft" has a NullHandler, as a library's logger should.

The core formats a record only when its loop asks for it: the loop's level
follows these loggers' effective levels, and is off while no handler other
than a NullHandler would receive them (see core_level). The level is read
when a loop starts, at every serve() and connect(), and by
set_log_level().
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Protocol

from . import lowlevel as _ll

__all__ = ["Metrics", "set_log_level"]

logger = logging.getLogger("weft")
logger.addHandler(logging.NullHandler())
_loggers = (logger, logging.getLogger("weft.server"), logging.getLogger("weft.client"))

# The core's levels (WEFT_LOG_ERROR..DEBUG) and logging's.
_TO_PY = {
    _ll.WEFT_LOG_ERROR: logging.ERROR,
    _ll.WEFT_LOG_WARN: logging.WARNING,
    _ll.WEFT_LOG_INFO: logging.INFO,
    _ll.WEFT_LOG_DEBUG: logging.DEBUG,
}


def _heard(lg: logging.Logger) -> bool:
    """Whether a record of `lg` reaches a handler that is not a NullHandler
    (walking up while propagate is set, as logging does)."""
    c: logging.Logger | None = lg
    while c is not None:
        if any(not isinstance(h, logging.NullHandler) for h in c.handlers):
            return True
        if not c.propagate:
            return False
        c = c.parent
    return False


def core_level() -> int:
    """The core level the "weft" loggers want: the most verbose of their
    effective levels, WEFT_LOG_OFF when none of them is heard or enabled."""
    live = [lg for lg in _loggers if not lg.disabled and _heard(lg)]
    if not live:
        return _ll.WEFT_LOG_OFF
    level = max(min(lg.getEffectiveLevel() for lg in live), logging.root.manager.disable + 1)
    for core, py in sorted(_TO_PY.items(), reverse=True):  # DEBUG first
        if level <= py:
            return core
    return _ll.WEFT_LOG_OFF


def emit(level: int, event: str, message: str, origin: int, spark: str | None,
         kind: str | None) -> None:
    """The loop's log function (pyweft_loop_set_log): one record to logging.
    An exception a handler lets out is reported to the event loop's
    exception handler after the step, as any callback's."""
    lg = _loggers[origin] if 0 <= origin < len(_loggers) else logger
    py = _TO_PY.get(level, logging.DEBUG)
    if lg.isEnabledFor(py):
        lg.log(py, message, extra={"weft_event": event, "weft_spark": spark, "weft_kind": kind})


class _Loop(Protocol):
    def sync_log(self) -> None: ...


_loops: weakref.WeakSet[_Loop] = weakref.WeakSet()


def watch(loop: _Loop) -> None:
    """Registers a driver for set_log_level()."""
    _loops.add(loop)


def set_log_level(level: int | str | None = None) -> None:
    """Sets the level of the logger "weft" (an int or a name such as
    "DEBUG", as ``Logger.setLevel``: ValueError for an unknown name,
    TypeError for another type), then brings every running weft loop's
    core level in line with the "weft" loggers. Without a level it only
    does the latter: call it after reconfiguring logging while servers or
    clients run (serve() and connect() do it themselves)."""
    if level is not None:
        logger.setLevel(level)
    for loop in list(_loops):
        loop.sync_log()


@dataclass(frozen=True, slots=True)
class Metrics:
    """A server's counters and gauges (``Server.metrics()``; the core's
    weft_metrics). Counters only grow for the life of the server. Messages
    are the application's (Primus's pings, pongs and ids are not counted);
    bytes are their encoded payloads (each delivery of a broadcast counts;
    a message refused by the framing, e.g. over max_length, is neither)."""

    connections_open: int
    """Gauge: open sparks."""
    connections_total: int
    """Sparks opened."""
    handshakes_total: int
    """Upgrade requests that reached authorization."""
    refused_total: int
    """HTTP answers of status 400 and above."""
    messages_in_total: int
    messages_out_total: int
    bytes_in_total: int
    bytes_out_total: int
    queue_bytes: int
    """Gauge: written to sparks, not yet on the wire."""
    queue_refused_total: int
    """Writes that found a full queue."""
    heartbeat_timeouts_total: int
    errors_total: int
    """Error events, whatever their kind."""
    polling_requests_total: int
    """HTTP requests of engine.io's polling transport."""
