'use strict';
// Issue #9 in Node: events with acks, rooms, channels, batching — through
// real sockets on 127.0.0.1 (port 0), against weft's own client, the npm
// Primus client, primus-emitter and a raw `ws` socket.
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { weft, Primus, once, plain, delay, waitUntil, withTimeout, weftServer, primusClient, catchUncaught, ROOT } = require('./helpers');

const EXT = { emitter: true, rooms: true, channels: true };

function weftClient(t, url, options) {
  const c = weft.connect(url, Object.assign({ reconnect: { retries: 0 }, strategy: false }, options));
  c.on('error', () => {});
  t.after(() => c.end());
  return c;
}

/** A server with every extension and one connected weft client. */
async function pair(t, serverOptions = {}, clientOptions = {}) {
  const server = weftServer(t, Object.assign({}, EXT, serverOptions));
  const sparkP = once(server, 'connection');
  const client = weftClient(t, server.url, Object.assign({ emitter: true, channels: true }, clientOptions));
  await once(client, 'open');
  const spark = await sparkP;
  return { server, client, spark };
}

test('acks client → server: resolve, reject, async handler, no handler, timeout, callback and emit forms', async (t) => {
  const { client, spark } = await pair(t);
  spark.on('sum', (...args) => { const ack = args.pop(); ack(null, args.reduce((a, b) => a + b, 0)); });
  spark.on('fail', (ack) => ack(new Error('nope')));
  spark.on('rejectObj', (ack) => ack.reject({ why: 'structured' }));
  spark.on('double', async (x) => { await delay(5); return x * 2; });
  spark.on('asyncFail', async () => { throw new Error('async nope'); });
  spark.on('silent', () => { /* never answers */ });

  assert.equal(await client.request('sum', [1, 2, 3]), 6);
  assert.equal(await client.request('sum'), 0);
  await assert.rejects(client.request('fail'), (e) => e.code === 'EREJECTED' && e.message === 'nope' && e.kind === 'emitter');
  await assert.rejects(client.request('rejectObj'), (e) => e.code === 'EREJECTED' && e.reason.why === 'structured');
  assert.equal(await client.request('double', [21]), 42);
  await assert.rejects(client.request('asyncFail'), (e) => e.code === 'EREJECTED' && e.message === 'async nope');
  await assert.rejects(client.request('unknown'), (e) => e.code === 'EREJECTED' && e.message === 'no handler for unknown');
  const t0 = Date.now();
  await assert.rejects(client.request('silent', [], { timeout: 150 }), (e) => e.code === 'ETIMEDOUT');
  assert.ok(Date.now() - t0 >= 100);

  // primus-emitter's callback form, and the emit(name, ..., fn) form.
  const viaSend = await new Promise((resolve) => client.send('sum', 4, 5, (err, r) => resolve([err, r])));
  assert.deepEqual(viaSend, [null, 9]);
  const viaEmit = await new Promise((resolve) => client.emit('sum', 10, 5, (err, r) => resolve([err, r])));
  assert.deepEqual(viaEmit, [null, 15]);
  // emit() with a local listener stays local.
  let local = 0;
  client.on('localOnly', (fn) => { local++; fn(); });
  client.emit('localOnly', () => {});
  assert.equal(local, 1);
});

test('acks server → client, and a disconnect fails pending acks with ECLOSED', async (t) => {
  const { client, spark } = await pair(t);
  client.on('greet', (name, ack) => ack(null, `hello ${name}`));
  client.on('refuse', (ack) => ack.reject('no way'));
  client.on('hang', () => {});
  assert.equal(await spark.request('greet', ['spark']), 'hello spark');
  await assert.rejects(spark.request('refuse'), (e) => e.code === 'EREJECTED' && e.message === 'no way');
  const settled = (p) => p.then((v) => ({ v }), (e) => ({ e }));
  const pending = settled(spark.request('hang', [], { timeout: 0 }));
  const pending2 = client.request('nobodyAnswers'); // rejected: no handler on the spark
  await assert.rejects(pending2, (e) => e.code === 'EREJECTED');
  spark.on('hang2', () => {});
  const clientSide = settled(client.request('hang2', [], { timeout: 0 }));
  await delay(20);
  client.end();
  assert.equal((await withTimeout(pending, 3000, 'ECLOSED on the server')).e.code, 'ECLOSED');
  assert.equal((await withTimeout(clientSide, 3000, 'ECLOSED on the client')).e.code, 'ECLOSED');
  // After the disconnection: sending fails the same way, at once.
  await assert.rejects(spark.request('greet', ['x']), (e) => e.code === 'ECLOSED');
  assert.equal(spark.send('greet', 'x'), false);
});

