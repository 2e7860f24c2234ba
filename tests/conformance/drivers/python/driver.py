"""The conformance driver of the Python host (tests/conformance/README.md):
weft servers and clients through ``import weft`` (python/, its README and
type hints) on asyncio, controlled by JSON lines on stdin, reporting JSON
lines on stdout. Every event comes from the Python API (``on`` listeners,
futures, handler calls), never from the C core underneath."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import sys
from typing import Any

import weft

CAPS = [
    "server", "client", "values", "values.int64.json", "values.float", "values.binary",
    "parser.msgpack", "parser.raw", "authorize", "server.transform.in", "server.transform.out",
    "emitter", "rooms", "rooms.client", "channels", "batching", "queue", "drain",
    "spark.enumerate", "origins", "trusted_proxies", "compression", "client.set_online",
    "client.id", "client.headers", "client.emitter", "client.channels", "client.batching",
    "client.max_length", "client.http_status",
]
SAFE = 2**53 - 1
TAGS = ("$int", "$float", "$bin", "$map")


class Cap(Exception):
    """The host cannot do what a command asks (code ECAP)."""


class MenuFailure(Exception):
    """The failure the fail_incoming transform raises on purpose."""


def out(ev: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(ev, ensure_ascii=False, allow_nan=False) + "\n")
    sys.stdout.flush()


# ---- values (README.md "Values") -------------------------------------------
def native(w: Any) -> Any:
    if isinstance(w, bool) or w is None or isinstance(w, str):
        return w
    if isinstance(w, int):
        return w
    if isinstance(w, float):
        return int(w) if w.is_integer() and abs(w) <= SAFE else w
    if isinstance(w, list):
        return [native(x) for x in w]
    if len(w) == 1:
        (k, v), = w.items()
        if k == "$int":
            return int(v)
        if k == "$float":
            return float(v)
        if k == "$bin":
            return base64.b64decode(v)
        if k == "$map":
            return {native(a): native(b) for a, b in v}
    return {k: native(v) for k, v in w.items()}


def float_text(d: float) -> str:
    if math.isnan(d):
        return "NaN"
    if math.isinf(d):
        return "Infinity" if d > 0 else "-Infinity"
    if d == 0:
        return "-0" if math.copysign(1, d) < 0 else "0"
    return repr(d)


def wire(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if -SAFE <= v <= SAFE else {"$int": str(v)}
    if isinstance(v, float):
        return v if math.isfinite(v) and not v.is_integer() else {"$float": float_text(v)}
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"$bin": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, (list, tuple)):
        return [wire(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v) and not (len(v) == 1 and next(iter(v)) in TAGS):
            return {k: wire(x) for k, x in v.items()}
        return {"$map": [[wire(k), wire(x)] for k, x in v.items()]}
    raise TypeError(f"no protocol form for {type(v).__name__}")


# ---- the fixed menu (README.md "Menu") ---------------------------------------
def _swallow(spark: Any, msg: Any) -> Any:
    return weft.DROP if msg == "drop" else msg


def _fail(spark: Any, msg: Any) -> Any:
    if msg == "fail":
        raise MenuFailure("transform failed")
    return msg


MENU = {
    "swallow_drop": weft.Plugin("swallow_drop", incoming=_swallow),
    "incoming_wrap": weft.Plugin("incoming_wrap", incoming=lambda s, m: {"in": m}),
    "outgoing_wrap": weft.Plugin("outgoing_wrap", outgoing=lambda s, m: {"out": m}),
    "swallow_drop_out": weft.Plugin("swallow_drop_out", outgoing=_swallow),
    "fail_incoming": weft.Plugin("fail_incoming", incoming=_fail),
}


def options(o: dict[str, Any], refused: tuple[str, ...], names: tuple[str, ...], **kw: Any) -> dict[str, Any]:
    """The keyword arguments of serve() or connect() from the protocol's
    options: `names` pass as they are; `refused` ones the host lacks (ECAP)."""
    for k in refused:
        if k in o:
            raise Cap(f"the Python host cannot {k}")
    kw.update({k: o[k] for k in names if k in o})
    if "ack_timeout" in o:
        kw["ack_timeout"] = o["ack_timeout"] / 1000
    return kw


class Driver:
    def __init__(self) -> None:
        self.servers: dict[str, weft.Server] = {}
        self.sparks: dict[tuple[str, str], weft.Spark] = {}
        self.clients: dict[str, weft.Client] = {}
        self.channels: dict[tuple[str, str, str], weft.Channel] = {}
        self.replies: dict[str, asyncio.Future[Any]] = {}
        self.next_reply = 0
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    # -- events ------------------------------------------------------------
    def handler(self, about: dict[str, Any], name: str, lead: int) -> Any:
        loop = asyncio.get_running_loop()

        def fn(*args: Any) -> Any:
            self.next_reply += 1
            ref = f"r{self.next_reply}"
            fut: asyncio.Future[Any] = loop.create_future()
            self.replies[ref] = fut
            spark = {"spark": args[0].id} if lead else {}
            # Python's handler cannot tell whether the sender wants an answer:
            # every event carries a reply, answered only when the runner says.
            out({"ev": "event", **about, **spark, "name": name, "args": wire(list(args[lead:])), "reply": ref})
            return fut

        return fn

    def watch_channel(self, ch: weft.Channel, owner: dict[str, Any]) -> weft.Channel:
        spark = ch.spark.id if ch.spark is not None else ""
        self.channels[(next(iter(owner.values())), spark, ch.name)] = ch
        base = {**owner, **({"spark": spark} if spark else {}), "channel": ch.name}
        ch.on("data", lambda v: out({"ev": "channel_data", **base, "value": wire(v)}))
        ch.on("end", lambda: out({"ev": "channel_end", **base}))
        ch.on("drain", lambda: out({"ev": "channel_drain", **base}))
        return ch

    # -- serve -------------------------------------------------------------
    async def serve(self, c: dict[str, Any]) -> dict[str, Any]:
        o = c.get("options", {})
        name = c["server"]
        kw = options(o, ("id_generator", "static_dir", "asset", "serve_client"),
                     ("parser", "transformer", "max_length", "compression", "high_water_mark", "max_queue",
                      "queue_policy", "origins", "trusted_proxies", "batching", "emitter", "rooms",
                      "channels", "channel_window"))
        if "ping_interval" in o:
            kw["ping_interval"] = o["ping_interval"] / 1000 or None
        plugins = []
        for t in o.get("transforms", []) + o.get("plugins", []):
            if t not in MENU:
                raise Cap(f"the Python host has no {t} (weft.Plugin has transforms only)")
            plugins.append(MENU[t])
        kw["plugins"] = plugins
        if "authorize" in o:
            a = o["authorize"]

            def authorize(req: weft.AuthRequest) -> None:
                if req.query(a["query"]) != a["equals"]:
                    raise weft.Unauthorized(a["status"], a["message"])

            kw["authorize"] = authorize
        srv = await weft.serve(c.get("url", "ws://127.0.0.1:0/primus"), **kw)
        self.servers[name] = srv
        about = {"server": name}

        def connection(spark: weft.Spark) -> None:
            self.sparks[(name, spark.id)] = spark
            out({"ev": "connection", **about, "spark": spark.id})

            def data(v: Any) -> None:
                out({"ev": "data", **about, "spark": spark.id, "value": wire(v)})
                if o.get("echo"):
                    spark.write(v)

            spark.on("data", data)
            spark.on("drain", lambda: out({"ev": "drain", **about, "spark": spark.id}))

        srv.on("connection", connection)
        srv.on("disconnection", lambda sp: out({"ev": "disconnection", **about, "spark": sp.id}))
        srv.on("error", lambda sp, err: out({"ev": "error", **about, **({"spark": sp.id} if sp else {}),
                                             "code": err.name, "kind": err.kind}))
        srv.on("close", lambda: out({"ev": "close", **about}))
        for ev in o.get("events", []):
            srv.on_event(ev, self.handler(about, ev, 1))
        if o.get("channels"):
            def channel(ch: weft.Channel) -> None:
                self.watch_channel(ch, about)
                out({"ev": "channel", **about, "spark": ch.spark.id if ch.spark else None, "channel": ch.name})

            srv.on("channel", channel)
        if "rooms_policy" in o:
            prefix = o["rooms_policy"]["allow_prefix"]
            srv.rooms_policy(lambda spark, room, join: room.startswith(prefix))
        out({"ev": "listening", **about, "url": srv.url})
        return {"url": srv.url}

    # -- connect -----------------------------------------------------------
    async def connect(self, c: dict[str, Any]) -> dict[str, Any]:
        o = c.get("options", {})
        name = c["client"]
        kw = options(o, ("manual", "compression", "transforms", "plugins"),
                     ("parser", "transformer", "max_length", "queue_limit", "headers", "retry_refused",
                      "emitter", "channels", "channel_window", "batching"), wait=False)
        if "reconnect" in o:
            r = o["reconnect"]
            kw["reconnect"] = weft.Backoff(min=r.get("min", 500) / 1000,
                                           max=r["max"] / 1000 if r.get("max") else None,
                                           retries=r.get("retries", 10), factor=r.get("factor", 2))
        if o.get("strategy") == "none":
            kw["reconnect"] = None
        elif "strategy" in o:
            kw["strategy"] = o["strategy"]
        for k in ("timeout", "ping_timeout"):
            if k in o:
                kw[k] = o[k] / 1000 if k != "timeout" or o[k] else None
        cl = await weft.connect(c["url"], **kw)
        self.clients[name] = cl
        about = {"client": name}
        for ev in ("open", "close", "end", "timeout", "online", "offline"):
            cl.on(ev, lambda ev=ev: out({"ev": ev, **about}))
        cl.on("data", lambda v: out({"ev": "data", **about, "value": wire(v)}))
        cl.on("id", lambda i: out({"ev": "id", **about, "id": i}))

        def error(err: weft.Error) -> None:
            e = {"ev": "error", **about, "code": err.name, "kind": err.kind}
            if isinstance(err, weft.HTTPError):
                e.update(status=err.status, body=err.message)
            out(e)

        cl.on("error", error)
        for ev in ("reconnect scheduled", "reconnect", "reconnected", "reconnect failed", "reconnect timeout"):
            cl.on(ev, lambda a, r, d, ev=ev: out({"ev": ev.replace(" ", "_"), **about, "attempt": a,
                                                  "retries": r, "delay": round(d * 1000)}))
        for ev in o.get("events", []):
            cl.on_event(ev, self.handler(about, ev, 0))
        if o.get("channels"):
            def channel(ch: weft.Channel) -> None:
                self.watch_channel(ch, about)
                out({"ev": "channel", **about, "channel": ch.name})

            cl.on("channel", channel)
        return {}

    # -- commands ----------------------------------------------------------
    def spark(self, c: dict[str, Any]) -> weft.Spark:
        sp = self.sparks.get((c["server"], c["spark"]))
        if sp is None:
            raise ValueError(f"no spark {c['spark']}")
        return sp

    def target(self, c: dict[str, Any]) -> Any:
        return self.spark(c) if "server" in c else self.clients[c["client"]]

    def channel(self, c: dict[str, Any]) -> weft.Channel:
        owner = {"server": c["server"]} if "server" in c else {"client": c["client"]}
        key = (next(iter(owner.values())), c.get("spark", ""), c["channel"])
        ch = self.channels.get(key)
        if ch is None or ch.closed:
            ch = self.watch_channel(self.target(c).channel(c["channel"]), owner)
        return ch

    async def ack(self, ref: str, aw: Any) -> None:
        try:
            v = await aw
        except weft.Rejected as e:
            out({"ev": "ack", "ref": ref, "status": "rejected", "value": wire(e.reason)})
        except weft.Timeout:
            out({"ev": "ack", "ref": ref, "status": "timeout"})
        except weft.ClosedError:
            out({"ev": "ack", "ref": ref, "status": "closed"})
        else:
            out({"ev": "ack", "ref": ref, "status": "resolved", "value": wire(v)})

    async def run(self, c: dict[str, Any]) -> dict[str, Any]:
        cmd = c["cmd"]
        if cmd == "serve":
            return await self.serve(c)
        if cmd == "connect":
            return await self.connect(c)
        if cmd in ("open", "destroy"):
            raise Cap(f"the Python client has no {cmd}()")
        if cmd == "close":
            self.spawn(self.servers[c["server"]].close(end=not c.get("reconnect"),
                                                        timeout=c.get("timeout", 1000) / 1000))
        elif cmd == "write":
            r = self.target(c).write(native(c["value"]))
            return {"below": r} if "server" in c else {}
        elif cmd == "write_many":
            t = self.target(c)
            for v in c["values"]:
                t.write(native(v))
        elif cmd == "broadcast":
            return {"count": self.servers[c["server"]].write(native(c["value"]))}
        elif cmd == "flood":
            return self.flood(c)
        elif cmd == "end":
            v = native(c["value"]) if "value" in c else None
            if "server" in c:
                self.spawn(self.spark(c).end(v, reconnect=bool(c.get("reconnect"))))
            else:
                self.spawn(self.clients[c["client"]].end(v))
        elif cmd == "client_id":
            self.spawn(self.clients[c["client"]].id())
        elif cmd == "set_online":
            self.clients[c["client"]].set_online(bool(c["online"]))
        elif cmd == "spark_info":
            sp = self.spark(c)
            r = {"spark": sp.id, "address": sp.address,
                 "headers": {h: sp.headers.get(h.lower()) for h in c.get("headers", [])},
                 "query": {q: sp.query.get(q) for q in c.get("query", []) if q in sp.query}}
            if c.get("all"):
                r.update(headers=dict(sp.headers), query=dict(sp.query))
            return r
        elif cmd == "emit":
            t = self.target(c)
            args = [native(a) for a in c.get("args", [])]
            if c.get("ack"):
                tm = c["timeout"] / 1000 if "timeout" in c else None
                self.spawn(self.ack(c["ref"], t.emit(c["event"], *args, ack=True, timeout=tm)))
            else:
                t.emit(c["event"], *args)
        elif cmd == "emit_all":
            return {"count": self.servers[c["server"]].emit(c["event"], *[native(a) for a in c.get("args", [])])}
        elif cmd == "reply":
            fut = self.replies.pop(c["reply"])
            if "resolve" in c:
                fut.set_result(native(c["resolve"]))
            else:
                fut.set_exception(weft.Rejected(native(c["reject"])))
        elif cmd in ("join", "leave"):
            getattr(self.spark(c), cmd)(c["room"])
        elif cmd == "client_join":
            cl = self.clients[c["client"]]
            self.spawn(self.ack(c["ref"], cl.leave(c["room"]) if c.get("leave") else cl.join(c["room"])))
        elif cmd in ("room_write", "room_emit"):
            sel = self.servers[c["server"]].to(*c["rooms"]).except_(*c.get("except", []))
            if cmd == "room_write":
                return {"count": sel.write(native(c["value"]))}
            return {"count": sel.emit(c["event"], *[native(a) for a in c.get("args", [])])}
        elif cmd == "channel_open":
            self.channel(c)
        elif cmd == "channel_write":
            return {"queued": not self.channel(c).write(native(c["value"]))}
        elif cmd == "channel_end":
            self.spawn(self.channel(c).end())
        elif cmd in ("channel_pause", "channel_resume"):
            getattr(self.channel(c), cmd[8:])()
        else:
            raise Cap(f"unknown command {cmd}")
        return {}

    def flood(self, c: dict[str, Any]) -> dict[str, Any]:
        sp = self.spark(c)
        payload = "x" * c["size"]
        writes, full = 0, False
        try:
            while writes < c["max"]:
                writes += 1
                if not sp.write(payload):
                    full = True
                    if c.get("until") != "error":
                        break
        except weft.Error as e:
            return {"writes": writes, "full": True, "code": e.name}
        return {"writes": writes, "full": full}

    async def quit(self) -> None:
        for srv in list(self.servers.values()):
            if not srv.closed:
                await srv.close(timeout=0.2)
        for cl in list(self.clients.values()):
            if not cl.ended:
                await cl.end()


def code_of(e: BaseException) -> str:
    if isinstance(e, Cap):
        return "ECAP"
    if isinstance(e, weft.Error):
        return e.name
    return type(e).__name__


async def main() -> None:
    loop = asyncio.get_running_loop()

    def on_exception(_loop: Any, ctx: dict[str, Any]) -> None:
        exc = ctx.get("exception")
        if isinstance(exc, MenuFailure):
            return  # the transform that fails on purpose
        out({"ev": "driver_error", "message": f"{ctx.get('message')}: {exc!r}"})

    loop.set_exception_handler(on_exception)
    drv = Driver()
    lines: asyncio.Queue[bytes | None] = asyncio.Queue()
    buf = bytearray()

    def readable() -> None:
        chunk = os.read(0, 65536)
        if not chunk:
            loop.remove_reader(0)
            lines.put_nowait(None)
            return
        buf.extend(chunk)
        while b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            if line.strip():
                lines.put_nowait(line)

    loop.add_reader(0, readable)
    out({"ev": "hello", "protocol": 1, "host": "python", "caps": CAPS, "pid": os.getpid()})
    while (line := await lines.get()) is not None:
        c = json.loads(line)
        if c["cmd"] == "quit":
            out({"id": c["id"], "ok": True})
            break
        try:
            r = await drv.run(c)
            out({**r, "id": c["id"], "ok": True})
        except Exception as e:  # every failure is a reply, never a crash
            out({"id": c["id"], "ok": False, "code": code_of(e), "message": str(e)})
    await asyncio.wait_for(drv.quit(), 2)


if __name__ == "__main__":
    asyncio.run(main())
