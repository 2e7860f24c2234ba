'use strict';
// npm fast-tcp 3.3.2's client for the hosts' server tests (python): dials
// URL (tcp://HOST:PORT or ipc://PATH), asks "sum" {a: 2, b: 40} with an ack,
// writes a plain message (event "data") and waits for it back, prints
// {"sum": …, "echo": …} and exits 0; exits 1 after 10 s.
const path = require('node:path');
const ft = require(path.join(__dirname, '../node_modules/fast-tcp'));

const url = process.argv[2];
const opts = url.startsWith('ipc://') ? { path: url.slice(6) }
  : { host: new URL(url.replace(/^tcp:/, 'http:')).hostname, port: Number(url.split(':')[2]) };
const s = new ft.Socket({ ...opts, reconnect: false });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
setTimeout(() => { console.error('timed out'); process.exit(1); }, 10000).unref();
s.on('connect', () => {
  s.emit('sum', { a: 2, b: 40 }, (sum) => {
    s.once('data', (echo) => {
      console.log(JSON.stringify({ sum, echo }));
      s.destroy();
    });
    s.emit('data', { plain: [1, 2] });
  });
});
