'use strict';
// npm fast-tcp 3.3.2's client for the hosts' server tests (Node, Python):
// dials URL (tcp://HOST:PORT or ipc://PATH), asks "sum" {a: 2, b: 40} with
// an ack, writes a plain message (event "data") and waits for it back.
// With --values it then sends every value of the fast-tcp set
// (lib/ft_values.js) as the event "echo" with an ack, and expects the
// value back twice: as the ack, and as an "echo" event from the server.
// Prints {"sum": …, "echo": …, "values": [labels that came back wrong]}
// and exits 0; exits 1 after 30 s.
const path = require('node:path');
const util = require('node:util');
const ft = require(path.join(__dirname, '../node_modules/fast-tcp'));
const { cases } = require('./ft_values');

const url = process.argv[2];
const values = process.argv.includes('--values');
const opts = url.startsWith('ipc://') ? { path: url.slice(6) }
  : { host: new URL(url.replace(/^tcp:/, 'http:')).hostname, port: Number(url.split(':')[2]) };
const s = new ft.Socket({ ...opts, reconnect: false });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
setTimeout(() => { console.error('timed out'); process.exit(1); }, 30000).unref();

const same = (a, b) => util.isDeepStrictEqual(a, b) || (Number.isNaN(a) && Number.isNaN(b));

async function allValues() {
  const wrong = [];
  for (const [label, value, ...back] of cases()) {
    const want = back.length ? back[0] : value;
    const echoed = new Promise((resolve) => s.once('echo', resolve));
    const acked = await new Promise((resolve) => s.emit('echo', value, resolve));
    const event = await echoed;
    if (!same(acked, want)) wrong.push(`${label} (ack)`);
    if (!same(event, want)) wrong.push(`${label} (event)`);
  }
  return wrong;
}

s.on('connect', () => {
  s.emit('sum', { a: 2, b: 40 }, (sum) => {
    s.once('data', async (echo) => {
      const out = { sum, echo };
      if (values) out.values = await allValues();
      console.log(JSON.stringify(out));
      s.destroy();
    });
    s.emit('data', { plain: [1, 2] });
  });
});
