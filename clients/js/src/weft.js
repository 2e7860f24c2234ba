// weft's browser client: Primus 8's `websockets` wire protocol with the
// behaviour of weft's C client (core/client.c): randomized exponential
// backoff with strategies, heartbeat answering with a ping timeout,
// online/offline, a write queue while not open, id(), end(), the server's
// primus::server::close, json and msgpack parsers (read from <path>/spec).
import { encode as mpEncode, decode as mpDecode } from './msgpack.js';
import { Eio } from './eio.js';

const OPENING = 1;
const CLOSED = 2;
const OPEN = 3;

// weft's code name of each kind of failure (include/weft/weft.h's table,
// as the C core and the other hosts report them).
const CODES = {
  connect: 'EIO',
  json: 'EPARSE',
  msgpack: 'EPARSE',
  emitter: 'EPARSE',
  channel: 'EPARSE',
  encode: 'ETYPE',
  rejected: 'EREJECTED',
  timeout: 'ETIMEDOUT',
  reconnect: 'ETIMEDOUT',
  closed: 'ECLOSED',
  transform: 'ETRANSFORM',
  exist: 'EEXIST'
};

/** Error with the class of failure in `kind` and weft's code name in `code` (as the C client's error events). */
export class WeftError extends Error {
  constructor(kind, message, extra) {
    super(message);
    this.name = 'WeftError';
    this.kind = kind;
    this.code = CODES[kind];
    Object.assign(this, extra);
  }
}

const report = (e) => {
  // A listener that throws must not break the client's state machine: the
  // exception is reported as uncaught would be, and the client goes on.
  if (typeof reportError === 'function') reportError(e);
  else if (typeof console !== 'undefined') console.error(e);
};

/** A small event emitter (on/once/off/emit), listeners isolated from each other. */
export class Emitter {
  constructor() {
    this._events = Object.create(null);
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
    if (name === undefined) this._events = Object.create(null);
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
}
Emitter.prototype.addListener = Emitter.prototype.on;
Emitter.prototype.removeListener = Emitter.prototype.off;
Emitter.prototype.removeAllListeners = function (name) {
  return this.off(name);
};

/**
 * The wait before reconnect attempt `attempt` (1 for the first):
 * min(round((rand + 1) * min * factor^(attempt-1)), max), rand in [0, 1).
 */
export function backoff(attempt, { min = 500, max = Infinity, factor = 2 } = {}, rand = Math.random()) {
  const d = Math.round((rand + 1) * min * Math.pow(factor, attempt - 1));
  return Math.min(d, max || Infinity);
}

const escapeLS = (s) => s.replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
const isBinary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);
const toBytes = (v) =>
  v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
// Binary inside a JSON message: Node's Buffer object, as the C core writes
// it; a BigInt as its digits (JSON.rawJSON, where the browser has it).
const toJSON = (k, v) =>
  isBinary(v) ? { type: 'Buffer', data: Array.from(toBytes(v)) } : typeof v === 'bigint' ? JSON.rawJSON(v) : v;
// Ints beyond 2^53 read exactly, as BigInt (as msgpack's), when they fit
// int64 (the C core reads others as doubles): from the number's source
// text, where JSON.parse gives it to a reviver; only asked of frames with a
// run of 16 digits.
const fromJSON = (k, v, c) =>
  c && !Number.isSafeInteger(v) && /^-?\d{16,19}$/.test(c.source) && BigInt.asIntN(64, (c = BigInt(c.source))) === c ? c : v;

/**
 * The parsers: encode(value) gives what WebSocket.send takes (a string for
 * a text frame, a Uint8Array for a binary frame); decode(frame) takes a
 * string (text frame) or an ArrayBuffer (binary frame). Both throw on bad
 * input. json passes binary through as binary frames, as Primus does, and
 * writes binary inside a message as {"type": "Buffer", "data": [...]}
 * (read back as that object, as the C core and Node do).
 */
