// The Vibe module (dist/weft-vibe.min.js, issue #21, decision #32) in
// headless Chromium, over ws, httpstream and httplongpoll:
//  - against `weft serve --transformer vibe --mode echo` (the module loaded
//    from the server at /vibe/weft-vibe.js): events echoed with their
//    names and data, a reply client → server, then the server killed
//    (SIGKILL) and started again on its port: the client reconnects and
//    what it sent while down arrives once, in order;
//  - against the reference server of vibe-protocol 3.0.0-Alpha9 (from
//    tests/vibe/node_modules, in this process, with the Node 20 guard of
//    tests/vibe/node20_server.js): replies both ways, resolved and rejected;
//  - bad input: an unknown transport, and an option the URL's transport=
//    contradicts, throw TypeErrors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, chromiumHooks, startWeft } from './helpers.mjs';

const TRANSPORTS = ['ws', 'httpstream', 'httplongpoll'];

const browser = chromiumHooks(before, after);

// In the page: a client over `transport` with the emitter; events land in
// window.got, the client's life in window.life.
function connect([url, transport]) {
  return new Promise((resolve, reject) => {
    window.got = [];
    window.life = [];
    const c = (window.c = new Weft(url, { transformer: 'vibe', transport, emitter: true, reconnect: { min: 100, max: 400, retries: 50 } }));
    for (const e of ['open', 'close', 'reconnect scheduled', 'reconnected']) c.on(e, () => life.push(e));
    for (const e of ['greet', 'n', 'echo', 'done']) c.on(e, (d) => got.push([e, d]));
    c.on('test', (d, ack) => (d && d.reject ? ack(d.reject) : ack(null, d)));
    c.on('error', () => {});
    c.once('open', resolve);
    setTimeout(() => reject(new Error('no open')), 8000);
  });
}

