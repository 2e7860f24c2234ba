'use strict';
//
// weft's extensions for Node (issue #9): events with acknowledgements (the
// emitter, primus-emitter's wire format), rooms, channels. The C core does
// the work (include/weft/ext.h); this file gives it Node's shape. See the
// README's section "Events with acks, rooms, channels".
//
const { Duplex } = require('node:stream');
const binding = require('./binding');
const { WeftError, ECLOSED, rcError, check, softError, handlerError } = require('./errors');
const { kExt } = require('./transforms');
const { Spark } = require('./spark');
const { Server } = require('./server');
const { Client } = require('./client');

// Names a Spark or Client uses for itself (Primus's, the stream's): a remote
// event by one of these names is refused, so a peer cannot fake a local
// event. The core already refuses Primus's list (docs/extensions.md).
const LOCAL_EVENTS = new Set([
  'open', 'data', 'end', 'error', 'close', 'drain', 'finish', 'prefinish', 'pipe', 'unpipe',
  'readable', 'pause', 'resume', 'newListener', 'removeListener', 'destroy', 'channel', 'stream', '*',
  'reconnect', 'reconnect scheduled', 'reconnected', 'reconnect failed', 'reconnect timeout', 'timeout', 'online',
  'offline', 'connection', 'disconnection', 'log', 'pong', 'initialised', 'reconnecting'
]);

// ---- acks: JavaScript keeps the callbacks, C carries a token --------------
const pending = new Map();
let nextToken = 1;
function newToken(fn) {
  const token = nextToken++;
  pending.set(token, fn);
  return token;
}

function ackError(code, value) {
  let err;
  if (code === 'EREJECTED') {
    const why = value instanceof Object && typeof value.message === 'string' ? value.message : String(value);
    err = new WeftError(why, 'EREJECTED', 'emitter');
    err.reason = value;
  } else if (code === 'ETIMEDOUT') {
    err = new WeftError('no answer in time', 'ETIMEDOUT', 'emitter');
  } else if (code === 'ECLOSED') {
    err = new WeftError('the connection closed before an answer came', 'ECLOSED', 'emitter');
  } else {
    err = new WeftError(`ack failed: ${code}`, code, 'emitter');
  }
  return err;
}

// replyExt: the answer carries a callback (nmsg's, any depth): fn gets it
// as its third argument, ack-shaped (call it with (err, value[, callback])).
function onAck(token, code, value, replyExt) {
  const fn = pending.get(token);
  if (!fn) return;
  pending.delete(token);
  if (code !== null) fn(ackError(code, value));
  else if (replyExt === undefined) fn(null, value === undefined ? null : value);
  else fn(null, value === undefined ? null : value, makeReply(replyExt));
}

function checkEvent(event) {
  if (typeof event !== 'string' || event.length === 0) throw new TypeError('event must be a non-empty string');
  if (LOCAL_EVENTS.has(event)) throw new WeftError(`reserved event name: ${event}`, 'EINVAL', 'emitter');
}

// Sends through emitNative(event, args, timeout, token); cb(err, value).
function sendWith(self, emitNative, event, args, timeout, cb) {
  checkEvent(event);
  let token = -1;
  if (cb) token = newToken(cb);
  let rc;
  try {
    rc = emitNative(event, args, timeout, token);
  } catch (e) {
    pending.delete(token);
    throw e;
  }
  if (rc === 0) return true;
  if (rc === 1) return false;
  pending.delete(token);
  if (rc === ECLOSED) {
    if (cb) process.nextTick(cb, ackError('ECLOSED'));
    return false;
  }
  throw rcError(rc, `send ${event}`);
}