test('events without acks, the wildcard, broadcasts and server.send', async (t) => {
  const { server, client, spark } = await pair(t);
  const got = [];
  client.on('news', (a, b) => got.push(['news', a, b]));
  client.on('*', (name, ...args) => got.push(['*', name, ...args]));
  spark.send('news', 1, { two: 2 });
  spark.send('other', 'x');
  assert.equal(server.send('all', true), 1);
  await waitUntil(() => got.length === 3, 3000, 'three events');
  assert.deepEqual(got, [['news', 1, { two: 2 }], ['*', 'other', 'x'], ['*', 'all', true]]);
  // The wildcard answers acks too.
  spark.on('*', (name, ...args) => { const ack = args.pop(); ack(null, `${name}:${args.length}`); });
  assert.equal(await client.request('anything', [1, 2]), 'anything:2');
});

test('bad input: malformed events are error::validation, the rest kind emitter; misuse throws', async (t) => {
  const server = weftServer(t, { emitter: true });
  const errors = [];
  const validation = [];
  server.on('error', (err, spark) => errors.push([err.kind, err.code, !!spark]));
  server.on('error::validation', (err, spark) => validation.push([err.code, spark && spark.id]));
  const got = [];
  server.on('connection', (spark) => {
    spark.on('data', (d) => got.push(d));
    spark.on('ok', (ack) => ack(null, 'still open'));
  });
  const c = primusClient(t, server.url.replace('ws', 'http'));
  await once(c, 'open');
  const answers = [];
  c.on('data', (d) => answers.push(plain(d)));
  c.write({ type: 0, data: 'not an array' });
  c.write({ type: 0, data: [5] });
  c.write({ type: 1, id: 12345, data: [null, 1] });
  c.write({ type: 0, data: ['x'], id: -1 });
  c.write({ type: 0, data: ['drain'], id: 7 }); // a stream event name: refused
  c.write({ type: 0, data: ['end'], id: 8 }); // Primus's: refused by the core
  c.write({ type: 0 }); // not a packet: passes through
  c.write({ type: 0, data: ['ok'], id: 9 });
  await waitUntil(() => answers.length === 3, 3000, 'answers');
  assert.deepEqual(answers, [
    { type: 1, id: 7, data: ['reserved event name'] },
    { type: 1, id: 8, data: ['reserved event name'] },
    { type: 1, id: 9, data: [null, 'still open'] }
  ]);
  assert.equal(errors.length, 6);
  // Malformed events (data not an array, a name not a string, a bad id):
  // Primacron's error::validation; an unknown ack id and reserved names: emitter.
  assert.deepEqual(errors.map((e) => e[0]).sort(), ['emitter', 'emitter', 'emitter', 'validation', 'validation', 'validation']);
  for (const e of errors) assert.equal(e[2], true);
  assert.equal(validation.length, 3);
  for (const v of validation) assert.deepEqual(v, ['EPARSE', [...server._sparks.keys()][0]]);
  assert.deepEqual(plain(got), [{ type: 0 }]);

  // Misuse from JavaScript.
  const spark = server.spark([...server._sparks.keys()][0]);
  assert.throws(() => spark.send('data', 1), (e) => e.code === 'EINVAL');
  assert.throws(() => spark.send('', 1), TypeError);
  assert.throws(() => spark.send('weft::join', 'r'), (e) => e.code === 'EINVAL');
  assert.throws(() => spark.send('x', () => {}, 1n << 70n), RangeError);
  await assert.rejects(spark.request('x', 'notAnArray'), TypeError);
  await assert.rejects(spark.request('x', [], { timeout: -5 }), RangeError);
  assert.throws(() => server.send('x', () => {}), TypeError);
  assert.throws(() => server.to('r'), (e) => e.code === 'ESTATE'); // rooms are off
  const plainServer = weftServer(t, {});
  assert.throws(() => plainServer.send('x'), (e) => e.code === 'ESTATE');
  assert.throws(() => weftServer(t, { emitter: { timeout: -1 } }), (e) => e.code === 'ERANGE' && e instanceof RangeError);
  assert.throws(() => weftServer(t, { channels: { window: 0 } }), (e) => e.code === 'ERANGE' && /channelWindow/.test(e.message));
  const noExt = weftClient(t, server.url, { manual: true });
  assert.throws(() => noExt.send('x'), (e) => e.code === 'ESTATE');
  assert.throws(() => noExt.channel('x'), (e) => e.code === 'ESTATE');
});

