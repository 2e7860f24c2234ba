"""A chat server: every message a client sends goes to everyone.

    python examples/chat.py 8080

Connect with the npm Primus client, `weft connect ws://127.0.0.1:8080/primus`,
or weft.connect(); add `?name=ada` to the URL to pick a name.
"""

from __future__ import annotations

import asyncio
import sys

import weft


async def chat(spark: weft.Spark, server: weft.Server) -> None:
    name = spark.query.get("name", spark.id[:6])
    server.write({"system": f"{name} joined", "online": len(server)})
    async for msg in spark:
        if isinstance(msg, str) and msg.strip():
            server.write({"from": name, "text": msg[:1000]})
    server.write({"system": f"{name} left", "online": len(server)})


async def main(port: int) -> None:
    async with await weft.serve(f"ws://127.0.0.1:{port}/primus") as server:
        print(f"chat on {server.url}", flush=True)
        tasks: set[asyncio.Task[None]] = set()
        async for spark in server:
            task = asyncio.create_task(chat(spark, server))
            tasks.add(task)
            task.add_done_callback(tasks.discard)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8080))
