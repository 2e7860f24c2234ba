'use strict';
// Issue #15's parity items in Node, over real sockets on 127.0.0.1: the
// browser client and static files served, spark ids from idGenerator,
// client transforms, plugins and compression, stale sparks (ECLOSED),
// transform failures (kind "transform"), and what a throwing handler does
// (handlerErrors).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');
const { weft, HOST, once, onceArgs, delay, waitUntil, weftServer, primusClient, catchUncaught, plain } = require('./helpers');

const REPO = path.resolve(__dirname, '..', '..');

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

function weftClient(t, url, options) {
  const c = new weft.Client(url, Object.assign({ reconnect: { retries: 0 }, strategy: false }, options));
  c.on('error', () => {});
  t.after(() => c.destroy());
  return c;
}

/** The npm ws client at a weft server's endpoint (Primus's websocket URL). */
function wsAt(t, server) {
  const ws = new WebSocket(`ws://${HOST}:${server.port}/primus/?_primuscb=x&EIO=3&transport=websocket`);
  ws.on('error', () => {});
  t.after(() => ws.terminate());
  return ws;
}

test('every server serves the browser client (<pathname>/weft.js, /primus.js, /weft-channels.js), the bytes of clients/js/dist; clientLibrary: false turns it off', async (t) => {
  const on = weftServer(t);
  const base = `http://${HOST}:${on.port}/primus`;
  for (const [file, dist] of [['weft.js', 'weft.min.js'], ['primus.js', 'primus.min.js'], ['weft-channels.js', 'weft-channels.min.js']]) {
    const r = await get(`${base}/${file}`);
    assert.equal(r.status, 200, file);
    assert.match(r.type, /^text\/javascript/);
    const bytes = fs.readFileSync(path.join(REPO, 'clients', 'js', 'dist', dist));
    if (file !== 'primus.js') {
      assert.ok(r.body.equals(bytes), `${file} is ${dist}`);
    } else { // Primus's library(): the client, then this server's settings and plugins (issue #22)
      assert.equal(r.body.toString(), on.library());
      assert.ok(r.body.subarray(0, bytes.length).equals(bytes), `${file} starts with ${dist}`);
    }
  }
  const off = weftServer(t, { clientLibrary: false });
  assert.equal((await get(`http://${HOST}:${off.port}/primus/weft.js`)).status, 426);
  assert.equal((await get(`http://${HOST}:${off.port}/primus/weft-channels.js`)).status, 426);
  assert.equal((await get(`http://${HOST}:${off.port}/primus/primus.js`)).status, 426);
  assert.throws(() => weftServer(t, { clientLibrary: 'yes' }), { name: 'TypeError', code: 'ETYPE' });
});

test('static files: staticDir serves a folder (/ is index.html, 404 otherwise), addAsset serves bytes at a path; bad input', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-static-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'index.html'), '<p>the index</p>');
  fs.writeFileSync(path.join(dir, 'page.html'), '<p>a page</p>');
  const server = weftServer(t, { staticDir: dir });
  server.addAsset('/primus/hello.txt', 'text/plain', 'hello asset');
  server.addAsset('/bin', 'application/octet-stream', Buffer.from([0, 1, 2, 255]));
  const base = `http://${HOST}:${server.port}`;
  const index = await get(`${base}/`);
  assert.equal(index.status, 200);
  assert.match(index.type, /^text\/html/);
  assert.equal(index.body.toString(), '<p>the index</p>');
  assert.equal((await get(`${base}/page.html`)).body.toString(), '<p>a page</p>');
  const asset = await get(`${base}/primus/hello.txt`);
  assert.deepEqual([asset.status, asset.type, asset.body.toString()], [200, 'text/plain', 'hello asset']);
  assert.deepEqual([...(await get(`${base}/bin`)).body], [0, 1, 2, 255]);
  assert.equal((await get(`${base}/missing.html`)).status, 404);
  assert.equal((await get(`${base}/../${path.basename(dir)}/page.html`)).status, 404);
  // The endpoint still upgrades.
  const c = weftClient(t, server.url);
  await once(c, 'open');

  assert.throws(() => weftServer(t, { staticDir: path.join(dir, 'nope') }), { code: 'ENOENT' });
  assert.throws(() => weftServer(t, { staticDir: 5 }), { name: 'TypeError', code: 'ETYPE' });
  assert.throws(() => server.addAsset('relative', 'text/plain', 'x'), { code: 'EINVAL' });
  assert.throws(() => server.addAsset('/x', 'text/plain', 5), TypeError);
  assert.throws(() => server.addAsset('/x', null, 'x'), TypeError);
  await new Promise((resolve) => server.destroy(resolve));
  assert.throws(() => server.addAsset('/late', 'text/plain', 'x'), { code: 'ECLOSED' });
});

