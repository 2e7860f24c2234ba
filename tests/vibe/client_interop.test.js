'use strict';
//
// weft's client speaking Vibe (transformer 'vibe', over ws) against the
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

test('weft client (vibe, ws) against the reference Vibe server: events, replies both ways, close', { timeout: 30000 }, async (t) => {
  const url = await start(t, process.execPath, [path.join(ROOT, 'bench', 'peers', 'vibe_server.js'), '0']);
  const c = client(t, url);
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
