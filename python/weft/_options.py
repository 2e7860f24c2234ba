"""Options by name, from the core's tables (include/weft/options.h).

serve() and connect() translate their keyword arguments (seconds to ms,
``tls`` to tls_cert/tls_key, a Backoff to reconnect_*) into the core's
option names and hand them to :func:`apply`, which sets them in the
table's order through weft_server_set_option / weft_client_set_option: the
core checks type, range and choices once for every host. tests/test_options.py
compares serve()'s and connect()'s parameters with the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from . import lowlevel as _ll
from .errors import InvalidArgument, RangeError, Unsupported, ValueTypeError, check

Kind = Literal["server", "client"]


@dataclass(frozen=True)
class Option:
    """One row of the core's table."""

    name: str
    type: int
    flags: int
    default: str
    choices: str | None
    unit: str | None
    expects: str
    doc: str


class OptionRangeError(RangeError, InvalidArgument):
    """A number out of an option's range, or a name not among its choices
    (ERANGE): a weft.RangeError that is also a weft.InvalidArgument, as
    serve() and connect() raised before the table."""


class OptionTypeError(ValueTypeError, InvalidArgument):
    """A value of another type than the option's (ETYPE), also a
    weft.InvalidArgument."""


def table(kind: Kind) -> list[Option]:
    """The core's options of a server or client, in its order."""
    at = _ll.weft_server_option_at if kind == "server" else _ll.weft_client_option_at
    rows: list[Option] = []
    while (o := at(len(rows))) is not None:
        rows.append(Option(o.name, o.type, o.flags, o._def, o.choices, o.unit, o.expects, o.doc))
    return rows


def apply(kind: Kind, handle: Any, given: dict[str, Any]) -> None:
    """Sets every option in `given` (core names; None values are skipped)
    in the table's order. Raises the error of the first refusal (weft.Error
    subclasses: RangeError, ValueTypeError, Unsupported, ...) naming the
    option and what it expects; KeyError for a name the table lacks."""
    rows = {o.name: o for o in table(kind)}
    for name in given:
        if name not in rows:
            raise KeyError(f"no {kind} option {name!r}")
    setter = _ll.weft_server_set_option if kind == "server" else _ll.weft_client_set_option
    for name, row in rows.items():
        value = given.get(name)
        if value is None:
            continue
        rc = setter(handle, name, value)
        if rc == Unsupported.code and name == "transformer":
            from .server import check_transformer

            check_transformer(rc, value)
        what = f"{name} {value!r}: expected {row.expects}"
        if rc == RangeError.code:
            raise OptionRangeError(what, rc)
        if rc == ValueTypeError.code:
            raise OptionTypeError(what, rc)
        check(rc, what)
