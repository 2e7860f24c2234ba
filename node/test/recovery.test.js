'use strict';
// Connection-state recovery from Node (decisions #23, #24): spark.recovered
// on the server, client.recovered and its 'recovered' event, through a TCP
// relay the test cuts (a reset: what was in flight is lost); a forged resume
// gets a fresh spark.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { weft, once, delay, waitUntil, weftServer, HOST } = require('./helpers');

/** A relay to `port` on 127.0.0.1; cut() resets every connection. */
function relay(t, port) {
  const pairs = new Set();
  const srv = net.createServer((down) => {
    const up = net.connect(port, HOST);
    const pair = [down, up];
    pairs.add(pair);
    down.pipe(up);
    up.pipe(down);
    const gone = () => { pairs.delete(pair); down.destroy(); up.destroy(); };
    down.on('error', gone).on('close', gone);
    up.on('error', gone).on('close', gone);
  });
  t.after(() => srv.close());
  return new Promise((resolve) => srv.listen(0, HOST, () => resolve({
    port: srv.address().port,
    cut() { for (const [down, up] of pairs) { down.resetAndDestroy(); up.resetAndDestroy(); } }
  })));
}

test('recovery: the spark and the client say recovered; missed messages first; a forged resume is fresh', async (t) => {
  const server = weftServer(t, { rooms: true, recovery: 5000 });
  const sparks = [];
  server.on('connection', (spark) => {
    sparks.push({ id: spark.id, recovered: spark.recovered, rooms: spark.rooms ? spark.rooms() : null });
    if (!spark.recovered && spark.query.who === 'a') spark.join('r1');
  });
  const r = await relay(t, server.address().port);
  const c = weft.connect(`ws://${HOST}:${r.port}/primus?who=a`, { recovery: true, reconnect: { min: 50, max: 200, retries: 50 } });
  t.after(() => c.destroy());
  const got = [];
  c.on('data', (d) => got.push(d));
  const told = [];
  c.on('recovered', (id) => told.push(id));
  await once(c, 'open');
  await waitUntil(() => sparks.length === 1, 3000, 'connection');
  assert.equal(sparks[0].recovered, false);
  assert.equal(c.recovered, false);
  const away = once(server, 'disconnection');
  r.cut();
  await away;
  await delay(50); // the session is detached once the disconnection event has returned
  for (let i = 1; i <= 20; i++) server.room('r1').write(i); // missed while away
  await waitUntil(() => sparks.length === 2 && got.length === 20, 5000, 'resumed, the missed messages');
  assert.equal(sparks[1].recovered, true);
  assert.equal(sparks[1].id, sparks[0].id);
  assert.deepEqual(sparks[1].rooms, ['r1']);
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i + 1));
  assert.equal(c.recovered, true);
  assert.deepEqual(told, [sparks[0].id]);
  // Bad input: someone else's id with a made-up token gets a fresh spark.
  const f = weft.connect(`ws://${HOST}:${server.address().port}/primus?who=f&weft_rs=${sparks[0].id}.AAAAAAAAAAAAAAAAAAAAAA.0`, { reconnect: { retries: 0 } });
  t.after(() => f.destroy());
  await waitUntil(() => sparks.length === 3, 3000, 'the forged connection');
  assert.equal(sparks[2].recovered, false);
  assert.notEqual(sparks[2].id, sparks[0].id);
});
