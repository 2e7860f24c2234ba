'use strict';
// weft's Node client against a reference Primus 8 server (npm) and against a
// weft server, over real sockets.
const test = require('node:test');
const assert = require('node:assert/strict');
const { weft, once, onceArgs, waitUntil, delay, weftServer, primusServer, HOST, catchUncaught } = require('./helpers');

function client(t, url, options) {
  const c = weft.connect(url, Object.assign({ reconnect: { min: 50, max: 200, retries: 3 } }, options));
  t.after(() => c.destroy());
  return c;
}

test('weft client against a Primus server: open, echo, id, end', async (t) => {
  const { url, primus } = await primusServer(t);
  const c = client(t, url);
  await once(c, 'open');
  const values = [{ a: [1, 'two', null, false] }, 'plain', 3.25, 9007199254740991];
  for (const v of values) {
    c.write(v);
    assert.deepEqual(await once(c, 'data'), v);
  }
  const id = await new Promise((resolve) => c.id(resolve));
  assert.ok(primus.spark(id));
  const events = [];
  c.on('close', () => events.push('close'));
  c.on('end', () => events.push('end'));
  c.end();
  await waitUntil(() => events.includes('end'), 2000, 'end');
  assert.deepEqual(events, ['close', 'end']);
  assert.equal(c.write('after end'), false);
});

test('writes made while offline are queued and sent in order after open', async (t) => {
  const { url } = await primusServer(t);
  const c = client(t, url, { manual: true });
  c.write(1);
  c.write(2);
  c.write(3);
  assert.ok(c.bufferedAmount > 0);
  const got = [];
  c.on('data', (d) => got.push(d));
  c.open();
  await waitUntil(() => got.length === 3, 3000, 'three echoes');
  assert.deepEqual(got, [1, 2, 3]);
});

test('reconnect: scheduled, reconnect, reconnected, open after the server drops the spark', async (t) => {
  const { url } = await primusServer(t);
  const c = client(t, url);
  await once(c, 'open');
  const events = [];
  for (const e of ['close', 'reconnect scheduled', 'reconnect', 'reconnected', 'open']) c.on(e, () => events.push(e));
  const scheduled = once(c, 'reconnect scheduled');
  c.write({ cmd: 'end-reconnect' });
  const opts = await scheduled;
  assert.equal(opts.attempt, 1);
  assert.equal(opts.retries, 3);
  assert.ok(opts.scheduled >= 50 && opts.scheduled <= 200);
  await once(c, 'open', 3000);
  assert.deepEqual(events, ['close', 'reconnect scheduled', 'reconnect', 'reconnected', 'open']);
  c.write('back');
  assert.equal(await once(c, 'data'), 'back');
});

test('primus::server::close from the server ends the client for good', async (t) => {
  const { url } = await primusServer(t);
  const c = client(t, url);
  await once(c, 'open');
  let scheduled = 0;
  c.on('reconnect scheduled', () => scheduled++);
  c.write({ cmd: 'end' });
  await once(c, 'end');
  await delay(100);
  assert.equal(scheduled, 0);
});

test('reconnect failed after the retries when the server is gone', async (t) => {
  const { port, primus } = await primusServer(null);
  await new Promise((resolve) => primus.destroy({ timeout: 1 }, resolve));
  const c = client(t, `ws://${HOST}:${port}/primus`, { reconnect: { min: 10, max: 20, retries: 2 }, timeout: 500 });
  c.on('error', () => {});
  const [err, opts] = await onceArgs(c, 'reconnect failed', 5000);
  assert.ok(err instanceof Error);
  assert.equal(opts.attempt, 2);
  await once(c, 'end');
});

test('a refused upgrade is an error with statusCode, then end', async (t) => {
  const server = weftServer(t);
  server.authorize((req, done) => done(Object.assign(new Error('nope'), { statusCode: 401 })));
  const c = client(t, server.url);
  const err = await once(c, 'error');
  assert.equal(err.kind, 'http');
  assert.equal(err.statusCode, 401);
  assert.match(err.body, /nope/);
  await once(c, 'end');
});

test('timeout: a server that accepts TCP and never answers', async (t) => {
  const silent = require('node:net').createServer(() => {});
  await new Promise((resolve) => silent.listen(0, HOST, resolve));
  t.after(() => silent.close());
  const c = client(t, `ws://${HOST}:${silent.address().port}/primus`, { timeout: 200, strategy: false, pingTimeout: 1000 });
  c.on('error', () => {});
  await once(c, 'timeout', 3000);
  await once(c, 'end', 3000);
});

