'use strict';
//
// Primus's transforms and plugins, for servers and clients alike. The
// transforms are JavaScript functions run by the core's plugin pipeline
// through the addon's trampoline (src/transform.c): a server's see every
// message the core reads or writes for a spark (writes, broadcasts, rooms,
// events), a client's every message it reads; a client's outgoing
// transforms run here, on write() (the core has no outgoing hook for
// clients). Plugins are Primus's: { server(server, options), client(client,
// options) }, run at registration.
//
const binding = require('./binding');
const { WeftError } = require('./errors');

// Where a Server, Spark, Client or Channel keeps its addon handle.
const kExt = Symbol('weft.handle');
// A server's or client's incoming transforms' type masks, beside
// _transforms.incoming (0: every type).
const kTypes = Symbol('weft.transformTypes');

// transform('incoming', fn, { types }): the names, as the core's message
// types (weft_type's WEFT_PLUGIN_TYPE bits): null, bool, int|float,
// string, binary, array, map.
const TYPE_BITS = { null: 1, boolean: 2, number: 12, string: 16, buffer: 32, array: 64, object: 128 };

/** The core type bit of a value delivered to JavaScript (as the addon converts them). */
function typeBit(v) {
  if (v === null || v === undefined) return 1;
  switch (typeof v) {
    case 'boolean': return 2;
    case 'number': return 12;
    case 'bigint': return 4;
    case 'string': return 16;
    default: return Array.isArray(v) ? 64 : ArrayBuffer.isView(v) || v instanceof ArrayBuffer ? 32 : 128;
  }
}

/** The mask of options.types (0 without options or types); throws TypeError on anything else. */
function typesMask(type, options) {
  if (options === undefined) return 0;
  if (options === null || typeof options !== 'object') throw new TypeError('transform options must be an object');
  const { types } = options;
  if (types === undefined) return 0;
  if (type !== 'incoming') throw new TypeError('types apply to incoming transforms only');
  if (!Array.isArray(types) || types.length === 0) {
    throw new TypeError(`types must be a non-empty array of ${Object.keys(TYPE_BITS).join(', ')}`);
  }
  let mask = 0;
  for (const name of types) {
    if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(TYPE_BITS, name)) {
      throw new TypeError(`unknown message type ${JSON.stringify(name)} (types take ${Object.keys(TYPE_BITS).join(', ')})`);
    }
    mask |= TYPE_BITS[name];
  }
  return mask;
}

/**
 * Runs Primus's transforms on `data`: fn(packet) changes packet.data or
 * returns false to drop it; fn(packet, next) is asynchronous (next(err) fails,
 * next(null, false) drops). done(err, data, pass) runs once, synchronously
 * when every transform was.
 */
function runTransforms(list, ctx, data, done, masks) {
  const packet = { data };
  let i = 0;
  const step = () => {
    while (i < list.length) {
      const mask = masks ? masks[i] : 0;
      const fn = list[i++];
      if (mask && !(mask & typeBit(packet.data))) continue; // asked about the current value's type
      if (fn.length > 1) {
        let called = false;
        fn.call(ctx, packet, (err, arg) => {
          if (called) return;
          called = true;
          if (err) return done(err);
          if (arg === false) return done(null, undefined, false);
          return step();
        });
        return;
      }
      if (fn.call(ctx, packet) === false) return done(null, undefined, false);
    }
    done(null, packet.data, true);
  };
  step();
}

/**
 * A transform's failure (next(err)): an 'error' event of kind "transform",
 * code err.code when it is a string, else "ETRANSFORM", `cause` what the
 * transform failed with (the spark's listeners, else its server's; a
 * client's). The message is dropped; the connection stays open.
 */
function transformError(self, err, outgoing) {
  const why = err instanceof Error ? err.message : String(err);
  const code = err && typeof err.code === 'string' ? err.code : 'ETRANSFORM';
  const e = new WeftError(`${outgoing ? 'an outgoing' : 'an incoming'} transform failed: ${why}`, code, 'transform');
  e.cause = err;
  if (self.primus) {
    if (self.listenerCount('error') > 0) self.emit('error', e);
    else if (self.primus.listenerCount('error') > 0) self.primus.emit('error', e, self);
  } else if (self.listenerCount('error') > 0) {
    self.emit('error', e);
  }
}