// ---- replies ---------------------------------------------------------------
function makeReply(ext) {
  let answered = false;
  const answer = (ok, value, cb) => {
    if (answered) return false;
    if (!ok) {
      if (value instanceof Error) value = value.message;
      else if (value === undefined || value === null) value = 'rejected';
    }
    const token = ok && typeof cb === 'function' ? newToken(cb) : -1;
    try {
      if (binding.replyAnswer(ext, ok, value, token) !== 0) pending.delete(token);
    } catch (e) {
      // Could not encode the answer: the sender learns it, the caller too.
      pending.delete(token);
      answered = true;
      binding.replyAnswer(ext, false, `unencodable answer: ${e.message}`, -1);
      throw e;
    }
    answered = true;
    return true;
  };
  /**
   * Node's error-first answer: ack(null, value) resolves, ack(err) rejects;
   * ack(null, value, callback) resolves with a callback the peer may call
   * back (callback(err, value[, next]), nmsg's nesting).
   */
  const ack = (err, value, cb) => (err === undefined || err === null ? answer(true, value, cb) : answer(false, err));
  ack.resolve = (value, cb) => answer(true, value, cb);
  ack.reject = (reason) => answer(false, reason);
  Object.defineProperty(ack, 'answered', { get: () => answered });
  return ack;
}

// A rejection nobody answers for: where a thrown exception would go.
function raise(server, target, e) { process.nextTick(() => handlerError(server, server && target, e)); }

// A remote event arrives on a Spark or Client.
function onEvent(name, args, replyExt) {
  const target = this;
  const reply = replyExt === undefined ? null : makeReply(replyExt);
  if (LOCAL_EVENTS.has(name)) {
    if (reply) reply.reject('reserved event name');
    const err = new WeftError(`reserved event name: ${name}`, 'EINVAL', 'emitter');
    if (target instanceof Spark) {
      if (!softError(target, err)) softError(target.primus, err, target);
    } else {
      softError(target, err);
    }
    return;
  }
  let listeners = target.rawListeners(name);
  let callArgs = args;
  if (listeners.length === 0) {
    listeners = target.rawListeners('*');
    callArgs = [name, ...args];
  }
  if (listeners.length === 0) {
    if (reply) reply.reject(`no handler for ${name}`);
    return;
  }
  if (reply) callArgs = [...callArgs, reply];
  const server = target instanceof Spark ? target.primus : null;
  for (const fn of listeners) {
    let r;
    try {
      r = fn.apply(target, callArgs);
    } catch (e) {
      if (reply) reply.reject(e instanceof Error ? e.message : e);
      handlerError(server, server && target, e); // uncaughtException, as any listener's, unless handlerErrors: 'close'
      return;
    }
    if (r && typeof r.then === 'function') {
      // async handlers: the promise answers unless the ack was called.
      r.then((v) => { if (reply) reply.resolve(v); },
        (e) => { if (reply) reply.reject(e instanceof Error ? e.message : e); else raise(server, target, e); });
    }
  }
}

// ---- the emitter on Spark and Client ---------------------------------------
function parseSend(event, rest) {
  let cb = null;
  if (rest.length > 0 && typeof rest[rest.length - 1] === 'function') cb = rest.pop();
  return cb;
}

function mixEmitter(proto, emitNative, enabled) {
  /**
   * primus-emitter's send(event, ...args, cb?): with a trailing callback the
   * peer is asked for an answer, cb(err, value) (err.code EREJECTED,
   * ETIMEDOUT or ECLOSED). Returns write()'s boolean.
   */
  proto.send = function send(event, ...args) {
    if (!enabled(this)) throw new WeftError('the emitter is not enabled (option emitter: true)', 'ESTATE');
    const cb = parseSend(event, args);
    return sendWith(this, emitNative.bind(this), event, args, -1, cb);
  };
  /** The promise form: resolves with the peer's answer. options.timeout in ms (0: none). */
  proto.request = function request(event, args, options) {
    return new Promise((resolve, reject) => {
      if (!enabled(this)) throw new WeftError('the emitter is not enabled (option emitter: true)', 'ESTATE');
      if (args === undefined) args = [];
      if (!Array.isArray(args)) throw new TypeError('request(event, args, options): args must be an array');
      const timeout = options && options.timeout !== undefined ? Number(options.timeout) : -1;
      if (!(timeout === -1 || (Number.isInteger(timeout) && timeout >= 0 && timeout < 2 ** 32 - 1))) {
        throw new RangeError('timeout must be an integer number of ms');
      }
      sendWith(this, emitNative.bind(this), event, args, timeout, (err, v) => (err ? reject(err) : resolve(v)));
    });
  };
  /**
   * emit(): local as always, except emit(name, ...args, fn) with the emitter
   * on, no local listener for `name` and a name the stream does not use: then
   * it goes to the peer as send() does (socket.io's shape, issue #9).
   */
  const localEmit = proto.emit;
  proto.emit = function emit(name, ...args) {
    if (args.length > 0 && typeof args[args.length - 1] === 'function' && typeof name === 'string' &&
        enabled(this) && !LOCAL_EVENTS.has(name) && !name.startsWith('weft::') &&
        this.listenerCount(name) === 0) {
      this.send(name, ...args);
      return true;
    }
    return localEmit.call(this, name, ...args);
  };
}

