"""Chat rooms with acknowledgements: clients join rooms themselves, and a
"say" event reaches the other members of a room; its answer is how many
got it.

    python examples/rooms.py 8080

A client (weft.connect(url, emitter=True)):
    await client.join("room:lobby")
    client.on_event("said", lambda room, name, text: ...)
    reached = await client.emit("say", "room:lobby", "hi", ack=True)
"""

from __future__ import annotations

import asyncio
import sys

import weft


def allow(spark: weft.Spark, room: str, join: bool) -> bool:
    """Clients may enter and leave rooms named "room:...", no others."""
    return room.startswith("room:")


async def main(port: int) -> None:
    server = await weft.serve(f"ws://127.0.0.1:{port}/primus", rooms=True)
    server.rooms_policy(allow)

    @server.on_event("say")
    def say(spark: weft.Spark, room: str, text: str) -> int:
        if room not in spark.rooms:
            raise weft.Rejected(f"not in {room}")
        name = spark.query.get("name", spark.id[:6])
        return server.to(room).except_(spark.id).emit("said", room, name, text[:1000])

    async with server:
        print(f"rooms on {server.url}", flush=True)
        await server.wait_closed()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8080))
    except KeyboardInterrupt:
        pass
