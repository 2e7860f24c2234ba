'use strict';
//
// The Vibe and fast-tcp sides of examples/handlers/ (issue #21), shared by
// the Node and Python tests: the reference Vibe client over ws, httpstream
// and httplongpoll calls "sum" (resolved and rejected) and "ask" (the
// server asks back; the client rejects), and returns what it got per
// transport; npm fast-tcp 3.3.2's client (from tests/interop/) does the
// same with acks (a rejection arrives as the ack's data {error: reason}:
// fast-tcp's acks have none; it answers the question through its ack).
//   node tests/vibe/handlers_client.js http://127.0.0.1:PORT/vibe   (prints JSON)
//   node tests/vibe/handlers_client.js tcp://127.0.0.1:PORT         (prints JSON)
//
require('./node20');
const vibe = require('vibe-protocol');

const within = (p, ms, what) => Promise.race([p, new Promise((resolve, reject) =>
  setTimeout(() => reject(new Error(`timeout: ${what}`)), ms).unref())]);

async function vibeChecks(vibeUrl) {
  const base = vibeUrl.replace(/^ws/, 'http');
  const got = {};
  for (const [transport, uri] of [['ws', base.replace(/^http/, 'ws')], ['httpstream', `${base}?transport=stream`],
    ['httplongpoll', `${base}?transport=longpoll`]]) {
    const s = vibe.open(uri).on('error', () => {});
    await within(new Promise((resolve) => s.once('open', resolve)), 5000, `${transport} open`);
    const call = (name, arg) => within(new Promise((resolve) =>
      s.send(name, arg, (v) => resolve(['resolved', v]), (v) => resolve(['rejected', v]))), 3000, name);
    const sum = await call('sum', [1, 2, 3.5]);
    const bad = await call('sum', 'x');
    s.on('question', (q, reply) => reply.reject(`no ${q}`));
    const answered = new Promise((resolve) => s.once('answered', resolve));
    s.send('ask', 7);
    got[transport] = { sum, bad, answered: await within(answered, 3000, 'answered') };
    const closed = new Promise((resolve) => s.once('close', resolve));
    s.close();
    await closed;
  }
  return got;
}

async function fastTcpChecks(url) {
  const ft = require('../interop/node_modules/fast-tcp');
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

/** What every Vibe transport must give. */
const EXPECTED = { sum: ['resolved', 6.5], bad: ['rejected', 'not numbers'], answered: { rejected: 'no 7' } };
/** What the fast-tcp client must get. */
const FAST_TCP_EXPECTED = { sum: 6.5, bad: { error: 'not numbers' }, answered: { resolved: 42 } };

module.exports = { vibeChecks, EXPECTED, fastTcpChecks, FAST_TCP_EXPECTED };

if (require.main === module) {
  const url = process.argv[2];
  (url.startsWith('tcp:') ? fastTcpChecks : vibeChecks)(url).then((got) => {
    console.log(JSON.stringify(got));
    process.exit(0);
  }, (err) => {
    console.error(err);
    process.exit(1);
  });
}