function emitNative(event, args, timeout, token) {
  return binding.emit(this[kExt], event, args, timeout, token);
}
mixEmitter(Spark.prototype, emitNative, (spark) => !!spark.primus._ext.emitter);
// spark.request is two things at once: weft's request(event, args, options)
// (above) and Primus's upgrade request, whose method, url, headers, query,
// forwarded ({ ip, port }) and socket/connection ({ remoteAddress,
// remotePort }) it carries as properties (the core parsed the request: no
// IncomingMessage exists).
const emitterRequest = Spark.prototype.request;
Object.defineProperty(Spark.prototype, 'request', {
  configurable: true,
  get() {
    if (!this._request) {
      const spark = this;
      const request = function request(...args) { return emitterRequest.apply(spark, args); };
      const socket = { remoteAddress: spark._peer.ip, remotePort: spark._peer.port };
      Object.assign(request, {
        method: 'GET', url: spark.url, headers: spark.headers, query: spark.query,
        forwarded: { ip: spark._peer.ip, port: spark._peer.port }, socket, connection: socket
      });
      this._request = request;
    }
    return this._request;
  },
  set(v) { Object.defineProperty(this, 'request', { value: v, writable: true, configurable: true }); }
});
mixEmitter(Client.prototype, emitNative, (client) => !!client._ext.emitter);

// ---- rooms -------------------------------------------------------------------
function needRooms(server) {
  if (!server._ext.rooms) throw new WeftError('rooms are not enabled (option rooms: true)', 'ESTATE');
}
function roomNames(list) {
  const flat = list.flat();
  for (const r of flat) if (typeof r !== 'string') throw new TypeError('room names must be strings');
  return flat;
}

/** A set of receivers: sparks in `rooms` (all sparks when null) whose id is not in `except`. */
class Target {
  constructor(server, rooms, except, ids = null) {
    this.server = server;
    this._rooms = rooms;
    this._except = except;
    this._ids = ids; // sparks by id, on any node of a cluster (only())
  }

  /** Narrows to sparks in any of these rooms (added to the rooms already named). */
  to(...rooms) {
    return new Target(this.server, [...(this._rooms || []), ...roomNames(rooms)], this._except, this._ids);
  }

  /** Leaves out these spark ids. */
  except(...ids) {
    return new Target(this.server, this._rooms, [...this._except, ...roomNames(ids)], this._ids);
  }

  /** Ids of the sparks this target reaches now. */
  clients() { return this.sparks().map((s) => s.id); }

  /** The sparks this target reaches now. */
  sparks() {
    const server = this.server;
    const out = new Set();
    if (this._rooms) {
      needRooms(server);
      for (const r of this._rooms) {
        const ids = binding.roomsCall(server[kExt], 'members', r);
        if (!Array.isArray(ids)) continue; // closed: nobody
        for (const id of ids) {
          const s = server._sparks.get(id);
          if (s) out.add(s);
        }
      }
    } else {
      for (const s of server._sparks.values()) out.add(s);
    }
    const ex = new Set(this._except);
    return [...out].filter((s) => !ex.has(s.id));
  }

  // weft_server_send / _send_event: the core picks the sparks (rooms minus ids).
  _send(what, a, b) {
    const server = this.server;
    if (server._closed) return 0;
    if (this._rooms) needRooms(server);
    const except = this._except.length ? this._except : null;
    const rc = what === 'write'
      ? binding.serverSend(server[kExt], this._rooms, this._ids, except, a)
      : binding.serverSendEvent(server[kExt], this._rooms, this._ids, except, a, b);
    return rc === ECLOSED ? 0 : check(rc, what);
  }

  /** Writes a message to every spark of the target (encoded once). Returns how many. */
  write(data) { return this._send('write', data); }

