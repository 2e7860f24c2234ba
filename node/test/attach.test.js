'use strict';
// Attached to the application's HTTP server (Primus's new Primus(server,
// options)): an Express app keeps its routes on the same port while weft's
// core serves the pathname (lib/attach.js hands the sockets over,
// weft_server_adopt); the npm Primus client connects over websockets and
// engine.io (polling, then the upgrade); Vibe's handleRequest/handleUpgrade;
// bad input.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const express = require('express');
const { weft, HOST, once, plain, waitUntil, primusClient } = require('./helpers');

async function expressApp(t, options) {
  const app = express();
  app.get('/hello', (req, res) => res.json({ hello: 'app' }));
  app.get('/api/primus', (req, res) => res.send('not ours'));
  const server = http.createServer(app);
  const primus = new weft(server, options);
  primus.on('connection', (spark) => spark.on('data', (d) => spark.write({ echo: d })));
  server.listen(0, HOST);
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => primus.destroy(resolve)));
  return { app, server, primus, base: `http://${HOST}:${server.address().port}` };
}

test('the module is Primus\'s constructor: new Primus(httpServer, options)', () => {
  assert.equal(typeof weft, 'function');
  assert.equal(weft, weft.Server);
});

for (const transformer of ['websockets', 'engine.io']) {
  test(`an Express app keeps its routes; the npm Primus client connects over ${transformer}`, async (t) => {
    const { primus, base } = await expressApp(t, { transformer: 'websockets,engine.io' });
    assert.ok(primus.server instanceof http.Server);
    assert.equal(primus.address().port, new URL(base).port | 0);
    const hello = await fetch(`${base}/hello`);
    assert.deepEqual(await hello.json(), { hello: 'app' });
    assert.equal(await (await fetch(`${base}/api/primus`)).text(), 'not ours', 'a path that does not start with the pathname stays the app\'s');
    const spec = await fetch(`${base}/primus/spec`);
    assert.equal(spec.status, 200, 'the core answers under the pathname');
    assert.equal(spec.headers.get('connection'), 'close', 'a handed-over request is served alone');
    assert.equal((await spec.json()).pathname, '/primus');
    assert.equal((await fetch(`${base}/nothing`)).status, 404, 'Express answers the rest');
    const client = primusClient(t, `${base}/primus`, { transformer, websockets: true });
    const got = [];
    client.on('data', (d) => got.push(plain(d)));
    await once(client, 'open');
    client.write({ a: [1, 2] });
    client.write('é😀');
    await waitUntil(() => got.length === 2, 5000, 'echoes');
    assert.deepEqual(got, [{ echo: { a: [1, 2] } }, { echo: 'é😀' }]);
    if (transformer === 'engine.io') {
      await waitUntil(() => client.socket.transport.name === 'websocket', 5000, 'the upgrade');
    }
    assert.deepEqual(await (await fetch(`${base}/hello`)).json(), { hello: 'app' }, 'the app still answers');
  });
}

test('engine.io polling only: every request (with its body) goes to the core', async (t) => {
  const { base } = await expressApp(t, { transformer: 'engine.io' });
  const client = primusClient(t, `${base}/primus`, { transformer: 'engine.io', websockets: false });
  const got = [];
  client.on('data', (d) => got.push(plain(d)));
  await once(client, 'open');
  for (let i = 0; i < 5; i++) client.write({ i, pad: 'x'.repeat(2000) });
  await waitUntil(() => got.length === 5, 5000, 'echoes over polling');
  assert.deepEqual(got.map((m) => m.echo.i), [0, 1, 2, 3, 4]);
  assert.equal(client.socket.transport.name, 'polling');
});

test('handleUpgrade and handleRequest: the app routes, the core serves', async (t) => {
  const primus = new weft(http.createServer(), { pathname: '/rt' });
  primus.on('connection', (spark) => spark.on('data', (d) => spark.write(d)));
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/rt')) return primus.handleRequest(req, res);
    return res.end('app');
  });
  server.on('upgrade', (req, socket, head) => primus.handleUpgrade(req, socket, head));
  server.listen(0, HOST);
  await once(server, 'listening');
  t.after(() => { server.close(); return new Promise((r) => primus.destroy({ close: false }, r)); });
  const base = `http://${HOST}:${server.address().port}`;
  assert.equal(await (await fetch(`${base}/x`)).text(), 'app');
  assert.equal((await fetch(`${base}/rt/spec`)).status, 200);
  const client = weft.connect(`ws://${HOST}:${server.address().port}/rt`, { reconnect: { retries: 0 } });
  t.after(() => client.destroy());
  const got = [];
  client.on('data', (d) => got.push(d));
  await once(client, 'open');
  client.write('one');
  await waitUntil(() => got.length === 1, 5000, 'echo');
  assert.deepEqual(got, ['one']);
});

