'use strict';
//
// Binary streams (issue #20; the C core's weft_streams_* / weft_ostream_*,
// fast-tcp's stream(event, info, ack)) with Node's shape: a stream a peer
// opens is a stream.Readable, one this side opens a stream.Writable. On
// with the option `streams: true` (the emitter must be on). Flow control
// is the core's: a Readable whose buffer is full pauses its connection's
// reading (every stream of that connection waits), and a Writable's writes
// wait for the drain once the connection holds its window (the server's
// highWaterMark, 1 MiB for a client) — so a slow reader slows the writer
// and memory stays bounded.
//
const { Readable, Writable } = require('node:stream');
const binding = require('./binding');
const { WeftError, rcError } = require('./errors');
const { kExt } = require('./transforms');
const { Spark } = require('./spark');
const { Client } = require('./client');
const ext = require('./ext');

const ENOBUFS = -30000 + 20; // WEFT_ENOBUFS (include/weft/weft.h's order)

// The core calls in from inside its stream code, which must not be
// re-entered (a handler that ends the connection there would free the
// stream under it): events are handled on the next turn, in order.
function queue(self, what, value) {
  if (!self._q) self._q = [];
  self._q.push(what, value);
  if (self._q.length === 2) {
    setImmediate(() => {
      const q = self._q;
      self._q = null;
      for (let i = 0; i < q.length; i += 2) self._handle(q[i], q[i + 1]);
    });
  }
}

/** A stream a peer opened: its `event`, `info`, and `spark` (servers). */
class IncomingStream extends Readable {
  constructor(handle, event, info, spark) {
    super();
    this[kExt] = handle;
    this.event = event;
    this.info = info;
    this.spark = spark;
    this._paused = false;
  }

  _read() {
    if (this._paused) {
      this._paused = false;
      binding.streamCall(this[kExt], 'resume');
    }
  }

  _native(what, value) { queue(this, what, value); }

  _handle(what, value) {
    if (what === 'data') {
      if (!this.push(value) && !this._paused) {
        this._paused = true;
        binding.streamCall(this[kExt], 'pause');
      }
    } else if (what === 'end') {
      if (value) this.destroy(new WeftError('the connection went before the stream ended', 'ECLOSED', 'stream'));
      else this.push(null);
    }
  }
}

/** A stream this side opened: write Buffers, end() sends its end. */
class OutgoingStream extends Writable {
  constructor(event) {
    super();
    this.event = event;
    this._waiting = null;
  }

  /** Bytes its connection holds queued (what the credit counts). */
  get pending() { return this[kExt] ? binding.streamCall(this[kExt], 'pending') : 0; }

  _write(chunk, encoding, cb) {
    const rc = binding.streamCall(this[kExt], 'write', Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
    if (rc === 0) cb();
    else if (rc === 1) this._waiting = () => cb();
    else if (rc === ENOBUFS) this._waiting = () => this._write(chunk, encoding, cb); // no credit: again after the drain
    else cb(rcError(rc, 'stream.write'));
  }

  _final(cb) {
    const rc = binding.streamCall(this[kExt], 'end');
    cb(rc < 0 ? rcError(rc, 'stream.end') : null);
  }

  _destroy(err, cb) {
    if (!this.writableFinished) binding.streamCall(this[kExt], 'end');
    cb(err);
  }

  _native(what, value) { queue(this, what, value); }

  _handle(what) {
    if (what !== 'drain') return;
    const w = this._waiting;
    this._waiting = null;
    if (w) w();
  }
}

function openStream(owner, handle, event, info, ack, target) {
  if (typeof event !== 'string' || !event) throw new TypeError('event must be a non-empty string');
  if (ack !== undefined && typeof ack !== 'function') throw new TypeError('ack must be a function');
  if (ack && target) throw new TypeError('a routed stream has no ack (as fast-tcp\'s)');
  const w = new OutgoingStream(event);
  const token = ack ? ext.newToken(ack) : -1;
  try {
    w[kExt] = binding.streamOpen(handle, event, info, token, w, target);
  } catch (e) {
    ext.forgetToken(token);
    throw e;
  }
  return w;
}

/**
 * Opens a stream to this spark's peer: event, info (any value) and an ack
 * callback (err, value) the peer answers when it wants (at the end,
 * typically). Returns a Writable.
 */
Spark.prototype.stream = function stream(event, info, ack) {
  if (!this.primus._streams) throw new WeftError('streams are not enabled (option streams: true)', 'ESTATE');
  return openStream(this, this[kExt], event, info, ack);
};

/**
 * Opens a stream to the server (ack: a callback), or routed by a fast-tcp
 * server (opts: { sockets: [ids] } | { rooms: [names] } | { broadcast:
 * true }, no ack). The client must be open. Returns a Writable.
 */
Client.prototype.stream = function stream(event, info, opts) {
  if (!this._streams) throw new WeftError('streams are not enabled (option streams: true)', 'ESTATE');
  if (opts !== undefined && opts !== null && typeof opts !== 'function' && typeof opts !== 'object') {
    throw new TypeError('the third argument must be an ack callback or a target');
  }
  const ack = typeof opts === 'function' ? opts : undefined;
  const target = opts && typeof opts === 'object' ? opts : undefined;
  return openStream(this, this[kExt], event, info, ack, target);
};

// A peer opened a stream (this = server or client): 'stream' (stream, info,
// ack | null) on the spark and on the server (with the spark), or on the
// client. Nobody listening: its chunks are dropped and its ack, if asked,
// is rejected ("no answer").
function onStreamOpen(handle, event, info, replyExt, spark) {
  const listening = this.listenerCount('stream') > 0 || (spark && spark.listenerCount('stream') > 0);
  if (!listening) return undefined;
  const st = new IncomingStream(handle, event, info, spark || undefined);
  const ack = replyExt === undefined ? null : ext.makeReply(replyExt);
  setImmediate(() => {
    if (spark) spark.emit('stream', st, info, ack);
    this.emit('stream', st, info, ack, ...(spark ? [spark] : []));
  });
  return st;
}

module.exports = {
  IncomingStream,
  OutgoingStream,
  dispatchers: {
    stream(what, value) { this._native(what, value); },
    streamOpen: onStreamOpen
  }
};
