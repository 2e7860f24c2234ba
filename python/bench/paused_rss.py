"""The server's memory while a spark's reader is paused (issue #15, item 6).

    python paused_rss.py [--count 100000] [--size 1024]

A `websockets` client in a subprocess sends COUNT messages of SIZE bytes to
a spark whose handler does not read yet. After the client finished or
stalled (no progress for 2 s: TCP flow control), the server prints its RSS
growth since before the connection, then reads everything and checks that
every message arrived, in order. Prints one line of JSON. A package without
``receive_queue`` (before issue #15) queues everything in Python.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import subprocess
import sys
import time

import weft


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


CLIENT = """
import asyncio, sys, websockets
async def main(url, count, size):
    async with websockets.connect(url, max_size=None) as ws:
        pad = "x" * (size - 16)
        for i in range(count):
            await ws.send('{"i":%d,"p":"%s"}' % (i, pad))
            if i % 1000 == 999:
                print(i + 1, flush=True)
        print("done", flush=True)
        await ws.wait_closed()
asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


async def main(count: int, size: int) -> None:
    bounded = "receive_queue" in inspect.signature(weft.serve).parameters
    server = await weft.serve("ws://127.0.0.1:0/primus", ping_interval=None)
    base = rss_kib()
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, server.url, str(count), str(size),
        stdout=subprocess.PIPE,
    )
    assert client.stdout is not None
    spark = await asyncio.wait_for(server.__anext__(), 10)
    sent = 0
    while True:  # until the client is done or stalls
        try:
            line = await asyncio.wait_for(client.stdout.readline(), 2.0)
        except TimeoutError:
            break
        if not line or line.strip() == b"done":
            sent = count if line else sent
            break
        sent = int(line)
    paused_kib = rss_kib() - base
    t0 = time.monotonic()
    got = 0
    async for msg in spark:
        assert msg["i"] == got, (msg["i"], got)
        got += 1
        if got == count:
            break
    read_s = time.monotonic() - t0
    print(json.dumps({
        "bounded": bounded,
        "messages": count,
        "size": size,
        "client_sent_before_read": sent,
        "rss_growth_paused_mib": round(paused_kib / 1024, 2),
        "rss_growth_end_mib": round((rss_kib() - base) / 1024, 2),
        "received_in_order": got,
        "read_seconds": round(read_s, 2),
    }), flush=True)
    client.kill()
    await client.wait()
    await server.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=1024)
    a = ap.parse_args()
    asyncio.run(main(a.count, a.size))
