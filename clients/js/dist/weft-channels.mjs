// src/channels.js
import { Emitter, WeftError } from "./weft.mjs";
var CREDIT_MAX = 2 ** 30;
var te = new TextEncoder();
var nameOk = (n) => typeof n === "string" && !!n && !n.includes("\0") && te.encode(n).length <= 255 && (!n.isWellFormed || n.isWellFormed());
var Channel = class extends Emitter {
  constructor(client, window, name, forget) {
    super();
    this.client = client;
    this.name = name;
    this._window = window;
    this._forget = forget;
    this._credit = window;
    this._unacked = 0;
    this._consumed = 0;
    this._paused = this._ending = this._done = this._delivering = false;
    this._out = [];
    this._in = [];
  }
  /** Messages waiting for the peer's credit. */
  get queued() {
    return this._out.length;
  }
  /** True once end() was called or the peer ended it. */
  get ended() {
    return this._ending;
  }
  /**
   * Sends `msg` on the channel: true when it left, false when it waits for
   * credit (a `drain` event follows). Throws a WeftError (code ECLOSED) once ended.
   */
  write(msg) {
    if (this._ending) throw new WeftError("closed", `channel ${this.name} has ended`);
    if (this._credit && !this._out.length) {
      this._credit--;
      this._send(2, { data: msg });
      return true;
    }
    this._out.push(msg);
    return false;
  }
  /** Ends the channel (what waits is dropped); `end` follows the peer's answer. False when already ended. */
  end() {
    if (this._ending) return false;
    this._ending = true;
    this._out = [];
    this._in = [];
    this._send(3);
    return true;
  }
  /** Stops delivering (and granting credit): the peer's messages wait. */
  pause() {
    this._paused = true;
  }
  /** Delivers what waited, in order, and grants credit again. */
  resume() {
    if (!this._paused) return;
    this._paused = false;
    this._drainIn();
  }
  _send(type, extra) {
    this.client._write({ type, ch: this.name, ...extra });
  }
  _data(msg, bad) {
    if (this._ending) return;
    if (++this._unacked > this._window) {
      this._unacked--;
      return bad("EPROTO", "channel message beyond the granted window");
    }
    this._in.push(msg);
    this._drainIn();
  }
  _drainIn() {
    if (this._delivering) return;
    this._delivering = true;
    while (!this._paused && !this._ending && this._in.length) {
      this._consumed++;
      this.emit("data", this._in.shift());
    }
    this._delivering = false;
    const w = this._window;
    if (!this._ending && this._consumed >= (w >> 1) + (w === 1)) {
      this._send(4, { credit: this._consumed });
      this._unacked -= this._consumed;
      this._consumed = 0;
    }
  }
  _flush() {
    const had = this._out.length;
    while (this._credit && this._out.length && !this._ending) {
      this._credit--;
      this._send(2, { data: this._out.shift() });
    }
    if (had && !this._out.length && !this._ending) this.emit("drain");
  }
  _finish() {
    if (this._done) return;
    this._done = this._ending = true;
    this._forget(this);
    this.emit("end");
  }
};
function channels({ window = 64 } = {}) {
  if (!Number.isInteger(window) || window < 1 || window > 65536)
    throw new TypeError("channels: window must be an integer in 1..65536");
  return {
    client(client) {
      const open = /* @__PURE__ */ new Map();
      const forget = (c) => open.get(c.name) === c && open.delete(c.name);
      const make = (name) => {
        const c = new Channel(client, window, name, forget);
        open.set(name, c);
        return c;
      };
      const bad = (code, message) => client.emit("error", new WeftError("channel", message, { code }));
      client.channel = (name) => {
        if (!nameOk(name)) throw new TypeError("channel name: 1..255 bytes of UTF-8 without NUL");
        const c = open.get(name);
        if (c && !c._ending) return c;
        if (c || client.readyState !== client.constructor.OPEN)
          throw new WeftError("closed", `channel ${name}: ${c ? "ending" : "the client is not open"}`);
        return make(name);
      };
      client.transform("incoming", (packet) => {
        const m = packet.data;
        if (!m || typeof m !== "object" || ![2, 3, 4].includes(m.type) || !("ch" in m)) return true;
        if (!nameOk(m.ch)) return bad("EPARSE", "channel packet without a valid channel name"), false;
        const credit = m.credit;
        if (m.type === 2 ? !("data" in m) : m.type === 4 && !(Number.isInteger(credit) && credit >= 1 && credit <= CREDIT_MAX))
          return bad("EPARSE", "malformed channel packet"), false;
        let c = open.get(m.ch);
        if (m.type === 3) {
          if (c && !c._ending) c.end();
          if (c) c._finish();
        } else if (m.type === 4) {
          if (c && !c._ending) {
            if (c._credit + credit > CREDIT_MAX) bad("EPROTO", "channel credit overflow");
            else c._credit += credit;
            c._flush();
          }
        } else {
          if (!c) {
            c = make(m.ch);
            if (!client.listeners("channel").length) {
              bad("EUNSUPPORTED", `channel ${m.ch} opened by the server, and nobody takes it`);
              c.end();
              return false;
            }
            client.emit("channel", c);
          }
          c._data(m.data, bad);
        }
        return false;
      });
      const gone = () => {
        for (const c of [...open.values()]) c._finish();
      };
      client.on("close", gone);
      client.on("end", gone);
    }
  };
}
var channels_default = channels;
export {
  Channel,
  channels,
  channels_default as default
};