test('bad input: a TLS socket cannot be handed over, an error event says so', async (t) => {
  const primus = new weft(http.createServer(), {});
  t.after(() => new Promise((r) => primus.destroy({ close: false }, r)));
  const errors = [];
  primus.on('error', (e) => errors.push(e));
  const fake = new net.Socket(); // not connected: no descriptor
  const req = { method: 'GET', url: '/primus/spec', httpVersion: '1.1', rawHeaders: [], headers: {}, socket: fake };
  assert.equal(primus.handleUpgrade(req, fake, Buffer.alloc(0)), false);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'EUNSUPPORTED');
  assert.ok(fake.destroyed, 'the socket is closed');
  assert.throws(() => new weft(http.createServer(), { pathname: 7 }), TypeError);
});

test("createServer: a Node http.Server on options.port with the Server attached (Primus's); a client connects", async (t) => {
  const primus = weft.createServer((spark) => spark.on('data', (d) => spark.write({ echo: d })),
    { port: '0', hostname: HOST, transformer: 'websockets,engine.io' });
  t.after(() => new Promise((resolve) => primus.end(resolve)));
  assert.ok(primus instanceof weft);
  assert.ok(primus.server instanceof http.Server, 'primus.server is the HTTP server');
  await once(primus.server, 'listening');
  const { port, address } = primus.address();
  assert.equal(address, HOST);
  const client = primusClient(t, `http://${HOST}:${port}/primus`, { transformer: 'engine.io' });
  const got = [];
  client.on('data', (d) => got.push(plain(d)));
  await once(client, 'open');
  client.write('hi');
  await waitUntil(() => got.length === 1, 5000, 'echo');
  assert.deepEqual(got, [{ echo: 'hi' }]);
  assert.equal((await fetch(`http://${HOST}:${port}/other`)).status, 404, 'no application: Node answers other paths');
});

test('createServer with weft\'s listen URLs: the core listens (no http.Server); bad input', async (t) => {
  const primus = weft.createServer({ listen: `ws://${HOST}:0/primus` });
  t.after(() => new Promise((resolve) => primus.destroy(resolve)));
  assert.equal(primus.server, primus, 'the core\'s listener plays primus.server');
  assert.ok(primus.port > 0);
  assert.throws(() => weft.createServer({ port: 70000 }), RangeError);
  assert.throws(() => weft.createServer({ port: 'x' }), RangeError);
  // A port taken: the http.Server's error reaches the Server's 'error' listeners.
  const taken = weft.createServer({ port: primus.port, hostname: HOST });
  const err = await once(taken, 'error');
  assert.equal(err.code, 'EADDRINUSE');
  await new Promise((resolve) => taken.destroy(resolve));
});

test("destroy puts the http.Server's own listeners back and leaves none of weft's (Primus's)", async (t) => {
  const server = http.createServer();
  const mine = (req, res) => res.end(`app ${req.url}`);
  const theirUpgrade = () => {};
  server.on('request', mine);
  server.on('upgrade', theirUpgrade);
  const primus = new weft(server, {});
  assert.notEqual(server.listeners('request')[0], mine);
  assert.notEqual(server.listeners('upgrade')[0], theirUpgrade);
  server.listen(0, HOST);
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const base = `http://${HOST}:${server.address().port}`;
  assert.equal((await fetch(`${base}/primus/spec`)).status, 200, 'weft serves the pathname');
  await new Promise((resolve) => primus.destroy({ close: false }, resolve));
  assert.deepEqual(server.listeners('request'), [mine]);
  assert.deepEqual(server.listeners('upgrade'), [theirUpgrade]);
  assert.equal(await (await fetch(`${base}/primus/spec`)).text(), 'app /primus/spec', 'after destroy the path is the app\'s, as with Primus');
  // Attached again (as Primus's test does): weft's listeners first once more.
  const again = new weft(server, {});
  assert.equal((await fetch(`${base}/primus/spec`)).status, 200);
  await new Promise((resolve) => again.destroy({ close: false }, resolve));
  assert.deepEqual(server.listeners('request'), [mine]);
});
