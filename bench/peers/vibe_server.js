'use strict';
// The reference Vibe server (vibe-protocol 3.0.0-Alpha9, tests/vibe's npm
// package) at /vibe with the handlers of its own server testee
// (test/testee/server.js): "echo" sent back, "abort" closes, and the
// reply extension's "/reply/inbound" and "/reply/outbound"; the long-poll
// transport's Node 20 guard applied (tests/vibe/node20_server.js), else
// its long-poll sessions end after one answer.
//   node bench/peers/vibe_server.js PORT     (prints "listening on URL")
const path = require('node:path');
const http = require('node:http');
const url = require('node:url');

const lib = path.join(__dirname, '..', '..', 'tests', 'vibe', 'node_modules', 'vibe-protocol', 'lib');
const vibe = require(lib);

require(path.join(__dirname, '..', '..', 'tests', 'vibe', 'node20_server'));

const server = vibe.createServer();
server.on('socket', (socket) => {
  socket.on('error', () => {});
  socket.on('echo', (data) => socket.send('echo', data));
  socket.on('abort', () => socket.close());
  socket.on('/reply/inbound', (data, reply) => (data.type === 'resolved' ? reply.resolve : reply.reject)(data.data));
  socket.on('/reply/outbound', (data) => {
    const done = (value) => socket.send('done', value);
    if (data.type === 'resolved') socket.send('test', data.data, done);
    else socket.send('test', data.data, null, done);
  });
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
