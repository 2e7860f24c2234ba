'use strict';
//
// weft's client speaking Vibe (transformer 'vibe', over ws and
// httplongpoll) against the
// reference Vibe server (vibe-protocol 3.0.0-Alpha9 with its testee's
// handlers and the Node 20 long-poll guard: bench/peers/vibe_server.js) and
// against weft's own Vibe server: events both ways, the reply extension
// resolved and rejected both ways, the client's heartbeat keeping a socket
// with a 2.5 s heartbeat open, and the server's close.
//
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');
const { test } = require('node:test');

const ROOT = path.join(__dirname, '..', '..');
const weft = require(path.join(ROOT, 'node'));
const CLI = process.env.WEFT_CLI;

const within = (p, ms, what) => Promise.race([p, new Promise((resolve, reject) =>
  setTimeout(() => reject(new Error(`timeout: ${what}`)), ms).unref())]);

async function start(t, cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const line = await within(new Promise((resolve) => readline.createInterface({ input: child.stdout })
    .on('line', (l) => { if (l.startsWith('listening on ')) resolve(l.slice(13)); })), 5000, 'listening');
  return line.replace(/^ws:/, 'http:');
}

function client(t, url, options = {}) {
  const c = weft.connect(url, Object.assign({ transformer: 'vibe', emitter: true, reconnect: { retries: 0 } }, options));
  c.on('error', () => {});
  t.after(() => c.end());
  return c;
}

const once = (e, name) => within(new Promise((resolve) => e.once(name, (...a) => resolve(a))), 5000, name);

for (const transport of ['ws', 'httplongpoll']) test(`weft client (vibe, ${transport}) against the reference Vibe server: events, replies both ways, close`, { timeout: 30000 }, async (t) => {
  const base = await start(t, process.execPath, [path.join(ROOT, 'bench', 'peers', 'vibe_server.js'), '0']);
  const c = client(t, transport === 'ws' ? base : `${base}?transport=longpoll`);
  await once(c, 'open');
  const echoed = once(c, 'echo');
  c.send('echo', { text: '라면', n: 2.5 });
  assert.deepEqual((await echoed)[0], { text: '라면', n: 2.5 });
  // The server's reply: resolve and reject.
  assert.equal(await c.request('/reply/inbound', [{ type: 'resolved', data: Math.PI }]), Math.PI);
  await assert.rejects(c.request('/reply/inbound', [{ type: 'rejected', data: Math.PI }]), (err) => err.reason === Math.PI);
  // The client's reply to the server's event: resolve, then reject.
  for (const type of ['resolved', 'rejected']) {
    const answer = new Promise((resolve) => c.once('test', (data, ack) => { resolve(); type === 'resolved' ? ack.resolve(data) : ack.reject(data); }));
    const done = once(c, 'done');
    c.send('/reply/outbound', { type, data: Math.E });
    await answer;
    assert.equal((await done)[0], Math.E);
  }
  // The server closes it.
  const closed = once(c, 'close');
  c.send('abort');
  await closed;
});

test('weft client (vibe, ws) against weft\'s Vibe server: the heartbeat keeps it open', { skip: CLI ? false : 'WEFT_CLI not set', timeout: 30000 }, async (t) => {
  const url = await start(t, CLI, ['serve', '--listen', 'http://127.0.0.1:0/vibe', '--transformer', 'vibe', '--mode', 'echo',
    '--session-heartbeat', '2500,2400']);
  const c = client(t, url);
  await once(c, 'open');
  let closed = false;
  c.on('close', () => { closed = true; });
  await new Promise((r) => setTimeout(r, 4000)); /* past the server's 2.5 s: heartbeats echoed */
  assert.equal(closed, false, 'the socket stayed open');
  const echoed = once(c, 'greet');
  c.send('greet', [1, 'two']);
  assert.deepEqual((await echoed)[0], [1, 'two']);
});

test('weft client (vibe) against a server that does not speak Vibe: each refused with its error', { timeout: 30000 }, async (t) => {
  const http = require('node:http');
  const WebSocket = require(path.join(ROOT, 'tests', 'interop', 'node_modules', 'ws'));
  // A long-poll open answered with an id that would go into request
  // targets as is, one answered 404, and a WebSocket whose first text is
  // no handshake; then a handshake and an event that is not JSON.
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.searchParams.get('bad') === 'id') res.end('?id=a b\r\nX: y');
    else { res.statusCode = 404; res.end('no'); }
  });
  const wss = new WebSocket.Server({ server });
  wss.on('connection', (ws, req) => {
    if (req.url.includes('event')) { ws.send('?heartbeat=20000&_heartbeat=5000'); ws.send('{not json'); }
    else ws.send('hello');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => { wss.close(); server.close(); });
  const base = `http://127.0.0.1:${server.address().port}/vibe`;
  const failure = async (url) => {
    const c = client(t, url);
    const errors = [];
    c.on('error', (e) => errors.push(e));
    let opened = false;
    c.on('open', () => { opened = true; });
    await once(c, 'end');
    return { opened, errors };
  };
  const badId = await failure(`${base}?transport=longpoll&bad=id`);
  assert.ok(badId.errors.some((e) => /no Vibe socket id/.test(e.message)), badId.errors.map((e) => e.message).join());
  const refused = await failure(`${base}?transport=longpoll`);
  assert.equal(refused.opened, false);
  assert.ok(refused.errors.length > 0);
  const noHandshake = await failure(base.replace(/^http/, 'ws') + '?x=hello');
  assert.ok(noHandshake.errors.some((e) => /no Vibe handshake/.test(e.message)), noHandshake.errors.map((e) => e.message).join());
  const badEvent = await failure(base.replace(/^http/, 'ws') + '?x=event');
  assert.equal(badEvent.opened, true);
  assert.ok(badEvent.errors.some((e) => /malformed Vibe event/.test(e.message)), badEvent.errors.map((e) => e.message).join());
  const stream = await failure(`${base}?transport=stream`);
  assert.ok(stream.errors.some((e) => /httpstream is not dialed yet/.test(e.message)));
});
