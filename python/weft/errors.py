"""The weft.Error hierarchy, mapped from the core's WEFT_E* codes in one place."""

from __future__ import annotations

from . import lowlevel as _ll

__all__ = [
    "Error",
    "InvalidArgument",
    "OutOfMemory",
    "StateError",
    "ClosedError",
    "ExistsError",
    "NotFoundError",
    "ValueTypeError",
    "RangeError",
    "DepthError",
    "ParseError",
    "UTF8Error",
    "TooBigError",
    "ProtocolError",
    "URLError",
    "AddressInUseError",
    "AddressNotAvailableError",
    "ConnectionRefused",
    "IOFailure",
    "Timeout",
    "QueueFull",
    "VersionError",
    "HTTPError",
    "Unauthorized",
    "Unsupported",
    "Rejected",
    "error_from_code",
    "check",
]


class Error(Exception):
    """Base of every error weft raises. `code` is the core's WEFT_E* code
    (negative; 0 when the error did not come from the core) and `name` its
    "EINVAL"-style name."""

    code: int = 0
    name: str = "UNKNOWN"
    kind: str = ""
    """For errors from events: the core's error kind ("json", "toobig",
    "transform", "connect", "http", ...)."""

    def __init__(self, message: str = "", code: int | None = None) -> None:
        if code is not None:
            self.code = code
            self.name = _ll.weft_err_name(code)
        super().__init__(message or _ll.weft_strerror(self.code))


class InvalidArgument(Error, ValueError):
    """EINVAL: a bad argument or option value."""


class OutOfMemory(Error, MemoryError):
    """ENOMEM."""


class StateError(Error):
    """ESTATE: not allowed in the handle's current state."""


class ClosedError(Error):
    """ECLOSED: the handle (spark, server, client) is closed or closing."""


class ExistsError(Error):
    """EEXIST: a name is registered already."""


class NotFoundError(Error):
    """ENOENT."""


class ValueTypeError(Error, TypeError):
    """ETYPE: the value cannot be encoded by this parser (a non-string map
    key for JSON)."""


class RangeError(Error, OverflowError):
    """ERANGE: a number out of range."""


class DepthError(Error, ValueError):
    """EDEPTH: a value nested too deeply."""


class ParseError(Error, ValueError):
    """EPARSE: a malformed message."""


class UTF8Error(Error, ValueError):
    """EUTF8: invalid UTF-8."""


class TooBigError(Error):
    """ETOOBIG: a message larger than the maximum length."""


class ProtocolError(Error):
    """EPROTO: a protocol violation by the peer."""


class URLError(Error, ValueError):
    """EURL: an invalid or unsupported URL."""


class AddressInUseError(Error):
    """EADDRINUSE."""


class AddressNotAvailableError(Error):
    """EADDRNOTAVAIL."""


class ConnectionRefused(Error):
    """ECONNREFUSED."""


class IOFailure(Error):
    """EIO: an input/output error."""


class Timeout(Error, TimeoutError):
    """ETIMEDOUT (also an acknowledgement that did not come in time)."""


class QueueFull(Error):
    """ENOBUFS: the outbound queue is full; nothing was queued."""


class Rejected(Error):
    """EREJECTED: the peer rejected an event (or a client's join/leave).

    Raise it in an event handler to reject with `reason` (any value that can
    be sent); an awaited ``emit(..., ack=True)`` raises it with the peer's
    reason in ``.reason``."""

    def __init__(self, reason: object = "rejected") -> None:
        self.reason = reason
        super().__init__(str(reason), Rejected.code or None)


class VersionError(Error):
    """EVERSION: plugin ABI version not supported."""


class Unsupported(Error, ValueError):
    """EUNSUPPORTED: a name or combination this build does not have (an
    unknown transformer, batching with the raw parser)."""


class HTTPError(Error):
    """The server refused the WebSocket upgrade with an HTTP status. On the
    client, `message` is the refusal's error text (or its body)."""

    def __init__(self, status: int = 400, message: str = "", code: int | None = None) -> None:
        self.status = status
        self.message = message
        super().__init__(message or f"HTTP {status}", code)


class Unauthorized(HTTPError):
    """Raised by an authorization function to deny a connection (answered
    with `status`, 401 by default, and the JSON body {"error": message});
    raised by connect() when the server refused the client."""

    code = -1  # set from the core below
    name = "EUNAUTHORIZED"

    def __init__(self, status: int = 401, message: str = "Unauthorized") -> None:
        super().__init__(status, message)


# The one mapping from core codes to classes.
_BY_NAME: dict[str, type[Error]] = {
    "EINVAL": InvalidArgument,
    "ENOMEM": OutOfMemory,
    "ESTATE": StateError,
    "ECLOSED": ClosedError,
    "EEXIST": ExistsError,
    "ENOENT": NotFoundError,
    "ETYPE": ValueTypeError,
    "ERANGE": RangeError,
    "EDEPTH": DepthError,
    "EPARSE": ParseError,
    "EUTF8": UTF8Error,
    "ETOOBIG": TooBigError,
    "EPROTO": ProtocolError,
    "EURL": URLError,
    "EADDRINUSE": AddressInUseError,
    "EADDRNOTAVAIL": AddressNotAvailableError,
    "ECONNREFUSED": ConnectionRefused,
    "EIO": IOFailure,
    "ETIMEDOUT": Timeout,
    "ENOBUFS": QueueFull,
    "EVERSION": VersionError,
    "EUNAUTHORIZED": Unauthorized,
    "EUNSUPPORTED": Unsupported,
    "EREJECTED": Rejected,
}
_BY_CODE: dict[int, type[Error]] = {}
for _code, _name, _msg in _ll.pyweft_error_codes():
    _cls = _BY_NAME.get(_name, Error)
    _BY_CODE[_code] = _cls
    if _cls is not Error:
        _cls.code = _code
        _cls.name = _name


def error_from_code(code: int, message: str = "") -> Error:
    """The weft.Error instance for a negative WEFT_E* code."""
    cls = _BY_CODE.get(code, Error)
    text = message or _ll.weft_strerror(code)
    if cls is Unauthorized:
        return Unauthorized(401, text)
    if cls is Rejected:
        return Rejected(text)
    if issubclass(cls, HTTPError):
        return cls(400, text, code)
    return cls(text, code)


def check(rc: int, what: str = "") -> int:
    """Returns rc when it is not negative, else raises its weft.Error."""
    if rc < 0:
        msg = _ll.weft_strerror(rc)
        raise error_from_code(rc, f"{what}: {msg}" if what else msg)
    return rc