test('a throwing handler reaches uncaughtException, rejects its ack, and the server keeps serving', async (t) => {
  const errors = catchUncaught(t);
  const { client, spark } = await pair(t);
  spark.on('boom', () => { throw new Error('handler bug'); });
  spark.on('fine', (ack) => ack(null, 'ok'));
  await assert.rejects(client.request('boom'), (e) => e.code === 'EREJECTED' && e.message === 'handler bug');
  assert.equal(await client.request('fine'), 'ok');
  // An ack callback that throws.
  client.send('fine', () => { throw new Error('callback bug'); });
  await waitUntil(() => errors.length === 2, 3000, 'two uncaught');
  assert.deepEqual(errors.map((e) => e.message), ['handler bug', 'callback bug']);
  assert.equal(await client.request('fine'), 'ok');
});

test('rooms: 50 clients in 5 rooms, to().except(), broadcast, queries, leave, disconnect', async (t) => {
  const server = weftServer(t, EXT);
  const sparks = [];
  server.on('connection', (spark) => {
    const i = Number(spark.query.i);
    spark.join(`room${i % 5}`);
    if (i % 10 === 0) spark.join('tens');
    sparks[i] = spark;
  });
  const clients = [];
  const inbox = [];
  for (let i = 0; i < 50; i++) {
    const c = weftClient(t, `${server.url}?i=${i}`, { emitter: true });
    inbox[i] = [];
    c.on('*', (name, ...args) => inbox[i].push([name, ...args]));
    c.on('data', (d) => inbox[i].push(['data', d]));
    clients.push(c);
  }
  await waitUntil(() => server.connected === 50, 10000, '50 connections');
  assert.deepEqual(server.rooms().sort(), ['room0', 'room1', 'room2', 'room3', 'room4', 'tens']);
  assert.equal(server.room('room3').clients().length, 10);
  assert.deepEqual(sparks[20].rooms().sort(), ['room0', 'tens']);
  assert.equal(sparks[20].inRoom('tens'), true);
  assert.equal(sparks[21].inRoom('tens'), false);

  // room0 ∪ tens ∪ room1 but 0 and 1: each spark gets it once.
  const n = server.to('room0', 'tens').to('room1').except(sparks[0].id, sparks[1].id).send('hi', 1);
  assert.equal(n, 18);
  assert.equal(server.room('room2').write({ r: 2 }), 10);
  assert.equal(sparks[7].broadcast.send('all-but-7'), 49);
  assert.equal(sparks[4].to('room4').write('room4-but-4'), 9);
  await waitUntil(() => inbox.reduce((a, b) => a + b.length, 0) === 18 + 10 + 49 + 9, 5000, 'deliveries');
  for (let i = 0; i < 50; i++) {
    const names = inbox[i].map((m) => (m[0] === 'data' ? JSON.stringify(m[1]) : m[0]));
    const want = [];
    if ((i % 5 === 0 || i % 5 === 1) && i !== 0 && i !== 1) want.push('hi');
    if (i % 5 === 2) want.push('{"r":2}');
    if (i !== 7) want.push('all-but-7');
    if (i % 5 === 4 && i !== 4) want.push('"room4-but-4"');
    assert.deepEqual(names.sort(), want.sort(), `client ${i}`);
  }

  sparks[20].leave('tens');
  assert.deepEqual(sparks[20].rooms(), ['room0']);
  sparks[30].leaveAll();
  assert.deepEqual(sparks[30].rooms(), []);
  assert.equal(server.room('tens').clients().length, 3);
  clients[40].end();
  await waitUntil(() => server.room('tens').clients().length === 2, 3000, 'leave at disconnection');
  assert.equal(server.to('nobody-here').write('x'), 0);

  // Bad input.
  assert.throws(() => sparks[1].join(''), (e) => e.code === 'EINVAL');
  assert.throws(() => sparks[1].join('x'.repeat(256)), (e) => e.code === 'EINVAL');
  assert.throws(() => sparks[1].join(5), TypeError);
  assert.throws(() => server.to(5), TypeError);
  assert.throws(() => server.to('').write(1), (e) => e.code === 'EINVAL');
});