/**
 * The trampoline's dispatcher (this = a Spark or a Client): incoming
 * messages are delivered here, now or later; an outgoing one is answered
 * with [data] when every transform was synchronous, false otherwise (dropped,
 * or written later past the transforms).
 */
function dispatch(outgoing, value) {
  const self = this;
  const owner = self.primus || self;
  let result = false;
  let sync = true;
  runTransforms(owner._transforms[outgoing ? 'outgoing' : 'incoming'], self, value, (err, data, pass) => {
    if (err) return transformError(self, err, outgoing);
    if (!pass) return undefined;
    if (!outgoing) return self._deliver(data);
    if (sync) result = [data];
    else binding.transformedWrite(owner[kExt], self[kExt], data);
    return undefined;
  }, outgoing ? undefined : owner[kTypes]);
  sync = false;
  return result;
}

/** Runs a client's outgoing transforms, then write(out): its answer, or true. */
function clientOutgoing(client, data, write) {
  let ret = true;
  runTransforms(client._transforms.outgoing, client, data, (err, out, pass) => {
    if (err) transformError(client, err, true);
    else if (pass) ret = write(out);
  });
  return ret;
}

/**
 * Tells the trampoline how many transforms `obj` (a Server or Client) has
 * and the incoming types they look at (0: every type; the C side passes
 * the others without calling JavaScript). A client's outgoing transforms
 * run in JavaScript before its writes (clientOutgoing), so its count is 0.
 */
function syncTransforms(obj, side) {
  const t = obj._transforms;
  const masks = obj[kTypes] || [];
  const union = masks.includes(0) ? 0 : masks.reduce((a, m) => a | m, 0);
  binding.transformCounts(obj[kExt], t.incoming.length, side === 'server' ? t.outgoing.length : 0, union);
}

/** transform(), use() and plugin() on Server.prototype (side 'server') or Client.prototype ('client'). */
function mixin(proto, side) {
  /**
   * Adds a transform: type 'incoming' | 'outgoing', fn(packet[, next]);
   * options.types (incoming only, a weft extension): the message types fn
   * looks at. A message of a type that no incoming transform names is
   * delivered without a call into JavaScript for it.
   */
  proto.transform = function transform(type, fn, options) {
    if (type !== 'incoming' && type !== 'outgoing') {
      throw new TypeError(`Unsupported transformer type "${type}": it must be "incoming" or "outgoing"`);
    }
    if (typeof fn !== 'function') throw new TypeError('transform expects a function');
    const mask = typesMask(type, options);
    this._transforms[type].push(fn);
    if (type === 'incoming') (this[kTypes] || (this[kTypes] = [])).push(mask);
    syncTransforms(this, side);
    return this;
  };

  /** Registers a Primus plugin: { server(server, options), client(client, options) }; runs this side's now. */
  proto.use = function use(name, plugin) {
    if (typeof name === 'object' && name !== null && !plugin) { plugin = name; name = plugin.name; }
    // Primus's checks, with its messages.
    if (typeof name !== 'string' || !name) throw new TypeError('Plugin name must be a non empty string');
    if (typeof plugin === 'string') plugin = require(plugin);
    if (!plugin || (typeof plugin !== 'object' && typeof plugin !== 'function')) throw new TypeError('Plugin should be an object or function');
    if (name in this._plugins) throw new WeftError('Plugin name already defined', 'EEXIST');
    if (!plugin.server && !plugin.client) throw new TypeError('The plugin is missing a client or server function');
    this._plugins[name] = plugin;
    if (typeof plugin[side] === 'function') plugin[side].call(this, this, this.options);
    return this;
  };

  /** The plugin registered under name (or all of them). */
  proto.plugin = function plugin(name) { return name ? this._plugins[name] : this._plugins; };
}

module.exports = { kExt, runTransforms, dispatch, clientOutgoing, mixin, syncTransforms };
