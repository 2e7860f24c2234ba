#!/usr/bin/env node
'use strict';
// The npm Primus client for the Python interop tests.
// Usage: node primus_client.js URL PARSER JSON_ARRAY_OF_MESSAGES [EXPECT]
// (the transformer from $PRIMUS_TRANSFORMER, websockets by default, and for
// engine.io $PRIMUS_WEBSOCKETS=false for polling only)
// Connects, writes every message, prints `open`, `data <json>` for each
// message received and `end` when done: after EXPECT messages (default: as
// many as it wrote) it ends the connection and exits 0. Exits 1 on error,
// 2 after 10 s.
const path = require('node:path');
const root = path.resolve(__dirname, '..', '..');
const Primus = require(path.join(root, 'tests', 'interop', 'node_modules', 'primus'));

const [url, parser, msgsJson, expectArg] = process.argv.slice(2);
const msgs = JSON.parse(msgsJson);
const expect = expectArg === undefined ? msgs.length : Number(expectArg);
const hidden = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
if (hidden) delete globalThis.WebSocket;
const transformer = process.env.PRIMUS_TRANSFORMER || 'websockets';
const Socket = Primus.createSocket({ transformer, parser });
if (hidden) Object.defineProperty(globalThis, 'WebSocket', hidden);

const say = (line) => process.stdout.write(line + '\n');
const options = { strategy: false };
if (process.env.PRIMUS_WEBSOCKETS === 'false') options.websockets = false;
const client = new Socket(url, options);
let got = 0;
const timer = setTimeout(() => { say('timeout'); process.exit(2); }, 10000);
client.on('open', () => {
  say('open');
  if (process.env.PRIMUS_TRANSFORMER) say('transport ' + client.socket.transport.name);
  for (const m of msgs) client.write(m);
  if (expect === 0) finish();
});
client.on('data', (data) => {
  say('data ' + JSON.stringify(data));
  if (++got === expect) finish();
});
client.on('error', (err) => { say('error ' + (err && err.message)); process.exit(1); });
client.on('end', () => { say('end'); clearTimeout(timer); process.exit(0); });
function finish() { client.end(); }
