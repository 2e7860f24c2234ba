"""weft's hello world for Python, run in a fresh venv where the sdist or the
wheel was installed (scripts/packages.sh): a server and a client in one
asyncio program; the client's message comes back. Prints
"hello, weft (weft VERSION)"."""
import asyncio

import weft


async def main() -> None:
    async with await weft.serve("ws://127.0.0.1:0/primus") as server:
        server.on("connection", lambda spark: spark.on("data", spark.write))
        client = await weft.connect(f"ws://127.0.0.1:{server.port}/primus")
        client.write("hello, weft")
        async for msg in client:
            print(f"{msg} (weft {weft.__version__})")
            break
        await client.end()


asyncio.run(main())
