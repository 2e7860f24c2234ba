"""Plugins: named hooks into a server's or client's life and its message
pipeline, written in Python (the core's weft_plugin_ops, chained here)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from .errors import ExistsError, InvalidArgument

__all__ = ["DROP", "Plugin", "Transform"]


class _Drop:
    """The type of DROP."""

    def __repr__(self) -> str:
        return "weft.DROP"


DROP: Any = _Drop()
"""Returned by a transform to drop (swallow) the message."""

Transform: TypeAlias = Callable[[Any, Any], Any]
"""incoming/outgoing(owner, msg): the owner is the Spark on a server (None
for a broadcast's outgoing), the Client on a client."""


@dataclass(frozen=True)
class Plugin:
    """A named plugin; on a server (serve(plugins=...)) or a client
    (connect(plugins=...)), hooks run in list order before the
    application's own listeners.

    Transforms, in the core's pipeline: ``incoming(owner, msg)`` runs on
    every received message before the data event; ``outgoing(owner, msg)``
    on every write (and broadcast) before encoding. Return the message
    (changed or not) to pass it on, or ``weft.DROP`` to drop it. An
    exception drops the message too (an error event of kind "transform"
    follows) and is reported to the event loop.

    Life hooks: on a server ``connection(spark)`` and
    ``disconnection(spark)``; on a client ``open(client)`` (every open,
    reconnections too) and ``close(client)``. An exception is reported to
    the event loop; the application's listeners still run.
    """

    name: str
    incoming: Transform | None = None
    outgoing: Transform | None = None
    connection: Callable[[Any], Any] | None = None
    disconnection: Callable[[Any], Any] | None = None
    open: Callable[[Any], Any] | None = None
    close: Callable[[Any], Any] | None = None


def by_name(plugins: Sequence[Plugin]) -> dict[str, Plugin]:
    """The plugins by name; weft.InvalidArgument for a non-Plugin or an
    empty name, weft.ExistsError for a name given twice (as the core's
    WEFT_EEXIST)."""
    named: dict[str, Plugin] = {}
    for p in plugins:
        if not isinstance(p, Plugin):
            raise InvalidArgument(f"expected a weft.Plugin, not {type(p).__name__}")
        if not isinstance(p.name, str) or not p.name:
            raise InvalidArgument("a plugin needs a non-empty name")
        if p.name in named:
            raise ExistsError(f"plugin {p.name!r} given twice", ExistsError.code)
        named[p.name] = p
    return named


def chain(fns: list[Transform], owner: Any = None) -> Callable[[Any, Any], Any] | None:
    """One callable running the transforms in order (None for none). With
    `owner`, each gets it instead of what the core passes (a client's
    transforms get the Client)."""
    if not fns:
        return None

    def run(who: Any, msg: Any) -> Any:
        for fn in fns:
            msg = fn(owner if owner is not None else who, msg)
            if msg is DROP:
                return DROP
        return msg

    return run


def run_hooks(report: Callable[[BaseException], None], hooks: list[Any], arg: Any) -> None:
    """Calls each hook with `arg`; an exception goes to `report`."""
    for fn in hooks:
        try:
            fn(arg)
        except Exception as exc:
            report(exc)
