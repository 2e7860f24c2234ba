'use strict';
//
// The fast-tcp side of examples/handlers/ (issue #21), shared by the Node
// and Python tests: npm fast-tcp 3.3.2's client calls "sum" with acks (a
// rejection arrives as the ack's data {error: reason}: fast-tcp's acks have
// none) and "ask" (the server asks back; the client answers through its
// ack callback).
//   node tests/interop/handlers_fasttcp.js tcp://127.0.0.1:PORT   (prints JSON)
//
const ft = require('fast-tcp');

const within = (p, ms, what) => Promise.race([p, new Promise((resolve, reject) =>
  setTimeout(() => reject(new Error(`timeout: ${what}`)), ms).unref())]);

async function fastTcpChecks(url) {
  const u = new URL(url.replace(/^tcp:/, 'http:'));
  const s = new ft.Socket({ host: u.hostname, port: Number(u.port), reconnect: false });
  s.on('error', () => {});
  try {
    await within(new Promise((resolve) => s.once('connect', resolve)), 5000, 'fast-tcp connect');
    const call = (name, arg) => within(new Promise((resolve) => s.emit(name, arg, resolve)), 3000, name);
    const sum = await call('sum', [1, 2, 3.5]);
    const bad = await call('sum', 'x');
    s.on('question', (q, cb) => cb(q * 2));
    const answered = new Promise((resolve) => s.once('answered', resolve));
    s.emit('ask', 21);
    return { sum, bad, answered: await within(answered, 3000, 'answered') };
  } finally {
    s.destroy();
  }
}

/** What the fast-tcp client must get. */
const EXPECTED = { sum: 6.5, bad: { error: 'not numbers' }, answered: { resolved: 42 } };

module.exports = { fastTcpChecks, EXPECTED };

if (require.main === module) {
  fastTcpChecks(process.argv[2]).then((got) => {
    console.log(JSON.stringify(got));
    process.exit(0);
  }, (err) => {
    console.error(err);
    process.exit(1);
  });
}