export const parsers = {
  json: {
    name: 'json',
    encode(v) {
      if (isBinary(v)) return toBytes(v);
      const s = JSON.stringify(v, toJSON);
      if (s === undefined) throw new TypeError('cannot encode ' + typeof v + ' as JSON');
      return escapeLS(s);
    },
    decode(frame) {
      return typeof frame === 'string' ? JSON.parse(frame, /\d{16}/.test(frame) ? fromJSON : undefined) : toBytes(frame);
    }
  },
  msgpack: {
    name: 'msgpack',
    encode: mpEncode,
    decode(frame) {
      return typeof frame === 'string' ? frame : mpDecode(frame);
    }
  }
};

function strategyOf(s) {
  const out = { disconnect: false, online: false, timeout: false };
  if (s === false || s === null) return out;
  if (s === undefined) s = 'disconnect,online,timeout';
  const list = Array.isArray(s) ? s : String(s).split(',');
  for (let name of list) {
    name = String(name).trim().toLowerCase();
    if (name === '' || name === 'none') continue;
    if (!(name in out)) throw new TypeError(`unknown reconnect strategy "${name}"`);
    out[name] = true;
  }
  return out;
}

// Names a remote event may not have: the client's own events, Primus's and
// primus-emitter's, and the core's reserved prefixes (docs/extensions.md).
const RESERVED =
  /^(open|data|error|close|end|timeout|reconnect( scheduled| failed| timeout)?|reconnected|online|offline|id|log|pong|initialised|reconnecting|connection|disconnection|leaveallrooms|roomserror|leaveroom|joinroom|(incoming|outgoing|weft)::.*)$/;

const byteLength = (frame) => (typeof frame === 'string' ? new TextEncoder().encode(frame).length : frame.byteLength);

/**
 * The client. `new Weft(url, options)` connects on the next tick unless
 * `options.manual`; see README.md and weft.d.ts for the options and events.
 */
export class Weft extends Emitter {
  constructor(url, options) {
    super();
    if (url !== null && typeof url === 'object' && !(url instanceof URL)) {
      options = url;
      url = undefined;
    }
    const o = Object.assign({}, options);
    const base = typeof location !== 'undefined' ? location.href : undefined;
    let u;
    try {
      u = new URL(url === undefined ? base : String(url), base);
    } catch (e) {
      throw new TypeError(`invalid URL: ${url}`);
    }
    const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[u.protocol];
    if (!scheme) throw new TypeError(`unsupported URL scheme ${u.protocol}`);
    const path = u.pathname && u.pathname !== '/' ? u.pathname.replace(/\/+$/, '') : o.pathname || '/primus';
    this.url = `${scheme}//${u.host}${path}${u.search}`;
    this._specUrl = `${scheme === 'wss:' ? 'https:' : 'http:'}//${u.host}${path}/spec`;

    const r = Object.assign({ min: 500, max: Infinity, retries: 10, factor: 2 }, o.reconnect);
    if (!(r.min > 0) || !(r.factor >= 1) || !(r.max >= r.min) || !(r.retries >= 0))
      throw new TypeError('invalid reconnect options');
    this.options = o;
    this._reconnect = r;
    this._strategy = strategyOf(o.strategy);
    if (o.parser !== undefined && !parsers[o.parser]) throw new TypeError(`unknown parser "${o.parser}"`);
    const tr = o.transformer && String(o.transformer).toLowerCase();
    // Another framing than these two comes from an optional module
    // (weft-vibe.js): Weft.transformers[name](client) sets the client up and
    // returns what makes its socket from the URL.
    const X = tr && Weft.transformers[tr];
    if (tr && tr !== 'websockets' && tr !== 'engine.io' && !X) throw new TypeError(`unknown transformer "${o.transformer}"`);
    // engine.io: asked for, or the spec says the server speaks it (then a
    // WebSocket that cannot open falls back to it, and `websockets: false`
    // polls).
    this._eio = tr === 'engine.io';
    this._eioOk = this._eio;
    this._parser = parsers[o.parser || 'json'];
    this._parserSet = o.parser !== undefined;
    this._timeout = o.timeout === undefined ? 10000 : o.timeout || 0;
    this._pingTimeoutSet = o.pingTimeout !== undefined;
    this._pingTimeout = this._pingTimeoutSet ? o.pingTimeout || 0 : 45000;
    this._queueLimit = o.queueLimit || 0;
    // Batching (docs/extensions.md): what one turn writes leaves as one
    // {"weft::batch": [...]} frame of at most this many bytes.
    const b = o.batching;
    this._batchMax = b === true ? 16384 : b ? +b : 0;
    if (!(this._batchMax >= 0)) throw new TypeError('invalid batching');
    this._bf = [];
    this._bb = 0;
    // Events with acknowledgements (primus-emitter's packets), when asked for.
    this._em = o.emitter ? { ids: 0, pending: new Map(), timeout: o.emitter.timeout || 10000 } : null;
    this._WebSocket = 'WebSocket' in o ? o.WebSocket : typeof WebSocket !== 'undefined' ? WebSocket : null;
    this._fetch = 'fetch' in o ? o.fetch : typeof fetch !== 'undefined' ? fetch.bind(globalThis) : null;
    this._random = o.random || Math.random;
    if (!this._WebSocket) throw new TypeError('no WebSocket (pass options.WebSocket)');

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
    this._plugins = Object.create(null); // any name, "constructor" too

    if (o.network !== false && typeof window !== 'undefined' && window.addEventListener) {
      this._onOnline = () => this.setOnline(true);
      this._onOffline = () => this.setOnline(false);
      window.addEventListener('online', this._onOnline);
      window.addEventListener('offline', this._onOffline);
      if (typeof navigator !== 'undefined' && navigator.onLine === false) this.online = false;
    }
    for (const name in o.plugin) this.use(name, o.plugin[name]);
    this._X = X && X(this);
    if (!o.manual) this._later('open', () => this.open(), 0);
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
    if (!/^(incom|outgo)ing$/.test(type) || typeof fn !== 'function') throw new TypeError('bad transform');
    this._tr[type].push(fn);
    return this;
  }

