"""The SWIG module and its C trampolines, driven by hand (no asyncio)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from weft import lowlevel as ll


class Target:
    """A server target whose close callback raises."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.closed = 0

    def _on_close(self) -> None:
        self.closed += 1
        raise self.exc


def run_until(pl: Any, cond: Any, limit: float = 5.0) -> list[BaseException]:
    """Steps the loop until cond(); returns what the steps raised."""
    raised: list[BaseException] = []
    deadline = time.monotonic() + limit
    while not cond() and time.monotonic() < deadline:
        try:
            ll.pyweft_loop_run_once(pl)
        except Exception as exc:
            raised.append(exc)
        time.sleep(0.001)
    return raised


def test_exception_in_callback_is_reraised_after_the_step() -> None:
    pl = ll.pyweft_loop_new()
    loop = ll.pyweft_loop_get(pl)
    assert ll.pyweft_loop_fd(pl) >= 0
    rc, srv = ll.weft_server_new(loop)
    assert rc == 0
    target = Target(KeyError("from _on_close"))
    assert ll.pyweft_server_set_target(srv, pl, target) == 0
    assert ll.weft_server_listen(srv, "ws://127.0.0.1:0/primus") == 0
    assert ll.weft_server_port(srv) > 0
    assert ll.pyweft_server_destroy(srv, 0, 100) == 0
    raised = run_until(pl, lambda: target.closed == 1)
    raised += run_until(pl, lambda: ll.pyweft_loop_close(pl) == 0)
    assert target.closed == 1
    assert len(raised) == 1 and isinstance(raised[0], KeyError)
    assert raised[0].__traceback__ is not None


def test_several_exceptions_in_one_step_make_a_group() -> None:
    pl = ll.pyweft_loop_new()
    loop = ll.pyweft_loop_get(pl)
    targets = []
    for i in range(2):
        rc, srv = ll.weft_server_new(loop)
        assert rc == 0
        t = Target(ValueError(i))
        targets.append(t)
        assert ll.pyweft_server_set_target(srv, pl, t) == 0
        assert ll.pyweft_server_destroy(srv, 0, 100) == 0
    raised = run_until(pl, lambda: all(t.closed for t in targets))
    raised += run_until(pl, lambda: ll.pyweft_loop_close(pl) == 0)
    flat: list[BaseException] = []
    for e in raised:
        flat.extend(e.exceptions if isinstance(e, BaseExceptionGroup) else [e])
    assert sorted(e.args[0] for e in flat if isinstance(e, ValueError)) == [0, 1]


def test_loop_close_with_live_handles_is_refused() -> None:
    pl = ll.pyweft_loop_new()
    rc, srv = ll.weft_server_new(ll.pyweft_loop_get(pl))
    assert rc == 0
    assert ll.pyweft_loop_close(pl) < 0  # ESTATE: nothing freed
    t = Target(RuntimeError("x"))
    ll.pyweft_server_set_target(srv, pl, t)
    ll.pyweft_server_destroy(srv, 0, 100)
    run_until(pl, lambda: t.closed == 1)
    closed: list[int] = []
    run_until(pl, lambda: bool(closed) or (ll.pyweft_loop_close(pl) == 0 and not closed.append(1)))
    assert closed == [1]


def test_misuse_returns_codes() -> None:
    pl = ll.pyweft_loop_new()
    loop = ll.pyweft_loop_get(pl)
    rc, srv = ll.weft_server_new(loop)
    assert ll.weft_server_set_parser(srv, "yaml") == ll.pyweft_error_codes()[0][0]  # EINVAL
    assert ll.weft_server_listen(srv, "bogus") < 0
    assert ll.weft_err_name(-1) == "UNKNOWN"
    with pytest.raises(TypeError):
        ll.pyweft_server_set_target(srv, pl)  # type: ignore[call-arg]
    t = Target(RuntimeError("x"))
    ll.pyweft_server_set_target(srv, pl, t)
    ll.pyweft_server_destroy(srv, 0, 100)
    run_until(pl, lambda: t.closed == 1)
    run_until(pl, lambda: ll.pyweft_loop_close(pl) == 0)


def test_addr_is_the_whole_pointer() -> None:
    pl = ll.pyweft_loop_new()
    try:
        loop = ll.pyweft_loop_get(pl)
        assert ll.pyweft_addr(loop) == int(loop)
        assert int(loop) > 0
    finally:
        run_until(pl, lambda: ll.pyweft_loop_close(pl) == 0)
