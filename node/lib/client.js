'use strict';
//
// Client: Primus's client API over a weft_client, a Duplex stream in object
// mode. Options come from the core's table (lib/options.js). The handle is
// retained by the addon until this object is collected: once destroyed,
// every call is the core's ECLOSED.
//
const { Duplex } = require('node:stream');
const binding = require('./binding');
const { WeftError, ESTATE, ECLOSED, rcError, check, softError, encodeError } = require('./errors');
const { checkClient, applyClient, unknownTransformer } = require('./options');
const parsers = require('./parsers');
const { kExt, mixin, clientOutgoing, syncTransforms } = require('./transforms');
const log = require('./log');
const { writeThrough, carryNulls, kNullMessage } = require('./spark');


// The reconnect strategies in effect, as Primus's client shows them
// ("disconnect,online,timeout"; "" for none).
function strategyOf(options) {
  const s = options.strategy;
  if (s === false) return '';
  if (Array.isArray(s)) return s.join(',').toLowerCase();
  if (typeof s === 'string') return s.toLowerCase();
  return options.timeout === false ? 'disconnect,online' : 'disconnect,online,timeout';
}

// Primus's client asks for its pathname whatever the URL's path: the path
// goes, the query stays ("ws+unix:///SOCKET:PATH" for a Unix socket).
function withPathname(url, pathname) {
  if (pathname === undefined) return url;
  if (typeof pathname !== 'string') throw new TypeError('pathname must be a string');
  if (!pathname.startsWith('/')) pathname = `/${pathname}`;
  const unix = /^([a-z]+\+unix:\/\/[^:?#]*)(:[^?#]*)?(.*)$/i.exec(url);
  if (unix) return unix[1] + ':' + pathname + unix[3];
  const m = /^([a-z]+:\/\/[^/?#]*)([^?#]*)(.*)$/i.exec(url);
  return m ? m[1] + pathname + m[3] : url;
}

/**
 * A Primus-compatible client: reconnects with randomized exponential backoff,
 * queues writes while offline, emits open, data, reconnect scheduled,
 * reconnect, reconnected, reconnect timeout, reconnect failed, end, close,
 * timeout, error, online, offline.
 */
// Plugins' client libraries (a `library` string, as primus-emitter's): Primus
// runs each in the client it builds, against its Primus class. Here each runs
// once per (class, library) against a subclass of the client's class, which
// the client then takes as its prototype.
const LIBRARIES = new WeakMap();
function withLibraries(self, plugins) {
  for (const name of Object.keys(plugins)) {
    const src = plugins[name] && plugins[name].library;
    if (typeof src !== 'string') continue;
    const base = Object.getPrototypeOf(self);
    let made = LIBRARIES.get(base);
    if (!made) LIBRARIES.set(base, made = new Map());
    let proto = made.get(src);
    if (!proto) {
      const Primus = function Primus() {};
      Primus.prototype = Object.create(base, { constructor: { value: base.constructor, writable: true, configurable: true } });
      new Function('Primus', src)(Primus); // eslint-disable-line no-new-func -- the plugin's own client source, as Primus runs it
      proto = Primus.prototype;
      made.set(src, proto);
    }
    Object.setPrototypeOf(self, proto);
  }
}

const STREAM_OPTIONS = Object.freeze({ objectMode: true, allowHalfOpen: true, emitClose: false, autoDestroy: false });

class Client extends Duplex {
  constructor(url, options) {
    super(STREAM_OPTIONS);
    // Primus's forms: (url, options), (options) with options.url or
    // options.uri, and (options) alone for http://127.0.0.1.
    if (url !== null && typeof url === 'object') { options = url; url = undefined; }
    if (options && (options.url !== undefined || options.uri !== undefined)) {
      const { url: u, uri, ...rest } = options;
      if (url === undefined) url = u !== undefined ? u : uri;
      options = rest;
    }
    if (url === undefined) url = 'http://127.0.0.1';
    if (typeof url !== 'string') throw new TypeError('url must be a string');
    let parserObj;
    [options, parserObj] = parsers.split(options);
    options = checkClient(options || {});
    // Primus's view of the options: strategy as the list in effect.
    this.options = Object.assign({}, options, { strategy: strategyOf(options) });
    // Primus's clients take http(s):// URLs too.
    this.url = withPathname(url.replace(/^http(s?):\/\//i, 'ws$1://'), options.pathname);
    this._ended = false;
    this._ext = {};
    this._transforms = { incoming: [], outgoing: [] };
    this._plugins = Object.create(null);
    this._idCallbacks = [];
    // Connection-state recovery (option recovery): true while the current
    // connection resumed its session; 'recovered' (id) says so at each open.
    this.recovered = false;
    this._coreOptions = [options, parserObj];
    log.attach(this, options);
    this._attachCore();
    if (parserObj) this.options.parser = parserObj;
    withLibraries(this, options.plugin || {});
    for (const name of Object.keys(options.plugin || {})) this.use(name, options.plugin[name]);
    this.initialise(options);
    if (!options.manual) process.nextTick(() => { if (!this._ended && !this._opened) this.open(); });
  }

  // A core client for this object, with its options, extensions, parser and
  // transforms (at construction, and again for open() after end()).
  _attachCore() {
    const [options, parserObj] = this._coreOptions;
    const ext = binding.clientNew(this, this.url);
    this[kExt] = ext;
    try {
      this._ext = applyClient(ext, options);
      if (parserObj) parsers.attach(this, ext, parserObj);
      if (this._ext.emitter) check(binding.emitterListen(ext), 'emitter');
      if (this._ext.channels) check(binding.channelsListen(ext), 'channels');
      if (options.psk !== undefined) check(binding.setPsk(ext, Buffer.from(options.psk)), 'psk');
      if (options.streams && !this._ext.emitter) throw new WeftError('option streams needs emitter: true', 'EINVAL');
      if (options.streams) this._streams = check(binding.streamsListen(ext), 'streams') === 0;
      check(binding.transformsAttach(ext), 'transforms');
      const t = this._transforms;
      if (t.incoming.length || t.outgoing.length) syncTransforms(this, 'client');
    } catch (e) {
      binding.clientDestroy(ext);
      throw e;
    }
  }

  // Primus's open() after end(): the ended core client is destroyed (its
  // late 'destroy' event is not this client's: counted, and skipped) and a
  // new one takes its place; the stream sides start again.
  _reopen() {
    this._staleDestroys = (this._staleDestroys || 0) + 1;
    binding.clientDestroy(this[kExt]);
    this._attachCore();
    Duplex.call(this, STREAM_OPTIONS);
    this._ended = false;
  }

  /** Primus's client initialise(options): plugins' libraries (primus-emitter's) wrap it; runs once per client. */
  initialise() {}

  /** Client.OPENING / OPEN / CLOSED (Primus's readyState values). */
  get readyState() {
    const s = binding.clientState(this[kExt]);
    return s === 2 ? Client.OPEN : s === 1 ? Client.OPENING : Client.CLOSED;
  }

  /**
   * Primus's client.socket: the connection under this client while open —
   * here the core's, described as { transformer, url } — else null.
   */
  get socket() {
    if (this.readyState !== Client.OPEN) return null;
    return { transformer: (this.options.transformer || 'websockets').toLowerCase(), url: this.url };
  }

  /** Primus's AVOID_WEBSOCKETS: true with websockets: false (engine.io polls only). */
  get AVOID_WEBSOCKETS() { return this.options.websockets === false; }

  /** Primus's reserved(event) (see Server#reserved). */
  reserved(evt) { return require('./server').reserved(evt); }

  /** Bytes written and not yet sent (offline queue included). */
  get bufferedAmount() { return binding.clientBuffered(this[kExt]); }

  /** Starts connecting (automatic unless options.manual); after end(), connects again (Primus's). */
  open() {
    if (this._ended && this._endSeen) this._reopen();
    this._opened = true;
    const rc = binding.clientOpen(this[kExt]);
    if (rc < 0 && rc !== ESTATE /* already opening */) throw rcError(rc, 'open');
    this._syncState();
    return this;
  }

  // Primus's readyStateChange ('opening', 'open', 'end'), once per change,
  // before the event that made it.
  _syncState() {
    const now = this.readyState;
    if (now === this._lastState) return;
    const first = this._lastState === undefined && now === Client.CLOSED;
    this._lastState = now;
    if (!first) this.emit('readyStateChange', now === Client.OPEN ? 'open' : now === Client.OPENING ? 'opening' : 'end');
  }

  _nativeWrite(data) {
    let rc;
    try {
      rc = binding.clientWrite(this[kExt], data);
      if (rc < 0 && rc !== ECLOSED) throw rcError(rc, 'client.write');
    } catch (e) {
      return encodeError(this, this.options.parser || 'json', e);
    }
    if (rc === 0) return true;
    return false; // ended
  }

  /**
   * Sends a message (after the outgoing transforms), or queues it while not
   * open. Data that cannot be encoded is an 'error' event when there is a
   * listener (write() returns false), else thrown.
   */
  write(data, encoding, cb) {
    if (typeof encoding === 'function') cb = encoding;
    const ret = this._transforms.outgoing.length === 0
      ? this._nativeWrite(data)
      : clientOutgoing(this, data, (out) => this._nativeWrite(out));
    if (typeof cb === 'function') process.nextTick(cb);
    return ret;
  }

  _write(chunk, encoding, cb) { writeThrough(this, chunk, cb); }

  _read() {}

  _final(cb) {
    if (!this._ended) binding.clientEnd(this[kExt], undefined);
    cb();
  }

  /** Asks for this connection's spark id: fn(id). */
  id(fn) {
    if (typeof fn === 'function') this._idCallbacks.push(fn);
    binding.clientId(this[kExt]);
    return this;
  }

  /** Tells the client the network went away (false) or came back (true). */
  setOnline(online) {
    check(binding.clientSetOnline(this[kExt], !!online), 'setOnline');
    return this;
  }

  /** Closes: writes data when given, emits close (if open) and end; open() connects again (Primus's). */
  end(data) {
    if (typeof data === 'function') data = undefined;
    if (!this._ended) binding.clientEnd(this[kExt], data === null ? undefined : data);
    return this;
  }

  /** end() and release the handle. */
  destroy(err) {
    if (!this._ended) binding.clientEnd(this[kExt], undefined);
    binding.clientDestroy(this[kExt]);
    if (err) softError(this, err);
    return this;
  }

  /** What survived the incoming transforms (or every message, without them). */
  _deliver(value) { this.push(value === null ? kNullMessage : value); }

  _event(name, a, b, c, d) {
    if (name !== 'id' && name !== 'error') this._syncState();
    const opts = { attempt: a, retries: b, scheduled: c, backoff: c };
    switch (name) {
      case 'reconnect scheduled':
        this.emit(name, opts);
        // The seed's (Primus 6's) name, with its `timeout` for the delay.
        this.emit('reconnecting', Object.assign({ timeout: c }, opts));
        break;
      case 'reconnect':
      case 'reconnected':
        this.emit(name, opts);
        break;
      case 'reconnect failed':
        this.emit(name, new WeftError('Unable to recover', 'ETIMEDOUT', 'reconnect'), opts);
        break;
      case 'reconnect timeout': // as Primus's recovery: (err, opts), then the backoff goes on
        this.emit(name, new WeftError('Failed to reconnect in a timely manner', 'ETIMEDOUT', 'reconnect'), opts);
        break;
      case 'error': {
        const err = new WeftError(c || a, a, b);
        if (Array.isArray(d) && d[0]) {
          err.statusCode = d[0];
          if (d[1] !== undefined) err.body = d[1];
        }
        softError(this, err);
        break;
      }
      case 'id':
        for (const fn of this._idCallbacks.splice(0)) fn(a);
        break;
      case 'recovered': // the answer of a server with recovery, at each open
        this.recovered = a === 1;
        if (this.recovered) this.emit('recovered', b);
        break;
      case 'end':
        this._ended = true;
        this._endSeen = true;
        this._finishStreams(); // readable and writable false when 'end' is heard (Primus's)
        this.emit('end');
        break;
      case 'destroy':
        if (this._staleDestroys > 0) { // an ended core client replaced by open()
          this._staleDestroys--;
          break;
        }
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
mixin(Client.prototype, 'client');
Client.OPENING = 1;
Client.CLOSED = 2;
Client.OPEN = 3;

/** Primus's `new Primus.Socket(url, options)` / `primus.connect`. */
function connect(url, options) {
  return new Client(url, options);
}

/** Primus's createSocket(options): a Client class with default options. */
function createSocket(defaults) {
  // Primus's createSocket takes the server's options: pingInterval sets the
  // client's pingTimeout (1.5 of it, as Primus's library does), and
  // authorization (a refused client ends) is weft's behaviour already.
  if (defaults && (defaults.pingInterval !== undefined || defaults.authorization !== undefined)) {
    const { pingInterval, authorization, ...rest } = defaults;
    void authorization;
    if (rest.pingTimeout === undefined && pingInterval !== undefined) {
      rest.pingTimeout = pingInterval === false || pingInterval === 0 ? false : Math.round(pingInterval * 1.5);
    }
    defaults = rest;
  }
  let parserObj;
  [defaults, parserObj] = parsers.split(defaults);
  defaults = checkClient(defaults || {}, true);
  if (parserObj) defaults = Object.assign({}, defaults, { parser: parserObj });
  const t = defaults.transformer;
  if (t !== undefined) {
    if (typeof t !== 'string') throw new TypeError(`transformer must be a string, one of weft.transformers(): got ${t === null ? 'null' : typeof t}`);
    if (!binding.transformerExists(t.toLowerCase())) throw unknownTransformer(t);
  }
  class Socket extends Client {
    constructor(url, options) {
      super(url, Object.assign({}, defaults, options));
    }
  }
  // Primus's Socket works with and without `new`.
  function PrimusSocket(url, options) { return new Socket(url, options); }
  PrimusSocket.prototype = Socket.prototype;
  Object.setPrototypeOf(PrimusSocket, Socket);
  return PrimusSocket;
}

carryNulls(Client.prototype);

module.exports = { Client, connect, createSocket };
