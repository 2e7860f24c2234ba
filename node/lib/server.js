'use strict';
//
// Server: Primus's server API over a weft_server. Listens at construction.
// Options come from the core's table (lib/options.js); messages to many
// sparks go through the core's recipients call (weft_server_send).
//
const { EventEmitter } = require('node:events');
const util = require('node:util');
const binding = require('./binding');
const { WeftError, ECLOSED, ESTATE, check, handlerError, HANDLER_ERRORS } = require('./errors');
const { checkServer, applyServer } = require('./options');
const { kExt, mixin } = require('./transforms');
const log = require('./log');
const attachment = require('./attach');
const middleware = require('./middleware');
const { Spark } = require('./spark');
const parsers = require('./parsers');
// Primus's reserved(event): incoming::*, outgoing::* and the names the
// objects emit themselves (lib/ext.js's LOCAL_EVENTS; required late: ext.js
// requires this file).
function reserved(evt) {
  return typeof evt === 'string' && (/^(incoming|outgoing)::/.test(evt) || require('./ext').LOCAL_EVENTS.has(evt));
}

// options.port: 8080 by default, 0 (or '0') a free one.
function portOf(options) {
  const port = options.port === undefined ? 8080 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer in [0, 65535], got ${options.port}`);
  }
  return port;
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
  const port = portOf(options);
  let host = options.host || options.hostname || '0.0.0.0';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  let pathname = options.pathname || '/primus';
  if (!pathname.startsWith('/')) pathname = `/${pathname}`;
  const tls = options.tls || options.tlsCert;
  return [`${tls ? 'wss' : 'ws'}://${host}:${port}${pathname}`];
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

// binding.serverHook's hooks (src/auth.c).
const HOOK_AUTHORIZE = 0;
const HOOK_ID = 1;

function invalid(name, value, expected) {
  const err = new TypeError(`${name} must be ${expected}; received ${util.inspect(value)}`);
  err.code = 'ERR_INVALID_ARG_VALUE';
  return err;
}


// A plugin's client function as an expression: a method (`client() {}`)
// is taken from an object literal.
function clientSource(fn) {
  const src = fn.toString();
  try {
    new Function(`return (${src});`); // eslint-disable-line no-new-func -- a syntax check only, never called
    return `(${src})`;
  } catch (e) {
    return `({ ${src} }).client`;
  }
}

/**
 * A Primus-compatible server. Listens at construction:
 * `new Server({ port, host, pathname, parser, pingInterval, ... })`, or
 * `new Server({ listen: ['ws://127.0.0.1:0/primus', 'ws+unix:///run/app.sock:/primus'] })`.
 */
class Server extends EventEmitter {
  constructor(server, options) {
    super();
    // Primus's `new Primus(httpServer, options)`: attached to the app's server.
    const http = attachment.isServer(server) ? server : null;
    if (!http) options = server;
    let parserObj;
    [options, parserObj] = parsers.split(options);
    if (typeof options === 'function') {
      throw new TypeError('new Server(server, options): expected a server instance (http.Server, https.Server) ' +
        'or an options object, got a function (an Express app? pass http.createServer(app))');
    }
    options = checkServer(options || {});
    const handlerErrors = options.handlerErrors === undefined ? 'uncaughtException' : options.handlerErrors;
    if (!HANDLER_ERRORS.includes(handlerErrors)) throw invalid('handlerErrors', handlerErrors, "'uncaughtException' or 'close'");
    if (options.idGenerator !== undefined && typeof options.idGenerator !== 'function') {
      throw invalid('idGenerator', options.idGenerator, 'a function');
    }
    const urls = http ? [] : listenUrls(options);
    this.options = options;
    this.parser = typeof options.parser === 'string' ? options.parser.toLowerCase() : 'json';
    if (parserObj) {
      // Primus's parser object: primus.parser is it, encoder/decoder its functions.
      this.parser = parserObj;
      this.encoder = parserObj.encoder;
      this.decoder = parserObj.decoder;
    }
    this._handlerErrors = handlerErrors;
    this._transforms = { incoming: [], outgoing: [] };
    this._sparks = new Map();
    this._plugins = Object.create(null);
    this._auth = null;
    this._closed = false;
    this._destroyCallbacks = [];
    this._ext = {};
    middleware.init(this);
    // Primus's per-instance Spark class: plugins extend it without touching
    // other servers' sparks.
    this.Spark = class extends Spark {};
    const ext = binding.serverNew(this);
    this[kExt] = ext;
    try {
      log.attach(this, options);
      this._ext = applyServer(ext, options);
      if (parserObj) {
        parsers.attach(this, ext, parserObj);
        this.options = options = Object.assign({}, options, { parser: parserObj });
      }
      if (this._ext.emitter) check(binding.emitterListen(ext), 'emitter');
      if (this._ext.channels) check(binding.channelsListen(ext), 'channels');
      if (options.psk !== undefined) check(binding.setPsk(ext, Buffer.from(options.psk)), 'psk');
      if (options.streams && !this._ext.emitter) throw new WeftError('option streams needs emitter: true', 'EINVAL');
      if (options.streams) this._streams = check(binding.streamsListen(ext), 'streams') === 0;
      check(binding.transformsAttach(ext), 'transforms');
      if (options.idGenerator) check(binding.serverHook(ext, HOOK_ID, true), 'idGenerator');
      if (http) {
        let pathname = options.pathname || '/primus';
        if (!pathname.startsWith('/')) pathname = `/${pathname}`;
        check(binding.serverAttach(ext, `ws://localhost:0${pathname}`), 'attach');
        this.port = 0;
      }
      for (const url of urls) { // each answers the first listener's port (0 for a Unix socket)
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
      this._address = http ? null : urlAddress(this.url, this.port);
      this.host = typeof this._address === 'string' || !this._address ? '' : this._address.address;
      this._http = http;
      if (http) this._detach = attachment.attach(this, http);
    } catch (e) {
      this._closed = true;
      binding.serverDestroy(ext, false, 1);
      throw e;
    }
    const t = options.transformer;
    /** The transformer's name(s), as given ("websockets" by default). */
    this.transformer = typeof t === 'string' ? t.toLowerCase() : Array.isArray(t) ? t.join(',').toLowerCase() : 'websockets';
    for (const name of Object.keys(options.plugin || {})) this.plugin(name, options.plugin[name]);
    this._serveLibrary();
    // Primus's 'initialised' (transformer, parser, options), once listeners can be added.
    process.nextTick(() => { if (!this._closed) this.emit('initialised', this.transformer, this.parser, this.options); });
  }

  /**
   * Primus's library(): the browser client (global Primus, from the core)
   * with this server's settings as its defaults (pathname, parser,
   * transformer) and the client parts of the plugins, run on every new
   * client (`fn.call(primus, primus, options)`), as Primus bakes them in;
   * under the global name options.global ("Primus" by default).
   */
  library() {
    const obj = this._parserObj;
    const defaults = { pathname: this.pathname, parser: obj ? parsers.nameOf(obj) : this.parser, transformer: this.transformer.split(',')[0] };
    const plugins = Object.keys(this._plugins)
      .filter((name) => typeof this._plugins[name].client === 'function')
      .map((name) => `[${JSON.stringify(name)}, ${clientSource(this._plugins[name].client)}]`);
    // Plugins' client libraries (primus-emitter's `library`), run against the client class as Primus's are.
    const libraries = Object.keys(this._plugins).map((name) => this._plugins[name].library)
      .filter((src) => typeof src === 'string');
    return `${binding.clientLibrary('primus.js')}
${obj ? parsers.librarySource(obj) : ''}
;(function (Base, local) {
  // What Primus's client has and plugins' libraries call: initialise(options), reserved(event).
  if (!Base) return;
  if (typeof Base.prototype.initialise !== 'function') Base.prototype.initialise = function initialise() {};
  if (typeof Base.prototype.reserved !== 'function') {
    Base.prototype.reserved = function reserved(evt) { return /^(incoming|outgoing)::/.test(evt) || local.indexOf(evt) >= 0; };
  }
})(globalThis.Primus, ${JSON.stringify([...require('./ext').LOCAL_EVENTS])});
${libraries.map((src) => `;(function (Primus) {\n${src}\n})(globalThis.Primus);`).join('\n')}
;(function (Base, defaults, plugins) {
  // weft ${binding.version}: this server's settings and its plugins' client parts.
  if (!Base) return;
  class Primus extends Base {
    constructor(url, options) {
      if (url !== null && typeof url === 'object' && !(url instanceof URL)) { options = url; url = undefined; }
      options = Object.assign({}, defaults, options);
      super(url, options);
      for (var i = 0; i < plugins.length; i++) plugins[i][1].call(this, this, options);
      this.initialise(options);
    }
  }
  Primus.version = ${JSON.stringify(binding.version)};
  globalThis[${JSON.stringify(this.options.global || 'Primus')}] = Primus;
})(globalThis.Primus, ${JSON.stringify(defaults)}, [${plugins.join(', ')}]);
`;
  }

  // <pathname>/primus.js answers library(), as Primus's does: set again when a
  // plugin comes or goes (the core's asset, replaced; answers under way keep theirs).
  _serveLibrary() {
    if (this._closed || this.options.clientLibrary === false) return;
    check(binding.serverAddAsset(this[kExt], `${this.pathname === '/' ? '' : this.pathname}/primus.js`,
      'text/javascript; charset=utf-8', this.library(), true), 'library');
  }

  /** Primus's save(path[, fn]): writes library() to path (synchronously without fn). */
  save(path, fn) {
    if (typeof fn !== 'function') {
      require('node:fs').writeFileSync(path, this.library(), 'utf-8');
      return this;
    }
    require('node:fs').writeFile(path, this.library(), 'utf-8', fn);
    return this;
  }

  /** weft's version (Primus's primus.version). */
  get version() { return binding.version; }

  /** The browser client's source as the core serves it at <pathname>/primus.js (Primus's primus.client). */
  get client() { return binding.clientLibrary('primus.js'); }

  /**
   * Primus's reserved(event): a name Primus and weft keep for themselves
   * (incoming::*, outgoing::*, their events), which plugins must not emit.
   */
  reserved(evt) { return reserved(evt); }

  /** Primus's `primus.server` is the HTTP server; here the server itself plays it. */
  get server() { return this._http || this; }
  get listening() { return !this._closed; }

  /**
   * Primus's primus.Socket: a client class for this server (its transformer,
   * parser and pathname), with or without `new`.
   */
  get Socket() {
    if (!this._Socket) {
      const t = this.options.transformer;
      const ping = this.options.pingInterval;
      const server = this;
      const Base = require('./client').createSocket({
        transformer: Array.isArray(t) ? t[0] : typeof t === 'string' ? t.split(',')[0] : t,
        parser: this.parser,
        pathname: this.pathname,
        // Primus's library: a client waits 1.5 pings for the next one (none when the server does not ping).
        pingTimeout: ping === false || ping === 0 ? false : Math.round((ping === undefined ? 30000 : ping) * 1.5)
      });
      // The plugins' client parts, as Primus's library runs them: those of
      // the server now, then the client's own.
      const clientPlugins = (options) => {
        const plugin = {};
        for (const [name, p] of Object.entries(server._plugins)) if (typeof p.client === 'function') plugin[name] = p;
        return Object.assign({}, options, { plugin: Object.assign(plugin, options && options.plugin) });
      };
      this._Socket = function Socket(url, options) {
        if (url !== null && typeof url === 'object') return Base(clientPlugins(url));
        return Base(url, clientPlugins(options));
      };
      this._Socket.prototype = Base.prototype;
      Object.setPrototypeOf(this._Socket, Base);
    }
    return this._Socket;
  }

  /**
   * The first listener's address as net.Server#address(): `{ address, family,
   * port }`, or the socket's path for a Unix socket; null once closed.
   */
  address() {
    if (this._closed) return null;
    if (this._http) return this._http.address();
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
        return fn(list[i++], next);
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
    const rc = binding.serverSend(this[kExt], null, null, null, data);
    if (rc === ECLOSED || rc === ESTATE) return false;
    check(rc, 'write');
    return true;
  }

  /**
   * Serves `data` (a Buffer or a string) at the exact path `path` with this
   * Content-Type (weft_server_add_asset), before or while listening.
   */
  addAsset(path, contentType, data) {
    if (typeof path !== 'string' || typeof contentType !== 'string') throw new TypeError('addAsset(path, contentType, data): path and contentType are strings');
    if (typeof data !== 'string' && !Buffer.isBuffer(data)) throw new TypeError('addAsset(path, contentType, data): data is a Buffer or a string');
    check(binding.serverAddAsset(this[kExt], path, contentType, data, false), `addAsset ${path}`);
    return this;
  }

  /**
   * Authorization hook: fn(req, done). done(err) refuses with err.statusCode
   * (401 by default) and {"error": err.message}; done() accepts. req has
   * headers (looked up by name), url, query, address, socket.remoteAddress.
   */
  authorize(fn) {
    if (fn !== null && typeof fn !== 'function') throw new TypeError('authorize expects a function');
    this._auth = fn;
    this._authLayer();
    return this;
  }

  // The hook runs while there is a function and the 'authorization' layer.
  _authLayer() {
    if (this._closed) return;
    check(binding.serverHook(this[kExt], HOOK_AUTHORIZE, !!this._auth && middleware.authorizing(this)), 'authorize');
  }



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
    this._closeArgs = [options];
    if (this._http) {
      // Primus's destroy: the HTTP server closes too, unless close: false.
      if (options.close !== false) {
        try { this._http.close(); } catch (e) { /* not listening */ }
      }
    }
    binding.serverDestroy(this[kExt], !!options.reconnect, Number(options.timeout) || 0);
    return this;
  }

  /** The core answers this request (Vibe's way in; see lib/attach.js). */
  handleRequest(req, res) { return attachment.handleRequest.call(this, req, res); }

  /** The core serves this upgrade (Vibe's way in; see lib/attach.js). */
  handleUpgrade(req, socket, head) { return attachment.handleUpgrade.call(this, req, socket, head); }

  /** Alias of destroy() shaped after net.Server#close(cb). */
  close(fn) { return this.destroy({}, fn); }

  /** Primus's end(options, fn): destroy(). */
  end(options, fn) { return this.destroy(options, fn); }

  /**
   * The server's counters and gauges now, as numbers (exact below 2^53).
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
mixin(Server.prototype, 'server');
const pluginUse = Server.prototype.use;
middleware.mixin(Server.prototype);
const middlewareUse = Server.prototype.use;
/**
 * Primus's plugin(name, { server, client }) registers (emits 'plugin'),
 * plugin(name) returns one, plugin() all of them.
 */
Server.prototype.plugin = function plugin(name, energon) {
  if (name === undefined) return this._plugins;
  if (energon === undefined && typeof name === 'string') return this._plugins[name];
  pluginUse.call(this, name, energon);
  this._serveLibrary();
  this.emit('plugin', name, energon);
  return this;
};

/** Removes a plugin by name (emits 'plugout'); false when there is none. */
Server.prototype.plugout = function plugout(name) {
  if (!(name in this._plugins)) return false;
  const energon = this._plugins[name];
  delete this._plugins[name];
  this._serveLibrary();
  this.emit('plugout', name, energon);
  return true;
};
/** Primus's use: a function is middleware; an object (or module name) a plugin, as weft's use(). */
Server.prototype.use = function use(name, fn, options, level) {
  // A function with a server or client part (primus-emitter's export) is a plugin.
  const isPlugin = (f) => typeof f === 'function' && (typeof f.server === 'function' || typeof f.client === 'function');
  if ((typeof name === 'function' && !isPlugin(name)) || (typeof fn === 'function' && !isPlugin(fn))) {
    return middlewareUse.call(this, name, fn, options, level);
  }
  return pluginUse.call(this, name, fn);
};

// A request waiting for authorize's answer (this = the server). A request
// nobody answers is refused (500) when the addon's handle is collected.
function onAuthorize(ext) {
  const server = this;
  const fn = server._auth;
  let answered = false;
  const answer = (allow, status, message) => {
    if (answered) return;
    answered = true;
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
  const port = binding.authInfo(ext, 'port');
  const q = url.indexOf('?');
  const query = Object.fromEntries(new URLSearchParams(q >= 0 ? url.slice(q + 1) : ''));
  const socket = { remoteAddress: address, remotePort: port };
  // forwarded: Primus's pre-parsed address (X-Forwarded-* applied for trusted proxies, as the core does).
  const req = { headers, url, query, address, method: 'GET', forwarded: { ip: address, port: port === undefined ? 0 : port }, socket, connection: socket };
  try {
    fn.call(server, req, (err) => {
      if (!err) return answer(true);
      const status = Number(err.statusCode || err.status) || 401;
      return answer(false, status >= 400 && status <= 599 ? status : 401, err.message || String(err));
    });
  } catch (e) {
    answer(false, 500, 'Internal Server Error');
    handlerError(server, null, e);
  }
  return undefined;
}

/**
 * Primus's createServer(fn?, options): a Node http.Server listening on
 * options.port (8080; 0 or '0' a free one) and host/hostname ("0.0.0.0"),
 * with the Server attached to it (primus.server is the http.Server), fn a
 * 'connection' listener. With weft's own `listen` URLs or `tls`/`tlsCert`
 * the core listens instead (primus.server is the Server): an https.Server's
 * sockets hold Node's TLS state and cannot be handed to the core.
 */
function createServer(fn, options) {
  if (typeof fn === 'object' && fn !== null) { options = fn; fn = null; }
  options = options || {};
  let server;
  if (options.listen !== undefined || options.tls !== undefined || options.tlsCert !== undefined) {
    server = new Server(options);
  } else {
    const port = portOf(options);
    const http = require('node:http').createServer();
    server = new Server(http, options);
    // EADDRINUSE and the like: the Server's 'error' when it is listened to, else Node's unhandled 'error'.
    http.on('error', (err) => {
      if (server.listenerCount('error') > 0) server.emit('error', err);
      else throw err;
    });
    http.listen(port, options.host || options.hostname || '0.0.0.0');
  }
  if (typeof fn === 'function') server.on('connection', fn);
  return server;
}

module.exports = { Server, createServer, onAuthorize, reserved };
