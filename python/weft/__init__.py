"""weft: real-time messaging for asyncio on weft's C core.

Servers speak Primus 8's wire protocol exactly (the npm Primus client
connects unchanged) and clients reconnect as Primus's do. Everything runs in
the event loop's thread: the core's loop fd is watched with add_reader, one
timer follows the core's next deadline, and nothing busy-polls.

    server = await weft.serve("ws://127.0.0.1:8080/primus")
    async for spark in server:
        ...

    client = await weft.connect("ws://127.0.0.1:8080/primus")
    client.write({"hello": "weft"})

Log records go to the standard logging module (logger "weft"); a server's
counters are ``server.metrics()`` and ``server.metrics_text()``.
"""

from __future__ import annotations

from typing import Any

from . import lowlevel as _ll
from .client import EVENTS, Backoff, Client, Event, connect
from . import errors as _errors
from .errors import *  # noqa: F403  (the weft.Error hierarchy: errors.__all__)
from .ext import Answer, Broadcast, Carry, Channel, EventHandler, Reply
from ._obs import Metrics, set_log_level
from .server import DROP, AuthRequest, Plugin, Server, Spark, Value, serve, transformers
from .streams import IncomingStream, OutgoingStream

__version__: str = _ll.weft_version_string()  # the core's, from VERSION

__all__ = [
    "serve",
    "connect",
    "Server",
    "Spark",
    "Client",
    "Backoff",
    "Event",
    "EVENTS",
    "AuthRequest",
    "Plugin",
    "DROP",
    "Value",
    "Channel",
    "IncomingStream",
    "OutgoingStream",
    "Reply",
    "Answer",
    "Carry",
    "Broadcast",
    "EventHandler",
    "encode",
    "decode",
    "core_version",
    "transformers",
    "Metrics",
    "set_log_level",
]
__all__ += _errors.__all__


def encode(msg: Value, parser: str = "json") -> bytes:
    """Encodes a message as the parser would put it on the wire."""
    if not _ll.weft_parser_exists(parser):
        raise InvalidArgument(f"unknown parser {parser!r}", InvalidArgument.code)
    out: bytes = _ll.pyweft_encode(parser, msg)
    return out


def decode(data: bytes | bytearray | memoryview | str, parser: str = "json") -> Any:
    """Decodes one wire message (raises ValueError when malformed)."""
    if not _ll.weft_parser_exists(parser):
        raise InvalidArgument(f"unknown parser {parser!r}", InvalidArgument.code)
    if isinstance(data, str):
        data = data.encode()
    return _ll.pyweft_decode(parser, data)


def core_version() -> str:
    """The C core's version string."""
    return _ll.weft_version_string()
