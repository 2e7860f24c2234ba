'use strict';
// Primus's public behaviour that its own suite checks (issue #22): encode
// errors as 'error' events, spark.request as the upgrade request (and still
// weft's request()), spark.address from X-Forwarded-* for trusted peers,
// authorize's req.forwarded, spark.socket.
const test = require('node:test');
const assert = require('node:assert/strict');
const { weft, once, withTimeout, weftServer, weftPair: pair } = require('./helpers');

test('data that cannot be encoded: an error event with a listener, thrown without', async (t) => {
  const { spark, client } = await pair(t);
  const cyclic = { a: 1 };
  cyclic.self = cyclic;
  assert.throws(() => spark.write(cyclic), { name: 'RangeError', code: 'EDEPTH', message: /cannot encode the data as JSON/ });
  const errors = [];
  spark.on('error', (e) => errors.push(e));
  assert.equal(spark.write(cyclic), false);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /JSON/);
  client.on('error', (e) => errors.push(e));
  assert.equal(client.write(cyclic), false);
  assert.equal(errors.length, 2);
  assert.equal(errors[1].code, 'EDEPTH');
});

test('spark.request: the upgrade request, still callable as weft\'s request()', async (t) => {
  const { spark } = await pair(t, { emitter: true });
  assert.equal(typeof spark.request, 'function');
  assert.equal(spark.request.method, 'GET');
  assert.match(spark.request.url, /^\/primus/);
  assert.equal(typeof spark.request.headers, 'object');
  assert.deepEqual(spark.request.forwarded, spark.address);
  assert.equal(spark.request.socket.remoteAddress, '127.0.0.1');
  // The client has no emitter: the request goes out and nobody answers.
  await assert.rejects(spark.request('nobody-listens', [], { timeout: 200 }), { code: 'ETIMEDOUT' });
  assert.deepEqual(Object.keys(spark.socket), ['transformer', 'remoteAddress', 'remotePort']);
});

test('spark.address: request.forwarded, else X-Forwarded-* from a trusted (here loopback) peer', async (t) => {
  const { spark } = await pair(t);
  assert.equal(spark.address.ip, '127.0.0.1');
  spark.headers['x-forwarded-for'] = '13.3.37.1,12.12.12.12';
  spark.headers['x-forwarded-port'] = '9083,1334';
  assert.equal(spark.address.ip, '127.0.0.1', 'request.forwarded first');
  delete spark.request.forwarded;
  assert.deepEqual(spark.address, { ip: '13.3.37.1', port: 9083 });
  spark.headers['x-forwarded-port'] = 'not a port';
  assert.equal(spark.address.port, spark.request.socket.remotePort, 'a bad port: the peer\'s');
});

test('authorize: req.forwarded has the ip and the port', async (t) => {
  const server = weftServer(t);
  let seen;
  server.authorize((req, done) => { seen = req.forwarded; done(); });
  const client = new weft.Client(server.url, { reconnect: { retries: 0 } });
  t.after(() => client.end());
  await withTimeout(once(client, 'open'), 5000, 'open');
  assert.equal(seen.ip, '127.0.0.1');
  assert.ok(Number.isInteger(seen.port) && seen.port > 0, String(seen.port));
});

test('open() after end(): a new connection, the stream sides start again; one destroy event', async (t) => {
  const server = weftServer(t);
  server.on('connection', (spark) => spark.on('data', (d) => spark.write({ echo: d })));
  const client = new weft.Client(server.url, { reconnect: { retries: 0 } });
  t.after(() => client.destroy());
  await once(client, 'open');
  const ended = once(client, 'end');
  client.end();
  await ended;
  assert.equal(client.readable, false);
  assert.equal(client.writable, false);
  client.open();
  await once(client, 'open');
  assert.equal(client.readable, true);
  assert.equal(client.writable, true);
  const data = once(client, 'data');
  client.write('again');
  assert.deepEqual(await data, { echo: 'again' });
  // The replaced core client's late destroy is not this client's.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(client.readyState, weft.Client.OPEN);
  let destroys = 0;
  client.on('destroy', () => destroys++);
  client.destroy();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(destroys, 1);
  assert.throws(() => client.write({ bad: 1n << 70n }), RangeError); // bad input still throws without a listener
});
