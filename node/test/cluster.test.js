'use strict';
// Scale-out from Node (issue #19): presence without a cluster (this process),
// its bad inputs, the redis option's bad values, and Primacron's namespaced
// error events on a Redis that is not there (a closed port on 127.0.0.1).
// The cluster itself (four hosts on a real redis-server) is
// tests/cross/cluster.test.js.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { weft, once, waitUntil, weftServer, primusClient } = require('./helpers');

test('presence of a room without a cluster: this process, sorted; bad inputs', async (t) => {
  const server = weftServer(t, { rooms: true });
  assert.deepEqual(await server.presence('lobby'), []);
  const ids = [];
  server.on('connection', (spark) => { spark.join('lobby'); ids.push(spark.id); });
  const a = primusClient(t, server.url.replace('ws', 'http'));
  const b = primusClient(t, server.url.replace('ws', 'http'));
  await waitUntil(() => ids.length === 2);
  assert.deepEqual(await server.presence('lobby'), ids.slice().sort());
  assert.throws(() => server.presence(5), TypeError);
  await assert.rejects(server.presence(''), (e) => e.code === 'EINVAL');
  const plain = weftServer(t, {});
  assert.throws(() => plain.presence('lobby'), (e) => e.code === 'ESTATE');
  a.end();
  b.end();
});

test('the redis option: bad URLs are refused; a Redis that is not there is error::connect', async (t) => {
  assert.throws(() => new weft.Server({ port: 0, host: '127.0.0.1', redis: 'http://127.0.0.1:1' }), /redis/);
  assert.throws(() => new weft.Server({ port: 0, host: '127.0.0.1', redis: 'redis://127.0.0.1:70000' }), /redis/);
  assert.throws(() => new weft.Server({ port: 0, host: '127.0.0.1', redisTtl: 1000 }), /redis/); // needs redis
  const closed = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
  const server = weftServer(t, { redis: `redis://127.0.0.1:${closed}`, redisTtl: 2000 });
  const kinds = [];
  server.on('error::connect', (err) => kinds.push(err.kind));
  server.on('error', () => {});
  await waitUntil(() => kinds.length >= 2, 5000); // refused, then again after the backoff
  assert.deepEqual(kinds.slice(0, 2), ['connect', 'connect']);
  await assert.rejects(server.presence('lobby'), (e) => e.code === 'EIO');
  // Local delivery does not wait for Redis.
  const c = primusClient(t, server.url.replace('ws', 'http'));
  const got = once(c, 'data');
  await once(c, 'open');
  server.write('here');
  assert.equal(await got, 'here');
  c.end();
});
