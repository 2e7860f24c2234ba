"""Benchmark server for the Python host, mirroring bench/peers/ws_server.js:

    python weft_server.py [--mode echo|broadcast] [--port 0] [--uvloop]

echo: every message goes back to its sender (through Python); broadcast:
every message goes to every connected spark (server.write: encoded once in
C). Heartbeats off. Prints `listening on ws://127.0.0.1:PORT/primus`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import weft


async def main(mode: str, port: int) -> None:
    server = await weft.serve(f"ws://127.0.0.1:{port}/primus", ping_interval=0)

    def on_connection(spark: weft.Spark) -> None:
        if mode == "echo":
            spark.on("data", spark.write)
        else:
            spark.on("data", server.write)

    server.on("connection", on_connection)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"listening on {server.url}", flush=True)
    await stop.wait()
    await server.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["echo", "broadcast"], default="echo")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ping-interval", type=int, default=0)
    ap.add_argument("--uvloop", action="store_true")
    a = ap.parse_args()
    if a.uvloop:
        import uvloop

        uvloop.run(main(a.mode, a.port))
    else:
        asyncio.run(main(a.mode, a.port))
