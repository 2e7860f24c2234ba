'use strict';
// The reference Vibe server (vibe-protocol 3.0.0-Alpha9, tests/vibe's npm
// package) echoing every event with its name and data at /vibe, as
// `weft serve --transformer vibe --mode echo` does; the long-poll
// transport's Node 20 guard applied (tests/vibe/README: `res.on("close")`
// after `finish`), else its long-poll sessions end after one answer.
//   node bench/peers/vibe_server.js PORT     (prints "listening on URL")
const path = require('node:path');
const http = require('node:http');
const url = require('node:url');

const lib = path.join(__dirname, '..', '..', 'tests', 'vibe', 'node_modules', 'vibe-protocol', 'lib');
const vibe = require(lib);

// The Node 20 guard: a response's 'close' after its 'finish' is not the
// client going away. Wraps res.on('close', fn) of the long-poll transport.
const on = http.ServerResponse.prototype.on;
http.ServerResponse.prototype.on = function (name, fn) {
  if (name !== 'close') return on.call(this, name, fn);
  return on.call(this, name, function (...args) { if (!this.writableFinished) fn.apply(this, args); });
};

const server = vibe.createServer();
server.on('socket', (socket) => {
  socket.on('error', () => {});
  socket.on('echo', (data) => socket.send('echo', data));
});
const httpServer = http.createServer();
const httpTransports = vibe.transport.createHttpServer();
httpTransports.on('transport', server.handle);
httpServer.on('request', (req, res) => {
  if (url.parse(req.url).pathname === '/vibe') httpTransports.handle(req, res);
  else { res.statusCode = 404; res.end(); }
});
const wsTransports = vibe.transport.createWebSocketServer();
wsTransports.on('transport', server.handle);
httpServer.on('upgrade', (req, sock, head) => {
  if (url.parse(req.url).pathname === '/vibe') wsTransports.handle(req, sock, head);
  else sock.destroy();
});
httpServer.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${httpServer.address().port}/vibe`);
});
process.on('SIGTERM', () => process.exit(0));
