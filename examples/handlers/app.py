"""One set of event handlers for every kind of peer (issue #21): a Primus
client (transformer websockets), an engine.io client and a fast-tcp client
on one server, a Vibe client (vibe-protocol) on another; acks and Vibe
replies alike. The same events as app.js:

    python examples/handlers/app.py [port]

listens on ws://127.0.0.1:PORT/primus (websockets and engine.io side by
side), tcp://127.0.0.1:PORT+2 (fast-tcp) and http://127.0.0.1:PORT+1/vibe
(Vibe: ws, httpstream, httplongpoll); port 0: any free ports. Events carry
one argument, as Vibe's do. A rejected ack reaches a fast-tcp peer as its
data {"error": reason} (fast-tcp's acks have no rejection).
"""

import asyncio
import signal
import sys

import weft


def handlers(server: weft.Server) -> None:
    @server.on_event("sum")
    def total(spark: weft.Spark, numbers: object) -> float:
        if not isinstance(numbers, list) or not all(isinstance(n, (int, float)) for n in numbers):
            raise weft.Rejected("not numbers")
        return float(sum(numbers))

    @server.on_event("echo")
    def echo(spark: weft.Spark, data: object) -> None:
        spark.emit("echo", data)

    @server.on_event("ask")
    async def ask(spark: weft.Spark, question: object) -> None:
        try:
            answer: dict[str, object] = {"resolved": await spark.emit("question", question, ack=True)}
        except weft.Rejected as exc:
            answer = {"rejected": exc.reason}
        spark.emit("answered", answer)


async def main(port: int) -> None:
    primus = await weft.serve(
        [f"ws://127.0.0.1:{port}/primus", f"tcp://127.0.0.1:{port + 2 if port else 0}"],
        transformer="websockets,engine.io",
        emitter=True,
    )
    vibe = await weft.serve(f"http://127.0.0.1:{port + 1 if port else 0}/vibe", transformer="vibe", emitter=True)
    for server in (primus, vibe):
        handlers(server)
        for url in server.urls:
            print(f"listening on {url}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in (primus, vibe):
        await server.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8080))