  _run(type, data, done) {
    const list = this._tr[type];
    const packet = { data };
    let i = 0;
    const fail = (e) =>
      this.emit('error', new WeftError('transform', `an ${type} transform failed: ${e && e.message || e}`,
        { cause: e, code: e && typeof e.code === 'string' ? e.code : 'ETRANSFORM' }));
    const step = () => {
      try {
        while (i < list.length) {
          const fn = list[i++];
          if (fn.length > 1) {
            let called;
            return fn.call(this, packet, (err, arg) => {
              if (!called) (called = 1), err ? fail(err) : arg !== false && step();
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
    if (typeof name !== 'string' || !name || !plugin || !(plugin.client || plugin.server))
      throw new TypeError('bad plugin');
    if (this._plugins[name]) throw new WeftError('exist', `plugin ${name} exists`);
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
    if (this._timers[name] !== undefined) clearTimeout(this._timers[name]);
    delete this._timers[name];
  }
  _info() {
    return { attempt: this._attempt, retries: this._reconnect.retries, delay: this._delay, scheduled: this._delay };
  }

  // ---- connecting ----

  /** Starts connecting (automatic unless `manual`). Returns false when already open, opening or ended. */
  open() {
    this._clear('open');
    if (this._ended || this.readyState !== CLOSED || this._conn || this._retryPending) return false;
    if (!this.online) return false; /* the online event reconnects */
    if (this._timeout) this._later('connect', () => this._onConnectTimeout(), this._timeout);
    this._start();
    return true;
  }

  _start() {
    this.readyState = OPENING;
    const a = { ws: null, open: false };
    this._conn = a;
    if (!this._specDone && (!this._parserSet || !this._pingTimeoutSet) && this._fetch) {
      // Primus bakes the server's pingInterval and parser into its library;
      // weft's client reads them from <path>/spec before its first connection.
      const ctrl = typeof AbortController !== 'undefined' ? new AbortController() : null;
      a.abort = () => ctrl && ctrl.abort();
      Promise.resolve()
        .then(() => this._fetch(this._specUrl, ctrl ? { signal: ctrl.signal } : undefined))
        .then((res) => (res && res.ok ? res.json() : null))
        .catch(() => null)
        .then((spec) => {
          if (this._conn !== a) return;
          this._specDone = true;
          if (spec && typeof spec === 'object') {
            if (!this._parserSet && parsers[spec.parser]) this._parser = parsers[spec.parser];
            const names = [spec.transformer].concat(spec.transformers || []);
            if (names.includes('engine.io')) this._eioOk = true;
            if (spec.transformer === 'engine.io' && !this.options.transformer) this._eio = true;
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
      ws = this._X
        ? this._X(this.url)
        : eio
        ? new Eio(this.url, { WebSocket: this._WebSocket, fetch: this._fetch, websockets: o.websockets })
        : new this._WebSocket(this.url);
    } catch (e) {
      this._conn = a;
      return Promise.resolve().then(() => this._conn === a && this._lost(a, new WeftError('connect', e.message)));
    }
    a.ws = ws;
    ws.binaryType = 'arraybuffer';
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
      // A WebSocket that cannot open (a proxy that blocks it): engine.io's
      // polling, from now on, when the server speaks it.
      if (!a.open && !eio && this._eioOk && this._fetch) {
        this._fallback = true;
        return this._connect(a);
      }
      this._lost(a, a.open ? null : new WeftError('connect', `connection failed (${ev && ev.code})`, { closeCode: ev && ev.code }));
    };
    ws.onerror = () => {}; /* a close event follows */
  }

  _opened() {
    this._clear('connect');
    if (this._reconnecting) {
      const info = this._info();
      this._reconnecting = false;
      this._attempt = 0;
      this.emit('reconnected', info);
    }
    if (!this.online) {
      this.online = true;
      this.emit('online');
    }
    this.readyState = OPEN;
    this._heartbeat();
    // Writes made while not open leave first, in order, before `open`.
    const q = this._queue;
    this._queue = [];
    this._queueBytes = 0;
    for (const frame of q) this._conn.ws.send(frame);
    this.emit('open');
  }

  _heartbeat() {
    if (this._pingTimeout) this._later('ping', () => this._onPingTimeout(), this._pingTimeout);
  }

  _onPingTimeout() {
    if (this.readyState !== OPEN || !this._conn) return;
    // No ping for too long: the connection is dead even if the socket says not.
    if (this.online) {
      this.online = false;
      this.emit('offline');
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
      this.emit('error', new WeftError(this._parser.name, `undecodable message: ${e.message}`, { offset: e.offset }));
      return;
    }
    // A weft server with batching on sends one loop turn's messages as
    // {"weft::batch": [...]}: each is handled as if it came alone.
    const batch = v && typeof v === 'object' && v['weft::batch'];
    if (Array.isArray(batch) && Object.keys(v).length === 1) {
      const conn = this._conn;
      for (const m of batch) {
        if (this._conn !== conn) break; // closed or ended by a listener
        this._value(m);
      }
      return;
    }
    this._value(v);
  }

  _value(v) {
    if (typeof v === 'string' && v.startsWith('primus::')) {
      if (v.startsWith('primus::ping::')) {
        this._heartbeat();
        this._sendFrame(this._parser.encode('primus::pong::' + v.slice(14, 78)));
        return;
      }
      if (v === 'primus::server::close') {
        this._disconnect = true;
        return;
      }
      if (v.startsWith('primus::id::')) {
        this.emit('id', v.slice(12));
        return;
      }
    }
    if (this._em && this._packet(v)) return;
    this._run('incoming', v, (d) => this.emit('data', d));
  }

  // ---- events with acknowledgements ----

  /** An emitter packet ({type: 0|1, data, id}) is handled here; else false. */
  _packet(v) {
    if (!v || typeof v !== 'object' || (v.type !== 0 && v.type !== 1) || !('data' in v || 'id' in v))
      return false;
    const { type, data, id } = v;
    const bad = (why) => this.emit('error', new WeftError('emitter', why));
    if (type === 1) {
      const p = this._em.pending.get(id);
      if (!p) return bad(`unknown ack id ${id}`), true;
      this._em.pending.delete(id);
      clearTimeout(p.timer);
      const a = Array.isArray(data) ? data : [];
      if (a[0] != null) p.done(Object.assign(new WeftError('rejected', String(a[0])), { reason: a[0] }));
      else p.done(null, a.length > 1 ? a[1] : null);
      return true;
    }
    if (!Array.isArray(data) || typeof data[0] !== 'string' || !data[0]) return bad('emitter event without a valid name'), true;
    const [name, ...args] = data;
    const answer = (d) => id != null && this._write({ type: 1, id, data: d });
    if (RESERVED.test(name)) return bad('reserved event name'), answer(['reserved event name']), true;
    if (id != null) {
      if (!this.listeners(name).length) return answer([`no handler for ${name}`]), true;
      let sent = false;
      const ack = (err, value) => {
        if (!sent) answer(err != null ? [err] : [null, value === undefined ? null : value]);
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
      p.done(new WeftError('closed', 'the connection closed before the answer'));
    }
  }

  _emitPacket(event, args, done, timeout) {
    const packet = { type: 0, data: [event, ...args] };
    if (done) {
      const id = (packet.id = this._em.ids = (this._em.ids % 0xffffffff) + 1);
      const ms = timeout === undefined ? this._em.timeout : timeout;
      const timer = ms ? setTimeout(() => {
        this._em.pending.delete(id);
        done(new WeftError('timeout', `no answer to ${event}`));
      }, ms) : undefined;
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
    const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
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
      this._emitPacket(event, args, (err, value) => (err ? reject(err) : resolve(value)), timeout);
    });
  }

  _check(event) {
    if (!this._em) throw new Error('the emitter option is off');
    if (typeof event !== 'string' || !event || RESERVED.test(event)) throw new TypeError(`bad event name ${event}`);
  }

  /** Asks the server to put this connection in `room` (its rooms policy decides). */
  join(room) {
    return this._room('weft::join', room);
  }

  leave(room) {
    return this._room('weft::leave', room);
  }

  /** Leaves every room this connection is in. */
  leaveAll() {
    return this._room('weft::leave_all');
  }

  _room(event, room) {
    if (!this._em) return Promise.reject(new Error('the emitter option is off'));
    return new Promise((resolve, reject) =>
      this._emitPacket(event, room === undefined ? [] : [String(room)], (err) => (err ? reject(err) : resolve()))
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
        /* already closing */
      }
    }
  }

  /** Leaves the current attempt to finish closing on its own. */
  _detach(sendClose) {
    const a = this._conn;
    if (!a) return;
    if (sendClose) this._seal();
    this._conn = null;
    this._closeSocket(a, sendClose && a.open ? 1000 : 0);
  }

  _lost(a, err) {
    this._conn = null;
    this._clear('ping');
    if (this._ended) return;
    const prev = this.readyState;
    // As Primus's recovery: a failed retry is not an error, just the next step.
    if (err && !this._reconnecting) this.emit('error', err);
    if (this._ended) return;
    this.readyState = CLOSED;
    if (this._disconnect) {
      this._disconnect = false;
      if (prev === OPEN) this.emit('close');
      this._end();
      return;
    }
    if (prev !== OPEN) {
      if (this._reconnecting) {
        this._recover();
      } else if (this._timers.connect !== undefined || !this._timeout) {
        this._clear('connect');
        if (this._strategy.timeout) this._recover();
        else this._end();
      }
      return;
    }
    this._failPending();
    this.emit('close');
    if (this._ended) return;
    if (this._strategy.disconnect) this._recover();
    else this._end();
  }

  _onConnectTimeout() {
    if (this.readyState === OPEN || this._ended) return;
    if (this._reconnecting) { // as Primus's recovery: (err, opts), then the backoff goes on
      this.emit('reconnect timeout', new WeftError('timeout', 'Failed to reconnect in a timely manner'), this._info());
      if (this._ended) return;
      this._detach(false);
      this.readyState = CLOSED;
      this._recover();
      return;
    }
    this.emit('timeout');
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
      this.emit('reconnect failed', new WeftError('reconnect', 'Unable to recover'), info); // (err, opts), as Primus
      this._end();
      return;
    }
    this._delay = backoff(this._attempt, this._reconnect, this._random());
    this.emit('reconnect scheduled', this._info());
    if (this._ended) return;
    this.readyState = CLOSED;
    this._retryPending = true;
    this._later('retry', () => this._retry(), this._delay);
  }

  _retry() {
    this._retryPending = false;
    if (this._ended) return;
    this.emit('reconnect', this._info());
    if (this._ended || this._conn) return;
    if (this._timeout) this._later('connect', () => this._onConnectTimeout(), this._timeout);
    this._start();
  }

  // ---- writing ----
  _sendFrame(frame) {
    let n;
    if (this.readyState === OPEN && this._conn && this._conn.open) {
      // Batched as the C client does: json's text frames or msgpack's binary
      // ones that fit; anything else leaves after what was batched.
      if (this._batchMax && (typeof frame === 'string') === (this._parser === parsers.json) && (n = byteLength(frame)) <= this._batchMax) {
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
    if (!f.length || !ws) return; // a connection that went took its batch
    let out = f[0];
    if (f.length > 1) {
      if (typeof out === 'string') out = '{"weft::batch":[' + f.join() + ']}';
      else {
        // msgpack: the envelope's head (a map of one key, the array's length), then the messages
        const h = mpEncode({ 'weft::batch': f.map(() => null) });
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
    if (ret) this._run('outgoing', data, (d) => (ret = this._write(d)));
    return ret;
  }

  /** write() without the transforms (the emitter's and plugins' packets). */
  _write(data) {
    if (this._ended) return false;
    let frame;
    try {
      frame = this._parser.encode(data);
    } catch (e) {
      this.emit('error', new WeftError('encode', e.message));
      return false;
    }
    return this._sendFrame(frame);
  }

  /** What carries the connection: "websocket", "polling" (engine.io), or null when none. */
  get transport() {
    const ws = this._conn && this._conn.open && this._conn.ws;
    return ws ? ws.transport || 'websocket' : null;
  }

  /** Bytes written but not yet sent (queued while offline included). */
  get bufferedAmount() {
    const ws = this._conn && this._conn.ws;
    return this._queueBytes + (ws && ws.bufferedAmount ? ws.bufferedAmount : 0);
  }

  /** Asks the server for this connection's spark id; `fn(id)` and the `id` event answer. */
  id(fn) {
    if (this._ended) return false;
    if (typeof fn === 'function') this.once('id', fn);
    return this._sendFrame(this._parser.encode('primus::id::'));
  }

  /** Tells the client the network went away (false) or came back (true). */
  setOnline(online) {
    if (!online && this.online) {
      this.online = false;
      this.emit('offline');
      if (this._ended) return;
      // As Primus: going offline drops the connection and any retry plan.
      if (this._conn) {
        const wasOpen = this.readyState === OPEN;
        this._detach(false);
        this._failPending();
        if (wasOpen) this.emit('close');
      }
      this._clear('retry');
      this._clear('ping');
      this._clear('connect');
      this._retryPending = false;
      this._reconnecting = false;
      this._attempt = 0;
      this.readyState = CLOSED;
    } else if (online && !this.online) {
      this.online = true;
      this.emit('online');
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
      window.removeEventListener('online', this._onOnline);
      window.removeEventListener('offline', this._onOffline);
      this._onOnline = this._onOffline = null;
    }
    if (prev !== CLOSED) this.emit('close');
    this.emit('end');
  }

  /**
   * Closes for good: writes `data` first when given and open, closes the
   * connection (1000), emits `close` (when it was open or opening) and `end`.
   * Queued writes that never went out are dropped. Returns false when already ended.
   */
  end(data) {
    if (this._ended) return false;
    if (data !== undefined && this.readyState === OPEN) this.write(data);
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
}

Weft.OPENING = OPENING;
Weft.CLOSED = CLOSED;
Weft.OPEN = OPEN;
Weft.backoff = backoff;
Weft.parsers = parsers;
Weft.transformers = {};
Weft.WeftError = WeftError;
Weft.Emitter = Emitter;
Weft.version = '0.1.0';

export default Weft;
