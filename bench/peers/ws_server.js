#!/usr/bin/env node
'use strict';
//
// Benchmark peer: plain Node `ws` 8, mirroring
//   build/weft serve --mode echo|broadcast --ping-interval 0 --port P
// echo: every message goes back to its sender; broadcast: every message
// goes to every connected client (the sender included), as weft does.
//
// Usage: node ws_server.js [--mode echo|broadcast] [--port 0] [--host 127.0.0.1]
//          [--path /primus]
// Prints `listening on ws://HOST:PORT/PATH` when ready. SIGTERM exits 0.
//
const path = require('path');
const WebSocket = require(path.join(__dirname, '../../tests/interop/node_modules/ws'));

const opts = { mode: 'echo', port: 0, host: '127.0.0.1', path: '/primus' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i], v = argv[i + 1];
  if (v === undefined) { process.stderr.write(`ws_server: missing value for ${k}\n`); process.exit(2); }
  if (k === '--mode') opts.mode = v;
  else if (k === '--port') opts.port = Number(v);
  else if (k === '--host') opts.host = v;
  else if (k === '--path') opts.path = v;
  else if (k === '--ping-interval') { /* no heartbeat in plain ws */ }
  else { process.stderr.write(`ws_server: unknown option ${k}\n`); process.exit(2); }
}
if (opts.mode !== 'echo' && opts.mode !== 'broadcast') {
  process.stderr.write('ws_server: --mode is echo or broadcast\n');
  process.exit(2);
}

const wss = new WebSocket.Server({
  host: opts.host,
  port: opts.port,
  path: opts.path,
  perMessageDeflate: false,
  backlog: 4096
});

wss.on('connection', function connection(ws) {
  ws.on('error', (err) => process.stderr.write(`error ws ${err.message}\n`));
  if (opts.mode === 'echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      }
    });
  }
});

wss.on('error', (err) => {
  process.stderr.write(`error listen ${err.message}\n`);
  process.exit(1);
});

wss.on('listening', () => {
  const a = wss.address();
  process.stdout.write(`listening on ws://${a.address}:${a.port}${opts.path}\n`);
});

function stop() { process.exit(0); }
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
