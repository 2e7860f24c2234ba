// `weft serve --mode chat` and the CLI's static options without a browser:
// the chat protocol's bad-input paths through real sockets (the `ws` package
// of tests/interop), and bad command lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import net from 'node:net';
import { Weft } from '../src/weft.js';
import { recovery } from '../src/recovery.js';
import { ROOT, WEFT_BIN, startWeft } from './helpers.mjs';

const WebSocket = createRequire(join(ROOT, 'tests/interop/package.json'))('ws');

/** Connects with the json parser; resolves { ws, next() } where next() gives the next data message. */
function connect(port, query) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/primus${query}`);
    const inbox = [];
    const waiting = [];
    let closed = null;
    ws.on('message', (data) => {
      const v = JSON.parse(String(data));
      if (typeof v === 'string' && v.startsWith('primus::')) return;
      if (waiting.length) waiting.shift()(v);
      else inbox.push(v);
    });
    ws.on('close', (code) => {
      closed = code;
      while (waiting.length) waiting.shift()({ closed: code });
    });
    ws.on('error', reject);
    const next = () =>
      new Promise((res, rej) => {
        if (inbox.length) return res(inbox.shift());
        if (closed !== null) return res({ closed });
        const t = setTimeout(() => rej(new Error('no message within 3 s')), 3000);
        waiting.push((v) => (clearTimeout(t), res(v)));
      });
    ws.on('open', () => resolve({ ws, next, send: (v) => ws.send(JSON.stringify(v)) }));
  });
}

test('chat mode: join, message with id, history for late joiners, bad input answered with errors', { timeout: 20000 }, async () => {
  const server = await startWeft(['--port', '0', '--mode', 'chat']);
  try {
    const a = await connect(server.port, '?nick=ann');
    const welcome = await a.next();
    assert.deepEqual(welcome, { type: 'welcome', nick: 'ann', online: ['ann'], history: [] });
    assert.deepEqual(await a.next(), { type: 'join', nick: 'ann', online: ['ann'] });
    a.send({ type: 'message', text: 'hi', id: 'p-1' });
    const m = await a.next();
    assert.equal(m.type, 'message');
    assert.equal(m.nick, 'ann');
    assert.equal(m.text, 'hi');
    assert.equal(m.id, 'p-1');
    assert.ok(m.ts > 1.6e12);
    const b = await connect(server.port, '?nick=b%C3%A9a');
    const wb = await b.next();
    assert.equal(wb.nick, 'béa');
    assert.deepEqual(wb.online.sort(), ['ann', 'béa']);
    assert.deepEqual(wb.history.map((h) => h.text), ['hi']);
    assert.equal((await a.next()).type, 'join');
    for (const bad of [
      'just a string',
      [1, 2],
      { type: 'message' },
      { type: 'message', text: '' },
      { type: 'message', text: 42 },
      { type: 'message', text: 'x'.repeat(2001) },
      { type: 'message', text: 'ok', id: 7 },
      { type: 'message', text: 'ok', id: 'i'.repeat(65) },
      { type: 'shout', text: 'hey' }
    ]) {
      a.send(bad);
      const e = await a.next();
      assert.equal(e.type, 'error', JSON.stringify(bad));
    }
    a.ws.send('{not json'); /* undecodable: the connection stays */
    a.send({ type: 'message', text: 'still here' });
    const still = await a.next();
    assert.equal(still.text, 'still here', JSON.stringify(still));
    b.ws.close();
    assert.deepEqual(await a.next(), { type: 'leave', nick: 'béa', online: ['ann'] });
    a.ws.close();
  } finally {
    await server.stop();
  }
});

test('chat mode: a missing, empty, too long or control-character nick is refused', { timeout: 20000 }, async () => {
  const server = await startWeft(['--port', '0', '--mode', 'chat']);
  try {
    for (const q of ['', '?nick=', `?nick=${'n'.repeat(33)}`, '?nick=a%0Ab', '?nick=%FF']) {
      const c = await connect(server.port, q);
      const e = await c.next();
      assert.equal(e.type, 'error', q);
      assert.match(e.message, /nick/);
      assert.equal((await c.next()).closed, 1000);
    }
  } finally {
    await server.stop();
  }
});

test('weft serve: bad --static and --mode are refused with exit status 2', () => {
  for (const args of [['--static', '/nonexistent/weft'], ['--static', '/etc/hostname'], ['--mode', 'party'], ['--static']]) {
    const r = spawnSync(WEFT_BIN, ['serve', '--port', '0', ...args], { timeout: 5000, encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

/** A relay to 127.0.0.1:port; cut() resets every connection through it. */
function relay(port) {
  const pairs = new Set();
  const srv = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    const pair = [down, up];
    pairs.add(pair);
    down.pipe(up);
    up.pipe(down);
    const gone = () => (pairs.delete(pair), down.destroy(), up.destroy());
    for (const s of pair) s.on('error', gone).on('close', gone);
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () =>
      resolve({
        port: srv.address().port,
        cut: () => pairs.forEach(([d, u]) => (d.resetAndDestroy(), u.resetAndDestroy())),
        close: () => srv.close()
      })));
}

test('recovery module against weft serve --recovery: cut, 20 broadcasts missed, resumed with the same id, in order', { timeout: 20000 }, async () => {
  const server = await startWeft(['--port', '0', '--mode', 'broadcast', '--recovery', '5000', '--ping-interval', '0']);
  const r = await relay(server.port);
  try {
    const c = new Weft(`http://127.0.0.1:${r.port}/primus`, { WebSocket, reconnect: { min: 50, max: 100, retries: 50 }, plugin: { recovery: recovery() } });
    const got = [];
    const ids = [];
    c.on('data', (v) => got.push(v));
    c.on('recovered', (id) => ids.push(id));
    await new Promise((res) => c.once('open', res));
    const id0 = await new Promise((res) => c.id(res));
    const sender = await connect(server.port, '');
    r.cut();
    await new Promise((res) => setTimeout(res, 100)); // the server has seen it go
    for (let i = 1; i <= 20; i++) sender.send(i); // broadcast by the server, A is away
    const until = Date.now() + 5000;
    while (got.filter((v) => typeof v === 'number').length < 20 && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
    assert.equal(c.recovered, true);
    assert.deepEqual(ids, [id0]);
    assert.deepEqual(got.filter((v) => typeof v === 'number'), Array.from({ length: 20 }, (_, i) => i + 1));
    c.end();
    sender.ws.close();
  } finally {
    r.close();
    await server.stop();
  }
});
