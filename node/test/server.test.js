'use strict';
// weft's Node server against the npm Primus client, over real sockets.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const WebSocket = require('ws');
const { weft, once, onceArgs, plain, rawHttp, delay, waitUntil, weftServer, primusClient, HOST, catchUncaught } = require('./helpers');

function echo(server) {
  server.on('connection', (spark) => spark.on('data', (d) => spark.write(d)));
}

test('echo with the npm Primus client (json and msgpack-free values)', async (t) => {
  const server = weftServer(t);
  echo(server);
  const client = primusClient(t, server.url);
  await once(client, 'open');
  const msgs = [{ a: 1, b: [true, null, 'x'] }, 'text ✓', 42, 2.5, [], {}, -(2 ** 53)];
  for (const m of msgs) {
    client.write(m);
    assert.deepEqual(plain(await once(client, 'data')), m);
  }
});

test('a null message is a message: the spark and the client stream go on (data events and async iteration)', async (t) => {
  const server = weftServer(t);
  const got = [];
  let ended = false;
  server.on('connection', (spark) => {
    spark.on('end', () => { ended = true; });
    spark.on('data', (d) => { got.push(d); spark.write(d); });
  });
  const client = primusClient(t, server.url);
  await once(client, 'open');
  const echoed = [];
  client.on('data', (d) => echoed.push(d));
  for (const m of [1, null, 2, null]) client.write(m);
  await waitUntil(() => echoed.length === 4, 2000, 'four echoes');
  assert.deepEqual(got, [1, null, 2, null]);
  assert.deepEqual(echoed, [1, null, 2, null]);
  assert.equal(ended, false, 'null is not the end of the stream');
  // The weft client: data events and for await both hand out null.
  const c = new weft.Client(server.url, { reconnect: { retries: 0 } });
  t.after(() => c.destroy());
  await once(c, 'open');
  for (const m of [null, 'x', null]) c.write(m);
  const seen = [];
  for await (const m of c) {
    seen.push(m);
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen, [null, 'x', null]);
});

test('spark exposes id, headers, address and query; server.spark(id) and connected', async (t) => {
  const server = weftServer(t);
  const client = primusClient(t, `${server.url}?room=blue&n=2`, { transport: { headers: { 'X-Token': 'abc' } } });
  const spark = await once(server, 'connection');
  assert.equal(typeof spark.id, 'string');
  assert.equal(spark.id.length, 21);
  assert.equal(spark.headers['x-token'], 'abc');
  assert.equal(spark.address.ip, '127.0.0.1');
  assert.ok(spark.address.port > 0);
  assert.equal(spark.query.room, 'blue');
  assert.equal(server.spark(spark.id), spark);
  assert.equal(server.connected, 1);
  assert.deepEqual(server.address(), { address: HOST, family: 'IPv4', port: server.port });
  const id = await new Promise((resolve) => client.id(resolve));
  assert.equal(id, spark.id);
});

test('broadcast and forEach', async (t) => {
  const server = weftServer(t);
  const clients = [primusClient(t, server.url), primusClient(t, server.url), primusClient(t, server.url)];
  await Promise.all(clients.map((c) => once(c, 'open')));
  await waitUntil(() => server.connected === 3, 2000, 'three sparks');
  const got = Promise.all(clients.map((c) => once(c, 'data')));
  server.write({ all: true });
  assert.deepEqual(plain(await got), [{ all: true }, { all: true }, { all: true }]);
  let seen = 0;
  server.forEach(() => { seen++; });
  assert.equal(seen, 3);
  seen = 0;
  server.forEach(() => { seen++; return false; });
  assert.equal(seen, 1);
  let asyncSeen = 0;
  await new Promise((resolve, reject) => server.forEach((spark, next) => { asyncSeen++; next(); }, (err) => (err ? reject(err) : resolve())));
  assert.equal(asyncSeen, 3);
});

test('authorize: allow, and deny with status and JSON body', async (t) => {
  const server = weftServer(t);
  server.authorize((req, done) => {
    if (req.headers.authorization === 'Bearer good' && req.query.x === '1') return done();
    const err = new Error('go away');
    err.statusCode = 403;
    done(err);
  });
  echo(server);
  const ok = primusClient(t, `${server.url}?x=1`, { transport: { headers: { Authorization: 'Bearer good' } } });
  await once(ok, 'open');
  const answer = await rawHttp(server.port, 'GET /primus?x=2 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  assert.match(answer, /^HTTP\/1.1 403/);
  assert.deepEqual(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), { error: 'go away' });
});