test('the Vibe module against weft serve --transformer vibe: events, a reply, reconnect and the offline queue', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-page-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>weft</title>' +
    '<script src="/vibe/weft.js"></script><script src="/vibe/weft-vibe.js"></script>');
  const args = ['--path', '/vibe', '--transformer', 'vibe', '--mode', 'echo', '--static', dir];
  let server = await startWeft(['--port', '0', ...args]);
  const port = server.port;
  const page = await browser.context.newPage();
  try {
    await page.goto(`http://127.0.0.1:${port}/`);
    assert.equal(await page.evaluate(() => typeof Weft.transformers.vibe), 'function');
    for (const transport of TRANSPORTS) {
      await page.evaluate(connect, [`http://127.0.0.1:${port}/vibe`, transport]);
      assert.equal(await page.evaluate(() => c.transport), transport);
      const data = { transport, text: '라면', list: [1, 2.5, null, true] };
      await page.evaluate((d) => c.send('greet', d), data);
      assert.equal(await page.evaluate(() => c.request('ask', [42])), 42, `${transport}: the reply resolves`);
      await page.waitForFunction(() => got.length >= 1);
      assert.deepEqual(await page.evaluate(() => got), [['greet', data]], transport);
      // The server goes (SIGKILL) and comes back on its port.
      await server.stop('SIGKILL');
      await page.waitForFunction(() => life.includes('close'));
      await page.evaluate(() => [1, 2, 3].forEach((n) => c.send('n', n)));
      await page.waitForFunction(() => life.includes('reconnect scheduled'));
      server = await startWeft(['--port', String(port), ...args]);
      await page.waitForFunction(() => got.length >= 4, null, { timeout: 15000 });
      await new Promise((r) => setTimeout(r, 300)); // nothing more may come
      assert.deepEqual(await page.evaluate(() => got.slice(1)), [['n', 1], ['n', 2], ['n', 3]], `${transport}: once, in order`);
      assert.deepEqual(await page.evaluate(() => life.filter((e) => e !== 'reconnect scheduled')),
        ['open', 'close', 'reconnected', 'open'], transport);
      await page.evaluate(() => c.end());
    }
    // Bad input: thrown by the constructor.
    const bad = await page.evaluate((p) => [
      [`http://127.0.0.1:${p}/vibe`, { transport: 'carrier' }],
      [`http://127.0.0.1:${p}/vibe?transport=longpoll`, { transport: 'ws' }],
      [`http://127.0.0.1:${p}/vibe?transport=pigeon`, {}]
    ].map(([u, o]) => {
      try {
        new Weft(u, Object.assign({ transformer: 'vibe', manual: true }, o));
        return 'no error';
      } catch (e) {
        return `${e.name}: ${e.message}`;
      }
    }), port);
    assert.match(bad[0], /^TypeError: unknown Vibe transport "carrier"/);
    assert.match(bad[1], /^TypeError: the transport option "ws" and the URL's transport=longpoll disagree/);
    assert.match(bad[2], /^TypeError: unknown Vibe transport "pigeon"/);
  } finally {
    await page.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The reference server at /vibe, with the page and the classic scripts
// beside it (one origin).
async function referenceServer() {
  const require = createRequire(import.meta.url);
  const vibeDir = join(ROOT, 'tests/vibe');
  const vibe = require(join(vibeDir, 'node_modules/vibe-protocol/lib'));
  require(join(vibeDir, 'node20_server.js'));
  const server = vibe.createServer();
  server.on('socket', (socket) => {
    socket.on('error', () => {});
    socket.on('echo', (data) => socket.send('echo', data));
    socket.on('/reply/inbound', (data, reply) => (data.type === 'resolved' ? reply.resolve : reply.reject)(data.data));
    socket.on('/reply/outbound', (data) => {
      const done = (value) => socket.send('done', value);
      if (data.type === 'resolved') socket.send('test', data.data, done);
      else socket.send('test', data.data, null, done);
    });
  });
  const files = {
    '/': ['text/html', '<!doctype html><meta charset="utf-8"><title>weft</title><script src="/weft.js"></script><script src="/weft-vibe.js"></script>'],
    '/weft.js': ['text/javascript', readFileSync(join(ROOT, 'clients/js/dist/weft.min.js'))],
    '/weft-vibe.js': ['text/javascript', readFileSync(join(ROOT, 'clients/js/dist/weft-vibe.min.js'))]
  };
  const httpTransports = vibe.transport.createHttpServer();
  httpTransports.on('transport', server.handle);
  const wsTransports = vibe.transport.createWebSocketServer();
  wsTransports.on('transport', server.handle);
  const hs = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/vibe') return httpTransports.handle(req, res);
    const f = files[path];
    res.writeHead(f ? 200 : 404, { 'Content-Type': f ? f[0] : 'text/plain' });
    res.end(f ? f[1] : '');
  });
  hs.on('upgrade', (req, sock, head) => (new URL(req.url, 'http://x').pathname === '/vibe' ? wsTransports.handle(req, sock, head) : sock.destroy()));
  await new Promise((r) => hs.listen(0, '127.0.0.1', r));
  return hs;
}

test('the Vibe module against the reference Vibe server: replies both ways, resolved and rejected', { timeout: 60000 }, async () => {
  const hs = await referenceServer();
  const page = await browser.context.newPage();
  const origin = `http://127.0.0.1:${hs.address().port}`;
  try {
    await page.goto(`${origin}/`);
    for (const transport of TRANSPORTS) {
      await page.evaluate(connect, [`${origin}/vibe`, transport]);
      const r = await page.evaluate(async () => {
        const settle = (p) => p.then((v) => ['resolved', v], (e) => ['rejected', e.reason]);
        const inbound = [await settle(c.request('/reply/inbound', [{ type: 'resolved', data: 5 }])),
          await settle(c.request('/reply/inbound', [{ type: 'rejected', data: 'no' }]))];
        c.send('/reply/outbound', { type: 'resolved', data: 'yes' });
        c.send('/reply/outbound', { type: 'rejected', data: { reject: 'why' } });
        c.send('echo', { a: [1, 'b'] });
        await new Promise((resolve) => { const t = setInterval(() => got.length >= 3 && (clearInterval(t), resolve()), 20); });
        return { inbound, got };
      });
      assert.deepEqual(r.inbound, [['resolved', 5], ['rejected', 'no']], transport);
      assert.deepEqual(r.got.filter((g) => g[0] === 'done'), [['done', 'yes'], ['done', 'why']], transport);
      assert.deepEqual(r.got.filter((g) => g[0] === 'echo'), [['echo', { a: [1, 'b'] }]], transport);
      await page.evaluate(() => c.end());
    }
  } finally {
    await page.close();
    const closed = new Promise((r) => hs.close(r));
    hs.closeAllConnections();
    await closed;
  }
});
