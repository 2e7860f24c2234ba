"""Call overhead of the Python host, in process (bench/python.sh calls).

Prints one line per measurement, "<what> <median ns per call>": a spark's
write of a 32-byte string through the public API (``spark.write``), the
same through the binding alone (the low-level call the package makes), and
a getter (``spark.buffered_amount``). Batches of 1000 calls with the loop
stopped; between batches the loop runs until the client has read them.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import weft

BATCH = 1000
BATCHES = 200
MSG = "x" * 30  # 32 bytes as JSON


async def timed(fn: Callable[[], Any], spark: Any) -> float:
    samples = []
    for _ in range(BATCHES):
        gc.disable()
        t0 = time.perf_counter_ns()
        for _ in range(BATCH):
            fn()
        dt = time.perf_counter_ns() - t0
        gc.enable()
        samples.append(dt / BATCH)
        while spark.buffered_amount:
            await asyncio.sleep(0)
    return statistics.median(samples)


def lowlevel_write(spark: Any) -> Callable[[], Any] | None:
    """The binding's own write call, as the package makes it."""
    try:
        from weft import lowlevel as ll  # SWIG builds

        ptr = spark._ptr
        return lambda: ll.pyweft_spark_write(ptr, MSG)
    except ImportError:
        pass
    from weft import _weft  # the hand-written module

    w = _weft.Spark.write
    return lambda: w(spark, MSG)


async def main() -> None:
    async with await weft.serve("ws://127.0.0.1:0/primus", ping_interval=None) as server:
        async with await weft.connect(server.url) as client:
            spark = await asyncio.wait_for(server.__anext__(), 5)
            got = 0

            def count(_msg: Any) -> None:
                nonlocal got
                got += 1

            client.on("data", count)
            print(f"write {await timed(lambda: spark.write(MSG), spark):.1f}")
            ll = lowlevel_write(spark)
            if ll is not None:
                print(f"binding_write {await timed(ll, spark):.1f}")
            print(f"getter {await timed(lambda: spark.buffered_amount, spark):.1f}")
            try:  # the SWIG %include build wraps weft_spark_write itself (a value typemap)
                from weft import lowlevel

                if hasattr(lowlevel, "weft_spark_write"):
                    ptr, fn = spark._ptr, lowlevel.weft_spark_write
                    print(f"swig_typemap_write {await timed(lambda: fn(ptr, MSG), spark):.1f}")
            except ImportError:
                pass


if __name__ == "__main__":
    asyncio.run(main())
