// src/msgpack.js
var MAX_DEPTH = 512;
var MsgpackError = class extends Error {
  constructor(message, offset) {
    super(message);
    this.name = "MsgpackError";
    this.offset = offset;
  }
};
var te = new TextEncoder();
var td = new TextDecoder("utf-8", { fatal: true });
function encode(value) {
  let buf = new Uint8Array(256);
  let view = new DataView(buf.buffer);
  let pos = 0;
  const need = (n) => {
    if (pos + n <= buf.length) return;
    let size = buf.length * 2;
    while (size < pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(buf);
    buf = next;
    view = new DataView(buf.buffer);
  };
  const u8 = (b) => {
    need(1);
    buf[pos++] = b;
  };
  const head = (tag, n, width) => {
    need(1 + width);
    buf[pos++] = tag;
    if (width === 1) view.setUint8(pos, n);
    else if (width === 2) view.setUint16(pos, n);
    else view.setUint32(pos, n);
    pos += width;
  };
  const sized = (n, fix, fixMax, t8, t16, t32) => {
    if (fix !== null && n <= fixMax) u8(fix | n);
    else if (t8 !== null && n < 256) head(t8, n, 1);
    else if (n < 65536) head(t16, n, 2);
    else head(t32, n, 4);
  };
  const bytes = (b) => {
    need(b.length);
    buf.set(b, pos);
    pos += b.length;
  };
  const int = (n) => {
    if (n >= 0) {
      if (n < 128) u8(n);
      else if (n < 256) head(204, n, 1);
      else if (n < 65536) head(205, n, 2);
      else if (n < 4294967296) head(206, n, 4);
      else {
        need(9);
        buf[pos++] = 207;
        view.setBigUint64(pos, BigInt(n));
        pos += 8;
      }
    } else if (n >= -32) {
      u8(n & 255);
    } else if (n >= -128) {
      need(2);
      buf[pos++] = 208;
      view.setInt8(pos++, n);
    } else if (n >= -32768) {
      need(3);
      buf[pos++] = 209;
      view.setInt16(pos, n);
      pos += 2;
    } else if (n >= -2147483648) {
      need(5);
      buf[pos++] = 210;
      view.setInt32(pos, n);
      pos += 4;
    } else {
      need(9);
      buf[pos++] = 211;
      view.setBigInt64(pos, BigInt(n));
      pos += 8;
    }
  };
  const walk = (v, depth) => {
    if (depth > MAX_DEPTH) throw new MsgpackError("value nested too deeply", pos);
    if (v === null || v === void 0) return u8(192);
    switch (typeof v) {
      case "boolean":
        return u8(v ? 195 : 194);
      case "number":
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) return int(v);
        need(9);
        buf[pos++] = 203;
        view.setFloat64(pos, v);
        pos += 8;
        return;
      case "bigint":
        if (v < -(2n ** 63n) || v >= 2n ** 64n) throw new MsgpackError("integer out of range", pos);
        need(9);
        buf[pos++] = v < 0n ? 211 : 207;
        if (v < 0n) view.setBigInt64(pos, v);
        else view.setBigUint64(pos, v);
        pos += 8;
        return;
      case "string": {
        const b = te.encode(v);
        sized(b.length, 160, 31, 217, 218, 219);
        return bytes(b);
      }
      case "object": {
        if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
          const b = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
          sized(b.length, null, 0, 196, 197, 198);
          return bytes(b);
        }
        if (typeof v.toJSON === "function") return walk(v.toJSON(), depth);
        if (Array.isArray(v)) {
          sized(v.length, 144, 15, null, 220, 221);
          for (const item of v) walk(item, depth + 1);
          return;
        }
        const keys = Object.keys(v).filter((k) => v[k] !== void 0 && typeof v[k] !== "function");
        sized(keys.length, 128, 15, null, 222, 223);
        for (const k of keys) {
          walk(k, depth + 1);
          walk(v[k], depth + 1);
        }
        return;
      }
      default:
        throw new MsgpackError(`cannot encode a ${typeof v}`, pos);
    }
  };
  walk(value, 0);
  return buf.slice(0, pos);
}
function decode(input) {
  const buf = input instanceof Uint8Array ? input : new Uint8Array(input);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const take = (n) => {
    if (pos + n > buf.length) throw new MsgpackError("truncated message", pos);
    const at = pos;
    pos += n;
    return at;
  };
  const str = (n) => {
    const at = take(n);
    try {
      return td.decode(buf.subarray(at, at + n));
    } catch (e) {
      throw new MsgpackError("invalid UTF-8", at);
    }
  };
  const bin = (n) => {
    const at = take(n);
    return buf.slice(at, at + n);
  };
  const big = (v2) => v2 >= BigInt(Number.MIN_SAFE_INTEGER) && v2 <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v2) : v2;
  const arr = (n, depth) => {
    const out = new Array(Math.min(n, buf.length - pos));
    for (let i = 0; i < n; i++) out[i] = read(depth + 1);
    return out;
  };
  const map = (n, depth) => {
    const out = {};
    for (let i = 0; i < n; i++) {
      const k = read(depth + 1);
      const key = typeof k === "string" ? k : String(k);
      const v2 = read(depth + 1);
      if (key === "__proto__") Object.defineProperty(out, key, { value: v2, enumerable: true, writable: true, configurable: true });
      else out[key] = v2;
    }
    return out;
  };
  const read = (depth) => {
    if (depth > MAX_DEPTH) throw new MsgpackError("value nested too deeply", pos);
    const at = take(1);
    const t = buf[at];
    if (t < 128) return t;
    if (t >= 224) return t - 256;
    if (t >= 160 && t <= 191) return str(t & 31);
    if (t >= 144 && t <= 159) return arr(t & 15, depth);
    if (t >= 128 && t <= 143) return map(t & 15, depth);
    switch (t) {
      case 192:
        return null;
      case 194:
        return false;
      case 195:
        return true;
      case 196:
        return bin(view.getUint8(take(1)));
      case 197:
        return bin(view.getUint16(take(2)));
      case 198:
        return bin(view.getUint32(take(4)));
      case 202:
        return view.getFloat32(take(4));
      case 203:
        return view.getFloat64(take(8));
      case 204:
        return view.getUint8(take(1));
      case 205:
        return view.getUint16(take(2));
      case 206:
        return view.getUint32(take(4));
      case 207:
        return big(view.getBigUint64(take(8)));
      case 208:
        return view.getInt8(take(1));
      case 209:
        return view.getInt16(take(2));
      case 210:
        return view.getInt32(take(4));
      case 211:
        return big(view.getBigInt64(take(8)));
      case 217:
        return str(view.getUint8(take(1)));
      case 218:
        return str(view.getUint16(take(2)));
      case 219:
        return str(view.getUint32(take(4)));
      case 220:
        return arr(view.getUint16(take(2)), depth);
      case 221:
        return arr(view.getUint32(take(4)), depth);
      case 222:
        return map(view.getUint16(take(2)), depth);
      case 223:
        return map(view.getUint32(take(4)), depth);
      default:
        throw new MsgpackError(`unsupported type 0x${t.toString(16)}`, at);
    }
  };
  const v = read(0);
  if (pos !== buf.length) throw new MsgpackError("trailing bytes after the message", pos);
  return v;
}

