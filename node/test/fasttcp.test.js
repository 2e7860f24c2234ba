'use strict';
// Issue #20 in Node: the host serves and connects on tcp:// and ipc://
// (fast-tcp's wire) through the core, with the same API as on ws://: its
// own client, and npm fast-tcp 3.3.2's client (from tests/interop).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { weft, once, withTimeout } = require('./helpers');

const ft = require(path.join(__dirname, '../../tests/interop/node_modules/fast-tcp'));

function serve(t, url) {
  const server = new weft.Server({ listen: [url], emitter: true });
  t.after(() => new Promise((resolve) => server.destroy({ timeout: 200 }, resolve)));
  server.on('connection', (spark) => {
    spark.on('sum', (...args) => { // (a, b) from weft, ({a, b}) from fast-tcp (one value)
      const ack = args.pop();
      const [a, b] = args.length === 1 ? [args[0].a, args[0].b] : args;
      ack(null, a + b);
    });
    spark.on('data', (d) => spark.write(d));
    // fast-tcp's null arrives as no argument; every other value as one
    spark.on('echo', (...args) => { const ack = args.pop(); spark.send('echo', ...args); ack(null, args[0]); });
  });
  return server;
}

for (const scheme of ['tcp', 'ipc']) {
  const url = () => (scheme === 'tcp' ? 'tcp://127.0.0.1:0'
    : `ipc://${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weft-node-ft-')), 's.sock')}`);

  test(`${scheme}://: the Node server and the Node client, events with acks`, async (t) => {
    const server = serve(t, url());
    assert.match(server.url, new RegExp(`^${scheme}://`));
    const client = weft.connect(server.url, { emitter: true, reconnect: { retries: 0 }, strategy: false });
    client.on('error', () => {});
    t.after(() => client.end());
    await withTimeout(once(client, 'open'), 5000, 'open');
    assert.equal(await client.request('sum', [40, 2]), 42);
    const back = once(client, 'echo');
    assert.deepEqual(await client.request('echo', [{ a: [1, 'x', true] }]), { a: [1, 'x', true] });
    assert.deepEqual(await withTimeout(back, 5000, 'echo'), { a: [1, 'x', true] });
  });

  test(`${scheme}://: the Node client joins and leaves under the Node server's rooms policy; refusals reject`, async (t) => {
    const server = new weft.Server({ listen: [url()], emitter: true, rooms: true });
    t.after(() => new Promise((resolve) => server.destroy({ timeout: 200 }, resolve)));
    server.roomsPolicy((s, room) => room.startsWith('public:'));
    const sparkP = once(server, 'connection');
    const client = weft.connect(server.url, { emitter: true, reconnect: { retries: 0 }, strategy: false });
    client.on('error', () => {});
    t.after(() => client.end());
    await withTimeout(once(client, 'open'), 5000, 'open');
    const spark = await sparkP;
    await client.join('public:a');
    await client.join('public:b');
    assert.deepEqual(spark.rooms().sort(), ['public:a', 'public:b']);
    await assert.rejects(client.join('private'), (e) => e.code === 'EREJECTED');
    await client.leave('public:a');
    assert.deepEqual(spark.rooms(), ['public:b']);
    await client.leaveAll();
    assert.deepEqual(spark.rooms(), []);
    assert.throws(() => client.join(5), TypeError);
    // A refused request is a rejection here as on ws:// (npm fast-tcp sees {error}).
    spark.on('nope', (ack) => ack(new Error('no')));
    await assert.rejects(client.request('nope'), (e) => e.code === 'EREJECTED' && e.message === 'no');
  });

  test(`${scheme}://: npm fast-tcp 3.3.2's client against the Node server`, async (t) => {
    const server = serve(t, url());
    const u = server.url;
    const opts = scheme === 'tcp' ? { host: '127.0.0.1', port: Number(u.split(':')[2]) } : { path: u.slice(6) };
    const s = new ft.Socket({ ...opts, reconnect: false });
    s.on('error', () => {});
    t.after(() => s.destroy());
    await withTimeout(new Promise((resolve) => s.once('connect', resolve)), 5000, 'connect');
    const buf = Buffer.from([0, 1, 254, 255]);
    const echoed = new Promise((resolve) => s.once('echo', resolve));
    const acked = await withTimeout(new Promise((resolve) => s.emit('echo', buf, resolve)), 5000, 'ack');
    assert.deepEqual(acked, buf);
    assert.deepEqual(await withTimeout(echoed, 5000, 'echo'), buf);
    // Every value of the fast-tcp set, as an event and an ack, both ways.
    const { stdout } = await promisify(execFile)(process.execPath,
      [path.join(__dirname, '../../tests/interop/lib/fasttcp_client.js'), server.url, '--values'],
      { timeout: 35000, maxBuffer: 1 << 20 });
    assert.deepEqual(JSON.parse(stdout), { sum: 42, echo: { plain: [1, 2] }, values: [] });
  });
}

