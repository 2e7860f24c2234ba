'use strict';
// Issue #20: the Node client against npm fast-tcp 3.3.2's server
// (tests/interop/lib/fasttcp_server.js, its own process): every data type
// with its edge values as events, acks and acks the server asks; join and
// leave, the server's emits; reconnect after the server is killed and
// restarted on the same port.
const test = require('node:test');
const assert = require('node:assert/strict');
const { weft, once, onceArgs, withTimeout, waitUntil } = require('./helpers');
const { startFastTcpServer } = require('../../tests/interop/lib/ft_server_proc');
const { cases } = require('../../tests/interop/lib/ft_values');


const startServer = startFastTcpServer;

async function connect(t, url) {
  const client = weft.connect(url, { emitter: true, reconnect: { min: 50, max: 200, retries: 100 } });
  client.on('error', () => {});
  t.after(() => client.end());
  await withTimeout(once(client, 'open'), 5000, 'open');
  return client;
}

test('the Node client: every data type as events, acks, and acks the server asks', { timeout: 30000 }, async (t) => {
  const srv = await startServer(t);
  const c = await connect(t, srv.url);
  c.on('question', (...args) => { const ack = args.pop(); ack(null, args[0]); });
  for (const cs of cases()) {
    const [label, value] = cs;
    const back = cs.length > 2 ? cs[2] : value;
    const echoed = onceArgs(c, 'echo');
    c.send('echo', value);
    assert.deepStrictEqual((await echoed)[0], back, `event: ${label}`);
    assert.deepStrictEqual(await c.request('echo', [value]), back === undefined ? null : back, `ack: ${label}`);
    const asked = onceArgs(c, 'ctl:answer');
    assert.equal(await c.request('ctl:ask', [value]), true);
    assert.deepStrictEqual((await asked)[0], back, `asked and answered: ${label}`);
  }
  const edge = [2 ** 47, -(2 ** 47) - 1, 2 ** 53, 2 ** 47 - 0.5, 2 ** 47 - 1, -(2 ** 47)];
  for (const n of edge) c.send('q', n);
  assert.deepStrictEqual(await c.request('ctl:log', []), edge);
  const nonfinite = [];
  c.on('nonfinite', (n) => nonfinite.push(n));
  assert.equal(await c.request('ctl:nonfinite', []), true);
  await waitUntil(() => nonfinite.length === 3, 5000, 'NaN, Infinity, -Infinity from the server');
  assert.deepStrictEqual(nonfinite, [NaN, Infinity, -Infinity]);
});

// join()/leave()/leaveAll() leave as fast-tcp's room messages; npm
// fast-tcp's server never answers them, so weft settles each once it is
// on the wire.
test('the Node client: join, leave, leave-all; the server emits to all, others, a room, an id', { timeout: 20000 }, async (t) => {
  const srv = await startServer(t);
  const [a, b, c] = [await connect(t, srv.url), await connect(t, srv.url), await connect(t, srv.url)];
  const got = { a: [], b: [], c: [] };
  for (const [k, cl] of Object.entries({ a, b, c })) cl.on('news', (d) => got[k].push(d));
  await a.join('r1');
  await a.join('r2');
  await b.join('r2');
  assert.deepStrictEqual(await a.request('ctl:rooms', []), ['r1', 'r2']);
  await a.leave('r1');
  assert.deepStrictEqual(await a.request('ctl:rooms', []), ['r2']);
  await c.join('r3');
  await new Promise((resolve, reject) => c.join('r4', (err) => (err ? reject(err) : resolve())));
  assert.deepStrictEqual(await c.request('ctl:rooms', []), ['r3', 'r4']);
  await c.leaveAll();
  assert.deepStrictEqual(await c.request('ctl:rooms', []), []);
  const cid = await c.request('ctl:id', []);
  await a.request('ctl:send', [['news', 'all', {}]]);
  await a.request('ctl:send', [['news', 'others', { except: ['self'] }]]);
  await a.request('ctl:send', [['news', 'room', { rooms: ['r2'], except: ['self'] }]]);
  await a.request('ctl:send', [['news', 'room with sender', { rooms: ['r2'] }]]);
  await a.request('ctl:send', [['news', 'id', { sockets: [cid] }]]);
  await a.request('ctl:send', [['news', 'end', {}]]);
  await waitUntil(() => ['a', 'b', 'c'].every((k) => got[k].includes('end')), 5000, 'news');
  assert.deepStrictEqual(got, {
    a: ['all', 'room with sender', 'end'],
    b: ['all', 'others', 'room', 'room with sender', 'end'],
    c: ['all', 'others', 'id', 'end'],
  });
});

test('the Node client: reconnect after the server is killed and restarted, queued emits once, in order', { timeout: 20000 }, async (t) => {
  const first = await startServer(t);
  const c = await connect(t, first.url);
  c.send('q', 'before');
  assert.deepStrictEqual(await c.request('ctl:log', []), ['before']);
  const closed = once(c, 'close');
  process.kill(first.child.pid, 'SIGKILL');
  await first.exited;
  await withTimeout(closed, 5000, 'close');
  for (let i = 1; i <= 20; i++) c.send('q', i);
  await new Promise((r) => setTimeout(r, 300));
  const reopened = once(c, 'open', 10000);
  const second = await startServer(t, first.port);
  assert.equal(second.port, first.port);
  await reopened;
  assert.deepStrictEqual(await c.request('ctl:log', []), Array.from({ length: 20 }, (_, i) => i + 1));
});