test('clients join rooms through the server policy', async (t) => {
  const { server, client, spark } = await pair(t);
  await assert.rejects(client.join('lobby'), (e) => e.code === 'EREJECTED' && /may not change rooms/.test(e.message));
  const asked = [];
  server.roomsPolicy((s, room, join) => { asked.push([s.id, room, join]); return room.startsWith('public:'); });
  await client.join('public:lobby');
  assert.deepEqual(spark.rooms(), ['public:lobby']);
  await assert.rejects(client.join('private'), (e) => e.code === 'EREJECTED');
  await assert.rejects(client.join(''), (e) => e.code === 'EINVAL' || e.code === 'EREJECTED');
  await new Promise((resolve, reject) => client.leave('public:lobby', (err) => (err ? reject(err) : resolve())));
  assert.deepEqual(spark.rooms(), []);
  assert.deepEqual(asked, [[spark.id, 'public:lobby', true], [spark.id, 'private', true], [spark.id, 'public:lobby', false]]);
  // A policy that throws refuses (and the exception is reported).
  const errors = catchUncaught(t);
  server.roomsPolicy(() => { throw new Error('policy bug'); });
  await assert.rejects(client.join('public:x'), (e) => e.code === 'EREJECTED');
  await waitUntil(() => errors.length === 1, 2000, 'uncaught policy error');
  server.roomsPolicy(null);
  await assert.rejects(client.join('public:x'), (e) => e.code === 'EREJECTED');
  assert.throws(() => server.roomsPolicy('yes'), TypeError);
});

