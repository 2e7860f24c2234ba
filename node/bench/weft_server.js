#!/usr/bin/env node
'use strict';
//
// Benchmark server for the Node host, mirroring bench/peers/ws_server.js and
//   build/weft serve --mode echo|broadcast --ping-interval 0 --port P
// echo: every message goes back to its sender (spark.write in a 'data'
// handler, through JavaScript); broadcast: every message goes to every
// connected spark (server.write: encoded once in C).
//
// Usage: node weft_server.js [--mode echo|broadcast] [--port 0] [--host 127.0.0.1]
//          [--path /primus] [--parser json|msgpack] [--ping-interval MS]
// Prints `listening on ws://HOST:PORT/PATH` when ready. SIGTERM exits 0.
//
const weft = require('..');

const opts = { mode: 'echo', port: 0, host: '127.0.0.1', path: '/primus', parser: 'json', pingInterval: 0 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i];
  const v = argv[i + 1];
  if (v === undefined) { process.stderr.write(`weft_server: missing value for ${k}\n`); process.exit(2); }
  if (k === '--mode') opts.mode = v;
  else if (k === '--port') opts.port = Number(v);
  else if (k === '--host') opts.host = v;
  else if (k === '--path') opts.path = v;
  else if (k === '--parser') opts.parser = v;
  else if (k === '--ping-interval') opts.pingInterval = Number(v);
  else { process.stderr.write(`weft_server: unknown option ${k}\n`); process.exit(2); }
}
if (opts.mode !== 'echo' && opts.mode !== 'broadcast') {
  process.stderr.write('weft_server: --mode is echo or broadcast\n');
  process.exit(2);
}

const server = new weft.Server({
  port: opts.port,
  host: opts.host,
  pathname: opts.path,
  parser: opts.parser,
  pingInterval: opts.pingInterval
});
server.on('error', (err) => process.stderr.write(`error ${err.kind} ${err.message}\n`));
if (opts.mode === 'echo') {
  server.on('connection', (spark) => spark.on('data', (data) => spark.write(data)));
} else {
  server.on('connection', (spark) => spark.on('data', (data) => server.write(data)));
}
const stop = () => server.destroy({ timeout: 100 }, () => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`listening on ${server.url}\n`);
