#!/usr/bin/env node
'use strict';
//
// Benchmark peer of bench/cluster.sh: a Socket.IO 4.8 node with
// @socket.io/redis-adapter 8.3, mirroring
//   build/weft serve --mode broadcast --redis URL
// every "m" event a client emits goes to every client of every node
// (io.emit through the adapter; the sender included).
//
// Usage: node sio_server.js --redis redis://127.0.0.1:6379 [--port 0]
// Prints `listening on ws://127.0.0.1:PORT/socket.io` when ready.
//
const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

const opts = { port: 0, redis: 'redis://127.0.0.1:6379' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  if (argv[i] === '--port') opts.port = Number(argv[i + 1]);
  else if (argv[i] === '--redis') opts.redis = argv[i + 1];
  else { process.stderr.write(`sio_server: unknown option ${argv[i]}\n`); process.exit(2); }
}

(async () => {
  const pub = createClient({ url: opts.redis });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'], adapter: createAdapter(pub, sub) });
  io.on('connection', (socket) => socket.on('m', (d) => io.emit('m', d)));
  server.listen(opts.port, '127.0.0.1', () => {
    process.stdout.write(`listening on ws://127.0.0.1:${server.address().port}/socket.io\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
})();