test('channels: independent flow control per channel, backpressure, both sides open', async (t) => {
  const { server, client } = await pair(t, { channels: { window: 4 } }, { channels: { window: 4 } });
  const serverSide = new Map();
  server.on('channel', (ch, spark) => {
    assert.equal(ch.spark, spark);
    serverSide.set(ch.name, ch);
    if (ch.name === 'fast') ch.on('data', (d) => ch.write({ echo: d }));
    // 'slow' is not read yet: the writer must stall.
  });
  const slow = client.channel('slow');
  const fast = client.channel('fast');
  assert.equal(client.channel('slow'), slow);
  let falseAt = -1;
  for (let i = 0; i < 40; i++) {
    if (!slow.write({ i }) && falseAt < 0) falseAt = i;
  }
  assert.ok(falseAt >= 0, 'write() returned false');
  const echoes = [];
  fast.on('data', (d) => echoes.push(d.echo));
  for (let i = 0; i < 10; i++) fast.write(i);
  await waitUntil(() => echoes.length === 10, 3000, 'fast channel flows while slow is stalled');
  assert.deepEqual(echoes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await waitUntil(() => serverSide.has('slow'), 3000, 'slow opened on the server');
  await delay(50);
  assert.ok(slow.queued > 0 || slow.writableLength > 0, 'messages wait for credit');
  // Now read the slow channel: everything arrives in order, then 'drain'.
  const drained = once(slow, 'drain', 5000);
  const got = [];
  serverSide.get('slow').on('data', (d) => got.push(d.i));
  await waitUntil(() => got.length === 40, 5000, '40 messages on slow');
  assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => i));
  await drained;

  // The server opens a channel; the client gets it; end is a handshake.
  const clientCh = once(client, 'channel');
  const spark = server.spark([...server._sparks.keys()][0]);
  const down = spark.channel('down');
  down.write('from server');
  const ch = await clientCh;
  assert.equal(ch.name, 'down');
  assert.equal(await once(ch, 'data'), 'from server');
  const ended = once(down, 'end');
  ch.resume();
  ch.end();
  await ended;
  // stream.pipeline through a channel.
  const { pipeline, Readable, Writable } = require('node:stream');
  const sink = [];
  server.on('channel', (c) => { if (c.name === 'pipe') c.pipe(new Writable({ objectMode: true, write(d, e, cb) { sink.push(d); cb(); } })); });
  await new Promise((resolve, reject) => pipeline(Readable.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), client.channel('pipe'), (err) => (err ? reject(err) : resolve())));
  await waitUntil(() => sink.length === 9, 3000, 'piped');
  assert.deepEqual(sink, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('channels: bad input, refused channels, disconnection ends them', async (t) => {
  const server = weftServer(t, { channels: true });
  const errors = [];
  server.on('error', (err) => errors.push([err.kind, err.code]));
  let spark;
  server.on('connection', (s) => { spark = s; });
  const c = primusClient(t, server.url.replace('ws', 'http'));
  await once(c, 'open');
  const seen = [];
  c.on('data', (d) => seen.push(plain(d)));
  c.write({ type: 2, ch: '', data: 1 });
  c.write({ type: 2, ch: 'x' }); // no data
  c.write({ type: 4, ch: 'x', credit: -1 });
  await waitUntil(() => errors.length === 3, 3000, 'channel errors');
  assert.deepEqual(errors, [['channel', 'EPARSE'], ['channel', 'EPARSE'], ['channel', 'EPARSE']]);
  // Nobody listens for 'channel': a peer-opened one is refused with an end.
  c.write({ type: 2, ch: 'unwanted', data: 'hi' });
  await waitUntil(() => seen.some((m) => m.type === 3 && m.ch === 'unwanted'), 3000, 'refused');
  assert.throws(() => spark.channel(''), TypeError);
  assert.throws(() => spark.channel('x'.repeat(256)), (e) => e.code === 'EINVAL');
  assert.throws(() => spark.channel(7), TypeError);
  // A disconnection ends the spark's channels.
  const ch = spark.channel('mine');
  ch.write('hello');
  const ended = once(ch, 'end', 3000);
  ch.resume();
  c.end();
  await ended;
  assert.equal(ch.writable, false);
});

test('batching: a turn of writes leaves as one frame and arrives as single messages', async (t) => {
  const server = weftServer(t, { batching: 16384, emitter: true });
  server.on('connection', (spark) => {
    spark.on('data', (d) => {
      if (d === 'go') {
        for (let i = 0; i < 20; i++) spark.write({ i });
        spark.send('done', 20);
      }
    });
  });
  // A raw WebSocket sees the envelope: one frame for the whole turn.
  const frames = [];
  const ws = new WebSocket(server.url);
  t.after(() => ws.terminate());
  ws.on('message', (m) => frames.push(String(m)));
  await once(ws, 'open');
  ws.send(JSON.stringify('go'));
  await waitUntil(() => frames.some((f) => f.includes('weft::batch')), 3000, 'a batch frame');
  const batch = JSON.parse(frames.find((f) => f.includes('weft::batch')))['weft::batch'];
  assert.equal(batch.length, 21);
  // A weft client (batching its own writes too) sees the messages one by one.
  const client = weftClient(t, server.url, { batching: true, emitter: true });
  const got = [];
  client.on('data', (d) => got.push(d.i));
  const done = once(client, 'done');
  await once(client, 'open');
  client.write('go');
  assert.equal(await done, 20);
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
  // Bad input: the raw parser has no envelope; sizes must be numbers.
  assert.throws(() => weftServer(t, { batching: 1024, parser: 'raw' }), (e) => e.code === 'EUNSUPPORTED');
  assert.throws(() => weftServer(t, { batching: -1 }), (e) => e.code === 'ERANGE');
  assert.throws(() => weftClient(t, server.url, { batching: 'big', manual: true }), (e) => e.code === 'ETYPE' && e instanceof TypeError);
});

test('interop: the npm Primus client speaks primus-emitter packets', async (t) => {
  const server = weftServer(t, { emitter: true });
  server.on('connection', (spark) => {
    spark.on('x', (n, ack) => { if (ack) ack(null, n + 1); else got.push({ noAck: n }); });
    spark.on('fail', (ack) => ack('bad'));
    spark.send('news', { a: 1 });
  });
  const c = primusClient(t, server.url.replace('ws', 'http'));
  const got = [];
  c.on('data', (d) => got.push(plain(d)));
  await once(c, 'open');
  c.write({ type: 0, data: ['x', 1], id: 1 });
  c.write({ type: 0, data: ['fail'], id: 2 });
  c.write({ type: 0, data: ['x', 41] }); // no id: no answer, and no ack argument
  await waitUntil(() => got.length === 4, 3000, 'answers');
  assert.deepEqual(got.map((m) => JSON.stringify(m)).sort(), [
    { type: 0, data: ['news', { a: 1 }] },
    { type: 1, data: [null, 2], id: 1 },
    { type: 1, data: ['bad'], id: 2 },
    { noAck: 41 }
  ].map((m) => JSON.stringify(m)).sort());
});

test('interop: primus-emitter (npm) client and weft server, acks both ways', async (t) => {
  const server = weftServer(t, { emitter: true });
  const answered = new Promise((resolve) => {
    server.on('connection', (spark) => {
      spark.on('sum', (a, b, ack) => ack(null, a + b));
      spark.send('news', 'weft', (err, r) => resolve([err, r]));
    });
  });
  const Socket = Primus.createSocket({ transformer: 'websockets', parser: 'json', plugin: { emitter: require('primus-emitter') } });
  const c = new Socket(server.url.replace('ws', 'http'), { reconnect: { retries: 0 }, strategy: false });
  c.on('error', () => {});
  t.after(() => c.end());
  c.on('news', (who, fn) => fn(null, `thanks ${who}`));
  await once(c, 'open');
  const sum = await withTimeout(new Promise((resolve) => c.send('sum', 2, 3, (err, r) => resolve([err, r]))), 3000, 'sum');
  assert.deepEqual(plain(sum), [null, 5]);
  assert.deepEqual(await withTimeout(answered, 3000, 'client answer'), [null, 'thanks weft']);
});

test('fixtures/ack_server.js answers sum and fail for cross-host tests', async (t) => {
  const path = require('node:path');
  const { spawn } = require('node:child_process');
  const child = spawn(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'ack_server.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { try { process.kill(child.pid, 'SIGTERM'); } catch (e) { /* gone */ } });
  const port = await withTimeout(new Promise((resolve) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  }), 5000, 'listening line');
  const c = weftClient(t, `ws://127.0.0.1:${port}/primus`, { emitter: true });
  await once(c, 'open');
  assert.equal(await c.request('sum', [1, 2, 3.5]), 6.5);
  await assert.rejects(c.request('fail', [1]), (e) => e.code === 'EREJECTED' && e.message === 'nope');
  c.end();
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  process.kill(child.pid, 'SIGTERM');
  assert.equal(await withTimeout(exited, 5000, 'exit'), 0);
});

test('an ack handle dropped without an answer rejects with "no answer" once collected', async () => {
  const script = `
    const weft = require(${JSON.stringify(ROOT)});
    const server = new weft.Server({ port: 0, host: '127.0.0.1', emitter: true });
    server.on('connection', (spark) => { spark.on('drop', (ack) => { void ack; }); });
    const c = weft.connect(server.url, { emitter: true });
    c.on('open', async () => {
      const p = c.request('drop', [], { timeout: 5000 }).then(() => 'resolved', (e) => e.code + ' ' + e.message);
      for (let i = 0; i < 20; i++) { await new Promise((r) => setTimeout(r, 10)); global.gc(); }
      console.log(await p);
      c.end(); server.destroy();
    });`;
  const { runNode } = require('./helpers');
  const r = await runNode(['--expose-gc', '-e', script], 20000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'EREJECTED no answer');
});
