"""A node of a weft cluster for tests/cross/cluster.test.js (the protocol is
node/test/fixtures/cluster_node.js's): a Python server joined to Redis
(argv[1], ttl argv[2] ms), printing "listening <port>"; ?ctl=1 is the test's
control, ?i=N a client (even N join "lobby", or ?rooms=a,b those);
WEFT_RECOVERY=ms turns connection-state recovery on."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import weft


async def main(url: str, ttl_ms: int) -> None:
    # WEFT_RECOVERY=ms: connection-state recovery on (tests/cross/recovery.test.js).
    recovery = int(os.environ.get("WEFT_RECOVERY", "0")) / 1000 or None
    srv = await weft.serve(
        "ws://127.0.0.1:0/primus", redis=url, redis_ttl=ttl_ms / 1000, recovery=recovery
    )
    ctl: set[weft.Spark] = set()

    def tell(m: Any) -> None:
        for c in list(ctl):
            c.write(m)

    def on_error(spark: weft.Spark | None, err: weft.Error) -> None:
        if err.kind in ("connect", "disconnect"):
            tell({"error": err.kind})

    srv.on("error", on_error)

    async def control(spark: weft.Spark) -> None:
        ctl.add(spark)
        async for m in spark:
            if not isinstance(m, dict):
                continue
            cmd = m.get("cmd")
            if cmd == "broadcast":
                srv.write(m["tag"])
            elif cmd == "room":
                srv.to(m["room"]).except_(*m["except"]).write(m["tag"])
            elif cmd == "direct":
                srv.only(m["id"]).write(m["tag"])
            elif cmd == "presence":
                try:
                    spark.write({"done": cmd, "ids": await srv.presence(m["room"])})
                except weft.Error as e:
                    spark.write({"done": cmd, "error": type(e).__name__})
                continue
            spark.write({"done": cmd})
        ctl.discard(spark)

    async def client(spark: weft.Spark) -> None:
        i = int(spark.query.get("i", "1"))
        # ?rooms=a,b: those rooms instead of lobby; a resumed spark has its rooms.
        named = spark.query.get("rooms")
        rooms = named.split(",") if named else ["lobby"] if i % 2 == 0 else []
        if not spark.recovered:
            for r in rooms:
                spark.join(r)
        tell({"spark": i, "id": spark.id, "recovered": spark.recovered})
        async for _ in spark:
            pass

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"listening {srv.port}", flush=True)
    tasks: set[asyncio.Task[None]] = set()

    async def accept() -> None:
        async for spark in srv:
            t = asyncio.create_task(control(spark) if spark.query.get("ctl") else client(spark))
            tasks.add(t)
            t.add_done_callback(tasks.discard)

    acc = asyncio.create_task(accept())
    await stop.wait()
    acc.cancel()
    await srv.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10000))
