'use strict';
//
// weft's extensions for Node (issue #9): events with acknowledgements (the
// emitter, primus-emitter's wire format), rooms, channels. The C core does
// the work (include/weft/ext.h); this file gives it Node's shape. See the
// README's section "Events with acks, rooms, channels".
//
const { Duplex } = require('node:stream');
const binding = require('./binding');

// Names a Spark or Client uses for itself (Primus's, the stream's): a remote
// event by one of these names is refused, so a peer cannot fake a local
// event. The core already refuses Primus's list (docs/extensions.md).
const LOCAL_EVENTS = new Set([
  'open', 'data', 'end', 'error', 'close', 'drain', 'finish', 'prefinish', 'pipe', 'unpipe',
  'readable', 'pause', 'resume', 'newListener', 'removeListener', 'destroy', 'channel', '*',
  'reconnect', 'reconnect scheduled', 'reconnected', 'reconnect failed', 'reconnect timeout', 'timeout', 'online',
  'offline', 'connection', 'disconnection', 'log', 'pong', 'initialised', 'reconnecting'
]);

function install({ Server, Spark, Client, kExt, WeftError, rcError, softError, ECLOSED }) {
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

  function onAck(token, code, value) {
    const fn = pending.get(token);
    if (!fn) return;
    pending.delete(token);
    if (code === null) fn(null, value === undefined ? null : value);
    else fn(ackError(code, value));
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
    const answer = (ok, value) => {
      if (answered) return false;
      if (!ok) {
        if (value instanceof Error) value = value.message;
        else if (value === undefined || value === null) value = 'rejected';
      }
      try {
        binding.replyAnswer(ext, ok, value);
      } catch (e) {
        // Could not encode the answer: the sender learns it, the caller too.
        answered = true;
        binding.replyAnswer(ext, false, `unencodable answer: ${e.message}`);
        throw e;
      }
      answered = true;
      return true;
    };
    /** Node's error-first answer: ack(null, value) resolves, ack(err) rejects. */
    const ack = (err, value) => (err === undefined || err === null ? answer(true, value) : answer(false, err));
    ack.resolve = (value) => answer(true, value);
    ack.reject = (reason) => answer(false, reason);
    Object.defineProperty(ack, 'answered', { get: () => answered });
    return ack;
  }

  function raise(e) { process.nextTick(() => { throw e; }); }

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
    for (const fn of listeners) {
      let r;
      try {
        r = fn.apply(target, callArgs);
      } catch (e) {
        if (reply) reply.reject(e instanceof Error ? e.message : e);
        throw e; // uncaughtException, as any listener's
      }
      if (r && typeof r.then === 'function') {
        // async handlers: the promise answers unless the ack was called.
        r.then((v) => { if (reply) reply.resolve(v); },
          (e) => { if (reply) reply.reject(e instanceof Error ? e.message : e); else raise(e); });
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

  mixEmitter(Spark.prototype, function (event, args, timeout, token) {
    return binding.sparkEmit(this[kExt], event, args, timeout, token);
  }, (spark) => !!spark.primus._ext.emitter);
  mixEmitter(Client.prototype, function (event, args, timeout, token) {
    return binding.clientEmit(this[kExt], event, args, timeout, token);
  }, (client) => !!client._ext.emitter);

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
    constructor(server, rooms, except) {
      this.server = server;
      this._rooms = rooms;
      this._except = except;
    }

    /** Narrows to sparks in any of these rooms (added to the rooms already named). */
    to(...rooms) {
      return new Target(this.server, [...(this._rooms || []), ...roomNames(rooms)], this._except);
    }

    /** Leaves out these spark ids. */
    except(...ids) {
      return new Target(this.server, this._rooms, [...this._except, ...roomNames(ids)]);
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
          for (const id of binding.roomsCall(server[kExt], 'members', undefined, r)) {
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

    _send(mode, a, b) {
      const server = this.server;
      if (server._closed) return 0;
      let rc;
      if (this._rooms) {
        needRooms(server);
        if (mode === 'write' && server._transforms.outgoing.length > 0) {
          const list = this.sparks();
          for (const s of list) s.write(a);
          return list.length;
        }
        rc = binding.serverSend(server[kExt], 'rooms', mode, a, b, this._rooms, this._except);
      } else {
        const ex = new Set(this._except);
        const list = [];
        for (const s of server._sparks.values()) if (!ex.has(s.id)) list.push(s);
        if (mode === 'write' && server._transforms.outgoing.length > 0) {
          for (const s of list) s.write(a);
          return list.length;
        }
        rc = binding.serverSend(server[kExt], 'sparks', mode, a, b, list.map((s) => s[kExt]));
      }
      if (rc < 0) throw rcError(rc, mode);
      return rc;
    }

    /** Writes a message to every spark of the target (encoded once). Returns how many. */
    write(data) { return this._send('write', data); }

    /** Emits an event (no answers) to every spark of the target. Returns how many. */
    send(event, ...args) {
      checkEvent(event);
      if (!this.server._ext.emitter) throw new WeftError('the emitter is not enabled (option emitter: true)', 'ESTATE');
      if (args.length > 0 && typeof args[args.length - 1] === 'function') throw new TypeError('events to many sparks take no ack callback');
      return this._send('emit', event, args);
    }
  }

  Object.assign(Server.prototype, {
    /** Emits an event to every spark (no answers; encoded once). Returns how many. */
    send(event, ...args) {
      checkEvent(event);
      if (!this._ext.emitter) throw new WeftError('the emitter is not enabled (option emitter: true)', 'ESTATE');
      if (args.length > 0 && typeof args[args.length - 1] === 'function') throw new TypeError('broadcast events take no ack callback');
      if (this._closed) return 0;
      const rc = binding.serverSend(this[kExt], 'all', 'emit', event, args);
      if (rc < 0) throw rcError(rc, 'send');
      return rc;
    },
    /** Sparks in any of these rooms: .except(...ids).write(data) / .send(event, ...args). */
    to(...rooms) { needRooms(this); return new Target(this, roomNames(rooms), []); },
    in(...rooms) { return this.to(...rooms); },
    /** Every spark but these ids. */
    except(...ids) { return new Target(this, null, roomNames(ids)); },
    /** One room: { name, clients(), sparks(), write(), send(), except() }. */
    room(name) {
      needRooms(this);
      if (typeof name !== 'string') throw new TypeError('room name must be a string');
      const t = new Target(this, [name], []);
      t.name = name;
      return t;
    },
    /** Names of the rooms that have members. */
    rooms() { needRooms(this); return this._closed ? [] : binding.roomsCall(this[kExt], 'list'); },
    /**
     * Lets clients join and leave rooms (client.join(room)): fn(spark, room,
     * join) returns true to allow, synchronously. null turns it off.
     */
    roomsPolicy(fn) {
      needRooms(this);
      if (fn !== null && typeof fn !== 'function') throw new TypeError('roomsPolicy expects a function or null');
      if (!this._ext.emitter) throw new WeftError('client requests need the emitter (option emitter: true)', 'ESTATE');
      this._roomsPolicy = fn;
      binding.roomsCall(this[kExt], 'policy', undefined, !!fn);
      return this;
    }
  });

  Object.assign(Spark.prototype, {
    /** Puts the spark in a room (no error when it is in already). */
    join(room) { needRooms(this.primus); binding.roomsCall(this.primus[kExt], 'join', this[kExt], room); return this; },
    /** Takes the spark out of a room. */
    leave(room) { needRooms(this.primus); binding.roomsCall(this.primus[kExt], 'leave', this[kExt], room); return this; },
    /** Takes the spark out of every room. */
    leaveAll() { needRooms(this.primus); binding.roomsCall(this.primus[kExt], 'leaveAll', this[kExt]); return this; },
    /** The rooms the spark is in. */
    rooms() { needRooms(this.primus); return binding.roomsCall(this.primus[kExt], 'of', this[kExt]); },
    /** Whether the spark is in `room`. */
    inRoom(room) {
      needRooms(this.primus);
      return this.readyState === Spark.OPEN && binding.roomsCall(this.primus[kExt], 'has', this[kExt], room);
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
    if (typeof room !== 'string') throw new TypeError('room must be a string');
    const p = new Promise((resolve, reject) => {
      const token = newToken((err) => (err ? reject(err) : resolve()));
      const rc = binding.clientRoom(client[kExt], join, room, token);
      if (rc < 0) {
        pending.delete(token);
        reject(rc === ECLOSED ? ackError('ECLOSED') : rcError(rc, join ? 'join' : 'leave'));
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
    leave(room, cb) { return clientRoom(this, false, room, cb); }
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

  function openChannel(owner, isClient, name, spark) {
    if (typeof name !== 'string' || !name) throw new TypeError('channel name must be a non-empty string');
    if (!owner._channels) owner._channels = new Map();
    const have = owner._channels.get(name);
    if (have) return have;
    const ch = new Channel(owner, name, spark);
    ch[kExt] = binding.channelOpen(owner[kExt], isClient, name, ch);
    owner._channels.set(name, ch);
    return ch;
  }

  Spark.prototype.channel = function channel(name) {
    if (!this.primus._ext.channels) throw new WeftError('channels are not enabled (option channels: true)', 'ESTATE');
    return openChannel(this, false, name, this);
  };
  Client.prototype.channel = function channel(name) {
    if (!this._ext.channels) throw new WeftError('channels are not enabled (option channels: true)', 'ESTATE');
    return openChannel(this, true, name, null);
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

  // Options, attached before listen/open (the core requires it).
  function attachServer(server, options) {
    const ext = server[kExt];
    const flags = { emitter: false, rooms: false, channels: false };
    const em = options.emitter;
    if (em || options.rooms) {
      const timeout = em && typeof em === 'object' ? em.timeout : options.ackTimeout;
      binding.serverExt(ext, 'emitter', timeout);
      flags.emitter = true;
    }
    if (options.rooms) {
      binding.serverExt(ext, 'rooms');
      flags.rooms = true;
    }
    if (options.channels) {
      const ch = options.channels;
      binding.serverExt(ext, 'channels', typeof ch === 'object' ? ch.window : undefined);
      flags.channels = true;
    }
    if (options.batching) binding.serverExt(ext, 'batching', options.batching === true ? 16384 : options.batching);
    return flags;
  }

  function attachClient(client, options) {
    const ext = client[kExt];
    const flags = { emitter: false, channels: false };
    const em = options.emitter;
    if (em) {
      binding.clientExt(ext, 'emitter', typeof em === 'object' ? em.timeout : options.ackTimeout);
      flags.emitter = true;
    }
    if (options.channels) {
      const ch = options.channels;
      binding.clientExt(ext, 'channels', typeof ch === 'object' ? ch.window : undefined);
      flags.channels = true;
    }
    if (options.batching) binding.clientExt(ext, 'batching', options.batching === true ? 16384 : options.batching);
    return flags;
  }

  function onPolicy(spark, room, join) {
    const fn = this._roomsPolicy;
    if (!fn) return false;
    const r = fn.call(this, spark, room, join);
    return r === true;
  }

  return {
    Channel,
    Target,
    attachServer,
    attachClient,
    dispatchers: {
      event: onEvent,
      ack: onAck,
      channel(what, value) { this._native(what, value); },
      channelOpen: onChannelOpen,
      policy: onPolicy
    }
  };
}

module.exports = { install, LOCAL_EVENTS };
