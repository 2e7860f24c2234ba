'use strict';
//
// Spark: one connection on a server, a Duplex stream in object mode. Its
// handle is the core's spark, retained by the addon until this object is
// collected: once closed, every call is the core's ECLOSED (write() then
// returns false, as Primus's).
//
const { Duplex } = require('node:stream');
const binding = require('./binding');
const { ECLOSED, rcError, handlerError, encodeError } = require('./errors');
const { kExt } = require('./transforms');

// weft_spark_end's flags (include/weft/weft.h).
const END_RECONNECT = 1;
const END_ERROR = 2;

/** The Writable side of a Spark or Client: write(), then cb (or cb(err) for a throw). */
function writeThrough(self, chunk, cb) {
  try {
    self.write(chunk);
    cb();
  } catch (e) {
    cb(e);
  }
}

// A message that is null (JSON null, msgpack nil) cannot travel through an
// object-mode stream as itself: push(null) is the stream's end, and every
// message after it would be lost. It travels as this token and is null again
// for 'data' listeners and async iteration (a read() caller sees the token).
const kNullMessage = Symbol('weft.nullMessage');

/** Makes a Duplex class's 'data' events and async iterator hand out null for kNullMessage. */
function carryNulls(proto) {
  const emit = Duplex.prototype.emit;
  const iterate = Duplex.prototype[Symbol.asyncIterator];
  proto.emit = function emitData(ev, data) {
    if (ev === 'data' && data === kNullMessage) return emit.call(this, 'data', null);
    return emit.apply(this, arguments);
  };
  proto[Symbol.asyncIterator] = async function* messages() {
    for await (const v of iterate.call(this)) yield v === kNullMessage ? null : v;
  };
}

/**
 * One connection on the server. 'data' for each message, write() returns
 * false at the high-water mark and 'drain' follows, end() closes it.
 */
class Spark extends Duplex {
  constructor(server, ext, id) {
    // With handlerErrors 'close', a listener's rejected promise closes the
    // spark as a thrown exception does (EventEmitter's captureRejections).
    super({ objectMode: true, allowHalfOpen: false, autoDestroy: true, captureRejections: server._handlerErrors === 'close' });
    this[kExt] = ext;
    this.primus = server;
    this.id = id;
    const info = binding.sparkInfo(ext);
    this.headers = info.headers;
    this._peer = { ip: info.ip, port: info.port };
    this.query = info.query;
    this.url = info.url;
    // Connection-state recovery: true when this spark resumed a session
    // (same id, its rooms, the missed messages already queued).
    this.recovered = info.recovered;
    this.readyState = Spark.OPEN;
    // Primus's initialise functions (plugins such as primus-emitter set them), in order.
    for (const fn of this.__initialise) fn.call(this);
  }

  /**
   * { ip, port }: the upgrade request's forwarded address (request.forwarded:
   * the core's, X-Forwarded-* believed from trustedProxies only). When the
   * application removes request.forwarded, Primus's rule follows: the
   * X-Forwarded-For/-Port headers now in spark.headers, for a peer weft
   * trusts (trustedProxies, or a proxy on this host: a loopback address or a
   * Unix socket, whose peer has no address).
   */
  get address() {
    const f = this._request && !('forwarded' in this._request) ? null : this.request.forwarded;
    if (f) return { ip: f.ip, port: f.port };
    const peer = this._peer;
    const trusted = peer.ip === '' || /^(127\.|::1$|::ffff:127\.)/.test(peer.ip) ||
      (this.primus.options.trustedProxies || []).includes(peer.ip);
    const xff = trusted && this.headers['x-forwarded-for'];
    if (!xff) return { ip: peer.ip, port: peer.port };
    const first = (v) => String(v).split(',')[0].trim();
    const port = Number(first(this.headers['x-forwarded-port'] || ''));
    return { ip: first(xff), port: Number.isInteger(port) && port > 0 ? port : peer.port };
  }

  /**
   * Primus's spark.socket (the transformer's connection object): here a
   * description of the core's connection, { transformer, remoteAddress,
   * remotePort } (the bytes never pass through JavaScript).
   */
  get socket() {
    return { transformer: this.primus.transformer.split(',')[0], remoteAddress: this._peer.ip, remotePort: this._peer.port };
  }