test('the Node client against npm fast-tcp 3.3.2\'s server: an ack, a plain message', async (t) => {
  const server = new ft.Server();
  server.on('connection', (sock) => {
    sock.on('error', () => {});
    sock.on('sum', (d, cb) => cb(d.a + d.b));
    sock.on('data', (d) => sock.emit('data', d));
  });
  await new Promise((resolve) => server.listen(0, resolve));
  t.after(() => server.close());
  const url = `tcp://127.0.0.1:${server._server.address().port}`;
  const client = weft.connect(url, { emitter: true, reconnect: { retries: 0 }, strategy: false });
  client.on('error', () => {});
  t.after(() => client.end());
  await withTimeout(once(client, 'open'), 5000, 'open');
  assert.equal(await client.request('sum', [{ a: 40, b: 2 }]), 42);
  const back = once(client, 'data');
  client.write({ plain: [1, 2] });
  assert.deepEqual(await withTimeout(back, 5000, 'plain echo'), { plain: [1, 2] });
});

test('psk: the right key is served; a wrong one is refused (401) and delivers nothing', async (t) => {
  const u = `ipc://${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weft-node-psk-')), 's.sock')}`;
  const server = new weft.Server({ listen: [u], emitter: true, psk: 'k'.repeat(32) });
  t.after(() => new Promise((resolve) => server.destroy({ timeout: 200 }, resolve)));
  const got = [];
  server.on('connection', (spark) => spark.on('hi', (v, ack) => { got.push(v); ack(null, v + 1); }));
  const good = weft.connect(server.url, { emitter: true, psk: Buffer.from('k'.repeat(32)), strategy: false });
  good.on('error', () => {});
  t.after(() => good.end());
  await withTimeout(once(good, 'open'), 5000, 'open');
  assert.equal(await good.request('hi', [1]), 2);
  const bad = weft.connect(server.url, { emitter: true, psk: 'x'.repeat(32), strategy: false });
  t.after(() => bad.end());
  bad.send('hi', 7);
  const err = await withTimeout(once(bad, 'error'), 5000, 'refused');
  assert.match(String(err.message), /authentication failed|401/);
  assert.deepEqual(got, [1]);
  assert.throws(() => new weft.Server({ listen: ['tcp://127.0.0.1:0'], psk: 'k'.repeat(257) }), { code: 'EINVAL' });
});

test('routePolicy: refuses one route, rewrites another to reach its sender (npm fast-tcp clients)', async (t) => {
  const server = new weft.Server({ listen: ['tcp://127.0.0.1:0'], emitter: true });
  t.after(() => new Promise((resolve) => server.destroy({ timeout: 200 }, resolve)));
  const seen = [];
  server.routePolicy((spark, route) => {
    seen.push([route.event, route.broadcast, route.withSender, route.args]);
    if (route.event === 'secret') return false;
    if (route.event === 'all-of-us') return { withSender: true };
    return undefined;
  });
  assert.throws(() => server.routePolicy(5), TypeError);
  const port = Number(server.url.split(':')[2]);
  const got = { a: [], b: [] };
  const socks = {};
  for (const k of ['a', 'b']) {
    const s = new ft.Socket({ host: '127.0.0.1', port, reconnect: false });
    s.on('error', () => {});
    t.after(() => s.destroy());
    for (const ev of ['r', 'secret', 'all-of-us', 'last']) s.on(ev, (d) => got[k].push(`${ev}:${d}`));
    socks[k] = s;
    await withTimeout(new Promise((resolve) => s.once('connect', resolve)), 5000, 'connect');
  }
  const c = weft.connect(server.url, { emitter: true, strategy: false });
  c.on('error', () => {});
  t.after(() => c.end());
  await withTimeout(once(c, 'open'), 5000, 'open');
  assert.throws(() => c.route('x', [], null), TypeError);
  assert.equal(c.route('r', [0], { sockets: [socks.b.id] }), true);
  await withTimeout((async () => { while (!got.b.includes('r:0')) await new Promise((r) => setTimeout(r, 10)); })(), 5000, 'routed by the Node client');
  got.b.length = 0;
  seen.length = 0;
  socks.a.emit('r', 1, { broadcast: true });
  socks.a.emit('secret', 2, { broadcast: true });
  socks.a.emit('all-of-us', 3, { broadcast: true });
  socks.a.emit('last', 4, { broadcast: true });
  await withTimeout((async () => { while (!got.b.includes('last:4')) await new Promise((r) => setTimeout(r, 10)); })(), 5000, 'b');
  assert.deepEqual(got, { a: ['all-of-us:3'], b: ['r:1', 'all-of-us:3', 'last:4'] });
  assert.deepEqual(seen.map((x) => x.slice(0, 3)), [['r', true, false], ['secret', true, false],
    ['all-of-us', true, false], ['last', true, false]]);
});
