"""Plugins: named hooks into a server's or client's life and its message
pipeline, written in Python (the core's weft_plugin_ops, chained here)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
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

    ``incoming_types``: the Python types ``incoming`` looks at (``dict``,
    ``list``, ``str``, ``bytes``, ``int``, ``float``, ``bool``,
    ``type(None)``; exact types, so ``int`` is not ``bool``). A message of
    another type goes past this plugin's ``incoming`` without a call, and
    one that no plugin looks at is not even made a Python object for them
    (the core's ``weft_plugin_ops.incoming_types``). None, the default: every
    type. A transform that replaces the message is matched by the
    replacement's type.

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
    incoming_types: Collection[type] | None = None


# The core's weft_type of each Python type a message becomes.
_CORE_TYPES: dict[type, int] = {
    type(None): 0,
    bool: 1,
    int: 2,
    float: 3,
    str: 4,
    bytes: 5,
    list: 6,
    dict: 7,
}


def _check_types(p: Plugin) -> None:
    if p.incoming_types is None:
        return
    if p.incoming is None:
        raise InvalidArgument(f"plugin {p.name!r}: incoming_types without an incoming transform")
    # A collection, read more than once (an iterator would be used up by
    # this check); not a string, which is a collection of characters.
    if not isinstance(p.incoming_types, Collection) or isinstance(p.incoming_types, (str, bytes)):
        raise InvalidArgument(f"plugin {p.name!r}: incoming_types is not a collection of types")
    types = list(p.incoming_types)
    if not types:
        raise InvalidArgument(f"plugin {p.name!r}: incoming_types is empty (None: every type)")
    for t in types:
        if t not in _CORE_TYPES:
            names = ", ".join(k.__name__ for k in _CORE_TYPES)
            raise InvalidArgument(f"plugin {p.name!r}: incoming_types takes {names}, not {t!r}")


def incoming_mask(plugins: Sequence[Plugin]) -> int:
    """The core's incoming_types bits for these plugins' incoming
    transforms together: 0 (every type) when one of them takes every type."""
    mask = 0
    for p in plugins:
        if p.incoming is None:
            continue
        if p.incoming_types is None:
            return 0
        for t in p.incoming_types:
            mask |= 1 << _CORE_TYPES[t]
    return mask


def incoming_chain(plugins: Sequence[Plugin], owner: Any = None) -> Callable[[Any, Any], Any] | None:
    """chain() of the plugins' incoming transforms, each skipped for a
    message of a type it does not look at."""
    return chain(
        [p.incoming for p in plugins if p.incoming is not None],
        owner,
        [None if p.incoming_types is None else frozenset(p.incoming_types)
         for p in plugins if p.incoming is not None],
    )


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
        _check_types(p)
        if p.name in named:
            raise ExistsError(f"plugin {p.name!r} given twice", ExistsError.code)
        named[p.name] = p
    return named


def chain(
    fns: list[Transform], owner: Any = None, types: list[frozenset[type] | None] | None = None
) -> Callable[[Any, Any], Any] | None:
    """One callable running the transforms in order (None for none). With
    `owner`, each gets it instead of what the core passes (a client's
    transforms get the Client). `types`: for each transform, the exact
    types of message it is called for (None: every type)."""
    if not fns:
        return None
    only = types if types is not None else [None] * len(fns)
    steps = list(zip(fns, only))

    def run(who: Any, msg: Any) -> Any:
        for fn, kinds in steps:
            if kinds is not None and type(msg) not in kinds:
                continue
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
