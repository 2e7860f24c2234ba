'use strict';
// Primus's server API on weft's Node server (issue #22): middleware layers
// (Primus's built-in names, an application layer that answers keeps the
// upgrade from the core), library() and save(), plugin/plugout and their
// events, initialised, reserved, 'connection' listeners taking next, the
// server's Socket; and bad input.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { weft, HOST, once, onceArgs, waitUntil, weftServer } = require('./helpers');

async function attached(t, options) {
  const server = http.createServer((req, res) => res.end('app'));
  const primus = new weft(server, options || {});
  server.listen(0, HOST);
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => primus.destroy(resolve)));
  return { server, primus, url: `http://${HOST}:${server.address().port}` };
}

test('middleware: Primus\'s layers, an application layer answers before the core', async (t) => {
  const { primus, url } = await attached(t);
  assert.deepEqual(primus.layers.map((l) => l.name), ['forwarded', 'cors', 'primus.js', 'spec', 'x-xss', 'no-cache', 'authorization']);
  const seen = [];
  primus.use('guard', (req, res, next) => {
    seen.push(req.url.split('?')[0]);
    if (req.headers['x-deny']) { res.statusCode = 403; return res.end('denied'); }
    return next();
  });
  assert.equal(primus.indexOfLayer('guard'), 7);
  const denied = await fetch(`${url}/primus/spec`, { headers: { 'x-deny': '1' } });
  assert.equal(denied.status, 403);
  assert.equal(await denied.text(), 'denied');
  assert.equal((await fetch(`${url}/primus/spec`)).status, 200, 'passed on: the core answers');
  const socket = new primus.Socket(url, { reconnect: { retries: 0 } });
  t.after(() => socket.destroy());
  await once(socket, 'open');
  assert.deepEqual(seen, ['/primus/spec', '/primus/spec', '/primus'], 'the upgrade went through the layer too');
  primus.disable('guard');
  assert.equal(primus.layers[primus.indexOfLayer('guard')].enabled, false);
  assert.equal((await fetch(`${url}/primus/spec`, { headers: { 'x-deny': '1' } })).status, 200, 'disabled');
  primus.remove('guard');
  assert.equal(primus.indexOfLayer('guard'), -1);
  // Removing the authorization layer turns the authorize hook off.
  primus.authorize((req, done) => done(new Error('no')));
  primus.remove('authorization');
  const s2 = new primus.Socket(url, { reconnect: { retries: 0 } });
  t.after(() => s2.destroy());
  await once(s2, 'open');
});

test('middleware bad input: not a function, too few arguments, a server the core listens for', async (t) => {
  const { primus } = await attached(t);
  assert.throws(() => primus.use('x', new Date()), TypeError);
  assert.throws(() => primus.use('x', () => () => {}), /at least 2 args/);
  const listening = weftServer(t, {});
  assert.throws(() => listening.use('x', (req, res, next) => next()), (e) => e.code === 'ESTATE');
});

test('library() has the server\'s settings and the plugins\' client parts; save() writes it', async (t) => {
  const { primus } = await attached(t, { pathname: '/rt', parser: 'msgpack' });
  const events = [];
  primus.on('plugin', (name) => events.push(['plugin', name]));
  primus.on('plugout', (name) => events.push(['plugout', name]));
  primus.plugin('hello', { client(client) { client.hello = 'i am a client plugin'; } });
  const lib = primus.library();
  assert.ok(lib.startsWith(primus.client), 'the core\'s client first');
  assert.ok(lib.includes('"pathname":"/rt"') && lib.includes('"parser":"msgpack"'));
  assert.ok(lib.includes('i am a client plugin'));
  new Function(lib); // eslint-disable-line no-new-func -- it parses
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-save-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  primus.save(path.join(dir, 'sync.js'));
  assert.equal(fs.readFileSync(path.join(dir, 'sync.js'), 'utf8'), lib);
  await new Promise((resolve, reject) => primus.save(path.join(dir, 'async.js'), (e) => (e ? reject(e) : resolve())));
  assert.equal(fs.readFileSync(path.join(dir, 'async.js'), 'utf8'), lib);
  assert.equal(primus.plugout('hello'), true);
  assert.equal(primus.plugout('hello'), false);
  assert.deepEqual(events, [['plugin', 'hello'], ['plugout', 'hello']]);
  assert.throws(() => primus.plugin('', {}), /non empty string/);
  assert.throws(() => primus.plugin('x', { foo: 1 }), /missing a client or server/);
  assert.throws(() => primus.save(path.join(dir, 'no', 'such', 'dir.js')), /ENOENT/);
});

test('initialised, reserved, Socket without new, pingTimeout from pingInterval', async (t) => {
  const server = http.createServer();
  const primus = new weft(server, { pingInterval: 20000 });
  t.after(() => new Promise((resolve) => primus.destroy({ close: false }, resolve)));
  const [transformer, parser] = await onceArgs(primus, 'initialised');
  assert.equal(transformer, 'websockets');
  assert.equal(parser, 'json');
  assert.equal(primus.reserved('incoming::data'), true);
  assert.equal(primus.reserved('connection'), true);
  assert.equal(primus.reserved('chat'), false);
  const s = primus.Socket('http://127.0.0.1:1', { manual: true });
  assert.ok(s instanceof primus.Socket && s instanceof weft.Client);
  assert.equal(s.options.pingTimeout, 30000);
  assert.equal(s.url, 'ws://127.0.0.1:1/primus', 'the server\'s pathname');
  assert.equal(s.options.strategy, 'disconnect,online,timeout');
  // The server's plugins' client parts run on its Socket's clients; library() takes options.global.
  primus.plugin('emit', { client(client) { client.$emit = (event) => client.write({ event }); } });
  const s2 = new primus.Socket('http://127.0.0.1:1', { manual: true });
  assert.equal(typeof s2.$emit, 'function');
  const named = new weft(http.createServer(), { global: 'Unicron' });
  assert.ok(named.library().includes('globalThis["Unicron"] = Primus'));
  named.destroy({ close: false });
  assert.throws(() => new weft(() => {}), /server instance/);
});

test('connection listeners taking next run in order; messages wait for the last one', async (t) => {
  const { primus, url } = await attached(t);
  const order = [];
  primus.on('connection', (spark) => { order.push('sync'); spark.on('data', (d) => order.push(`early:${d}`)); });
  primus.on('connection', (spark, next) => setTimeout(() => { order.push('async'); next(); }, 50));
  const got = [];
  primus.on('connection', (spark) => { order.push('last'); spark.on('data', (d) => got.push(d)); });
  const socket = new primus.Socket(url, { reconnect: { retries: 0 } });
  t.after(() => socket.destroy());
  socket.write('hello');
  await waitUntil(() => got.length === 1, 5000, 'the message');
  assert.deepEqual(order, ['sync', 'async', 'last', 'early:hello']);
  assert.deepEqual(got, ['hello']);
});
