"""An echo server: every message goes back to its sender.

    python examples/echo_server.py [PORT] [--uvloop]

Prints `listening on ws://127.0.0.1:PORT/primus` when ready (port 0 picks a
free port). bench/'s echo_load can measure it.
"""

from __future__ import annotations

import asyncio
import sys

import weft


async def main(port: int) -> None:
    async with await weft.serve(f"ws://127.0.0.1:{port}/primus") as server:
        server.on("connection", lambda spark: spark.on("data", spark.write))
        print(f"listening on {server.url}", flush=True)
        await server.wait_closed()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    port = int(args[0]) if args else 8080
    if "--uvloop" in sys.argv:
        import uvloop

        uvloop.run(main(port))
    else:
        asyncio.run(main(port))