  /** Emits an event (no answers) to every spark of the target. Returns how many. */
  send(event, ...args) {
    checkEvent(event);
    if (!this.server._ext.emitter) throw new WeftError('the emitter is not enabled (option emitter: true)', 'ESTATE');
    if (args.length > 0 && typeof args[args.length - 1] === 'function') throw new TypeError('events to many sparks take no ack callback');
    return this._send('send', event, args);
  }
}

Object.assign(Server.prototype, {
  /** Emits an event to every spark (no answers; encoded once). Returns how many. */
  send(event, ...args) {
    checkEvent(event);
    if (!this._ext.emitter) throw new WeftError('the emitter is not enabled (option emitter: true)', 'ESTATE');
    if (args.length > 0 && typeof args[args.length - 1] === 'function') throw new TypeError('broadcast events take no ack callback');
    if (this._closed) return 0;
    const rc = binding.serverSendEvent(this[kExt], null, null, null, event, args);
    return rc === ECLOSED ? 0 : check(rc, 'send');
  },
  /** Sparks in any of these rooms: .except(...ids).write(data) / .send(event, ...args). */
  to(...rooms) { needRooms(this); return new Target(this, roomNames(rooms), []); },
  in(...rooms) { return this.to(...rooms); },
  /** Every spark but these ids. */
  except(...ids) { return new Target(this, null, roomNames(ids)); },
  /** The sparks with these ids, here or on another node of a cluster (option redis). */
  only(...ids) { return new Target(this, null, [], roomNames(ids)); },
  /** One room: { name, clients(), sparks(), write(), send(), except() }. */
  room(name) {
    needRooms(this);
    if (typeof name !== 'string') throw new TypeError('room name must be a string');
    const t = new Target(this, [name], []);
    t.name = name;
    return t;
  },
  /**
   * The spark ids in `room` across the cluster (option redis; this process
   * only without it), sorted: a Promise of string[].
   */
  presence(room) {
    needRooms(this);
    if (typeof room !== 'string') throw new TypeError('room name must be a string');
    return new Promise((resolve, reject) => {
      const token = newToken((err, ids) => (err ? reject(err) : resolve(ids)));
      const rc = this._closed ? ECLOSED : binding.roomsPresence(this[kExt], room, token);
      if (rc < 0) {
        pending.delete(token);
        reject(rcError(rc, 'presence'));
      }
    });
  },
  /** Names of the rooms that have members. */
  rooms() {
    needRooms(this);
    const names = binding.roomsCall(this[kExt], 'list');
    return Array.isArray(names) ? names : []; // closed: none
  },
  /**
   * Lets clients join and leave rooms (client.join(room)): fn(spark, room,
   * join) returns true to allow, synchronously. null turns it off.
   */
  roomsPolicy(fn) {
    needRooms(this);
    if (fn !== null && typeof fn !== 'function') throw new TypeError('roomsPolicy expects a function or null');
    if (!this._ext.emitter) throw new WeftError('client requests need the emitter (option emitter: true)', 'ESTATE');
    this._roomsPolicy = fn;
    check(binding.roomsPolicy(this[kExt], !!fn), 'roomsPolicy');
    return this;
  },

  /**
   * The server's say on routes clients ask for (fast-tcp's broadcast, to
   * rooms, to socket ids; served by default): fn(spark, route) with route
   * { event, args, broadcast, rooms, sockets, withSender } returns false to
   * refuse (the sender's ack is rejected, nothing is sent), an object to
   * change broadcast / withSender, anything else to serve it as asked.
   * Synchronous. null serves every route again.
   */
  routePolicy(fn) {
    if (fn !== null && typeof fn !== 'function') throw new TypeError('routePolicy expects a function or null');
    if (!this._ext.emitter) throw new WeftError('routes need the emitter (option emitter: true)', 'ESTATE');
    this._routePolicy = fn;
    check(binding.routePolicy(this[kExt], !!fn), 'routePolicy');
    return this;
  }
});

