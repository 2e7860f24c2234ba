'use strict';
// The engine.io transformer from Node: the npm Primus client on engine.io
// (polling then the upgrade, and polling only) against a weft server, the
// weft client on engine.io against the npm Primus server on engine.io, and
// websockets and engine.io side by side on one server.
const test = require('node:test');
const assert = require('node:assert/strict');
const { weft, HOST, once, plain, waitUntil, weftServer, primusClient, primusServer } = require('./helpers');

// (No null: the npm Primus client's write(null) stops its writes, on websockets too.)
const MSGS = [{ a: [1, 2] }, 'é😀\u2028', 3.5, false, 'x'.repeat(70000), { nested: { ok: true } }];

test('engine.io is one of the core transformers', () => {
  assert.ok(weft.transformers().includes('engine.io'));
});

for (const parser of ['json', 'msgpack']) {
  for (const websockets of [true, false]) {
    test(`npm Primus client on engine.io (${websockets ? 'upgrading' : 'polling only'}, ${parser}) against a weft server`, async (t) => {
      const server = weftServer(t, { transformer: 'engine.io', parser });
      server.on('connection', (spark) => spark.on('data', (d) => spark.write(d)));
      if (!server.listening) await once(server, 'listening');
      const client = primusClient(t, `http://${HOST}:${server.port}/primus`, { transformer: 'engine.io', parser, websockets });
      const got = [];
      client.on('data', (d) => got.push(plain(d)));
      await once(client, 'open');
      for (const m of MSGS) client.write(m);
      await waitUntil(() => got.length === MSGS.length, 5000, 'echoes');
      assert.deepEqual(got, MSGS);
      const id = await new Promise((resolve) => client.id(resolve));
      assert.ok(server.spark(id), 'the spark id is the engine.io sid');
      if (!websockets) assert.equal(client.socket.transport.name, 'polling');
    });
  }

  test(`weft client on engine.io (${parser}) against the npm Primus server on engine.io`, async (t) => {
    const { url } = await primusServer(t, { transformer: 'engine.io', parser });
    const client = weft.connect(url, { transformer: 'engine.io', parser, reconnect: { retries: 0 } });
    t.after(() => client.destroy());
    const got = [];
    client.on('data', (d) => got.push(d));
    await once(client, 'open');
    for (const m of MSGS) client.write(m);
    await waitUntil(() => got.length === MSGS.length, 5000, 'echoes');
    assert.deepEqual(got, MSGS);
    const end = once(client, 'end');
    client.write({ cmd: 'end' });
    await end;
  });
}

test('websockets and engine.io side by side: one port, broadcasts reach both', async (t) => {
  const server = weftServer(t, { transformer: 'websockets,engine.io' });
  if (!server.listening) await once(server, 'listening');
  const url = `http://${HOST}:${server.port}/primus`;
  const a = primusClient(t, url, { transformer: 'websockets' });
  const b = primusClient(t, url, { transformer: 'engine.io' });
  const c = weft.connect(url, { transformer: 'engine.io', reconnect: { retries: 0 } });
  t.after(() => c.destroy());
  await Promise.all([once(a, 'open'), once(b, 'open'), once(c, 'open')]);
  await waitUntil(() => server.connected === 3, 2000, 'three sparks');
  const got = [[], [], []];
  [a, b, c].forEach((x, i) => x.on('data', (d) => got[i].push(plain(d))));
  server.write({ to: 'all' });
  await waitUntil(() => got.every((g) => g.length === 1), 3000, 'the broadcast');
  assert.deepEqual(got, [[{ to: 'all' }], [{ to: 'all' }], [{ to: 'all' }]]);
});
