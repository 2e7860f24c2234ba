'use strict';
//
// A Server attached to the application's http.Server (Primus's
// `new Primus(server, options)`), and Vibe's handleRequest/handleUpgrade.
//
// Requests and upgrades under the pathname go to the core: it serves a
// duplicate of the socket's descriptor (weft_server_adopt), with the request
// head Node's parser consumed written out again, and Node's copy closes. From
// then on no byte of that connection passes through JavaScript. The cost:
// one dup(2) and one re-serialized head per connection handed over; a
// request with a body (an engine.io polling post) is read by Node first and
// its body handed over with the head; a handed-over HTTP request is served
// alone ("Connection: close"), since the application owns the next request
// on a kept-alive connection. TLS sockets (https.Server) hold Node's TLS
// state: they cannot be handed over (an error event, and the socket closes).
//
// Everything else stays the application's: the 'request' listeners it had
// run after ours for other paths; 'upgrade' listeners of its own see other
// paths only.
//
const binding = require('./binding');
const { WeftError, rcError } = require('./errors');
const { kExt } = require('./transforms');
const middleware = require('./middleware');

/** Does x look like a net.Server (http, https, an Express app's server)? */
function isServer(x) {
  return x !== null && typeof x === 'object' && typeof x.listen === 'function' &&
    typeof x.on === 'function' && typeof x.listeners === 'function';
}

/**
 * Is the request target under the pathname? As the core (and Primus)
 * decide: its path starts with the pathname ("/primus.js" too).
 */
function under(pathname, url) {
  return pathname === '/' || url.startsWith(pathname);
}

// The request head as the peer sent it (names as written), with the body's
// length when Node already read the body.
function rawHead(req, bodyLength) {
  let s = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const h = req.rawHeaders;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i].toLowerCase();
    if (bodyLength !== undefined && (name === 'content-length' || name === 'transfer-encoding')) continue;
    s += `${h[i]}: ${h[i + 1]}\r\n`;
  }
  if (bodyLength !== undefined) s += `Content-Length: ${bodyLength}\r\n`;
  return Buffer.from(s + '\r\n', 'latin1');
}

function fdOf(socket) {
  const h = socket && !socket.encrypted && socket._handle;
  return h && typeof h.fd === 'number' && h.fd >= 0 ? h.fd : -1;
}

// The core takes the connection; Node's side of it closes. Returns true when
// the core has it.
function handOver(primus, socket, head, once) {
  const fd = fdOf(socket);
  let rc;
  if (fd < 0) {
    rc = null;
  } else {
    if (typeof socket._handle.readStop === 'function') socket._handle.readStop();
    rc = binding.serverAdopt(primus[kExt], fd, head, once);
  }
  socket.destroy();
  if (rc === 0) return true;
  const err = rc === null
    ? new WeftError('cannot hand this connection to weft: not a plain TCP or Unix socket (TLS is terminated by Node)', 'EUNSUPPORTED', 'attach')
    : rcError(rc, 'attach');
  if (primus.listenerCount('error') > 0) primus.emit('error', err);
  return false;
}

/** Vibe's server.handleUpgrade(req, socket, head): the core serves the upgrade. */
function handleUpgrade(req, socket, head) {
  if (middleware.hasApplicationLayers(this)) {
    const res = middleware.upgradeResponse(req, socket);
    middleware.run(this, req, res, () => {
      res.detachSocket(socket);
      handOverUpgrade(this, req, socket, head);
    });
    return true;
  }
  return handOverUpgrade(this, req, socket, head);
}

function handOverUpgrade(primus, req, socket, head) {
  const rest = Buffer.isBuffer(head) && head.length ? head : null;
  const h = rawHead(req);
  return handOver(primus, socket, rest ? Buffer.concat([h, rest]) : h, false);
}

/** Vibe's server.handleRequest(req, res): the core answers the request. */
function handleRequest(req, res) {
  if (middleware.hasApplicationLayers(this)) {
    middleware.run(this, req, res, () => handOverRequest(this, req));
    return true;
  }
  return handOverRequest(this, req);
}

function handOverRequest(primus, req) {
  const socket = req.socket;
  const len = req.headers['content-length'];
  const hasBody = (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return handOver(primus, socket, rawHead(req), true);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    handOver(primus, socket, Buffer.concat([rawHead(req, body.length), body]), true);
  });
  req.on('error', () => socket.destroy());
  return true;
}

/**
 * Attaches primus to server: its 'request' listeners run after ours (for
 * other paths), an 'upgrade' listener of ours goes first. Returns detach():
 * ours off, theirs back in their place (Primus's destroy), called when the
 * core has closed. Between destroy() and then, the pathname stays ours (503,
 * or the upgrade's socket closes): a late poll or reconnect is not the
 * application's request. After it, as with Primus, the application's
 * listeners see every path.
 */
function attach(primus, server) {
  const pathname = primus.pathname;
  const theirs = server.listeners('request');
  server.removeAllListeners('request');
  const onRequest = function onRequest(req, res) {
    if (!under(pathname, req.url)) {
      for (const fn of theirs) fn.call(this, req, res);
      // No application at all (createServer's own http.Server): not found, rather than no answer.
      if (theirs.length === 0 && server.listenerCount('request') === 1) res.writeHead(404, { Connection: 'close' }).end();
    } else if (primus._closed) {
      res.writeHead(503, { Connection: 'close' }).end();
    } else {
      handleRequest.call(primus, req, res);
    }
  };
  const onUpgrade = function onUpgrade(req, socket, head) {
    if (!under(pathname, req.url)) return;
    if (primus._closed) socket.destroy();
    else handleUpgrade.call(primus, req, socket, head);
  };
  server.on('request', onRequest);
  server.prependListener('upgrade', onUpgrade);
  return function detach() {
    server.removeListener('request', onRequest);
    server.removeListener('upgrade', onUpgrade);
    for (let i = theirs.length - 1; i >= 0; i--) server.prependListener('request', theirs[i]);
  };
}

module.exports = { isServer, attach, handleRequest, handleUpgrade, under };
