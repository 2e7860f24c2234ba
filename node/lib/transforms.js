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

/**
 * Runs Primus's transforms on `data`: fn(packet) changes packet.data or
 * returns false to drop it; fn(packet, next) is asynchronous (next(err) fails,
 * next(null, false) drops). done(err, data, pass) runs once, synchronously
 * when every transform was.
 */
function runTransforms(list, ctx, data, done) {
  const packet = { data };
  let i = 0;
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
  });
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

/** transform(), use() and plugin() on Server.prototype (side 'server') or Client.prototype ('client'). */
function mixin(proto, side) {
  /** Adds a transform: type 'incoming' | 'outgoing', fn(packet[, next]). */
  proto.transform = function transform(type, fn) {
    if (type !== 'incoming' && type !== 'outgoing') {
      throw new TypeError(`Unsupported transformer type "${type}": it must be "incoming" or "outgoing"`);
    }
    if (typeof fn !== 'function') throw new TypeError('transform expects a function');
    this._transforms[type].push(fn);
    const t = this._transforms;
    binding.transformCounts(this[kExt], t.incoming.length, side === 'server' ? t.outgoing.length : 0);
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

module.exports = { kExt, runTransforms, dispatch, clientOutgoing, mixin };