// src/eio.js
var SEP = "";
var b64 = (bytes) => {
  let s = "";
  for (let i = 0; i < bytes.length; i += 32768) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 32768));
  return btoa(s);
};
var unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;
var pack = (f) => typeof f === "string" ? "4" + f : "b" + b64(f);
var Eio = class {
  constructor(url, { WebSocket: WebSocket2, fetch: fetch2, websockets }) {
    const u = new URL(url);
    this._q = u.search ? "&" + u.search.slice(1) : "";
    this._http = `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}${u.pathname}/`;
    this._wsUrl = `${u.protocol}//${u.host}${u.pathname}/`;
    this._WS = websockets === false ? null : WebSocket2;
    this._fetch = fetch2;
    this._out = [];
    this._n = 0;
    this.transport = "polling";
    this.bufferedAmount = 0;
    this._poll();
  }
  _url(base, transport) {
    return `${base}?EIO=4&transport=${transport}&t=${Date.now().toString(36)}.${this._n++}${this.sid ? "&sid=" + this.sid : ""}${this._q}`;
  }
  _req(body) {
    const ctrl = new AbortController();
    const init = { signal: ctrl.signal, cache: "no-store", credentials: "include" };
    if (body !== void 0) Object.assign(init, { method: "POST", body, headers: { "Content-Type": "text/plain;charset=UTF-8" } });
    const p = this._fetch(this._url(this._http, "polling"), init).then((r) => {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    });
    p.abort = () => ctrl.abort();
    return p;
  }
  _poll() {
    if (this._done || this._get || this._ws_up) return;
    const p = this._get = this._req();
    p.then(
      (text) => {
        this._get = null;
        for (const pk of text.split(SEP)) this._packet(pk);
        if (this._pausing) this._upgrade();
        else this._poll();
      },
      () => this._end()
    );
  }
  _post() {
    if (this._done || this._postP || !this._out.length || this._ws_up) return;
    const body = this._out.join(SEP);
    this._out = [];
    const p = this._postP = this._req(body);
    p.then(
      () => {
        this._postP = null;
        if (this._pausing) this._upgrade();
        else this._post();
      },
      () => this._end()
    );
  }
  // One packet from the server, over either transport.
  _packet(pk) {
    if (this._done) return;
    const type = pk[0];
    if (type === "0" && !this.sid) {
      const h = JSON.parse(pk.slice(1));
      this.sid = h.sid;
      this._beatMs = h.pingInterval + h.pingTimeout;
      this._beat();
      if (this.onopen) this.onopen();
      if (this._WS && h.upgrades.includes("websocket") && !this._done) this._probe();
    } else if (type === "2") {
      this._beat();
      this._send("3");
    } else if (type === "4" || type === "b") {
      if (this.onmessage) this.onmessage({ data: type === "4" ? pk.slice(1) : unb64(pk.slice(1)) });
    } else if (type === "1") {
      this._end();
    }
  }
  _beat() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._end(), this._beatMs);
  }
  _probe() {
    let ws;
    try {
      ws = new this._WS(this._url(this._wsUrl, "websocket"));
    } catch (e) {
      return;
    }
    this._ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send("2probe");
    ws.onmessage = (ev) => {
      if (this._ws_up) {
        if (typeof ev.data === "string") this._packet(ev.data);
        else if (this.onmessage) this.onmessage(ev);
        return;
      }
      if (ev.data === "3probe") {
        this._pausing = true;
        this._upgrade();
      }
    };
    ws.onclose = () => {
      if (this._ws !== ws) return;
      this._ws = null;
      if (this._ws_up) return this._end();
      this._pausing = false;
      this._poll();
      this._post();
    };
  }
  // Once the poll and the post in flight are back: "5", and the rest goes over the WebSocket.
  _upgrade() {
    if (!this._pausing || this._get || this._postP || !this._ws) return;
    this._pausing = false;
    this._ws_up = true;
    this.transport = "websocket";
    this._ws.send("5");
    for (const pk of this._out) this._ws.send(pk);
    this._out = [];
  }
  _send(pk) {
    if (this._ws_up) this._ws.send(pk);
    else {
      this._out.push(pk);
      this._post();
    }
  }
  send(frame) {
    if (this._ws_up && typeof frame !== "string") this._ws.send(frame);
    else this._send(pack(frame));
  }
  _end(code) {
    if (this._done) return;
    this._done = true;
    clearTimeout(this._timer);
    if (this._get) this._get.abort();
    if (this._ws) {
      this._ws.onclose = this._ws.onmessage = null;
      this._ws.close();
    }
    if (this.onclose) this.onclose({ code: code || 1006 });
  }
  close() {
    if (!this._done && this.sid && !this._ws_up) this._fetch(this._url(this._http, "polling"), { method: "POST", body: "1" }).catch(() => {
    });
    this._end(1e3);
  }
};