// Membership through the core: a spark that is closing is in no room (join: ECLOSED).
const roomOp = (spark, op, room) => check(binding.roomsCall(spark[kExt], op, room), op);
Object.assign(Spark.prototype, {
  /** Puts the spark in a room (no error when it is in already). */
  join(room) { needRooms(this.primus); roomOp(this, 'join', room); return this; },
  /** Takes the spark out of a room. */
  leave(room) { needRooms(this.primus); roomOp(this, 'leave', room); return this; },
  /** Takes the spark out of every room. */
  leaveAll() { needRooms(this.primus); roomOp(this, 'leaveAll'); return this; },
  /** The rooms the spark is in. */
  rooms() {
    needRooms(this.primus);
    const names = binding.roomsCall(this[kExt], 'of');
    return Array.isArray(names) ? names : [];
  },
  /** Whether the spark is in `room`. */
  inRoom(room) {
    needRooms(this.primus);
    if (typeof room !== 'string') throw new TypeError('room must be a string');
    const rc = binding.roomsCall(this[kExt], 'has', room);
    return rc === ECLOSED ? false : check(rc, 'inRoom') === 1;
  },
  /** Sparks in these rooms but this one. */
  to(...rooms) { return this.primus.to(...rooms).except(this.id); }
});
Object.defineProperty(Spark.prototype, 'broadcast', {
  /** Every spark but this one: spark.broadcast.write(data) / .send(event, ...args). */
  get() { return this.primus.except(this.id); }
});

function clientRoom(client, join, room, cb) {
  if (!client._ext.emitter) throw new WeftError('the emitter is not enabled (option emitter: true)', 'ESTATE');
  if (typeof room !== 'string' && room !== null) throw new TypeError('room must be a string');
  const p = new Promise((resolve, reject) => {
    const token = newToken((err) => (err ? reject(err) : resolve()));
    const rc = binding.clientRoom(client[kExt], join, room, token);
    if (rc < 0) {
      pending.delete(token);
      reject(rc === ECLOSED ? ackError('ECLOSED') : rcError(rc, join ? 'join' : room === null ? 'leaveAll' : 'leave'));
    }
  });
  if (typeof cb === 'function') {
    p.then(() => cb(null), (e) => cb(e));
    return client;
  }
  return p;
}
Object.assign(Client.prototype, {
  /** Asks the server to put this client in `room`; the server's roomsPolicy decides. */
  join(room, cb) { return clientRoom(this, true, room, cb); },
  /** Asks the server to take this client out of `room`. */
  leave(room, cb) { return clientRoom(this, false, room, cb); },
  /** Asks the server to take this client out of every room (fast-tcp's "leave all"). */
  leaveAll(cb) { return clientRoom(this, false, null, cb); }
});

// ---- channels ------------------------------------------------------------
/**
 * A named channel over one spark or client: a Duplex in object mode with its
 * own flow control (write() returns false and 'drain' follows while the peer
 * grants no credit; a reader that stops reading stops the peer).
 */
class Channel extends Duplex {
  constructor(owner, name, spark) {
    super({ objectMode: true, allowHalfOpen: false, autoDestroy: true });
    this.name = name;
    this.spark = spark || null;
    this._owner = owner;
    this._waiting = null; // _write's callback while C holds the message
    this._over = false; // the C channel ended
    this._paused = false;
    this[kExt] = null;
  }

  /** Messages waiting for the peer's credit. */
  get queued() { return this[kExt] ? binding.channelCall(this[kExt], 'queued') : 0; }

  _write(chunk, encoding, cb) {
    if (this._over) return cb();
    let rc;
    try {
      rc = binding.channelCall(this[kExt], 'write', chunk);
    } catch (e) {
      return cb(e);
    }
    if (rc === 0 || rc === ECLOSED) return cb();
    if (rc === 1) { this._waiting = cb; return undefined; }
    return cb(rcError(rc, 'channel.write'));
  }

  _read() {
    if (this._paused && !this._over) {
      this._paused = false;
      binding.channelCall(this[kExt], 'resume');
    }
  }

  _closeNative() {
    if (!this._over && this[kExt]) binding.channelCall(this[kExt], 'end');
  }

  _final(cb) { this._closeNative(); cb(); }

  _destroy(err, cb) {
    this._closeNative();
    const w = this._waiting;
    this._waiting = null;
    if (w) w();
    cb(err);
  }

  // The core calls in from inside its channel code, which must not be
  // re-entered (a handler that ends the connection there would free the
  // channel under it): events are queued and handled on the next turn.
  _native(what, value) {
    if (!this._q) this._q = [];
    this._q.push(what, value);
    if (this._q.length === 2) setImmediate(() => this._flush());
  }

