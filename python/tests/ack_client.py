"""A Python client for the cross-host tests: connects with the emitter,
emits one event with an acknowledgement, prints the outcome as one JSON line
and exits 0 when it is the expected one (the contract of the C tool
tests/support/ack_client.c).

    python ack_client.py URL EVENT ARGS_JSON resolved|rejected|chain EXPECTED_JSON

chain (nmsg's nested callbacks): the answer must carry a callback (depth 2,
the server's); it is called back with "v2" and a callback of ours (depth
3), whose answer is the one compared with EXPECTED_JSON.

ARGS_JSON is the argument array (e.g. "[1,2]"). Prints
{"status": "OK"|"EREJECTED"|"ETIMEDOUT"|..., "value": ...}. Exit 0: the
expected status with a value equal to EXPECTED_JSON; 1: another outcome;
2: usage or setup error. Bounded: the ack times out after 5 s, the whole run
after 10 s.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import weft


async def run(url: str, event: str, args: list[Any], want: str, expected: Any) -> int:
    try:
        client = await weft.connect(url, emitter=True, timeout=5.0, reconnect=None)
    except weft.Error as exc:
        print(f"ack_client: connect failed: {exc}", file=sys.stderr)
        return 2
    status, value = "OK", None
    try:
        value = await client.emit(event, *args, ack=True, timeout=5.0)
        if want == "chain":
            if not isinstance(value, weft.Answer):
                raise weft.Error("the answer carries no callback")
            depth3: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            def called_back(err: Exception | None, v: Any, reply: weft.Reply | None) -> None:
                if err is not None:
                    depth3.set_exception(err)
                else:
                    depth3.set_result(v)

            value.reply.resolve("v2", callback=called_back, timeout=5.0)
            value = await depth3
    except weft.Rejected as exc:
        status, value = "EREJECTED", exc.reason
    except weft.Error as exc:
        status = exc.name
    finally:
        await client.end()
    print(json.dumps({"status": status, "value": value}, separators=(",", ":")), flush=True)
    ok = status == ("EREJECTED" if want == "rejected" else "OK") and value == expected
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    if len(argv) != 6 or argv[4] not in ("resolved", "rejected", "chain"):
        print(f"usage: {argv[0]} URL EVENT ARGS_JSON resolved|rejected|chain EXPECTED_JSON",
              file=sys.stderr)
        return 2
    try:
        args = json.loads(argv[3])
        expected = json.loads(argv[5])
    except ValueError:
        print("ack_client: ARGS_JSON and EXPECTED_JSON must be JSON", file=sys.stderr)
        return 2
    if not isinstance(args, list):
        print("ack_client: ARGS_JSON must be an array", file=sys.stderr)
        return 2
    try:
        return asyncio.run(asyncio.wait_for(run(argv[1], argv[2], args, argv[4], expected), 10))
    except asyncio.TimeoutError:
        print("ack_client: no answer in time", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
