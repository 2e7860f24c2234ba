'use strict';
// Issue #20 in Node: binary streams as stream.Readable / stream.Writable
// (option streams), over tcp:// and ipc://: the Node server and the Node
// client both ways; npm fast-tcp 3.3.2's client against the Node server and
// its server against the Node client (8 MiB of random bytes each way, info
// and ack, SHA-256 equal); a slow reader holds the writer back; misuse.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { weft, once, withTimeout, waitUntil } = require('./helpers');

const ft = require(path.join(__dirname, '../../tests/interop/node_modules/fast-tcp'));

const BIG = 8 << 20;
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

// { hex, bytes } of a Readable.
function hashed(readable) {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    let bytes = 0;
    readable.on('data', (d) => { h.update(d); bytes += d.length; });
    readable.on('end', () => resolve({ hex: h.digest('hex'), bytes }));
    readable.on('error', reject);
  });
}

async function writeAll(w, data) {
  for (let off = 0; off < data.length; off += 65536) {
    if (!w.write(data.subarray(off, off + 65536))) await new Promise((r) => w.once('drain', r));
  }
  w.end();
}

function url(scheme) {
  return scheme === 'tcp' ? 'tcp://127.0.0.1:0'
    : `ipc://${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weft-node-fts-')), 's.sock')}`;
}

function serve(t, u, extra) {
  const server = new weft.Server({ listen: [u], emitter: true, streams: true, ...extra });
  t.after(() => new Promise((resolve) => server.destroy({ timeout: 200 }, resolve)));
  return server;
}

function connect(t, u) {
  const client = weft.connect(u, { emitter: true, streams: true, reconnect: { retries: 0 }, strategy: false });
  client.on('error', () => {});
  t.after(() => client.end());
  return client;
}

// A stream's readers answer its ack with what they got.
function answering(target) {
  const got = [];
  target.on('stream', (st, info, ack) => {
    hashed(st).then((r) => {
      got.push({ event: st.event, info, ...r });
      if (ack) ack(null, { sha256: r.hex, bytes: r.bytes });
    });
  });
  return got;
}