test('authorize: a throwing hook refuses the request and reaches uncaughtException', async (t) => {
  const server = weftServer(t);
  const errors = catchUncaught(t);
  server.authorize(() => { throw new Error('hook bug'); });
  const client = primusClient(t, server.url);
  const err = await once(client, 'error');
  assert.ok(err);
  await waitUntil(() => errors.length === 1, 2000, 'uncaughtException');
  assert.equal(errors[0].message, 'hook bug');
  assert.throws(() => server.authorize('nope'), TypeError);
});

test('transforms: incoming and outgoing, sync and async, swallowing', async (t) => {
  const server = weftServer(t);
  server.transform('incoming', function (packet) {
    assert.ok(this instanceof weft.Spark);
    if (packet.data === 'drop') return false;
    packet.data = { in: packet.data };
  });
  server.transform('incoming', (packet, next) => setImmediate(() => { packet.data.async = true; next(); }));
  server.transform('outgoing', (packet) => { packet.data = { out: packet.data }; });
  echo(server);
  const client = primusClient(t, server.url);
  await once(client, 'open');
  client.write('drop');
  client.write('hello');
  assert.deepEqual(plain(await once(client, 'data')), { out: { in: 'hello', async: true } });
  assert.throws(() => server.transform('sideways', () => {}), TypeError);
  assert.throws(() => server.transform('incoming', 'x'), TypeError);
});

test('transform types: an incoming transform sees only the types it names; the others skip JavaScript; bad input', async (t) => {
  const server = weftServer(t);
  const seen = { strings: [], objects: [] };
  server.transform('incoming', (p) => { seen.strings.push(p.data); p.data = { wrapped: p.data }; }, { types: ['string'] });
  server.transform('incoming', (p) => { seen.objects.push(plain(p.data)); p.data.seen = true; }, { types: ['object', 'object'] });
  // How often the dispatcher reads the list: never for a message no transform looks at.
  let reads = 0;
  server._transforms.incoming = new Proxy(server._transforms.incoming, {
    get(target, key) { if (key === 'length') reads++; return target[key]; }
  });
  const got = [];
  server.on('connection', (spark) => spark.on('data', (d) => got.push({ d: plain(d), reads })));
  const client = primusClient(t, server.url);
  await once(client, 'open');
  for (const m of [42, [1, 'x'], false, true, 'hi', { a: 1 }, 2.5]) client.write(m);
  await waitUntil(() => got.length === 7, 2000, 'seven messages');
  assert.deepEqual(got.map((g) => g.d), [42, [1, 'x'], false, true, { wrapped: 'hi', seen: true }, { a: 1, seen: true }, 2.5]);
  assert.deepEqual(seen, { strings: ['hi'], objects: [{ wrapped: 'hi' }, { a: 1 }] });
  assert.deepEqual(got.map((g) => g.reads > 0), [false, false, false, false, true, true, true]);
  assert.equal(got[6].reads, got[5].reads, 'the number after them skipped JavaScript too');
  // A transform without types looks at every type again.
  const all = [];
  server.transform('incoming', (p) => { all.push(plain(p.data)); });
  client.write(7);
  await waitUntil(() => got.length === 8, 2000, 'the eighth message');
  assert.deepEqual(all, [7]);
  assert.deepEqual(seen.strings, ['hi']);
  for (const bad of [{ types: [] }, { types: 'string' }, { types: ['set'] }, { types: [String] }, 5, null]) {
    assert.throws(() => server.transform('incoming', () => {}, bad), TypeError, String(bad && bad.types));
  }
  assert.throws(() => server.transform('outgoing', () => {}, { types: ['string'] }), /incoming transforms only/);
  assert.equal(server._transforms.incoming.length, 3, 'a refused transform is not added');
});

test('plugins: use(name, { server }) runs at registration; duplicates are refused', async (t) => {
  const server = weftServer(t);
  let seen = null;
  server.use('upper', {
    server(primus, options) {
      seen = options;
      primus.transform('outgoing', (packet) => { if (typeof packet.data === 'string') packet.data = packet.data.toUpperCase(); });
    }
  });
  assert.ok(seen);
  assert.ok(server.plugin('upper'));
  assert.throws(() => server.use('upper', { server() {} }), { code: 'EEXIST' });
  assert.throws(() => server.use('empty', {}), TypeError);
  echo(server);
  const client = primusClient(t, server.url);
  await once(client, 'open');
  client.write('shout');
  assert.equal(await once(client, 'data'), 'SHOUT');
});