test('idGenerator names the sparks; a non-string or taken id gets the default; bad input', async (t) => {
  let n = 0;
  const server = weftServer(t, { idGenerator() { n++; return n === 3 ? 42 : n === 4 ? 'gen-1' : `gen-${n}`; } });
  const ids = [];
  server.on('connection', (spark) => ids.push(spark.id));
  for (let i = 0; i < 4; i++) {
    const c = weftClient(t, server.url);
    await once(c, 'open');
  }
  await waitUntil(() => ids.length === 4, 2000, 'four connections');
  assert.deepEqual(ids.slice(0, 2), ['gen-1', 'gen-2']);
  for (const id of ids.slice(2)) assert.match(id, /^[A-Za-z0-9_-]{21}$/, 'the default id');
  assert.equal(server.spark('gen-2').id, 'gen-2');
  assert.throws(() => weftServer(t, { idGenerator: 'gen' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
});

test('idGenerator that throws: uncaughtException by default, the default id either way', async (t) => {
  const errors = catchUncaught(t);
  const server = weftServer(t, { idGenerator() { throw new Error('id bug'); } });
  const c = weftClient(t, server.url);
  const [spark] = await Promise.all([once(server, 'connection'), once(c, 'open')]);
  assert.match(spark.id, /^[A-Za-z0-9_-]{21}$/);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].message, 'id bug');
});

test('client transforms: incoming and outgoing, sync and async, dropping; a plugin with a client hook', async (t) => {
  const server = weftServer(t);
  server.on('connection', (spark) => spark.on('data', (d) => spark.write(d)));
  const c = weftClient(t, server.url, { manual: true });
  c.transform('outgoing', (p) => (p.data === 'drop-out' ? false : void (p.data = { out: p.data })));
  c.transform('incoming', (p, next) => setImmediate(() => { p.data = { in: p.data }; next(); }));
  c.transform('incoming', (p) => p.data.in.out !== 'drop-in');
  c.use('greeter', { client(client) { client.on('open', () => client.write('hello')); } });
  assert.throws(() => c.use('greeter', { client() {} }), { code: 'EEXIST' });
  assert.throws(() => c.transform('both', () => {}), TypeError);
  assert.throws(() => c.transform('incoming', 5), TypeError);
  const got = [];
  c.on('data', (d) => got.push(d));
  c.open();
  await once(c, 'open');
  c.write('drop-out');
  c.write('drop-in');
  c.write('last');
  await waitUntil(() => got.length === 2, 3000, 'two echoes');
  await delay(50);
  assert.deepEqual(got, [{ in: { out: 'hello' } }, { in: { out: 'last' } }]);
});

test('transform types on a client: skipped types reach data untouched', async (t) => {
  const server = weftServer(t);
  server.on('connection', (spark) => spark.on('data', (d) => spark.write(d)));
  const c = weftClient(t, server.url, { manual: true });
  c.transform('incoming', (p) => { p.data = { n: p.data }; }, { types: ['number'] });
  const got = [];
  c.on('data', (d) => got.push(plain(d)));
  c.open();
  await once(c, 'open');
  for (const m of ['a', 3, [3], 4.5]) c.write(m);
  await waitUntil(() => got.length === 4, 2000, 'four echoes');
  assert.deepEqual(got, ['a', { n: 3 }, [3], { n: 4.5 }]);
});

test('transform failures: next(err) is an error of kind "transform" with a code, the message is dropped, the connection stays', async (t) => {
  const server = weftServer(t);
  server.transform('incoming', (p, next) => next(p.data === 'fail' ? new Error('bad packet') : null));
  server.on('connection', (spark) => spark.on('data', (d) => spark.write(d)));
  const c = weftClient(t, server.url);
  c.transform('incoming', (p, next) => next(p.data === 'fail-in' ? Object.assign(new Error('client side'), { code: 'EBADPKT' }) : null));
  await once(c, 'open');
  const serverErr = onceArgs(server, 'error');
  c.write('fail');
  const [err, spark] = await serverErr;
  assert.equal(err.kind, 'transform');
  assert.equal(err.code, 'ETRANSFORM');
  assert.equal(err.message, 'an incoming transform failed: bad packet');
  assert.equal(err.cause.message, 'bad packet');
  assert.ok(spark instanceof weft.Spark);
  const clientErr = once(c, 'error');
  c.write('fail-in');
  const ce = await clientErr;
  assert.deepEqual([ce.kind, ce.code, ce.message], ['transform', 'EBADPKT', 'an incoming transform failed: client side']);
  c.write('fine');
  assert.equal(await once(c, 'data'), 'fine');
});

test('client compression: the client offers permessage-deflate and its messages arrive; bad input', async (t) => {
  const wss = new WebSocket.Server({ host: HOST, port: 0, perMessageDeflate: { threshold: 0 } });
  t.after(() => new Promise((resolve) => { for (const ws of wss.clients) ws.terminate(); wss.close(resolve); }));
  await once(wss, 'listening');
  const conn = once(wss, 'connection');
  const c = weftClient(t, `ws://${HOST}:${wss.address().port}/primus`, { compression: true, pingTimeout: 0 });
  const ws = await conn;
  assert.match(ws.extensions, /permessage-deflate/);
  await once(c, 'open');
  const text = 'squeeze '.repeat(64);
  const msg = once(ws, 'message');
  c.write(text);
  assert.equal(JSON.parse((await msg).toString()), text);
  ws.send(JSON.stringify('back, deflated'));
  assert.equal(await once(c, 'data'), 'back, deflated');
  assert.throws(() => weftClient(t, 'ws://127.0.0.1:1/primus', { compression: 'on', manual: true }), { name: 'TypeError', code: 'ETYPE' });
});

test('a closed spark: join, leave and leaveAll throw ECLOSED, write returns false', async (t) => {
  const server = weftServer(t, { rooms: true });
  const c = weftClient(t, server.url);
  const [spark] = await Promise.all([once(server, 'connection'), once(c, 'open')]);
  spark.join('red');
  assert.deepEqual(spark.rooms(), ['red']);
  const gone = once(server, 'disconnection');
  c.end();
  await gone;
  assert.throws(() => spark.leave('red'), { code: 'ECLOSED' });
  assert.throws(() => spark.join('blue'), { code: 'ECLOSED' });
  assert.throws(() => spark.leaveAll(), { code: 'ECLOSED' });
  assert.equal(spark.write(1), false);
  assert.deepEqual(spark.rooms(), []);
  assert.equal(spark.inRoom('red'), false);
});

test("handlerErrors 'close': a throwing handler closes its spark with 1011 and an 'error' of kind handler; the server keeps serving", async (t) => {
  const server = weftServer(t, { handlerErrors: 'close' });
  server.on('connection', (spark) => {
    spark.on('data', async (d) => {
      if (d === 'boom') throw new Error('handler bug');
      if (d === 'async boom') { await delay(1); throw new Error('async bug'); }
      spark.write(d);
    });
  });
  for (const [what, message] of [['boom', 'handler bug'], ['async boom', 'async bug']]) {
    const ws = wsAt(t, server);
    const [spark] = await Promise.all([once(server, 'connection'), once(ws, 'open')]);
    const closed = onceArgs(ws, 'close');
    const error = onceArgs(server, 'error');
    ws.send(JSON.stringify(what));
    const [code, reason] = await closed;
    assert.equal(code, 1011, what);
    assert.equal(reason.toString(), 'internal error');
    const [err, which] = await error;
    assert.deepEqual([err.kind, err.code, err.cause.message], ['handler', 'EHANDLER', message]);
    assert.equal(which, spark);
  }
  // The Primus client comes back (no primus::server::close), and is served.
  const client = primusClient(t, server.url, { strategy: 'disconnect', reconnect: { retries: 1, min: 10, max: 20 } });
  await once(client, 'open');
  client.write('boom');
  await once(client, 'reconnected', 3000);
  client.write('fine');
  assert.equal(await once(client, 'data'), 'fine');
  // Without an 'error' listener it is a process warning, not a crash.
  server.removeAllListeners('error');
  const warning = once(process, 'warning');
  client.write('boom');
  assert.equal((await warning).code, 'EHANDLER');
});

test("handlerErrors: 'uncaughtException' is the default, anything else is a TypeError", async (t) => {
  const errors = catchUncaught(t);
  const server = weftServer(t, { handlerErrors: 'uncaughtException' });
  server.on('connection', (spark) => spark.on('data', (d) => {
    if (d === 'boom') throw new Error('handler bug');
    spark.write(d);
  }));
  const ws = wsAt(t, server);
  await once(ws, 'open');
  ws.send(JSON.stringify('boom'));
  ws.send(JSON.stringify('open still'));
  assert.equal(JSON.parse(await once(ws, 'message')), 'open still');
  assert.deepEqual(errors.map((e) => e.message), ['handler bug']);
  assert.throws(() => weftServer(t, { handlerErrors: 'ignore' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
});
