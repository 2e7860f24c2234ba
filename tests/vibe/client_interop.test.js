'use strict';
//
// weft's client speaking Vibe (transformer 'vibe', over ws, httpstream
// and httplongpoll) against the
// reference Vibe server (vibe-protocol 3.0.0-Alpha9 with its testee's
// handlers and the Node 20 long-poll guard: bench/peers/vibe_server.js) and
// against weft's own Vibe server: events both ways, the reply extension
// resolved and rejected both ways, the client's heartbeat keeping a socket
// with a 2.5 s heartbeat open on each transport, and the server's close;
// an httpstream answer read as it arrives (split anywhere, chunked or
// not), and each kind of bad answer refused with its error.
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

const URIS = { ws: (b) => b, httpstream: (b) => `${b}?transport=stream`, httplongpoll: (b) => `${b}?transport=longpoll` };

for (const transport of ['ws', 'httpstream', 'httplongpoll']) test(`weft client (vibe, ${transport}) against the reference Vibe server: events, replies both ways, close`, { timeout: 30000 }, async (t) => {
  const base = await start(t, process.execPath, [path.join(ROOT, 'bench', 'peers', 'vibe_server.js'), '0']);
  const c = client(t, URIS[transport](base));
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

test('weft client (vibe: ws, httpstream, httplongpoll) against weft\'s Vibe server: the heartbeat keeps each open', { skip: CLI ? false : 'WEFT_CLI not set', timeout: 30000 }, async (t) => {
  const url = await start(t, CLI, ['serve', '--listen', 'http://127.0.0.1:0/vibe', '--transformer', 'vibe', '--mode', 'echo',
    '--session-heartbeat', '2500,2400']);
  const clients = Object.entries(URIS).map(([transport, uri]) => [transport, client(t, uri(url))]);
  const closed = new Set();
  await Promise.all(clients.map(([transport, c]) => {
    c.on('close', () => closed.add(transport));
    return once(c, 'open');
  }));
  await new Promise((r) => setTimeout(r, 4000)); /* past the server's 2.5 s: heartbeats echoed */
  assert.deepEqual([...closed], [], 'the sockets stayed open');
  for (const [transport, c] of clients) {
    const echoed = once(c, 'greet');
    c.send('greet', [1, transport]);
    assert.deepEqual((await echoed)[0], [1, transport]);
  }
});

// An httpstream answer written as raw bytes, a piece at a time.
async function pieces(socket, list) {
  for (const p of list) {
    socket.write(p);
    await new Promise((r) => setTimeout(r, 15));
  }
}

test('weft client (vibe, httpstream): the answer read as it arrives, split anywhere, chunked or up to the end', { timeout: 30000 }, async (t) => {
  const http = require('node:http');
  const ev = Buffer.from('data: {"id":"1","type":"echo",\ndata: "data":"라면","reply":false}\n\n');
  const cut = ev.indexOf(Buffer.from('라')) + 1; /* inside a character */
  const head = 'data: ?id=abc\n\ndata: ?heartbeat=20000&_heartbeat=5000\n\n';
  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    if (req.method === 'POST' || u.searchParams.get('when') === 'abort') { req.resume(); res.end(); return; }
    const chunk = (b) => Buffer.concat([Buffer.from(b.length.toString(16) + '\r\n'), Buffer.from(b), Buffer.from('\r\n')]);
    if (u.searchParams.get('framing') === 'chunked') {
      const body = Buffer.concat([chunk(' '.repeat(2047) + '\n'), chunk(head), chunk(ev.subarray(0, cut)), chunk(ev.subarray(cut)), Buffer.from('0\r\n\r\n')]);
      /* Cut inside the chunk heads and their CRLFs too. */
      const at = [2, 4, 2054, 2057, body.length - 40, body.length - 3];
      const list = [Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')];
      let from = 0;
      for (const i of at) { list.push(body.subarray(from, i)); from = i; }
      list.push(body.subarray(from));
      await pieces(req.socket, list);
    } else {
      await pieces(req.socket, ['HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n   \n', head.slice(0, 9), head.slice(9), ev.subarray(0, cut), ev.subarray(cut)]);
      req.socket.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  for (const framing of ['chunked', 'close']) {
    const c = client(t, `http://127.0.0.1:${server.address().port}/vibe?transport=stream&framing=${framing}`);
    await once(c, 'open');
    assert.equal((await once(c, 'echo'))[0], '라면', framing);
    await once(c, 'close'); /* the answer's end */
  }
});

test('weft client (vibe) against a server that does not speak Vibe: each refused with its error', { timeout: 30000 }, async (t) => {
  const http = require('node:http');
  const WebSocket = require(path.join(ROOT, 'tests', 'interop', 'node_modules', 'ws'));
  // A long-poll open answered with an id that would go into request
  // targets as is, one answered 404, and a WebSocket whose first text is
  // no handshake; then a handshake and an event that is not JSON.
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const bad = u.searchParams.get('bad');
    const pad = ' '.repeat(2047) + '\n';
    if (bad === 'id') res.end('?id=a b\r\nX: y');
    else if (bad === 'streamid') res.write(`${pad}data: ?id=a b\n\n`);
    else if (bad === 'chunk') req.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhellozz\r\n');
    else if (bad === 'big') res.write(`${pad}data: ?id=abc\n\ndata: ?heartbeat=20000&_heartbeat=5000\n\ndata: ${'x'.repeat(70000)}`);
    else if (bad === 'cut') req.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n' + pad);
    else if (u.searchParams.get('when') === 'abort') res.end();
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
  const failure = async (url, options) => {
    const c = client(t, url, options);
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
  // httpstream: refused, an id not fit for targets, a malformed chunk, an
  // event past maxLength (the client stops reading it), an answer cut short.
  const streamRefused = await failure(`${base}?transport=stream`);
  assert.equal(streamRefused.opened, false);
  assert.ok(streamRefused.errors.length > 0);
  const streamId = await failure(`${base}?transport=stream&bad=streamid`);
  assert.ok(streamId.errors.some((e) => /no Vibe socket id/.test(e.message)), streamId.errors.map((e) => e.message).join());
  const chunk = await failure(`${base}?transport=stream&bad=chunk`);
  assert.ok(chunk.errors.some((e) => /malformed chunk/.test(e.message)), chunk.errors.map((e) => e.message).join());
  const big = await failure(`${base}?transport=stream&bad=big`, { maxLength: 1000 });
  assert.equal(big.opened, true);
  assert.ok(big.errors.some((e) => /too large/.test(e.message)), big.errors.map((e) => e.message).join());
  const cut = await failure(`${base}?transport=stream&bad=cut`);
  assert.ok(cut.errors.some((e) => /cut short/.test(e.message)), cut.errors.map((e) => e.message).join());
});