test('spark.end() ends the Primus client for good; end events on both sides', async (t) => {
  const server = weftServer(t);
  server.on('connection', (spark) => spark.on('data', () => spark.end('bye')));
  const client = primusClient(t, server.url);
  await once(client, 'open');
  const sparkEnd = once(server, 'disconnection');
  const data = once(client, 'data');
  const end = once(client, 'end');
  client.write('x');
  assert.equal(await data, 'bye');
  await end;
  const spark = await sparkEnd;
  await once(spark, 'end').catch(() => {});
  assert.equal(spark.write('late'), false);
});

test('destroy() sends primus::server::close and calls back after close', async (t) => {
  const server = new weft.Server({ port: 0, host: HOST });
  const client = primusClient(t, server.url);
  await once(client, 'open');
  const end = once(client, 'end');
  const closed = new Promise((resolve) => server.destroy({ timeout: 500 }, resolve));
  await end;
  await closed;
  assert.equal(server.address(), null);
  assert.equal(server.write('x'), false);
  // Destroying twice only calls back.
  await new Promise((resolve) => server.destroy(resolve));
});

test('a handler that throws reaches uncaughtException and the server keeps serving', async (t) => {
  const server = weftServer(t);
  const errors = catchUncaught(t);
  server.on('connection', (spark) => {
    spark.on('data', (d) => {
      if (d === 'boom') throw new Error('handler bug');
      spark.write(d);
    });
  });
  const client = primusClient(t, server.url);
  await once(client, 'open');
  client.write('boom');
  client.write('still here');
  assert.equal(await once(client, 'data'), 'still here');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].message, 'handler bug');
  const other = primusClient(t, server.url);
  await once(other, 'open');
});

test('Duplex: pipe works; write() returns false above the high-water mark and drain follows', async (t) => {
  const server = weftServer(t, { highWaterMark: 1024 });
  const { PassThrough } = require('node:stream');
  server.on('connection', (spark) => {
    const through = new PassThrough({ objectMode: true });
    spark.pipe(through).pipe(spark); // echo through a pipeline
  });
  const client = primusClient(t, server.url);
  await once(client, 'open');
  client.write({ piped: 1 });
  assert.deepEqual(plain(await once(client, 'data')), { piped: 1 });

  const hwm = weftServer(t, { highWaterMark: 1024 });
  const c2 = primusClient(t, hwm.url);
  const spark = await once(hwm, 'connection');
  await once(c2, 'open');
  const big = 'x'.repeat(4096);
  assert.equal(spark.write(big), false);
  await once(spark, 'drain');
  assert.equal(await once(c2, 'data'), big);
});

test('bad input: invalid JSON is an error event and the connection stays open', async (t) => {
  const server = weftServer(t);
  echo(server);
  const errors = [];
  server.on('error', (err, spark) => errors.push([err, spark]));
  const ws = new WebSocket(`ws://${HOST}:${server.port}/primus`);
  t.after(() => ws.terminate());
  await once(ws, 'open');
  ws.send('{not json');
  await waitUntil(() => errors.length === 1, 2000, 'error event');
  assert.equal(errors[0][0].kind, 'json');
  assert.ok(errors[0][1] instanceof weft.Spark);
  ws.send(JSON.stringify({ fine: true }));
  const msg = await once(ws, 'message');
  assert.deepEqual(JSON.parse(msg.toString()), { fine: true });
});

test('bad input: a message over maxLength closes with 1009', async (t) => {
  const server = weftServer(t, { maxLength: 64 });
  echo(server);
  const ws = new WebSocket(`ws://${HOST}:${server.port}/primus`);
  t.after(() => ws.terminate());
  await once(ws, 'open');
  ws.send(JSON.stringify('y'.repeat(200)));
  const [code] = await onceArgs(ws, 'close');
  assert.equal(code, 1009);
});

