"""Connection-state recovery's options (decision #23): serve(recovery=,
recovery_messages=) and connect(recovery=) reach the core's table; bad
values raise. Resuming itself is tested in C (test_recovery_server)."""

from __future__ import annotations

import pytest

import weft


async def test_recovery_options() -> None:
    server = await weft.serve(recovery=True, recovery_messages=16)
    client = await weft.connect(server.url, recovery=True)
    await client.end()
    await server.close()
    server = await weft.serve(recovery=2.5)
    await server.close()


async def test_recovery_bad_values() -> None:
    with pytest.raises(ValueError):
        await weft.serve(recovery=-1)
    with pytest.raises(weft.RangeError):
        await weft.serve(recovery=True, recovery_messages=0)
    with pytest.raises(weft.RangeError):
        await weft.serve(recovery=True, recovery_messages=65537)
