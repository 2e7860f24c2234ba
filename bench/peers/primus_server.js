#!/usr/bin/env node
'use strict';
//
// Benchmark peer: Primus 8 (transformer websockets, or engine.io with
// --transformer engine.io; parser json, no heartbeat), mirroring
//   build/weft serve --mode echo|broadcast --ping-interval 0 --port P
// echo: spark.write(data) back to the sender; broadcast: primus.write(data)
// to every connected spark (the sender included).
//
// Usage: node primus_server.js [--mode echo|broadcast] [--port 0]
//          [--host 127.0.0.1] [--path /primus] [--transformer websockets|engine.io]
// Prints `listening on ws://HOST:PORT/PATH` when ready. SIGTERM exits 0.
//
const http = require('http');
const path = require('path');
const Primus = require(path.join(__dirname, '../../tests/interop/node_modules/primus'));

const opts = { mode: 'echo', port: 0, host: '127.0.0.1', path: '/primus', transformer: 'websockets' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i], v = argv[i + 1];
  if (v === undefined) { process.stderr.write(`primus_server: missing value for ${k}\n`); process.exit(2); }
  if (k === '--mode') opts.mode = v;
  else if (k === '--port') opts.port = Number(v);
  else if (k === '--host') opts.host = v;
  else if (k === '--path') opts.path = v;
  else if (k === '--transformer') opts.transformer = v;
  else if (k === '--ping-interval') { /* always off here */ }
  else { process.stderr.write(`primus_server: unknown option ${k}\n`); process.exit(2); }
}
if (opts.mode !== 'echo' && opts.mode !== 'broadcast') {
  process.stderr.write('primus_server: --mode is echo or broadcast\n');
  process.exit(2);
}

const server = http.createServer();
const primus = new Primus(server, {
  transformer: opts.transformer,
  parser: 'json',
  pathname: opts.path,
  pingInterval: false,
  compression: false
});

primus.on('connection', function connection(spark) {
  spark.on('error', (err) => process.stderr.write(`error spark ${err && err.message}\n`));
  if (opts.mode === 'echo') spark.on('data', (msg) => spark.write(msg));
  else spark.on('data', (msg) => primus.write(msg));
});

primus.on('error', (err) => process.stderr.write(`error primus ${err && err.message}\n`));
server.on('error', (err) => {
  process.stderr.write(`error listen ${err.message}\n`);
  process.exit(1);
});

server.listen({ port: opts.port, host: opts.host, backlog: 4096 }, () => {
  const a = server.address();
  process.stdout.write(`listening on ws://${a.address}:${a.port}${opts.path}\n`);
});

function stop() { process.exit(0); }
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