test('bad options and misuse throw clear errors', async (t) => {
  assert.throws(() => new weft.Server({ port: -1 }), RangeError);
  assert.throws(() => new weft.Server({ port: 0, host: HOST, parser: 'yaml' }),
    { name: 'RangeError', code: 'ERANGE', message: 'Server option "parser" must be "json", "msgpack" or "raw" (got "yaml")' });
  assert.throws(() => new weft.Server({ port: 0, host: HOST, transformer: 'browserchannel' }), { code: 'EUNSUPPORTED' });
  assert.throws(() => new weft.Server({ port: 0, host: HOST, maxLength: -5 }), { name: 'RangeError', code: 'ERANGE' });
  const server = weftServer(t);
  assert.throws(() => new weft.Server({ port: server.port, host: HOST }), { code: 'EADDRINUSE' });
  const sock = net.connect(server.port, HOST);
  t.after(() => sock.destroy());
  await once(sock, 'connect');
  sock.write('GET /primus/spec HTTP/1.1\r\nHost: x\r\n\r\n');
  const answer = (await once(sock, 'data')).toString();
  assert.match(answer, /^HTTP\/1.1 200/);
  assert.match(answer, /"transformer":"websockets"/);
});

test('writing values that cannot be encoded throws; closed sparks return false', async (t) => {
  const server = weftServer(t);
  const client = primusClient(t, server.url);
  const spark = await once(server, 'connection');
  await once(client, 'open');
  const cyclic = {};
  cyclic.self = cyclic;
  assert.throws(() => spark.write(cyclic), RangeError);
  assert.throws(() => spark.write(2n ** 70n), RangeError);
  assert.throws(() => server.write(cyclic), RangeError);
  spark.write('ok');
  assert.equal(await once(client, 'data'), 'ok');
});

test('spark.destroy() (the stream API) closes the connection', async (t) => {
  const server = weftServer(t);
  const client = primusClient(t, server.url);
  const spark = await once(server, 'connection');
  await once(client, 'open');
  const end = once(client, 'end');
  const gone = once(server, 'disconnection');
  spark.destroy();
  await end;
  await gone;
  assert.equal(server.connected, 0);
});

test('msgpack: the npm Primus client (primus-msgpack) against a weft msgpack server', async (t) => {
  const server = weftServer(t, { parser: 'msgpack' });
  echo(server);
  const client = primusClient(t, server.url, { parser: 'msgpack' });
  await once(client, 'open');
  const v = { n: -7, f: 0.25, s: 'ü', a: [true, null], nested: { x: [1, 2] } };
  client.write(v);
  assert.deepEqual(plain(await once(client, 'data')), v);
});

test('a full queue closes the spark by default (1008, an error of kind queue)', async (t) => {
  const server = weftServer(t, { maxQueue: 4096 });
  assert.throws(() => weftServer(t, { queuePolicy: 'bogus' }), { code: 'ERANGE' });
  const ws = new WebSocket(server.url);
  t.after(() => ws.terminate());
  const spark = await once(server, 'connection');
  const errors = [];
  server.on('error', (e) => errors.push(e));
  spark.on('error', (e) => errors.push(e));
  const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  let thrown = null;
  for (let i = 0; i < 20 && !thrown; i++) {
    try {
      spark.write('z'.repeat(1000));
    } catch (e) {
      thrown = e;
    }
  }
  assert.equal(thrown && thrown.code, 'ENOBUFS');
  assert.equal(await closed, 1008);
  assert.ok(errors.some((e) => e.kind === 'queue' || /queue/.test(String(e.message))), 'an error said why');
});

test('bad input: writes beyond maxQueue throw ENOBUFS and queue nothing', async (t) => {
  const server = weftServer(t, { highWaterMark: 1024, maxQueue: 4096, queuePolicy: 'drop' });
  const client = primusClient(t, server.url);
  const spark = await once(server, 'connection');
  await once(client, 'open');
  const chunk = 'z'.repeat(1000);
  let thrown = null;
  let accepted = 0;
  for (let i = 0; i < 20 && !thrown; i++) {
    try {
      spark.write(chunk);
      accepted++;
    } catch (e) {
      thrown = e;
    }
  }
  assert.ok(thrown, 'a write was refused');
  assert.equal(thrown.code, 'ENOBUFS');
  assert.ok(accepted >= 1 && accepted <= 5, `accepted ${accepted}`);
  // The queue drains and the spark stays usable.
  const got = [];
  client.on('data', (d) => got.push(d));
  await waitUntil(() => got.length === accepted, 3000, 'queued messages delivered');
  spark.write('after');
  await waitUntil(() => got.includes('after'), 3000, 'spark still usable');
});
