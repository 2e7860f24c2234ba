"""Benchmark server for the Python host, mirroring bench/peers/ws_server.js:

    python weft_server.py [--mode echo|broadcast] [--port 0] [--uvloop]

echo: every message goes back to its sender (through Python); broadcast:
every message goes to every connected spark (server.write: encoded once in
C). Heartbeats off. Prints `listening on ws://127.0.0.1:PORT/primus`; on
SIGTERM, with --stats, `stats msgs=N cpu=S`: messages received and the
process's CPU seconds since the first connection (bench/python.sh divides
them: CPU per echo, steadier than msgs/s on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time

import weft


async def main(mode: str, port: int, stats: bool) -> None:
    server = await weft.serve(f"ws://127.0.0.1:{port}/primus", ping_interval=0)
    cpu0: list[float] = []

    def on_connection(spark: weft.Spark) -> None:
        if not cpu0:
            cpu0.append(time.process_time())
        if mode == "echo":
            spark.on("data", spark.write)
        else:
            spark.on("data", server.write)

    server.on("connection", on_connection)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"listening on {server.url}", flush=True)
    await stop.wait()
    if stats:
        cpu = time.process_time() - (cpu0[0] if cpu0 else 0.0)
        print(f"stats msgs={server.metrics().messages_in_total} cpu={cpu:.4f}", flush=True)
    await server.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["echo", "broadcast"], default="echo")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ping-interval", type=int, default=0)
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--stats", action="store_true")
    a = ap.parse_args()
    if a.uvloop:
        import uvloop

        uvloop.run(main(a.mode, a.port, a.stats))
    else:
        asyncio.run(main(a.mode, a.port, a.stats))
