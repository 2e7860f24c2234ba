'use strict';
//
// Primus's HTTP middleware on a Server: use/before(name, fn[, options][,
// index]), remove, enable, disable, indexOfLayer, and `layers`.
//
// The built-in layers carry Primus's names — forwarded, cors, primus.js,
// spec, x-xss, no-cache, authorization — and are done by the core, in C,
// for every host (X-Forwarded-For from trusted proxies, CORS, the client
// library, the spec, the security headers, the authorize hook). Removing or
// disabling 'authorization' turns the authorize hook off; the other
// built-ins are the core's answers and stay (docs/primus-compat.md).
//
// The application's layers run in JavaScript, in order, for every request
// and upgrade under the pathname that reaches this server through Node: an
// attached server (new Server(httpServer)) and handleRequest/handleUpgrade.
// A layer that answers, or passes an error to next (answered 500, or its
// status), keeps the request from the core. A server the core listens for
// itself sees no Node request: use() there throws.
//
const http = require('node:http');
const { WeftError } = require('./errors');

const BUILTIN = ['forwarded', 'cors', 'primus.js', 'spec', 'x-xss', 'no-cache', 'authorization'];
const builtin = (name) => function core(req, res, next) { next(); };

function init(primus) {
  primus.layers = BUILTIN.map((name) => ({ name, enabled: true, length: 3, fn: builtin(name), core: true }));
}

function indexOfLayer(name) {
  return this.layers.findIndex((l) => l.name === name);
}

/** Primus's use(name, fn[, options][, index]) for middleware functions. */
function use(name, fn, options, level) {
  if (typeof name === 'function') {
    level = options;
    options = fn;
    fn = name;
    name = fn.name || `pid_${Date.now()}`;
  }
  if (!level && typeof options === 'number') { level = options; options = {}; }
  options = options || {};
  if (typeof fn !== 'function') throw new TypeError('Middleware should be a function that accepts at least 2 args');
  if (!this._http) {
    throw new WeftError('middleware runs for requests Node sees: attach this server to an HTTP server ' +
      '(new Server(httpServer, options)) or hand requests over with handleRequest/handleUpgrade', 'ESTATE');
  }
  if (fn.length < 2) fn = fn.call(this, options);
  if (typeof fn !== 'function' || fn.length < 2) {
    throw new TypeError('Middleware should be a function that accepts at least 2 args');
  }
  const layer = { length: fn.length, enabled: true, name, fn };
  const index = this.indexOfLayer(name);
  if (index >= 0) this.layers[index] = layer;
  else if (level >= 0 && level < this.layers.length) this.layers.splice(level, 0, layer);
  else this.layers.push(layer);
  return this;
}

function setEnabled(primus, name, on) {
  const i = primus.indexOfLayer(name);
  if (i >= 0) primus.layers[i].enabled = on;
  if (name === 'authorization') primus._authLayer();
  return primus;
}

function remove(name) {
  const i = this.indexOfLayer(name);
  if (i >= 0) this.layers.splice(i, 1);
  if (name === 'authorization') this._authLayer();
  return this;
}

/** Is the authorization layer there and enabled? */
function authorizing(primus) {
  const i = primus.indexOfLayer('authorization');
  return i >= 0 && primus.layers[i].enabled;
}

/**
 * Runs the application's enabled layers on req/res; done() when every layer
 * passed it on (the core takes it then).
 */
function run(primus, req, res, done) {
  const layers = primus.layers.filter((l) => l.enabled && !l.core);
  let i = 0;
  const next = (err) => {
    if (err) {
      res.statusCode = Number(err.statusCode || err.status) >= 400 ? Number(err.statusCode || err.status) : 500;
      res.end(err.message || String(err));
      return;
    }
    if (res.writableEnded) return;
    const layer = layers[i++];
    if (!layer) return done();
    try {
      if (layer.length < 3) {
        if (layer.fn.call(primus, req, res) === false) return undefined;
        return next();
      }
      return layer.fn.call(primus, req, res, next);
    } catch (e) {
      return next(e);
    }
  };
  next();
}

/** A response for an upgrade's socket, so that a layer may answer it. */
function upgradeResponse(req, socket) {
  const res = new http.ServerResponse(req);
  res.assignSocket(socket);
  res.shouldKeepAlive = false;
  return res;
}

function hasApplicationLayers(primus) {
  return primus.layers.some((l) => l.enabled && !l.core);
}

function mixin(proto) {
  proto.use = use;
  proto.before = use;
  proto.remove = remove;
  proto.enable = function enable(name) { return setEnabled(this, name, true); };
  proto.disable = function disable(name) { return setEnabled(this, name, false); };
  proto.indexOfLayer = indexOfLayer;
}

module.exports = { init, mixin, run, upgradeResponse, hasApplicationLayers, authorizing, BUILTIN };
