'use strict';
//
// weft for Node: Primus's server and client API over weft's C core, which runs
// on Node's own libuv loop (no threads, no hops). See README.md.
//
const { Duplex } = require('node:stream');
const { EventEmitter } = require('node:events');
const binding = require('./binding');
const { checkServer, checkClient } = require('./options');
const log = require('./log');

const kExt = Symbol('weft.handle');

/** An Error with Node's conventions: `code` ("ENOBUFS"), `kind` (weft's error class). */
class WeftError extends Error {
  constructor(message, code, kind) {
    super(message);
    this.name = 'WeftError';
    if (code) this.code = code;
    if (kind) this.kind = kind;
  }
}

// Error codes the binding returns as negative numbers (weft.h's order).
const CODES = ['INVAL', 'NOMEM', 'STATE', 'CLOSED', 'EXIST', 'NOENT', 'TYPE', 'RANGE', 'DEPTH',
  'PARSE', 'UTF8', 'TOOBIG', 'PROTO', 'URL', 'ADDRINUSE', 'ADDRNOTAVAIL', 'CONNREFUSED', 'IO',
  'TIMEDOUT', 'NOBUFS', 'VERSION', 'UNAUTHORIZED', 'UNSUPPORTED', 'REJECTED'];
const ESTATE = -29997;
const ECLOSED = -29996;
function codeName(rc) {
  const name = CODES[rc + 29999];
  return name ? `E${name}` : 'EUNKNOWN';
}
function rcError(rc, what) {
  const code = codeName(rc);
  return new WeftError(`${what}: ${code}`, code);
}