  _flush() {
    const q = this._q;
    this._q = null;
    for (let i = 0; i < q.length; i += 2) this._handle(q[i], q[i + 1]);
  }

  _handle(what, value) {
    if (what === 'open') {
      const { owner, spark } = value;
      if (spark) {
        spark.emit('channel', this);
        owner.emit('channel', this, spark);
      } else {
        owner.emit('channel', this);
      }
    } else if (what === 'data') {
      if (!this.push(value) && !this._paused && !this._over) {
        this._paused = true;
        binding.channelCall(this[kExt], 'pause');
      }
    } else if (what === 'drain') {
      const w = this._waiting;
      this._waiting = null;
      if (w) w();
    } else if (what === 'end') {
      this._over = true;
      if (this._owner._channels.get(this.name) === this) this._owner._channels.delete(this.name);
      const w = this._waiting;
      this._waiting = null;
      if (w) w();
      this.push(null);
      if (this.readableFlowing === null) this.resume();
      if (!this.writableEnded) this.end();
    }
  }
}

function openChannel(owner, name, spark) {
  if (typeof name !== 'string' || !name) throw new TypeError('channel name must be a non-empty string');
  if (!owner._channels) owner._channels = new Map();
  const have = owner._channels.get(name);
  if (have) return have;
  const ch = new Channel(owner, name, spark);
  ch[kExt] = binding.channelOpen(owner[kExt], name, ch);
  owner._channels.set(name, ch);
  return ch;
}

Spark.prototype.channel = function channel(name) {
  if (!this.primus._ext.channels) throw new WeftError('channels are not enabled (option channels: true)', 'ESTATE');
  return openChannel(this, name, this);
};
Client.prototype.channel = function channel(name) {
  if (!this._ext.channels) throw new WeftError('channels are not enabled (option channels: true)', 'ESTATE');
  return openChannel(this, name, null);
};

/**
 * Asks the server to route an event (fast-tcp's {broadcast}, {rooms},
 * {sockets}; over tcp:// its own messages): to = { broadcast: true } |
 * { rooms: [..] } | { sockets: [ids] }, with withSender: true to include
 * this client. Returns true, or false above the queue's mark.
 */
Client.prototype.route = function route(event, args, to) {
  if (!this._ext.emitter) throw new WeftError('routes need the emitter (option emitter: true)', 'ESTATE');
  checkEvent(event);
  if (!Array.isArray(args)) throw new TypeError('args must be an array');
  if (to === null || typeof to !== 'object') throw new TypeError('to must be { broadcast } | { rooms } | { sockets }');
  const rc = check(binding.clientRoute(this[kExt], event, args, to.broadcast === true, to.rooms || [],
    to.sockets || [], to.withSender === true), 'route');
  return rc === 0;
};

// The peer opened a channel (this = server or client): refused (ended) when
// nobody listens for 'channel'.
function onChannelOpen(ext, name, spark) {
  const owner = spark || this;
  const listening = owner.listenerCount('channel') > 0 || (spark && this.listenerCount('channel') > 0);
  if (!listening) return undefined;
  if (!owner._channels) owner._channels = new Map();
  const ch = new Channel(owner, name, spark);
  ch[kExt] = ext;
  owner._channels.set(name, ch);
  ch._native('open', { owner: this, spark });
  return ch;
}

function onRoute(spark, route) {
  const fn = this._routePolicy;
  if (!fn) return true;
  try {
    const r = fn.call(this, spark, route);
    return r === false || (r !== null && typeof r === 'object') ? r : true;
  } catch (e) {
    handlerError(this, spark, e);
    return false;
  }
}

function onPolicy(spark, room, join) {
  const fn = this._roomsPolicy;
  if (!fn) return false;
  try {
    return fn.call(this, spark, room, join) === true;
  } catch (e) {
    handlerError(this, spark, e);
    return false;
  }
}

module.exports = {
  Channel,
  Target,
  LOCAL_EVENTS,
  newToken,
  forgetToken: (token) => pending.delete(token),
  makeReply,
  dispatchers: {
    event: onEvent,
    ack: onAck,
    channel(what, value) { this._native(what, value); },
    channelOpen: onChannelOpen,
    policy: onPolicy,
    route: onRoute
  }
};