  set address(v) { Object.defineProperty(this, 'address', { value: v, writable: true, configurable: true, enumerable: true }); }

  /** Primus's reserved(event) (see Server#reserved), as plugins ask a spark. */
  reserved(evt) { return require('./server').reserved(evt); }

  /** Bytes queued and not yet handed to the kernel. */
  get bufferedAmount() {
    return binding.sparkBuffered(this[kExt]);
  }

  /**
   * Writes one message (after the outgoing transforms). Returns false when the
   * spark's queue is at the high-water mark (wait for 'drain') or it is closed.
   * Data that cannot be encoded is an 'error' event when the spark has a
   * listener (then false), else thrown; a full queue (ENOBUFS) throws.
   */
  write(data, encoding, cb) {
    if (typeof encoding === 'function') cb = encoding;
    let rc;
    try {
      rc = binding.sparkWrite(this[kExt], data);
      if (rc < 0 && rc !== ECLOSED) throw rcError(rc, 'spark.write');
    } catch (e) {
      return encodeError(this, this.primus.parser, e);
    }
    if (typeof cb === 'function') process.nextTick(cb);
    if (rc === 0) return true;
    return false; // 1: 'drain' follows; ECLOSED: Primus ignores writes to closed sparks
  }

  _write(chunk, encoding, cb) { writeThrough(this, chunk, cb); }

  _read() {}

  _final(cb) {
    this._endNative(undefined, 0);
    cb();
  }

  _destroy(err, cb) {
    // stream.destroy(): close the connection too (no goodbye message).
    this._endNative(undefined, 0);
    cb(err);
  }

  _endNative(data, flags) {
    if (this._ended) return;
    this._ended = true;
    binding.sparkEnd(this[kExt], data, flags);
  }

  /** A handler failed on this spark (handlerErrors 'close'): close it with 1011. */
  _fail() { this._endNative(undefined, END_ERROR); }

  /**
   * Ends the connection: writes `data` when given, then primus::server::close
   * (unless options.reconnect, so the client comes back), then closes.
   */
  end(data, options) {
    if (typeof data === 'function') { options = undefined; data = undefined; }
    if (typeof options === 'function') options = undefined;
    this._endNative(data === null ? undefined : data, options && options.reconnect ? END_RECONNECT : 0);
    if (!this.writableEnded) Duplex.prototype.end.call(this);
    return this;
  }

  /** What survived the incoming transforms (or every message, without them). */
  _deliver(value) {
    if (this._hold) this._hold.push(value); // async 'connection' listeners still run
    else if (this.readyState === Spark.OPEN) this.push(value === null ? kNullMessage : value);
  }

  _closed() {
    this.readyState = Spark.CLOSED;
    this._ended = true;
    this.push(null);
    // Nobody reads: let the stream reach 'end' anyway, as Primus's spark does.
    if (this.readableFlowing === null) this.resume();
    if (!this.writableEnded) Duplex.prototype.end.call(this);
  }

  /** captureRejections (handlerErrors 'close'): a listener's promise rejected. */
  [Symbol.for('nodejs.rejection')](err) {
    handlerError(this.primus, this, err);
  }
}
// Primus's Spark#initialise: reading it gives the last function set; setting
// it adds one (to this class's list, not its base's), and each runs on every
// new spark, in order, as Primus's do.
Spark.prototype.__initialise = [function initialise() {}];
Object.defineProperty(Spark.prototype, 'initialise', {
  configurable: true,
  get() { return this.__initialise[this.__initialise.length - 1]; },
  set(fn) {
    if (typeof fn !== 'function') throw new TypeError('initialise must be a function');
    if (!Object.prototype.hasOwnProperty.call(this, '__initialise')) {
      Object.defineProperty(this, '__initialise', { value: this.__initialise.slice(), writable: true, configurable: true });
    }
    this.__initialise.push(fn);
  }
});
Spark.OPENING = 1;
Spark.CLOSED = 2;
Spark.OPEN = 3;

carryNulls(Spark.prototype);

module.exports = { Spark, writeThrough, carryNulls, kNullMessage };