// Emits 'error' only when someone listens (Primus's EventEmitter3 never throws
// for an unhandled 'error'; a network error must not crash the process).
function softError(emitter, err, ...rest) {
  if (emitter.listenerCount('error') > 0) {
    emitter.emit('error', err, ...rest);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Transforms: Primus's transform(type, fn) — fn(packet) sync (return false to
// swallow) or fn(packet, next) async (next(err, false) swallows).
// ---------------------------------------------------------------------------
function runTransforms(list, ctx, data, done) {
  if (list.length === 0) return done(null, data, true);
  const packet = { data };
  let i = 0;
  let sync = true;
  const step = () => {
    while (i < list.length) {
      const fn = list[i++];
      if (fn.length > 1) {
        let called = false;
        fn.call(ctx, packet, (err, arg) => {
          if (called) return;
          called = true;
          if (err) return done(err);
          if (arg === false) return done(null, undefined, false);
          step();
        });
        sync = false;
        return;
      }
      if (fn.call(ctx, packet) === false) return done(null, undefined, false);
    }
    done(null, packet.data, true);
  };
  step();
  return sync;
}

// ---------------------------------------------------------------------------
// Spark
// ---------------------------------------------------------------------------

/**
 * One connection on the server. A Duplex stream in object mode: 'data' for
 * each message, write() returns false at the high-water mark and 'drain'
 * follows, end() closes it.
 */
class Spark extends Duplex {
  constructor(server, ext, id) {
    super({ objectMode: true, allowHalfOpen: false, autoDestroy: true });
    this[kExt] = ext;
    this.primus = server;
    this.id = id;
    const info = binding.sparkInfo(ext) || { headers: {}, query: {}, ip: '', port: 0, url: '' };
    this.headers = info.headers;
    this.address = { ip: info.ip, port: info.port };
    this.query = info.query;
    this.url = info.url;
    this.readyState = Spark.OPEN;
  }

  /** Bytes queued and not yet handed to the kernel. */
  get bufferedAmount() {
    return binding.sparkBuffered(this[kExt]);
  }

  _incoming(value) {
    const server = this.primus;
    if (server._transforms.incoming.length === 0) {
      this.push(value);
      return;
    }
    runTransforms(server._transforms.incoming, this, value, (err, data, pass) => {
      if (err) {
        const e = err instanceof Error ? err : new WeftError(String(err), 'ETRANSFORM', 'transform');
        if (!softError(this, e)) softError(server, e, this);
        return;
      }
      if (pass && this.readyState === Spark.OPEN) this.push(data);
    });
  }

  _nativeWrite(data) {
    const rc = binding.sparkWrite(this[kExt], data);
    if (rc === 0) return true;
    if (rc === 1) return false; // queued above the high-water mark: 'drain' follows
    if (rc === ECLOSED) return false; // Primus ignores writes to closed sparks
    throw rcError(rc, 'spark.write');
  }

  /**
   * Writes one message (after the outgoing transforms). Returns false when the
   * spark's queue is at the high-water mark (wait for 'drain') or it is closed.
   * Throws for values that cannot be encoded and when the queue is full (ENOBUFS).
   */
  write(data, encoding, cb) {
    if (typeof encoding === 'function') cb = encoding;
    const server = this.primus;
    let ret = true;
    if (server._transforms.outgoing.length === 0) {
      ret = this._nativeWrite(data);
    } else {
      runTransforms(server._transforms.outgoing, this, data, (err, out, pass) => {
        if (err) {
          const e = err instanceof Error ? err : new WeftError(String(err), 'ETRANSFORM', 'transform');
          if (!softError(this, e)) softError(server, e, this);
          return;
        }
        if (pass) ret = this._nativeWrite(out);
      });
    }
    if (typeof cb === 'function') process.nextTick(cb);
    return ret;
  }

  _write(chunk, encoding, cb) {
    try {
      this.write(chunk);
      cb();
    } catch (e) {
      cb(e);
    }
  }

  _read() {}

  _final(cb) {
    if (!this._ended) this._endNative(undefined, false);
    cb();
  }

  _destroy(err, cb) {
    // stream.destroy(): close the connection too (no goodbye message).
    if (!this._ended && this.readyState === Spark.OPEN) this._endNative(undefined, false);
    cb(err);
  }

  _endNative(data, reconnect) {
    this._ended = true;
    binding.sparkEnd(this[kExt], data, !!reconnect);
  }

  /**
   * Ends the connection: writes `data` when given, then primus::server::close
   * (unless options.reconnect, so the client comes back), then closes.
   */
  end(data, options) {
    if (typeof data === 'function') { options = undefined; data = undefined; }
    if (typeof options === 'function') options = undefined;
    if (!this._ended && this.readyState === Spark.OPEN) {
      if (data !== undefined && data !== null && this.primus._transforms.outgoing.length > 0) {
        this.write(data);
        data = undefined;
      }
      this._endNative(data === null ? undefined : data, options && options.reconnect);
    }
    this._ended = true;
    if (!this.writableEnded) Duplex.prototype.end.call(this);
    return this;
  }

  _closed() {
    this.readyState = Spark.CLOSED;
    this._ended = true;
    this.push(null);
    // Nobody reads: let the stream reach 'end' anyway, as Primus's spark does.
    if (this.readableFlowing === null) this.resume();
    if (!this.writableEnded) Duplex.prototype.end.call(this);
  }
}
Spark.OPENING = 1;
Spark.CLOSED = 2;
Spark.OPEN = 3;

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

function normalizeParser(p) {
  if (p === undefined || p === null) return 'json';
  if (typeof p === 'string') return p.toLowerCase();
  throw new TypeError('parser must be "json", "msgpack" or "raw"');
}

// Primus takes transformer names in any case ("WebSockets"); the core knows
// them in lower case. Which names exist is the core's answer (weft_transformer_at).
function transformerName(t) {
  if (typeof t !== 'string') throw new TypeError(`transformer must be a string, one of weft.transformers(): got ${typeof t}`);
  return t.toLowerCase();
}

// What the listeners serve: `listen` (URLs), or Primus's port/host/pathname.
function listenUrls(options) {
  if (options.listen !== undefined) {
    for (const k of ['port', 'host', 'hostname', 'pathname']) {
      if (options[k] !== undefined) throw new TypeError(`listen names whole URLs: give listen or ${k}, not both`);
    }
    const urls = Array.isArray(options.listen) ? options.listen : [options.listen];
    if (urls.length === 0 || urls.some((u) => typeof u !== 'string')) {
      throw new TypeError('listen must be a URL string or a non-empty array of them');
    }
    return urls;
  }
  const port = options.port === undefined ? 8080 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer in [0, 65535], got ${options.port}`);
  }
  let host = options.host || options.hostname || '0.0.0.0';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  let pathname = options.pathname || '/primus';
  if (!pathname.startsWith('/')) pathname = `/${pathname}`;
  return [`${options.tls ? 'wss' : 'ws'}://${host}:${port}${pathname}`];
}

// A served URL (as the core formats it) as net.Server#address() answers: the
// socket's path for a Unix socket ("ws+unix://SOCKET:PATH"), else
// { address, family, port }.
function urlAddress(url, port) {
  const unix = /^[a-z]+\+unix:\/\/([^:?#]*)/i.exec(url);
  if (unix) return unix[1];
  const address = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return { address, family: address.includes(':') ? 'IPv6' : 'IPv4', port };
}

/**
 * A Primus-compatible server. Listens at construction:
 * `new Server({ port, host, pathname, parser, transformer, pingInterval, maxLength, compression })`,
 * or `new Server({ listen: ['ws://127.0.0.1:0/primus', 'ws+unix:///run/app.sock:/primus'] })`.
 */
class Server extends EventEmitter {
  constructor(options) {
    super();
    options = checkServer(options || {});
    const transformer = options.transformer === undefined ? undefined : transformerName(options.transformer);
    if (options.unixMode !== undefined && (typeof options.unixMode !== 'number' || !Number.isInteger(options.unixMode))) {
      throw new TypeError(`unixMode must be an integer (e.g. 0o660), got ${options.unixMode}`);
    }
    const urls = listenUrls(options);
    this.options = options;
    this.parser = normalizeParser(options.parser);
    this._transforms = { incoming: [], outgoing: [] };
    this._sparks = new Map();
    this._plugins = Object.create(null);
    this._auth = null;
    this._pendingAuth = new Set();
    this._closed = false;
    this._destroyCallbacks = [];
    this._ext = {};
    this[kExt] = binding.serverNew(this);
    const ext = this[kExt];
    try {
      log.attach(this, options);
      if (transformer !== undefined) binding.serverSet(ext, 'transformer', transformer);
      binding.serverSet(ext, 'parser', this.parser);
      if (options.pingInterval !== undefined) {
        binding.serverSet(ext, 'pingInterval', options.pingInterval === false ? 0 : options.pingInterval);
      }
      if (options.maxLength !== undefined) binding.serverSet(ext, 'maxLength', options.maxLength);
      if (options.compression !== undefined) binding.serverSet(ext, 'compression', !!options.compression);
      if (options.highWaterMark !== undefined) binding.serverSet(ext, 'highWaterMark', options.highWaterMark);
      if (options.maxQueue !== undefined) binding.serverSet(ext, 'maxQueue', options.maxQueue);
      if (options.queuePolicy !== undefined) binding.serverSet(ext, 'queuePolicy', String(options.queuePolicy));
      if (options.origins !== undefined) {
        const list = Array.isArray(options.origins) ? options.origins : String(options.origins).split(',');
        for (const o of list) if (o.trim()) binding.serverSet(ext, 'origin', o.trim());
      }
      for (const ip of options.trustedProxies || []) binding.serverSet(ext, 'trustedProxy', ip);
      if (options.unixMode !== undefined) binding.serverSet(ext, 'unixMode', options.unixMode);
      if (options.metricsPath !== undefined) {
        if (typeof options.metricsPath !== 'string') {
          throw new TypeError(`metricsPath must be a string (e.g. "/metrics"), got ${typeof options.metricsPath}`);
        }
        binding.serverSet(ext, 'metricsPath', options.metricsPath);
      }
      this._ext = ext_.attachServer(this, options);
      if (options.tls) binding.serverTls(ext, options.tls.cert, options.tls.key);
      // Each call answers the first listener's port (0 for a Unix socket).
      for (const url of urls) {
        try {
          this.port = binding.serverListen(ext, url);
        } catch (e) {
          if (e && typeof e.message === 'string') e.message += ` (${url})`;
          throw e;
        }
      }
      this.urls = Object.freeze(binding.serverUrls(ext));
      this.url = this.urls[0];
      this.pathname = binding.serverPathname(ext);
      this._address = urlAddress(this.url, this.port);
      this.host = typeof this._address === 'string' ? '' : this._address.address;
    } catch (e) {
      this._closed = true;
      try { binding.serverDestroy(ext, false, 1); } catch (e2) { /* already closing */ }
      throw e;
    }
    for (const name of Object.keys(options.plugin || {})) this.use(name, options.plugin[name]);
  }

  /** Primus's `primus.server` is the HTTP server; here the server itself plays it. */
  get server() { return this; }
  get listening() { return !this._closed; }

  /** `{ address, family, port }` as net.Server#address(). */
  /**
   * The first listener's address as net.Server#address(): `{ address, family,
   * port }`, or the socket's path for a Unix socket; null once closed.
   */
  address() {
    if (this._closed) return null;
    return typeof this._address === 'string' ? this._address : Object.assign({}, this._address);
  }

  /** Number of open sparks. */
  get connected() { return this._sparks.size; }

  /** The open spark with this id, or undefined. */
  spark(id) { return this._sparks.get(id); }

  /** Calls fn(spark, id, sparks) for each open spark; stops when fn returns false. */
  forEach(fn, done) {
    if (typeof done === 'function') {
      // Primus's async form: fn(spark, next) then done(err).
      const list = [...this._sparks.values()];
      let i = 0;
      const next = (err, more) => {
        if (err) return done(err);
        if (more === false || i >= list.length) return done();
        fn(list[i++], next);
      };
      next();
      return this;
    }
    for (const [id, spark] of [...this._sparks]) {
      if (fn(spark, id, this._sparks) === false) break;
    }
    return this;
  }

  /** Broadcast: one encoding shared by every spark (per spark with outgoing transforms). */
  write(data) {
    if (this._closed) return false;
    if (this._transforms.outgoing.length > 0) {
      this.forEach((spark) => { spark.write(data); });
      return true;
    }
    binding.serverWrite(this[kExt], data);
    return true;
  }

  /**
   * Authorization hook: fn(req, done). done(err) refuses with err.statusCode
   * (401 by default) and {"error": err.message}; done() accepts. req has
   * headers (looked up by name), url, query, address, socket.remoteAddress.
   */
  authorize(fn) {
    if (fn !== null && typeof fn !== 'function') throw new TypeError('authorize expects a function');
    this._auth = fn;
    binding.serverAuthorize(this[kExt], !!fn);
    return this;
  }

  /** Adds a transform: type 'incoming' | 'outgoing', fn(packet[, next]). */
  transform(type, fn) {
    if (!(type in this._transforms)) throw new TypeError(`transform type must be "incoming" or "outgoing", got ${type}`);
    if (typeof fn !== 'function') throw new TypeError('transform expects a function');
    this._transforms[type].push(fn);
    return this;
  }

  /** Registers a Primus plugin: { server(primus, options), client? }. */
  use(name, plugin) {
    if (typeof name === 'object' && !plugin) { plugin = name; name = plugin.name; }
    if (typeof name !== 'string' || !name) throw new TypeError('plugin name must be a string');
    if (typeof plugin === 'string') plugin = require(plugin);
    if (!plugin || typeof plugin !== 'object' && typeof plugin !== 'function') throw new TypeError('plugin must be an object');
    if (name in this._plugins) throw new WeftError(`plugin ${name} is already registered`, 'EEXIST');
    if (!plugin.server && !plugin.client) throw new TypeError('plugin needs a server or client function');
    this._plugins[name] = plugin;
    if (typeof plugin.server === 'function') plugin.server.call(this, this, this.options);
    return this;
  }

  /** The plugin registered under name (or all of them). */
  plugin(name) { return name ? this._plugins[name] : this._plugins; }

  /**
   * Stops listening, ends every spark (primus::server::close unless
   * options.reconnect) and calls fn once closed. options.timeout bounds the wait
   * for the sparks' closing handshakes.
   */
  destroy(options, fn) {
    if (typeof options === 'function') { fn = options; options = {}; }
    options = options || {};
    if (typeof fn === 'function') {
      if (this._closedDone) process.nextTick(fn);
      else this._destroyCallbacks.push(fn);
    }
    if (this._closed) return this;
    this._closed = true;
    binding.serverDestroy(this[kExt], !!options.reconnect, Number(options.timeout) || 0);
    return this;
  }

  /** Alias of destroy() shaped after net.Server#close(cb). */
  close(fn) { return this.destroy({}, fn); }

  /**
   * The server's counters and gauges now, as numbers (exact below 2^53):
   * connectionsOpen, connectionsTotal, handshakesTotal, refusedTotal,
   * messagesInTotal, messagesOutTotal, bytesInTotal, bytesOutTotal,
   * queueBytes, queueRefusedTotal, heartbeatTimeoutsTotal, errorsTotal.
   * Throws ECLOSED once the server has closed.
   */
  metrics() { return binding.serverMetrics(this[kExt]); }

  /** The same in Prometheus's text format (what options.metricsPath serves). */
  metricsText() { return binding.serverMetricsText(this[kExt]); }

  removeAllListeners(...args) {
    super.removeAllListeners(...args);
    log.hook(this); // keeps following 'log' listeners
    return this;
  }
}

function onAuthorize(ext) {
  const server = this;
  const fn = server._auth;
  server._pendingAuth.add(ext);
  let answered = false;
  const answer = (allow, status, message) => {
    if (answered) return;
    answered = true;
    server._pendingAuth.delete(ext);
    binding.authAnswer(ext, allow, status, message);
  };
  if (!fn) return answer(true);
  const url = binding.authInfo(ext, 'url') || '';
  const cache = Object.create(null);
  const headers = new Proxy(cache, {
    get(target, name) {
      if (typeof name !== 'string') return undefined;
      const key = name.toLowerCase();
      if (!(key in target)) {
        const v = binding.authInfo(ext, 'header', key);
        if (v === undefined) return undefined;
        target[key] = v;
      }
      return target[key];
    },
    has(target, name) {
      return typeof name === 'string' && this.get(target, name) !== undefined;
    }
  });
  const address = binding.authInfo(ext, 'address') || '';
  const q = url.indexOf('?');
  const query = Object.fromEntries(new URLSearchParams(q >= 0 ? url.slice(q + 1) : ''));
  const req = { headers, url, query, address, method: 'GET', socket: { remoteAddress: address }, connection: { remoteAddress: address } };
  try {
    fn.call(server, req, (err) => {
      if (err) {
        const status = Number(err.statusCode || err.status) || 401;
        answer(false, status, err.message || String(err));
      } else {
        answer(true);
      }
    });
  } catch (e) {
    answer(false, 500, 'Internal Server Error');
    throw e;
  }
}

/** Primus's createServer(fn?, options). */
function createServer(fn, options) {
  if (typeof fn === 'object' && fn !== null) { options = fn; fn = null; }
  const server = new Server(options);
  if (typeof fn === 'function') server.on('connection', fn);
  return server;
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

function strategyString(s) {
  if (s === false || s === 'none') return '';
  if (s === undefined || s === null) return null;
  if (Array.isArray(s)) return s.join(',');
  return String(s);
}

/**
 * A Primus-compatible client: reconnects with randomized exponential backoff,
 * queues writes while offline, emits open, data, reconnect scheduled,
 * reconnect, reconnected, reconnect timeout, reconnect failed, end, close, timeout, error,
 * online, offline. A Duplex stream in object mode.
 */
class Client extends Duplex {
  constructor(url, options) {
    super({ objectMode: true, allowHalfOpen: true, emitClose: false, autoDestroy: false });
    if (typeof url !== 'string') throw new TypeError('url must be a string');
    options = checkClient(options || {});
    this.options = options;
    // Primus's clients take http(s):// URLs too.
    const wsUrl = url.replace(/^http(s?):\/\//i, 'ws$1://');
    this.url = wsUrl;
    this[kExt] = binding.clientNew(this, wsUrl);
    this._ended = false;
    this._ext = {};
    const ext = this[kExt];
    try {
      log.attach(this, options);
      if (options.transformer !== undefined) binding.clientSet(ext, 'transformer', transformerName(options.transformer));
      if (options.parser !== undefined) binding.clientSet(ext, 'parser', normalizeParser(options.parser));
      const r = options.reconnect;
      if (r) {
        binding.clientSet(ext, 'reconnect', r.min === undefined ? 500 : r.min, r.max === undefined || r.max === Infinity ? 0 : r.max,
          r.retries === undefined ? 10 : r.retries, r.factor === undefined ? 2 : r.factor);
      }
      const st = strategyString(options.strategy);
      if (st !== null) binding.clientSet(ext, 'strategy', st);
      if (options.timeout !== undefined) binding.clientSet(ext, 'timeout', options.timeout === false ? 0 : options.timeout);
      if (options.pingTimeout !== undefined) binding.clientSet(ext, 'pingTimeout', options.pingTimeout === false ? 0 : options.pingTimeout);
      if (options.maxLength !== undefined) binding.clientSet(ext, 'maxLength', options.maxLength);
      if (options.queueSize !== undefined && options.queueSize !== Infinity) binding.clientSet(ext, 'queueLimit', options.queueSize);
      if (options.retryRefused) binding.clientSet(ext, 'retryRefused', true);
      const headers = Object.assign({}, options.transport && options.transport.headers, options.headers);
      for (const [k, v] of Object.entries(headers)) binding.clientSet(ext, 'header', k, String(v));
      if (options.ca) binding.clientSet(ext, 'caFile', options.ca);
      if (options.rejectUnauthorized === false) binding.clientSet(ext, 'verify', false);
      this._ext = ext_.attachClient(this, options);
    } catch (e) {
      binding.clientCall(ext, 'destroy');
      throw e;
    }
    this._idCallbacks = [];
    if (!options.manual) process.nextTick(() => { if (!this._ended && !this._opened) this.open(); });
  }

  /** Client.OPENING / OPEN / CLOSED (Primus's readyState values). */
  get readyState() {
    const s = binding.clientCall(this[kExt], 'state');
    return s === 2 ? Client.OPEN : s === 1 ? Client.OPENING : Client.CLOSED;
  }

  /** Bytes written and not yet sent (offline queue included). */
  get bufferedAmount() { return binding.clientCall(this[kExt], 'buffered'); }

  /** Starts connecting (automatic unless options.manual). */
  open() {
    this._opened = true;
    const rc = binding.clientCall(this[kExt], 'open');
    if (rc < 0 && rc !== ESTATE /* already opening */) throw rcError(rc, 'open');
    return this;
  }

  /** Sends a message, or queues it while not open. Throws when it cannot be encoded. */
  write(data, encoding, cb) {
    if (typeof encoding === 'function') cb = encoding;
    const rc = binding.clientWrite(this[kExt], data);
    if (typeof cb === 'function') process.nextTick(cb);
    if (rc === 0) return true;
    if (rc === ECLOSED) return false; // ended
    throw rcError(rc, 'client.write');
  }

  _write(chunk, encoding, cb) {
    try {
      this.write(chunk);
      cb();
    } catch (e) {
      cb(e);
    }
  }

  _read() {}

  _final(cb) {
    if (!this._ended) binding.clientEnd(this[kExt], undefined);
    cb();
  }

  /** Asks for this connection's spark id: fn(id). */
  id(fn) {
    if (typeof fn === 'function') this._idCallbacks.push(fn);
    binding.clientCall(this[kExt], 'id');
    return this;
  }

  /** Tells the client the network went away (false) or came back (true). */
  setOnline(online) {
    binding.clientSet(this[kExt], 'online', !!online);
    return this;
  }

  /** Closes for good: writes data when given, emits close (if open) and end. */
  end(data) {
    if (typeof data === 'function') data = undefined;
    if (!this._ended) binding.clientEnd(this[kExt], data === null ? undefined : data);
    return this;
  }

  /** end() and release the handle. */
  destroy(err) {
    if (!this._ended) binding.clientEnd(this[kExt], undefined);
    binding.clientCall(this[kExt], 'destroy');
    if (err) softError(this, err);
    return this;
  }

  _data(value) { this.push(value); }

  _event(name, a, b, c, d) {
    switch (name) {
      case 'reconnect scheduled':
      case 'reconnect':
      case 'reconnected':
        this.emit(name, { attempt: a, retries: b, scheduled: c, backoff: c });
        break;
      case 'reconnect failed': {
        const err = new WeftError('Unable to recover', 'ETIMEDOUT', 'reconnect');
        this.emit(name, err, { attempt: a, retries: b, scheduled: c, backoff: c });
        break;
      }
      case 'reconnect timeout': { // as Primus's recovery: (err, opts), then the backoff goes on
        const err = new WeftError('Failed to reconnect in a timely manner', 'ETIMEDOUT', 'reconnect');
        this.emit(name, err, { attempt: a, retries: b, scheduled: c, backoff: c });
        break;
      }
      case 'error': {
        const err = new WeftError(c || a, a, b);
        if (Array.isArray(d) && d[0]) {
          err.statusCode = d[0];
          if (d[1] !== undefined) err.body = d[1];
        }
        softError(this, err);
        break;
      }
      case 'id': {
        const cbs = this._idCallbacks.splice(0);
        for (const fn of cbs) fn(a);
        break;
      }
      case 'end':
        this._ended = true;
        this.emit('end');
        this._finishStreams();
        break;
      case 'destroy':
        this._ended = true;
        log.detach(this);
        this.emit('destroy');
        break;
      default:
        this.emit(name);
    }
  }

  removeAllListeners(...args) {
    super.removeAllListeners(...args);
    log.hook(this); // keeps following 'log' listeners
    return this;
  }

  _finishStreams() {
    // Primus's 'end' was just emitted: end the stream sides without a second
    // 'end' event (the readable side is marked ended directly).
    const rs = this._readableState;
    if (rs && !rs.ended) {
      rs.ended = true;
      rs.endEmitted = true;
    }
    if (!this.writableEnded) Duplex.prototype.end.call(this);
  }
}
Client.OPENING = 1;
Client.CLOSED = 2;
Client.OPEN = 3;

// Events with acks, rooms, channels (lib/ext.js).
const ext_ = require('./ext').install({ Server, Spark, Client, kExt, WeftError, rcError, softError, ECLOSED });

// Dispatchers the addon calls (this = the server, spark or client).
binding.setup({
  ...ext_.dispatchers,
  spark(ext, id) { return new Spark(this, ext, id); },
  connection(spark) {
    this._sparks.set(spark.id, spark);
    this.emit('connection', spark);
  },
  disconnection(spark) {
    this._sparks.delete(spark.id);
    spark._closed();
    this.emit('disconnection', spark);
  },
  data(value) { this._incoming(value); },
  drain() { this.emit('drain'); },
  error(spark, code, kind, message) {
    const err = new WeftError(message, code, kind);
    if (spark && softError(spark, err)) return;
    softError(this, err, spark || undefined);
  },
  close() {
    this._closed = true;
    this._closedDone = true;
    log.detach(this);
    this._sparks.clear();
    this._pendingAuth.clear();
    const cbs = this._destroyCallbacks.splice(0);
    this.emit('close');
    for (const cb of cbs) cb();
  },
  authorize: onAuthorize,
  client(event, a, b, c, d) { this._event(event, a, b, c, d); },
  log: log.dispatch,
  clientData(value) { this._data(value); }
});

/** Primus's `new Primus.Socket(url, options)` / `primus.connect`. */
function connect(url, options) {
  return new Client(url, options);
}

/** Primus's createSocket(options): a Client class with default options. */
function createSocket(defaults) {
  defaults = checkClient(defaults || {});
  if (defaults.transformer !== undefined) binding.transformerCheck(transformerName(defaults.transformer));
  return class Socket extends Client {
    constructor(url, options) {
      super(url, Object.assign({}, defaults, options));
    }
  };
}

/** The transformer names this build has, from the core ("websockets"). */
function transformers() { return binding.transformers(); }

/** Encodes a value with a parser ("json" or "msgpack") into a Buffer. */
function encode(parser, value) { return binding.encode(parser, value); }
/** Decodes a Buffer (or string) with a parser. */
function decode(parser, data) { return binding.decode(parser, data); }

// Written as `name` / `name: identifier` entries only, so that Node's ESM
// loader finds every name (`import { connect } from 'weft'`): it reads the
// object literal and stops at the first other value.
const Channel = ext_.Channel;
const version = binding.version;
module.exports = {
  Server,
  Spark,
  Client,
  Channel,
  Socket: Client,
  WeftError,
  createServer,
  createSocket,
  connect,
  transformers,
  encode,
  decode,
  version
};
