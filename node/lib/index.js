'use strict';
//
// weft for Node: Primus's server and client API over weft's C core, which runs
// on Node's own libuv loop (no threads, no hops). See README.md.
//
// The addon (src/, one C file per object) translates; the API is here, one
// file per object: server.js, spark.js, client.js, ext.js (events with
// acks, rooms, channels), transforms.js (transforms and plugins), options.js
// (the core's option tables), errors.js, log.js.
//
const binding = require('./binding');
const { WeftError, softError, handlerError } = require('./errors');
const { TABLES } = require('./options');
const { dispatch: transformDispatch } = require('./transforms');
const { Spark } = require('./spark');
const { Server, createServer, onAuthorize } = require('./server');
const { Client, connect, createSocket } = require('./client');
const ext = require('./ext');
const streams = require('./streams');
const log = require('./log');

// Primus's asyncemit for 'connection': a listener taking (spark, next) is
// waited for before the next one runs; the spark's messages are held until
// the last one ran (nothing is lost, none is seen early). next(err) is a
// handler's error.
function connectionInOrder(server, spark, listeners) {
  let i = 0;
  spark._hold = [];
  const release = () => {
    const held = spark._hold || [];
    spark._hold = null;
    for (const v of held) spark._deliver(v);
  };
  const next = (err) => {
    if (err) {
      release();
      return handlerError(server, spark, err);
    }
    while (i < listeners.length) {
      const fn = listeners[i++];
      if (fn.length >= 2) {
        let called = false;
        return fn.call(server, spark, (e) => {
          if (called) return;
          called = true;
          run(e);
        });
      }
      fn.call(server, spark);
    }
    return release();
  };
  const run = (err) => {
    try {
      next(err);
    } catch (e) {
      release();
      handlerError(server, spark, e);
    }
  };
  run();
}

// Dispatchers the addon calls (this = the server, spark or client). Those
// that run application code for a server route its exceptions through
// handlerError (the handlerErrors option); a client's reach
// uncaughtException, as any Node callback's.
binding.setup({
  ...ext.dispatchers,
  ...require('./parsers').dispatchers,
  ...streams.dispatchers,
  spark(handle, id) { return new (this.Spark || Spark)(this, handle, id); },
  connection(spark) {
    this._sparks.set(spark.id, spark);
    try {
      const listeners = this.listeners('connection');
      if (listeners.some((fn) => fn.length >= 2)) connectionInOrder(this, spark, listeners);
      else this.emit('connection', spark);
    } catch (e) {
      handlerError(this, spark, e);
    }
  },
  disconnection(spark) {
    this._sparks.delete(spark.id);
    try {
      spark._closed();
      this.emit('disconnection', spark);
    } catch (e) {
      handlerError(this, spark, e);
    }
  },
  data(value) {
    try {
      this._deliver(value);
    } catch (e) {
      handlerError(this.primus, this, e);
    }
  },
  drain() {
    try {
      this.emit('drain');
    } catch (e) {
      handlerError(this.primus, this, e);
    }
  },
  error(spark, code, kind, message) {
    const err = new WeftError(message, code, kind);
    try {
      if (!spark || !softError(spark, err)) softError(this, err, spark || undefined);
      // Primacron's namespaced events: server.on('error::connect', (err) => …)
      if (kind && this.listenerCount(`error::${kind}`) > 0) this.emit(`error::${kind}`, err, spark || undefined);
    } catch (e) {
      handlerError(this, spark, e);
    }
  },
  close() {
    this._closed = true;
    this._closedDone = true;
    log.detach(this);
    if (this._detach) this._detach(); // an http.Server's listeners as they were (lib/attach.js)
    this._detach = null;
    this._sparks.clear();
    const cbs = this._destroyCallbacks.splice(0);
    this.emit('close', ...(this._closeArgs || [{}]));
    for (const cb of cbs) cb();
  },
  authorize: onAuthorize,
  id() {
    try {
      const id = this.options.idGenerator.call(this);
      return typeof id === 'string' ? id : undefined;
    } catch (e) {
      handlerError(this, null, e);
      return undefined;
    }
  },
  transform(outgoing, value) {
    if (!(this instanceof Spark)) return transformDispatch.call(this, outgoing, value);
    try {
      return transformDispatch.call(this, outgoing, value);
    } catch (e) {
      handlerError(this.primus, this, e);
      return false;
    }
  },
  client(event, a, b, c, d) { this._event(event, a, b, c, d); },
  log: log.dispatch,
  clientData(value) { this._deliver(value); }
});

/** The transformer names this build has, from the core ("websockets"). */
function transformers() { return binding.transformers(); }

/**
 * The core's options (include/weft/options.h) as Node names them: one
 * frozen row per option, { name, coreName, type, default, choices, min, max,
 * unit, expects, doc, fixed, extension }, in the order they are applied.
 */
function serverOptions() { return TABLES.Server; }
/** The same for clients. */
function clientOptions() { return TABLES.Client; }

/** Encodes a value with a parser ("json" or "msgpack") into a Buffer. */
function encode(parser, value) { return binding.encode(parser, value); }
/** Decodes a Buffer (or string) with a parser. */
function decode(parser, data) { return binding.decode(parser, data); }

// Written as `name` / `name: identifier` entries only, so that Node's ESM
// loader finds every name (`import { connect } from 'weft'`): it reads the
// object literal and stops at the first other value.
const Channel = ext.Channel;
const IncomingStream = streams.IncomingStream;
const OutgoingStream = streams.OutgoingStream;
const version = binding.version;
// The module is the Server class, as Primus's is (`new Primus(server,
// options)`), with every name on it too; written as `module.exports.NAME =`
// so that Node's ESM loader finds each name (`import { connect } from 'weft'`).
module.exports = Server;
module.exports.Server = Server;
module.exports.Spark = Spark;
module.exports.Client = Client;
module.exports.Channel = Channel;
module.exports.IncomingStream = IncomingStream;
module.exports.OutgoingStream = OutgoingStream;
module.exports.Socket = Client;
module.exports.WeftError = WeftError;
module.exports.createServer = createServer;
module.exports.createSocket = createSocket;
module.exports.connect = connect;
module.exports.transformers = transformers;
module.exports.serverOptions = serverOptions;
module.exports.clientOptions = clientOptions;
module.exports.encode = encode;
module.exports.decode = decode;
module.exports.version = version;