// src/weft.js
var OPENING = 1;
var CLOSED = 2;
var OPEN = 3;
var CODES = {
  connect: "EIO",
  json: "EPARSE",
  msgpack: "EPARSE",
  emitter: "EPARSE",
  channel: "EPARSE",
  encode: "ETYPE",
  rejected: "EREJECTED",
  timeout: "ETIMEDOUT",
  reconnect: "ETIMEDOUT",
  closed: "ECLOSED",
  transform: "ETRANSFORM",
  exist: "EEXIST"
};
var WeftError = class extends Error {
  constructor(kind, message, extra) {
    super(message);
    this.name = "WeftError";
    this.kind = kind;
    this.code = CODES[kind];
    Object.assign(this, extra);
  }
};
var report = (e) => {
  if (typeof reportError === "function") reportError(e);
  else if (typeof console !== "undefined") console.error(e);
};
var Emitter = class {
  constructor() {
    this._events = /* @__PURE__ */ Object.create(null);
  }
  on(name, fn) {
    (this._events[name] || (this._events[name] = [])).push(fn);
    return this;
  }
  once(name, fn) {
    const wrap = (...args) => {
      this.off(name, wrap);
      fn.apply(this, args);
    };
    wrap.fn = fn;
    return this.on(name, wrap);
  }
  off(name, fn) {
    if (name === void 0) this._events = /* @__PURE__ */ Object.create(null);
    else if (!fn) delete this._events[name];
    else if (this._events[name]) this._events[name] = this._events[name].filter((l) => l !== fn && l.fn !== fn);
    return this;
  }
  emit(name, ...args) {
    const list = this._events[name];
    if (!list) return false;
    for (const fn of list.slice()) {
      try {
        fn.apply(this, args);
      } catch (e) {
        report(e);
      }
    }
    return true;
  }
  listeners(name) {
    return (this._events[name] || []).map((l) => l.fn || l);
  }
};
Emitter.prototype.addListener = Emitter.prototype.on;
Emitter.prototype.removeListener = Emitter.prototype.off;
Emitter.prototype.removeAllListeners = function(name) {
  return this.off(name);
};
function backoff(attempt, { min = 500, max = Infinity, factor = 2 } = {}, rand = Math.random()) {
  const d = Math.round((rand + 1) * min * Math.pow(factor, attempt - 1));
  return Math.min(d, max || Infinity);
}
var escapeLS = (s) => s.replace(/[\u2028\u2029]/g, (c) => c === "\u2028" ? "\\u2028" : "\\u2029");
var isBinary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);
var toBytes = (v) => v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
var toJSON = (k, v) => isBinary(v) ? { type: "Buffer", data: Array.from(toBytes(v)) } : typeof v === "bigint" ? JSON.rawJSON(v) : v;
var fromJSON = (k, v, c) => c && !Number.isSafeInteger(v) && /^-?\d{16,19}$/.test(c.source) && BigInt.asIntN(64, c = BigInt(c.source)) === c ? c : v;
var parsers = {
  json: {
    name: "json",
    encode(v) {
      if (isBinary(v)) return toBytes(v);
      const s = JSON.stringify(v, toJSON);
      if (s === void 0) throw new TypeError("cannot encode " + typeof v + " as JSON");
      return escapeLS(s);
    },
    decode(frame) {
      return typeof frame === "string" ? JSON.parse(frame, /\d{16}/.test(frame) ? fromJSON : void 0) : toBytes(frame);
    }
  },
  msgpack: {
    name: "msgpack",
    encode,
    decode(frame) {
      return typeof frame === "string" ? frame : decode(frame);
    }
  }
};
function strategyOf(s) {
  const out = { disconnect: false, online: false, timeout: false };
  if (s === false || s === null) return out;
  if (s === void 0) s = "disconnect,online,timeout";
  const list = Array.isArray(s) ? s : String(s).split(",");
  for (let name of list) {
    name = String(name).trim().toLowerCase();
    if (name === "" || name === "none") continue;
    if (!(name in out)) throw new TypeError(`unknown reconnect strategy "${name}"`);
    out[name] = true;
  }
  return out;
}
var RESERVED = /^(open|data|error|close|end|timeout|reconnect( scheduled| failed| timeout)?|reconnected|online|offline|id|log|pong|initialised|reconnecting|connection|disconnection|leaveallrooms|roomserror|leaveroom|joinroom|(incoming|outgoing|weft)::.*)$/;
var byteLength = (frame) => typeof frame === "string" ? new TextEncoder().encode(frame).length : frame.byteLength;
var Weft = class _Weft extends Emitter {
  constructor(url, options) {
    super();
    if (url !== null && typeof url === "object" && !(url instanceof URL)) {
      options = url;
      url = void 0;
    }
    const o = Object.assign({}, options);
    const base = typeof location !== "undefined" ? location.href : void 0;
    let u;
    try {
      u = new URL(url === void 0 ? base : String(url), base);
    } catch (e) {
      throw new TypeError(`invalid URL: ${url}`);
    }
    const scheme = { "http:": "ws:", "https:": "wss:", "ws:": "ws:", "wss:": "wss:" }[u.protocol];
    if (!scheme) throw new TypeError(`unsupported URL scheme ${u.protocol}`);
    const path = u.pathname && u.pathname !== "/" ? u.pathname.replace(/\/+$/, "") : o.pathname || "/primus";
    this.url = `${scheme}//${u.host}${path}${u.search}`;
    this._specUrl = `${scheme === "wss:" ? "https:" : "http:"}//${u.host}${path}/spec`;
    const r = Object.assign({ min: 500, max: Infinity, retries: 10, factor: 2 }, o.reconnect);
    if (!(r.min > 0) || !(r.factor >= 1) || !(r.max >= r.min) || !(r.retries >= 0))
      throw new TypeError("invalid reconnect options");
    this.options = o;
    this._reconnect = r;
    this._strategy = strategyOf(o.strategy);
    if (o.parser !== void 0 && !parsers[o.parser]) throw new TypeError(`unknown parser "${o.parser}"`);
    const tr = o.transformer && String(o.transformer).toLowerCase();
    const X = tr && _Weft.transformers[tr];
    if (tr && tr !== "websockets" && tr !== "engine.io" && !X) throw new TypeError(`unknown transformer "${o.transformer}"`);
    this._eio = tr === "engine.io";
    this._eioOk = this._eio;
    this._parser = parsers[o.parser || "json"];
    this._parserSet = o.parser !== void 0;
    this._timeout = o.timeout === void 0 ? 1e4 : o.timeout || 0;
    this._pingTimeoutSet = o.pingTimeout !== void 0;
    this._pingTimeout = this._pingTimeoutSet ? o.pingTimeout || 0 : 45e3;
    this._queueLimit = o.queueLimit || 0;
    const b = o.batching;
    this._batchMax = b === true ? 16384 : b ? +b : 0;
    if (!(this._batchMax >= 0)) throw new TypeError("invalid batching");
    this._bf = [];
    this._bb = 0;
    this._em = o.emitter ? { ids: 0, pending: /* @__PURE__ */ new Map(), timeout: o.emitter.timeout || 1e4 } : null;
    this._WebSocket = "WebSocket" in o ? o.WebSocket : typeof WebSocket !== "undefined" ? WebSocket : null;
    this._fetch = "fetch" in o ? o.fetch : typeof fetch !== "undefined" ? fetch.bind(globalThis) : null;
    this._random = o.random || Math.random;
    if (!this._WebSocket) throw new TypeError("no WebSocket (pass options.WebSocket)");
    this.readyState = CLOSED;
    this.online = true;
    this._ended = false;
    this._disconnect = false;
    this._reconnecting = false;
    this._retryPending = false;
    this._attempt = 0;
    this._delay = 0;
    this._specDone = false;
    this._conn = null;
    this._queue = [];
    this._queueBytes = 0;
    this._timers = {};
    this._tr = { incoming: [], outgoing: [] };
    this._plugins = /* @__PURE__ */ Object.create(null);
    if (o.network !== false && typeof window !== "undefined" && window.addEventListener) {
      this._onOnline = () => this.setOnline(true);
      this._onOffline = () => this.setOnline(false);
      window.addEventListener("online", this._onOnline);
      window.addEventListener("offline", this._onOffline);
      if (typeof navigator !== "undefined" && navigator.onLine === false) this.online = false;
    }
    for (const name in o.plugin) this.use(name, o.plugin[name]);
    this._X = X && X(this);
    if (!o.manual) this._later("open", () => this.open(), 0);
  }
  // ---- transforms and plugins (Primus's) ----
  /**
   * Adds a transform, run in the order added: type "incoming" (what the
   * server sends, after the emitter's packets) or "outgoing" (what write()
   * sends). fn(packet) changes packet.data or returns false to drop it;
   * fn(packet, next) is asynchronous: next(err) fails, next(null, false)
   * drops. A transform that fails or throws drops the message with an error
   * event of kind "transform" (code err.code when a string, else ETRANSFORM).
   */
  transform(type, fn) {
    if (!/^(incom|outgo)ing$/.test(type) || typeof fn !== "function") throw new TypeError("bad transform");
    this._tr[type].push(fn);
    return this;
  }
  _run(type, data, done) {
    const list = this._tr[type];
    const packet = { data };
    let i = 0;
    const fail = (e) => this.emit("error", new WeftError(
      "transform",
      `an ${type} transform failed: ${e && e.message || e}`,
      { cause: e, code: e && typeof e.code === "string" ? e.code : "ETRANSFORM" }
    ));
    const step = () => {
      try {
        while (i < list.length) {
          const fn = list[i++];
          if (fn.length > 1) {
            let called;
            return fn.call(this, packet, (err, arg) => {
              if (!called) called = 1, err ? fail(err) : arg !== false && step();
            });
          }
          if (fn.call(this, packet) === false) return;
        }
      } catch (e) {
        return fail(e);
      }
      done(packet.data);
    };
    step();
  }
  /**
   * Registers a plugin (Primus's shape): plugin.client(client, options) runs
   * now. Throws TypeError on a bad name or plugin, a WeftError EEXIST when
   * the name is taken; what the plugin's function throws leaves it unregistered.
   */
  use(name, plugin) {
    if (typeof name !== "string" || !name || !plugin || !(plugin.client || plugin.server))
      throw new TypeError("bad plugin");
    if (this._plugins[name]) throw new WeftError("exist", `plugin ${name} exists`);
    this._plugins[name] = plugin;
    try {
      if (plugin.client) plugin.client.call(this, this, this.options);
    } catch (e) {
      delete this._plugins[name];
      throw e;
    }
    return this;
  }
  /** The plugin registered under `name`, or all of them. */
  plugin(name) {
    return name ? this._plugins[name] : this._plugins;
  }
  // ---- timers ----
  _later(name, fn, ms) {
    this._clear(name);
    this._timers[name] = setTimeout(() => {
      delete this._timers[name];
      fn();
    }, ms);
  }
  _clear(name) {
    if (this._timers[name] !== void 0) clearTimeout(this._timers[name]);
    delete this._timers[name];
  }
  _info() {
    return { attempt: this._attempt, retries: this._reconnect.retries, delay: this._delay, scheduled: this._delay };
  }
  // ---- connecting ----
  /** Starts connecting (automatic unless `manual`). Returns false when already open, opening or ended. */
  open() {
    this._clear("open");
    if (this._ended || this.readyState !== CLOSED || this._conn || this._retryPending) return false;
    if (!this.online) return false;
    if (this._timeout) this._later("connect", () => this._onConnectTimeout(), this._timeout);
    this._start();
    return true;
  }
  _start() {
    this.readyState = OPENING;
    const a = { ws: null, open: false };
    this._conn = a;
    if (!this._specDone && (!this._parserSet || !this._pingTimeoutSet) && this._fetch) {
      const ctrl = typeof AbortController !== "undefined" ? new AbortController() : null;
      a.abort = () => ctrl && ctrl.abort();
      Promise.resolve().then(() => this._fetch(this._specUrl, ctrl ? { signal: ctrl.signal } : void 0)).then((res) => res && res.ok ? res.json() : null).catch(() => null).then((spec) => {
        if (this._conn !== a) return;
        this._specDone = true;
        if (spec && typeof spec === "object") {
          if (!this._parserSet && parsers[spec.parser]) this._parser = parsers[spec.parser];
          const names = [spec.transformer].concat(spec.transformers || []);
          if (names.includes("engine.io")) this._eioOk = true;
          if (spec.transformer === "engine.io" && !this.options.transformer) this._eio = true;
          if (!this._pingTimeoutSet) {
            if (spec.pingInterval === false) this._pingTimeout = 0;
            else if (spec.pingInterval > 0) this._pingTimeout = Math.round(spec.pingInterval * 1.5);
          }
        }
        this._connect(a);
      });
      return;
    }
    this._connect(a);
  }
  _connect(a) {
    let ws;
    const o = this.options;
    const eio = this._eioOk && (this._eio || this._fallback || o.websockets === false);
    try {
      ws = this._X ? this._X(this.url) : eio ? new Eio(this.url, { WebSocket: this._WebSocket, fetch: this._fetch, websockets: o.websockets }) : new this._WebSocket(this.url);
    } catch (e) {
      this._conn = a;
      return Promise.resolve().then(() => this._conn === a && this._lost(a, new WeftError("connect", e.message)));
    }
    a.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      if (this._conn !== a) return;
      a.open = true;
      this._opened();
    };
    ws.onmessage = (ev) => {
      if (this._conn === a && a.open) this._message(ev.data);
    };
    ws.onclose = (ev) => {
      if (this._conn !== a) return;
      if (!a.open && !eio && this._eioOk && this._fetch) {
        this._fallback = true;
        return this._connect(a);
      }
      this._lost(a, a.open ? null : new WeftError("connect", `connection failed (${ev && ev.code})`, { closeCode: ev && ev.code }));
    };
    ws.onerror = () => {
    };
  }
  _opened() {
    this._clear("connect");
    if (this._reconnecting) {
      const info = this._info();
      this._reconnecting = false;
      this._attempt = 0;
      this.emit("reconnected", info);
    }
    if (!this.online) {
      this.online = true;
      this.emit("online");
    }
    this.readyState = OPEN;
    this._heartbeat();
    const q = this._queue;
    this._queue = [];
    this._queueBytes = 0;
    for (const frame of q) this._conn.ws.send(frame);
    this.emit("open");
  }
  _heartbeat() {
    if (this._pingTimeout) this._later("ping", () => this._onPingTimeout(), this._pingTimeout);
  }
  _onPingTimeout() {
    if (this.readyState !== OPEN || !this._conn) return;
    if (this.online) {
      this.online = false;
      this.emit("offline");
      if (this.readyState !== OPEN || !this._conn) return;
    }
    const a = this._conn;
    this._closeSocket(a);
    this._lost(a, null);
  }
  _message(frame) {
    let v;
    try {
      v = this._parser.decode(frame);
    } catch (e) {
      this.emit("error", new WeftError(this._parser.name, `undecodable message: ${e.message}`, { offset: e.offset }));
      return;
    }
    const batch = v && typeof v === "object" && v["weft::batch"];
    if (Array.isArray(batch) && Object.keys(v).length === 1) {
      const conn = this._conn;
      for (const m of batch) {
        if (this._conn !== conn) break;
        this._value(m);
      }
      return;
    }
    this._value(v);
  }
  _value(v) {
    if (typeof v === "string" && v.startsWith("primus::")) {
      if (v.startsWith("primus::ping::")) {
        this._heartbeat();
        this._sendFrame(this._parser.encode("primus::pong::" + v.slice(14, 78)));
        return;
      }
      if (v === "primus::server::close") {
        this._disconnect = true;
        return;
      }
      if (v.startsWith("primus::id::")) {
        this.emit("id", v.slice(12));
        return;
      }
    }
    if (this._em && this._packet(v)) return;
    this._run("incoming", v, (d) => this.emit("data", d));
  }
  // ---- events with acknowledgements ----
  /** An emitter packet ({type: 0|1, data, id}) is handled here; else false. */
  _packet(v) {
    if (!v || typeof v !== "object" || v.type !== 0 && v.type !== 1 || !("data" in v || "id" in v))
      return false;
    const { type, data, id } = v;
    const bad = (why) => this.emit("error", new WeftError("emitter", why));
    if (type === 1) {
      const p = this._em.pending.get(id);
      if (!p) return bad(`unknown ack id ${id}`), true;
      this._em.pending.delete(id);
      clearTimeout(p.timer);
      const a = Array.isArray(data) ? data : [];
      if (a[0] != null) p.done(Object.assign(new WeftError("rejected", String(a[0])), { reason: a[0] }));
      else p.done(null, a.length > 1 ? a[1] : null);
      return true;
    }
    if (!Array.isArray(data) || typeof data[0] !== "string" || !data[0]) return bad("emitter event without a valid name"), true;
    const [name, ...args] = data;
    const answer = (d) => id != null && this._write({ type: 1, id, data: d });
    if (RESERVED.test(name)) return bad("reserved event name"), answer(["reserved event name"]), true;
    if (id != null) {
      if (!this.listeners(name).length) return answer([`no handler for ${name}`]), true;
      let sent = false;
      const ack = (err, value) => {
        if (!sent) answer(err != null ? [err] : [null, value === void 0 ? null : value]);
        sent = true;
      };
      args.push(ack);
    }
    this.emit(name, ...args);
    return true;
  }
  /** Fails every emit still waiting for its answer (the connection went away). */
  _failPending() {
    if (!this._em) return;
    const pending = [...this._em.pending.values()];
    this._em.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.done(new WeftError("closed", "the connection closed before the answer"));
    }
  }
  _emitPacket(event, args, done, timeout) {
    const packet = { type: 0, data: [event, ...args] };
    if (done) {
      const id = packet.id = this._em.ids = this._em.ids % 4294967295 + 1;
      const ms = timeout === void 0 ? this._em.timeout : timeout;
      const timer = ms ? setTimeout(() => {
        this._em.pending.delete(id);
        done(new WeftError("timeout", `no answer to ${event}`));
      }, ms) : void 0;
      this._em.pending.set(id, { done, timer });
    }
    return this._write(packet);
  }
  /**
   * Emits `event` to the server (primus-emitter's send): `send(event, ...args[, cb])`.
   * With a trailing function, the server is asked for an answer: `cb(err, value)`,
   * err a WeftError of kind "rejected" (err.reason), "timeout" or "closed".
   * Needs the `emitter` option; reserved names throw.
   */
  send(event, ...args) {
    this._check(event);
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    return this._emitPacket(event, args, cb);
  }
  /** `on` for an event the server emits: fn(...args, ack?) (ack when it wants an answer). */
  onEvent(event, fn) {
    return this.on(event, fn);
  }
  /** The promise form: resolves with the answer, rejects with its WeftError. */
  request(event, args = [], { timeout } = {}) {
    return new Promise((resolve, reject) => {
      this._check(event);
      this._emitPacket(event, args, (err, value) => err ? reject(err) : resolve(value), timeout);
    });
  }
  _check(event) {
    if (!this._em) throw new Error("the emitter option is off");
    if (typeof event !== "string" || !event || RESERVED.test(event)) throw new TypeError(`bad event name ${event}`);
  }
  /** Asks the server to put this connection in `room` (its rooms policy decides). */
  join(room) {
    return this._room("weft::join", room);
  }
  leave(room) {
    return this._room("weft::leave", room);
  }
  /** Leaves every room this connection is in. */
  leaveAll() {
    return this._room("weft::leave_all");
  }
  _room(event, room) {
    if (!this._em) return Promise.reject(new Error("the emitter option is off"));
    return new Promise(
      (resolve, reject) => this._emitPacket(event, room === void 0 ? [] : [String(room)], (err) => err ? reject(err) : resolve())
    );
  }
  _closeSocket(a, code) {
    if (a.abort) a.abort();
    if (a.ws) {
      a.ws.onopen = a.ws.onmessage = a.ws.onclose = null;
      try {
        if (code) a.ws.close(code);
        else a.ws.close();
      } catch (e) {
      }
    }
  }
  /** Leaves the current attempt to finish closing on its own. */
  _detach(sendClose) {
    const a = this._conn;
    if (!a) return;
    if (sendClose) this._seal();
    this._conn = null;
    this._closeSocket(a, sendClose && a.open ? 1e3 : 0);
  }
  _lost(a, err) {
    this._conn = null;
    this._clear("ping");
    if (this._ended) return;
    const prev = this.readyState;
    if (err && !this._reconnecting) this.emit("error", err);
    if (this._ended) return;
    this.readyState = CLOSED;
    if (this._disconnect) {
      this._disconnect = false;
      if (prev === OPEN) this.emit("close");
      this._end();
      return;
    }
    if (prev !== OPEN) {
      if (this._reconnecting) {
        this._recover();
      } else if (this._timers.connect !== void 0 || !this._timeout) {
        this._clear("connect");
        if (this._strategy.timeout) this._recover();
        else this._end();
      }
      return;
    }
    this._failPending();
    this.emit("close");
    if (this._ended) return;
    if (this._strategy.disconnect) this._recover();
    else this._end();
  }
  _onConnectTimeout() {
    if (this.readyState === OPEN || this._ended) return;
    if (this._reconnecting) {
      this.emit("reconnect timeout", new WeftError("timeout", "Failed to reconnect in a timely manner"), this._info());
      if (this._ended) return;
      this._detach(false);
      this.readyState = CLOSED;
      this._recover();
      return;
    }
    this.emit("timeout");
    if (this._ended) return;
    this._detach(false);
    this.readyState = CLOSED;
    if (this._strategy.timeout) this._recover();
    else this._end();
  }
  // ---- recovery ----
  _recover() {
    if (this._retryPending || this._ended) return;
    this._reconnecting = true;
    this._attempt++;
    if (this._attempt > this._reconnect.retries) {
      this._attempt--;
      const info = this._info();
      this._reconnecting = false;
      this.emit("reconnect failed", new WeftError("reconnect", "Unable to recover"), info);
      this._end();
      return;
    }
    this._delay = backoff(this._attempt, this._reconnect, this._random());
    this.emit("reconnect scheduled", this._info());
    if (this._ended) return;
    this.readyState = CLOSED;
    this._retryPending = true;
    this._later("retry", () => this._retry(), this._delay);
  }
  _retry() {
    this._retryPending = false;
    if (this._ended) return;
    this.emit("reconnect", this._info());
    if (this._ended || this._conn) return;
    if (this._timeout) this._later("connect", () => this._onConnectTimeout(), this._timeout);
    this._start();
  }
  // ---- writing ----
  _sendFrame(frame) {
    let n;
    if (this.readyState === OPEN && this._conn && this._conn.open) {
      if (this._batchMax && typeof frame === "string" === (this._parser === parsers.json) && (n = byteLength(frame)) <= this._batchMax) {
        if (this._bb && this._bb + n > this._batchMax) this._seal();
        if (!this._bf.length) queueMicrotask(() => this._seal());
        this._bf.push(frame);
        this._bb += n + 1;
        return true;
      }
      this._seal();
      this._conn.ws.send(frame);
      return true;
    }
    n = byteLength(frame);
    if (this._queueLimit && this._queueBytes + n > this._queueLimit) return false;
    this._queue.push(frame);
    this._queueBytes += n;
    return true;
  }
  /** Sends what this turn batched: one message as it is, more in the envelope. */
  _seal() {
    const f = this._bf;
    const ws = this._conn && this._conn.open && this._conn.ws;
    this._bf = [];
    this._bb = 0;
    if (!f.length || !ws) return;
    let out = f[0];
    if (f.length > 1) {
      if (typeof out === "string") out = '{"weft::batch":[' + f.join() + "]}";
      else {
        const h = encode({ "weft::batch": f.map(() => null) });
        const parts = [h.subarray(0, h.length - f.length), ...f];
        out = new Uint8Array(parts.reduce((t, p) => t + p.length, 0));
        parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
      }
    }
    ws.send(out);
  }
  /**
   * Sends a message past the outgoing transforms, or queues it while not
   * open (sent in order before the next `open`). Returns false when the
   * client has ended, the queue limit is reached, or the value cannot be
   * encoded (an `error` event of kind "encode" says why); true when a
   * transform dropped it or an asynchronous one holds it.
   */
  write(data) {
    let ret = !this._ended;
    if (ret) this._run("outgoing", data, (d) => ret = this._write(d));
    return ret;
  }
  /** write() without the transforms (the emitter's and plugins' packets). */
  _write(data) {
    if (this._ended) return false;
    let frame;
    try {
      frame = this._parser.encode(data);
    } catch (e) {
      this.emit("error", new WeftError("encode", e.message));
      return false;
    }
    return this._sendFrame(frame);
  }
  /** What carries the connection: "websocket", "polling" (engine.io), or null when none. */
  get transport() {
    const ws = this._conn && this._conn.open && this._conn.ws;
    return ws ? ws.transport || "websocket" : null;
  }
  /** Bytes written but not yet sent (queued while offline included). */
  get bufferedAmount() {
    const ws = this._conn && this._conn.ws;
    return this._queueBytes + (ws && ws.bufferedAmount ? ws.bufferedAmount : 0);
  }
  /** Asks the server for this connection's spark id; `fn(id)` and the `id` event answer. */
  id(fn) {
    if (this._ended) return false;
    if (typeof fn === "function") this.once("id", fn);
    return this._sendFrame(this._parser.encode("primus::id::"));
  }
  /** Tells the client the network went away (false) or came back (true). */
  setOnline(online) {
    if (!online && this.online) {
      this.online = false;
      this.emit("offline");
      if (this._ended) return;
      if (this._conn) {
        const wasOpen = this.readyState === OPEN;
        this._detach(false);
        this._failPending();
        if (wasOpen) this.emit("close");
      }
      this._clear("retry");
      this._clear("ping");
      this._clear("connect");
      this._retryPending = false;
      this._reconnecting = false;
      this._attempt = 0;
      this.readyState = CLOSED;
    } else if (online && !this.online) {
      this.online = true;
      this.emit("online");
      if (this._strategy.online && !this._ended && !this._conn && this.readyState === CLOSED) this._recover();
    }
  }
  _end() {
    if (this._ended) return;
    const prev = this.readyState;
    this._ended = true;
    this._reconnecting = false;
    this._retryPending = false;
    for (const name of Object.keys(this._timers)) this._clear(name);
    this._detach(true);
    this._queue = [];
    this._queueBytes = 0;
    this.readyState = CLOSED;
    this._failPending();
    if (this._onOnline) {
      window.removeEventListener("online", this._onOnline);
      window.removeEventListener("offline", this._onOffline);
      this._onOnline = this._onOffline = null;
    }
    if (prev !== CLOSED) this.emit("close");
    this.emit("end");
  }
  /**
   * Closes for good: writes `data` first when given and open, closes the
   * connection (1000), emits `close` (when it was open or opening) and `end`.
   * Queued writes that never went out are dropped. Returns false when already ended.
   */
  end(data) {
    if (this._ended) return false;
    if (data !== void 0 && this.readyState === OPEN) this.write(data);
    this._end();
    return true;
  }
  /** Ends the client and removes every listener. */
  destroy() {
    this.end();
    this.off();
  }
  /** new Weft(url, options), as Primus.connect. */
  static connect(url, options) {
    return new this(url, options);
  }
};
Weft.OPENING = OPENING;
Weft.CLOSED = CLOSED;
Weft.OPEN = OPEN;
Weft.backoff = backoff;
Weft.parsers = parsers;
Weft.transformers = {};
Weft.WeftError = WeftError;
Weft.Emitter = Emitter;
Weft.version = "0.1.0";
var weft_default = Weft;
export {
  Emitter,
  Weft,
  WeftError,
  backoff,
  weft_default as default,
  parsers
};
