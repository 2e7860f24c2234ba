"""Values: Python objects <-> weft values, through the C conversion layer."""

from __future__ import annotations

from typing import Any

import pytest

import weft

ROUND_TRIP: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    1.5,
    "",
    "héllo \u2028 \U0001f600",
    "nul\x00byte",
    [],
    {},
    [1, "two", 3.0, None, [True, {"k": []}]],
    {"a": {"b": {"c": [1, 2, 3]}}, "": 0},
]


@pytest.mark.parametrize("parser", ["json", "msgpack"])
@pytest.mark.parametrize("value", ROUND_TRIP)
def test_round_trip(parser: str, value: Any) -> None:
    assert weft.decode(weft.encode(value, parser), parser) == value


def test_binary_types() -> None:
    for b in (b"\x00\xff", bytearray(b"\x01\x02"), memoryview(b"xyz")):
        out = weft.decode(weft.encode(b, "msgpack"), "msgpack")
        assert out == bytes(b) and isinstance(out, bytes)
    # JSON has no binary: it goes out as Node's Buffer JSON, as Primus does.
    assert weft.decode(weft.encode(b"x", "json")) == {"type": "Buffer", "data": [120]}


def test_tuple_is_array() -> None:
    assert weft.decode(weft.encode((1, 2))) == [1, 2]


def test_int_too_large_raises() -> None:
    with pytest.raises(OverflowError):
        weft.encode(2**63)
    with pytest.raises(OverflowError):
        weft.encode({"x": [-(2**63) - 1]})


def test_unsupported_type_raises() -> None:
    with pytest.raises(TypeError):
        weft.encode(object())
    with pytest.raises(TypeError):
        weft.encode({"s": {1, 2}})


def test_too_deep_raises() -> None:
    v: Any = []
    for _ in range(600):
        v = [v]
    with pytest.raises(ValueError):
        weft.encode(v)


def test_lone_surrogate_raises() -> None:
    with pytest.raises(UnicodeEncodeError):
        weft.encode("\udc80")


def test_json_non_string_key_is_a_type_error() -> None:
    with pytest.raises(ValueError):
        weft.encode({1: "x"}, "json")
    assert weft.decode(weft.encode({1: "x"}, "msgpack"), "msgpack") == {1: "x"}


def test_decode_bad_input() -> None:
    with pytest.raises(ValueError):
        weft.decode(b"{not json")
    with pytest.raises(ValueError):
        weft.decode(b"\xc1", "msgpack")
    with pytest.raises(weft.InvalidArgument):
        weft.decode(b"1", "yaml")
    with pytest.raises(weft.InvalidArgument):
        weft.encode(1, "yaml")


def test_error_hierarchy_maps_every_code() -> None:
    from weft import lowlevel
    from weft.errors import error_from_code

    for code, name, _msg in lowlevel.pyweft_error_codes():
        err = error_from_code(code)
        assert isinstance(err, weft.Error)
        assert err.code == code and err.name == name
    assert isinstance(error_from_code(weft.InvalidArgument.code), ValueError)
    assert type(error_from_code(-1)) is weft.Error