function ackOf(fn) {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

for (const scheme of ['tcp', 'ipc']) {
  test(`${scheme}://: the Node server and client stream 8 MiB both ways with info and acks`, async (t) => {
    const data = crypto.randomBytes(BIG);
    const server = serve(t, url(scheme));
    const atServer = answering(server);
    let down;
    server.on('connection', (spark) => {
      down = ackOf((cb) => writeAll(spark.stream('download', { n: 2 }, cb), data));
    });
    const client = connect(t, server.url);
    const atClient = answering(client);
    await withTimeout(once(client, 'open'), 5000, 'open');
    const up = ackOf((cb) => writeAll(client.stream('upload', { n: 1 }, cb), data));
    const want = { sha256: sha(data), bytes: BIG };
    assert.deepEqual(await withTimeout(up, 20000, 'the upload\'s ack'), want);
    assert.deepEqual(await withTimeout(down, 20000, 'the download\'s ack'), want);
    assert.deepEqual(atServer, [{ event: 'upload', info: { n: 1 }, hex: sha(data), bytes: BIG }]);
    assert.deepEqual(atClient, [{ event: 'download', info: { n: 2 }, hex: sha(data), bytes: BIG }]);
  });

  test(`${scheme}://: npm fast-tcp's client streams with the Node server, both ways`, async (t) => {
    const data = crypto.randomBytes(BIG);
    const server = serve(t, url(scheme));
    const atServer = answering(server);
    let down;
    server.on('connection', (spark) => {
      spark.on('want', () => { down = ackOf((cb) => writeAll(spark.stream('download', { n: 2 }, cb), data)); });
    });
    const u = server.url;
    const opts = scheme === 'tcp' ? { host: '127.0.0.1', port: Number(u.split(':')[2]) } : { path: u.slice(6) };
    const s = new ft.Socket({ ...opts, reconnect: false });
    s.on('error', () => {});
    t.after(() => s.destroy());
    const gotDown = new Promise((resolve) => s.on('download', (readable, info, cb) => {
      hashed(readable).then((r) => { cb({ sha256: r.hex, bytes: r.bytes }); resolve({ info, ...r }); });
    }));
    const up = new Promise((resolve) => writeAll(s.stream('upload', { n: 1 }, resolve), data));
    const want = { sha256: sha(data), bytes: BIG };
    assert.deepEqual(await withTimeout(up, 20000, 'the upload\'s ack'), want);
    assert.deepEqual(atServer, [{ event: 'upload', info: { n: 1 }, hex: sha(data), bytes: BIG }]);
    s.emit('want', 1);
    assert.deepEqual(await withTimeout(gotDown, 20000, 'the download'), { info: { n: 2 }, hex: sha(data), bytes: BIG });
    assert.deepEqual(await withTimeout(down, 20000, 'the download\'s ack'), want);
  });

  test(`${scheme}://: the Node client streams with npm fast-tcp's server, both ways`, async (t) => {
    const data = crypto.randomBytes(BIG);
    const server = new ft.Server();
    let seen;
    let acked;
    server.on('connection', (sock) => {
      sock.on('error', () => {});
      sock.on('upload', (readable, info, cb) => {
        hashed(readable).then((r) => { seen = { info, ...r }; cb({ sha256: r.hex, bytes: r.bytes }); });
      });
      sock.on('want', () => {
        acked = new Promise((resolve) => writeAll(sock.stream('download', { n: 2 }, resolve), data));
      });
    });
    const where = scheme === 'tcp' ? 0 : url('ipc').slice(6);
    await new Promise((resolve) => server.listen(where, resolve));
    t.after(() => server.close());
    const u = scheme === 'tcp' ? `tcp://127.0.0.1:${server._server.address().port}` : `ipc://${where}`;
    const client = connect(t, u);
    const atClient = answering(client);
    await withTimeout(once(client, 'open'), 5000, 'open');
    const want = { sha256: sha(data), bytes: BIG };
    assert.deepEqual(await withTimeout(ackOf((cb) => writeAll(client.stream('upload', { n: 1 }, cb), data)), 20000,
      'the upload\'s ack'), want);
    assert.deepEqual(seen, { info: { n: 1 }, hex: sha(data), bytes: BIG });
    client.send('want', 1);
    await withTimeout((async () => { while (!acked) await new Promise((r) => setTimeout(r, 10)); })(), 5000, 'want');
    assert.deepEqual(await withTimeout(acked, 20000, 'the download\'s ack'), want);
    assert.deepEqual(atClient, [{ event: 'download', info: { n: 2 }, hex: sha(data), bytes: BIG }]);
  });
}

for (const scheme of ['tcp', 'ws']) {
  test(`${scheme}://: the Node server relays streams its clients route (room, id, everyone else, the policy)`, async (t) => {
    const server = serve(t, scheme === 'tcp' ? 'tcp://127.0.0.1:0' : 'ws://127.0.0.1:0/primus', { rooms: true });
    const heard = answering(server); // relayed streams do not reach the server's own listener
    const sparks = [];
    server.on('connection', (spark) => sparks.push(spark));
    server.routePolicy((spark, route) => route.event !== 'secret');
    const cl = [];
    for (let i = 0; i < 3; i++) {
      const c = connect(t, server.url);
      await withTimeout(once(c, 'open'), 5000, 'open');
      await waitUntil(() => sparks.length === i + 1, 5000, 'connection');
      cl.push(c);
    }
    const [a] = cl;
    sparks[1].join('r');
    sparks[2].join('r');
    const got = cl.map(answering);
    const data = crypto.randomBytes(scheme === 'ws' ? 256 << 10 : 2 << 20); // json carries binary as arrays of numbers
    const want = (event) => ({ event, info: { n: 1 }, hex: sha(data), bytes: data.length });
    await writeAll(a.stream('room', { n: 1 }, { rooms: ['r'] }), data);
    await waitUntil(() => got[1].length === 1 && got[2].length === 1, 20000, 'the room stream');
    await writeAll(a.stream('id', { n: 1 }, { sockets: [sparks[1].id] }), data);
    await waitUntil(() => got[1].length === 2, 20000, 'the id stream');
    await writeAll(a.stream('secret', { n: 1 }, { broadcast: true }), data); // refused: sent nowhere
    await writeAll(a.stream('all', { n: 1 }, { broadcast: true }), data);
    await waitUntil(() => got[1].length === 3 && got[2].length === 2, 20000, 'the broadcast stream');
    assert.deepEqual(got[0], [], 'the sender is left out');
    assert.deepEqual(got[1], [want('room'), want('id'), want('all')]);
    assert.deepEqual(got[2], [want('room'), want('all')]);
    assert.deepEqual(heard, []);
  });
}

test('a slow reader holds the Node writer back; nothing is lost', async (t) => {
  const data = crypto.randomBytes(BIG);
  const server = serve(t, url('ipc'), { highWaterMark: 256 << 10 });
  let reader;
  let w;
  server.on('connection', (spark) => { w = spark.stream('download', null); });
  const client = connect(t, server.url);
  const gotStream = new Promise((resolve) => client.on('stream', (st) => { reader = st; resolve(); }));
  await withTimeout(once(client, 'open'), 5000, 'open');
  await withTimeout(gotStream, 5000, 'the stream');
  let written = 0;
  let full = 0;
  const writing = (async () => {
    for (let off = 0; off < BIG; off += 65536) {
      written = off;
      if (!w.write(data.subarray(off, off + 65536))) { full++; await new Promise((r) => w.once('drain', r)); }
    }
    w.end();
  })();
  // nobody reads yet: the writer stops well before the end and stays there
  await new Promise((r) => setTimeout(r, 300));
  const a = written;
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(full > 0, 'the writer was told to wait');
  assert.ok(a < BIG / 2, `the writer was held back (${a} bytes)`);
  assert.equal(written, a, 'no progress while the reader does not read');
  assert.ok(w.pending <= (256 << 10) + 65536 + 64, `the connection holds at most its window + a chunk (${w.pending})`);
  const r = await withTimeout(hashed(reader), 20000, 'the rest');
  await writing;
  assert.deepEqual(r, { hex: sha(data), bytes: BIG });
});

test('misuse: streams off, bad arguments, a client not open', async (t) => {
  const server = new weft.Server({ listen: ['tcp://127.0.0.1:0'], emitter: true });
  t.after(() => new Promise((resolve) => server.destroy({ timeout: 200 }, resolve)));
  assert.throws(() => new weft.Server({ listen: ['tcp://127.0.0.1:0'], streams: true }), /streams/);
  const client = weft.connect(server.url, { emitter: true, streams: true, manual: true, strategy: false });
  t.after(() => client.end());
  assert.throws(() => client.stream('x', null), { code: 'ESTATE' });
  assert.throws(() => client.stream('', null), TypeError);
  assert.throws(() => client.stream('x', null, { rooms: ['r'] }), { code: 'ESTATE' });
  const plain = weft.connect(server.url, { emitter: true, manual: true });
  t.after(() => plain.end());
  assert.throws(() => plain.stream('x', null), { code: 'ESTATE' });
  const sparked = once(server, 'connection');
  const c2 = connect(t, server.url);
  const spark = await withTimeout(sparked, 5000, 'connection');
  assert.throws(() => spark.stream('x', null), { code: 'ESTATE' });
  await withTimeout(once(c2, 'open'), 5000, 'open');
  assert.throws(() => c2.stream('weft::x', null), { code: 'EINVAL' });
  assert.throws(() => c2.stream('x', null, 5), TypeError);
  assert.throws(() => c2.stream('x', null, { rooms: ['a|b'] }), { code: 'EINVAL' });
});
