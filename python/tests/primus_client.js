#!/usr/bin/env node
'use strict';
// The npm Primus client for the Python interop tests.
// Usage: node primus_client.js URL PARSER JSON_ARRAY_OF_MESSAGES [EXPECT]
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
const Socket = Primus.createSocket({ transformer: 'websockets', parser });
if (hidden) Object.defineProperty(globalThis, 'WebSocket', hidden);

const say = (line) => process.stdout.write(line + '\n');
const client = new Socket(url, { strategy: false });
let got = 0;
const timer = setTimeout(() => { say('timeout'); process.exit(2); }, 10000);
client.on('open', () => {
  say('open');
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