test('reconnect timeout: a retry that hangs is abandoned and the backoff goes on', async (t) => {
  const sockets = new Set();
  const silent = require('node:net').createServer((s) => sockets.add(s));
  await new Promise((resolve) => silent.listen(0, HOST, resolve));
  t.after(() => { for (const s of sockets) s.destroy(); silent.close(); });
  const c = client(t, `ws://${HOST}:${silent.address().port}/primus`,
    { timeout: 200, pingTimeout: 1000, reconnect: { min: 10, max: 20, retries: 2 } });
  c.on('error', () => {});
  await once(c, 'timeout', 3000);
  const [err, opts] = await onceArgs(c, 'reconnect timeout', 3000);
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'ETIMEDOUT');
  assert.equal(opts.attempt, 1);
  assert.equal((await onceArgs(c, 'reconnect scheduled', 3000))[0].attempt, 2);
});

test('the weft client against the weft server, msgpack, binary and BigInt', async (t) => {
  const server = weftServer(t, { parser: 'msgpack' });
  server.on('connection', (spark) => spark.on('data', (d) => spark.write(d)));
  const c = client(t, server.url, { parser: 'msgpack' });
  await once(c, 'open');
  const values = [
    Buffer.from([0, 1, 2, 255]),
    { bin: Buffer.from('abc'), big: 2n ** 62n, neg: -(2n ** 63n), exact: 2 ** 53 },
    [1.5, 'é', null, true]
  ];
  for (const v of values) {
    c.write(v);
    assert.deepEqual(await once(c, 'data'), v);
  }
  c.write(new Uint16Array([1, 2]));
  assert.deepEqual(await once(c, 'data'), Buffer.from(new Uint16Array([1, 2]).buffer));
  assert.throws(() => c.write(2n ** 64n), RangeError);
});

test('the client is a Duplex stream: pipe to and from it', async (t) => {
  const { url } = await primusServer(t);
  const c = client(t, url);
  const { Readable, Writable } = require('node:stream');
  const got = [];
  c.pipe(new Writable({ objectMode: true, write(chunk, enc, cb) { got.push(chunk); cb(); } }));
  Readable.from([{ n: 1 }, { n: 2 }], { objectMode: true }).pipe(c, { end: false });
  await waitUntil(() => got.length === 2, 3000, 'piped echoes');
  assert.deepEqual(got, [{ n: 1 }, { n: 2 }]);
});

test('bad client input: URLs and options', (t) => {
  assert.throws(() => weft.connect(42), TypeError);
  assert.throws(() => weft.connect('ftp://example.com/'), { code: 'EURL' });
  assert.throws(() => weft.connect('ws://127.0.0.1:1/primus', { parser: 'yaml', manual: true }), { name: 'RangeError', code: 'ERANGE' });
  assert.throws(() => weft.connect('ws://127.0.0.1:1/primus', { reconnect: { min: -1 }, manual: true }),
    { name: 'RangeError', code: 'ERANGE', message: 'Client option "reconnectMin" must be a whole number of ms from 1 to 4294967295 (got -1)' });
  assert.throws(() => weft.createSocket({ transformer: 'sockjs' }), { code: 'EUNSUPPORTED' });
  const Socket = weft.createSocket({ transformer: 'websockets', parser: 'json' });
  const s = new Socket('ws://127.0.0.1:1/primus', { manual: true });
  s.destroy();
});

test('an error thrown in a client handler reaches uncaughtException', async (t) => {
  const { url } = await primusServer(t);
  const errors = catchUncaught(t);
  const c = client(t, url);
  c.on('data', (d) => { if (d === 'boom') throw new Error('client handler bug'); });
  await once(c, 'open');
  const got = [];
  c.on('data', (d) => got.push(d));
  c.write('boom');
  c.write('ok');
  await waitUntil(() => errors.length === 1 && got.includes('ok'), 2000, 'uncaughtException, then ok');
  assert.equal(errors[0].message, 'client handler bug');
});


test('msgpack both ways: the weft client against a Primus msgpack server', async (t) => {
  const { url } = await primusServer(t, { parser: 'msgpack' });
  const c = client(t, url, { parser: 'msgpack' });
  await once(c, 'open');
  const v = { n: 1, s: 'ü', a: [true, null, 2.5] };
  c.write(v);
  assert.deepEqual(await once(c, 'data'), v);
});
