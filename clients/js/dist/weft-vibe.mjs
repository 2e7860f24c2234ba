// src/vibe-esm.js
import { Weft } from "./weft.mjs";

// src/vibe.js
var TRANSPORTS = { ws: "ws", stream: "httpstream", longpoll: "httplongpoll" };
var Vibe = class {
  constructor(url, transport, fetch, WS) {
    this.transport = transport;
    this.bufferedAmount = 0;
    this._fetch = fetch;
    this._seq = 0;
    this._n = 0;
    this._asked = /* @__PURE__ */ new Map();
    this._posts = [];
    const u = new URL(url);
    if (transport === "ws") {
      const ws = this._ws = new WS(url);
      ws.onmessage = (ev) => this._text(String(ev.data));
      ws.onclose = () => this._end();
      return;
    }
    u.protocol = u.protocol === "wss:" ? "https:" : "http:";
    u.searchParams.set("transport", transport === "httpstream" ? "stream" : "longpoll");
    this._url = u;
    if (transport === "httpstream") this._stream();
    else this._get("open").then((t) => this._id(t) && this._poll(), () => this._end());
  }
  // A request to the URL with when= and id= (the reference's targets).
  _req(when, init) {
    const u = new URL(this._url);
    if (when) u.searchParams.set("when", when);
    if (this.id) u.searchParams.set("id", this.id);
    const ctrl = new AbortController();
    if (when === "open" || when === "poll") this._abort = () => ctrl.abort();
    return this._fetch(u.href, Object.assign({ cache: "no-store", signal: ctrl.signal }, init)).then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r;
    });
  }
  _get(when) {
    return this._req(when).then((r) => r.text());
  }
  // "?id=<id>": the socket's name; anything else ends it.
  _id(text) {
    const m = /^\?id=([\w-]{1,63})(&|$)/.exec(text);
    if (!m) return this._end(), false;
    this.id = m[1];
    return true;
  }
  _poll() {
    if (this._done) return;
    this._get("poll").then((t) => {
      if (!t) return this._end();
      this._poll();
      this._text(t);
    }, () => this._end());
  }
  _stream() {
    let buf = "";
    const dec = new TextDecoder();
    this._req("open").then((r) => {
      const reader = r.body.getReader();
      const read = () => reader.read().then(({ done, value }) => {
        if (done || this._done) return this._end();
        buf += dec.decode(value, { stream: true });
        for (; ; ) {
          buf = buf.replace(/^\s+/, "");
          const at = buf.indexOf("\n\n");
          if (at < 0 || this._done) break;
          const text = buf.slice(0, at).split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(l[5] === " " ? 6 : 5)).join("\n");
          buf = buf.slice(at + 2);
          if (!this.id) this._id(text);
          else this._text(text);
        }
        return read();
      });
      read().catch(() => this._end());
    }, () => this._end());
  }
  // One text from the server: the handshake first, then events.
  _text(text) {
    if (this._done) return;
    if (!this._open) {
      const q = new URLSearchParams(text.slice(1));
      if (text[0] !== "?") return this._end();
      this._hb = +q.get("heartbeat") || 2e4;
      this._wait = +q.get("_heartbeat") || 5e3;
      this._open = true;
      this._beat();
      return this.onopen && this.onopen();
    }
    let e;
    try {
      e = JSON.parse(text);
    } catch (err) {
      return this._end();
    }
    if (!e || typeof e.type !== "string") return this._end();
    let packet;
    if (e.type === "heartbeat") return this._beat();
    if (e.type === "reply") {
      const d = e.data || {};
      packet = { type: 1, id: +d.id, data: d.exception ? [d.data] : [null, d.data] };
    } else {
      packet = { type: 0, data: "data" in e ? [e.type, e.data] : [e.type] };
      if (e.reply && e.id != null) {
        this._asked.set(packet.id = ++this._n, e.id);
      }
    }
    if (this.onmessage) this.onmessage({ data: JSON.stringify(packet) });
  }
  // Vibe's heartbeat: one `heartbeat - _heartbeat` ms after the last echo
  // (or the open), then `_heartbeat` ms for its echo.
  _beat() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      this._event("heartbeat");
      this._timer = setTimeout(() => this._end(), this._wait);
    }, this._hb - this._wait);
  }
  _event(type, data, id, reply) {
    const e = { id: id || `n${++this._seq}`, type, reply: !!reply };
    if (data !== void 0) e.data = data;
    const text = JSON.stringify(e);
    if (this._ws) return this._ws.send(text);
    this._posts.push(`data=${text}`);
    if (this._posts.length === 1) this._post();
  }
  // One post at a time, in order.
  _post() {
    if (this._done || !this._posts.length) return;
    this._req(null, { method: "POST", body: this._posts[0], headers: { "Content-Type": "text/plain; charset=utf-8" } }).catch(() => {
    }).then(() => {
      this._posts.shift();
      this._post();
    });
  }
  /** A frame of the client's json parser. */
  send(frame) {
    const v = JSON.parse(frame);
    if (typeof v === "string" && v.startsWith("primus::")) return;
    const t = v && typeof v === "object" && Array.isArray(v.data) ? v.type : -1;
    if (t === 0 && typeof v.data[0] === "string") this._event(v.data[0], v.data[1], v.id && String(v.id), v.id);
    else if (t === 1 && this._asked.has(v.id)) {
      const ok = v.data.length > 1 && v.data[0] === null;
      const to = this._asked.get(v.id);
      this._asked.delete(v.id);
      this._event("reply", { id: to, data: ok ? v.data[1] : v.data[0], exception: !ok });
    } else if (t < 0 || t > 4) this._event("message", v);
  }
  _end() {
    if (this._done) return;
    this._done = true;
    clearTimeout(this._timer);
    if (this._abort) this._abort();
    if (this._ws) {
      this._ws.onclose = this._ws.onmessage = null;
      this._ws.close();
    }
    if (this.onclose) this.onclose({ code: 1006 });
  }
  // An orderly close: the server told (when=abort) before the stream or the
  // poll is cut, as the C client does (decision #27).
  close() {
    if (this._done) return;
    this._done = true;
    clearTimeout(this._timer);
    if (this._ws) return this._ws.close(1e3);
    const cut = () => this._abort && this._abort();
    if (!this.id) return cut();
    const timer = setTimeout(cut, 2e3);
    this._get("abort").catch(() => {
    }).then(() => (clearTimeout(timer), cut()));
  }
};
function vibe(client) {
  const o = client.options;
  const q = new URL(client.url).searchParams.get("transport");
  const inUrl = q === null ? null : TRANSPORTS[q];
  if (inUrl === void 0 || o.transport !== void 0 && !Object.values(TRANSPORTS).includes(o.transport))
    throw new TypeError(`unknown Vibe transport "${inUrl === void 0 ? q : o.transport}" (ws, httpstream or httplongpoll)`);
  if (inUrl && o.transport !== void 0 && inUrl !== o.transport)
    throw new TypeError(`the transport option "${o.transport}" and the URL's transport=${q} disagree`);
  const transport = o.transport || inUrl || "ws";
  client._specDone = true;
  client._pingTimeout = 0;
  client._pingTimeoutSet = true;
  return (url) => new Vibe(url, transport, client._fetch, client._WebSocket);
}

// src/vibe-esm.js
Weft.transformers.vibe = vibe;
export {
  Vibe,
  vibe
};
