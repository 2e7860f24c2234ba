// Browser tests in headless Chromium (Debian's, driven by playwright-core):
// the chat demo through a server that is killed and restarted mid-chat, the
// official Primus client library against weft, and weft's own client with
// both parsers. Screenshots go to build-js/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTIFACTS, ROOT, chromiumHooks, startWeft } from './helpers.mjs';

const browser = chromiumHooks(before, after);

const CHAT = join(ROOT, 'examples/chat');

async function messages(page) {
  return page.$$eval('#messages li.message', (lis) =>
    lis.map((li) => `${li.dataset.nick}: ${li.lastChild.textContent}`)
  );
}

// A page whose WebSocket never opens, as behind a proxy that refuses the
// upgrade: the constructor works, then error and close (1006), no open.
function blockWebSockets() {
  window.WebSocket = class BlockedWebSocket extends EventTarget {
    constructor(url) {
      super();
      this.url = url;
      this.readyState = 0;
      this.bufferedAmount = 0;
      setTimeout(() => {
        this.readyState = 3;
        if (this.onerror) this.onerror(new Event('error'));
        if (this.onclose) this.onclose({ code: 1006, reason: '', wasClean: false });
      }, 20);
    }
    send() {
      throw new Error('blocked');
    }
    close() {}
  };
}

async function joinChat(port, nick, { blocked = false } = {}) {
  const page = await browser.context.newPage();
  if (blocked) await page.addInitScript(blockWebSockets);
  page.on('pageerror', (e) => console.error(`[${nick}] page error`, e));
  await page.goto(`http://127.0.0.1:${port}/?reconnectMin=200&reconnectMax=1000`);
  await page.fill('#nick', nick);
  await page.click('#join');
  await page.waitForSelector('#status[data-state="connected"]', { timeout: 10000 });
  return page;
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#send');
}

const waitMessages = (page, want) =>
  waitMessagesRaw(page, want).catch(async (e) => {
    throw new Error(`${e.message}\nwanted ${JSON.stringify(want)}\ngot ${JSON.stringify(await messages(page))}`);
  });
const waitMessagesRaw = (page, want) =>
  page.waitForFunction(
    (want) => {
      const got = [...document.querySelectorAll('#messages li.message')].map(
        (li) => `${li.dataset.nick}: ${li.lastChild.textContent}`
      );
      return want.every((w) => got.includes(w));
    },
    want,
    { timeout: 15000 }
  );

test('chat: two pages, server killed and restarted, offline messages delivered once, in order', { timeout: 90000 }, async () => {
  let server = await startWeft(['--port', '0', '--mode', 'chat', '--static', CHAT, '--ping-interval', '2000']);
  const port = server.port;
  try {
    const alice = await joinChat(port, 'alice');
    const bob = await joinChat(port, 'bob');
    for (const p of [alice, bob]) await p.waitForFunction(() => document.querySelector('#count').textContent === '2');
    assert.deepEqual(await alice.$$eval('#online li', (l) => l.map((x) => x.textContent)), ['alice', 'bob']);

    await say(alice, 'hello bob');
    await waitMessages(bob, ['alice: hello bob']);
    await say(bob, 'hi alice');
    const before = ['alice: hello bob', 'bob: hi alice'];
    for (const p of [alice, bob]) await waitMessages(p, before);

    // The server dies: both pages show the reconnecting state.
    await server.stop('SIGKILL');
    for (const p of [alice, bob])
      await p.waitForSelector('#status[data-state="reconnecting"]', { timeout: 10000 });
    // Messages typed while the server is down are queued in order.
    const offline = {
      alice: ['alice 1 while down', 'alice 2 while down', 'alice 3 while down'],
      bob: ['bob 1 while down', 'bob 2 while down']
    };
    for (const t of offline.alice) await say(alice, t);
    for (const t of offline.bob) await say(bob, t);
    assert.deepEqual(await alice.$$eval('#pending li', (l) => l.map((x) => x.textContent)), offline.alice);
    assert.deepEqual(await bob.$$eval('#pending li', (l) => l.map((x) => x.textContent)), offline.bob);
    assert.match(await alice.textContent('#status'), /reconnect/);
    await alice.screenshot({ path: join(ARTIFACTS, 'chat-alice-reconnecting.png') });
    await bob.screenshot({ path: join(ARTIFACTS, 'chat-bob-reconnecting.png') });

    // The server comes back on the same port: both reconnect by themselves.
    server = await startWeft(['--port', String(port), '--mode', 'chat', '--static', CHAT, '--ping-interval', '2000']);
    for (const p of [alice, bob]) await p.waitForSelector('#status[data-state="connected"]', { timeout: 15000 });
    const all = [...before, ...offline.alice.map((t) => `alice: ${t}`), ...offline.bob.map((t) => `bob: ${t}`)];
    for (const p of [alice, bob]) {
      await waitMessages(p, all);
      await p.waitForFunction(() => document.querySelector('#count').textContent === '2');
      assert.equal(await p.$$eval('#pending li', (l) => l.length), 0);
    }
    // Let any duplicate arrive before counting.
    await alice.waitForTimeout(300);
    for (const p of [alice, bob]) {
      const got = await messages(p);
      for (const m of all) assert.equal(got.filter((g) => g === m).length, 1, `${m} delivered once`);
      for (const who of ['alice', 'bob']) {
        const mine = got.filter((g) => g.startsWith(`${who}: `));
        assert.deepEqual(mine, all.filter((g) => g.startsWith(`${who}: `)), `${who}'s messages in order`);
      }
    }
    await alice.screenshot({ path: join(ARTIFACTS, 'chat-alice.png') });
    await bob.screenshot({ path: join(ARTIFACTS, 'chat-bob.png') });

    // Who is online is right when a page disappears.
    await bob.close();
    await alice.waitForFunction(() => document.querySelector('#count').textContent === '1', null, { timeout: 10000 });
    assert.deepEqual(await alice.$$eval('#online li', (l) => l.map((x) => x.textContent)), ['alice']);
    await alice.close();
  } finally {
    await server.stop();
  }
});

test('chat over engine.io: WebSocket blocked for one page (it polls), allowed for the other (it upgrades)', { timeout: 60000 }, async () => {
  // A page that closes may leave its session without a word (no poll held
  // at that moment, or a socket the browser keeps): engine.io then learns
  // it from the heartbeat, 1 s + 1 s here instead of 25 s + 20 s.
  const server = await startWeft(['--port', '0', '--mode', 'chat', '--static', CHAT, '--transformer', 'engine.io',
    '--session-heartbeat', '1000,1000']);
  try {
    const alice = await joinChat(server.port, 'alice', { blocked: true });
    const bob = await joinChat(server.port, 'bob');
    for (const p of [alice, bob]) await p.waitForFunction(() => document.querySelector('#count').textContent === '2');
    await say(alice, 'hello over polling');
    await waitMessages(bob, ['alice: hello over polling']);
    await say(bob, 'hi over a websocket');
    for (const p of [alice, bob]) await waitMessages(p, ['alice: hello over polling', 'bob: hi over a websocket']);
    // Bob's session upgraded once its probe answered; alice's probe never opened.
    await bob.waitForFunction(() => window.chatClient.transport === 'websocket', null, { timeout: 10000 });
    assert.equal(await alice.evaluate(() => window.chatClient.transport), 'polling');
    assert.equal(await bob.evaluate(() => window.chatClient.transport), 'websocket');
    await alice.screenshot({ path: join(ARTIFACTS, 'chat-engineio-alice-polling.png') });
    await say(alice, 'still polling');
    await waitMessages(bob, ['alice: still polling']);
    await alice.close();
    await bob.waitForFunction(() => document.querySelector('#count').textContent === '1', null, { timeout: 10000 });
    await bob.close();
  } finally {
    await server.stop();
  }
});

test('chat beside websockets: a page whose WebSocket cannot open falls back to engine.io polling', { timeout: 60000 }, async () => {
  const server = await startWeft(['--port', '0', '--mode', 'chat', '--static', CHAT, '--transformer', 'websockets,engine.io']);
  try {
    const carol = await joinChat(server.port, 'carol', { blocked: true });
    const dave = await joinChat(server.port, 'dave');
    for (const p of [carol, dave]) await p.waitForFunction(() => document.querySelector('#count').textContent === '2');
    await say(carol, 'from behind the proxy');
    await waitMessages(dave, ['carol: from behind the proxy']);
    assert.equal(await carol.evaluate(() => window.chatClient.transport), 'polling');
    assert.equal(await dave.evaluate(() => window.chatClient.transport), 'websocket');
    await carol.close();
    await dave.close();
  } finally {
    await server.stop();
  }
});

test('chat: a connection without a nick is refused with an error message', { timeout: 30000 }, async () => {
  const server = await startWeft(['--port', '0', '--mode', 'chat', '--static', CHAT]);
  const page = await browser.context.newPage();
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    const result = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const got = [];
          const c = new Weft('/primus', { reconnect: { min: 100, retries: 1 } });
          c.on('data', (d) => got.push(d));
          c.on('end', () => resolve({ got, state: c.readyState }));
          setTimeout(() => resolve({ got, timeout: true }), 5000);
        })
    );
    assert.equal(result.timeout, undefined);
    assert.equal(result.got.length, 1);
    assert.equal(result.got[0].type, 'error');
    assert.match(result.got[0].message, /nick/);
  } finally {
    await page.close();
    await server.stop();
  }
});

test('the official Primus browser client (primus.library()) connects to weft and echoes', { timeout: 30000 }, async () => {
  const require = createRequire(join(ROOT, 'tests/interop/package.json'));
  const Primus = require('primus');
  const primus = new Primus(http.createServer(), { transformer: 'websockets' });
  const library = primus.library();
  primus.destroy({ close: false }); /* its heartbeat interval would keep node alive */
  writeFileSync(join(ARTIFACTS, 'primus-library.js'), library);
  const dir = mkdtempSync(join(tmpdir(), 'weft-primus-page-'));
  writeFileSync(join(dir, 'primus-library.js'), library);
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>primus</title><script src="primus-library.js"></script>'
  );
  const server = await startWeft(['--port', '0', '--mode', 'echo', '--static', dir]);
  const page = await browser.context.newPage();
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    const result = await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const client = new Primus(location.origin, { manual: false });
          const got = [];
          const sent = [{ hello: 'weft', n: 1 }, 'two', [1, 2.5, null, true, 'é€😀\u2028']];
          client.on('open', () => sent.forEach((m) => client.write(m)));
          client.on('data', (d) => {
            got.push(d);
            if (got.length === sent.length)
              client.id((id) => {
                client.end();
                resolve({ sent, got, id });
              });
          });
          client.on('error', (e) => reject(new Error(String(e && e.message))));
          setTimeout(() => reject(new Error('timed out: ' + JSON.stringify(got))), 10000);
        })
    );
    assert.deepEqual(result.got, result.sent);
    assert.match(result.id, /^[A-Za-z0-9_-]{21}$/);
  } finally {
    await page.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [parser, transformer] of [['json', 'websockets'], ['msgpack', 'websockets'], ['json', 'engine.io'], ['msgpack', 'engine.io']]) {
  test(`weft's client in Chromium (${parser}, ${transformer}, both read from the spec; /primus/primus.js as Primus)`, { timeout: 30000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-page-'));
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><meta charset="utf-8"><title>weft</title>' +
        '<script src="/primus/weft.js"></script><script src="/primus/primus.js"></script>'
    );
    const server = await startWeft(['--port', '0', '--mode', 'echo', '--parser', parser, '--static', dir, '--transformer', transformer]);
    const page = await browser.context.newPage();
    try {
      await page.goto(`http://127.0.0.1:${server.port}/`);
      const result = await page.evaluate(
        () =>
          new Promise((resolve, reject) => {
            const sent = [{ a: 1, b: [true, null, 'x'], c: -2.5 }, 'plain', 1234567890123];
            const run = (Ctor, done) => {
              const c = Ctor.connect(location.origin);
              const got = [];
              c.on('open', () => sent.forEach((m) => c.write(m)));
              c.on('data', (d) => {
                got.push(d);
                if (got.length === sent.length) c.id((id) => (done({ got, id, parser: c._parser.name, transport: c.transport }), c.end()));
              });
              c.on('error', (e) => reject(new Error(e.kind + ': ' + e.message)));
            };
            setTimeout(() => reject(new Error('timed out')), 10000);
            run(Weft, (w) =>
              run(Primus, (p) => resolve({ sent, w, p, same: typeof Primus === 'function' && new Primus(location.origin, { manual: true }) instanceof Weft }))
            );
          })
      );
      for (const r of [result.w, result.p]) {
        assert.deepEqual(r.got, result.sent);
        // A spark id of weft's (21 characters), or engine.io's sid (20).
        assert.match(r.id, transformer === 'engine.io' ? /^[A-Za-z0-9_-]{20}$/ : /^[A-Za-z0-9_-]{21}$/);
        assert.match(r.transport, transformer === 'engine.io' ? /^(polling|websocket)$/ : /^websocket$/);
      }
      assert.equal(result.w.parser, parser);
      assert.equal(result.same, false); /* two bundles, two classes: same API */
    } finally {
      await page.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('ints beyond 2^53 through a json echo as BigInt, exactly (JSON.parse source text, JSON.rawJSON); look-alikes stay what they are; the channels module loads from the server', { timeout: 30000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-page-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>weft</title>' +
    '<script src="/primus/weft.js"></script><script src="/primus/weft-channels.js"></script>');
  const server = await startWeft(['--port', '0', '--mode', 'echo', '--parser', 'json', '--static', dir]);
  const page = await browser.context.newPage();
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    const r = await page.evaluate(() => new Promise((resolve, reject) => {
      const show = (v) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `${x}n` : x));
      const sent = [9007199254740993n, -9223372036854775808n, { big: 9223372036854775807n, small: 5, list: [1152921504606846976n] }];
      const c = new Weft(location.origin, { parser: 'json' });
      const got = [];
      c.on('open', () => sent.forEach((m) => c.write(m)));
      c.on('data', (d) => {
        got.push(d);
        if (got.length === sent.length) {
          c.end();
          resolve({
            sent: show(sent),
            got: show(got),
            // not ints of int64 or not numbers: as JSON.parse reads them
            others: show(Weft.parsers.json.decode('[12345678901234567.5, 100000000000000000000, -9223372036854775809, "9007199254740993", 1e300, 9007199254740991, {"9007199254740993": 1}]')),
            channels: typeof Weft.channels === 'function' && typeof Weft.Channel === 'function',
          });
        }
      });
      c.on('error', (e) => reject(new Error(e.kind + ': ' + e.message)));
      setTimeout(() => reject(new Error('timed out')), 10000);
    }));
    assert.equal(r.got, r.sent);
    assert.equal(r.got, '["9007199254740993n","-9223372036854775808n",{"big":"9223372036854775807n","small":5,"list":["1152921504606846976n"]}]');
    assert.equal(r.others, '[12345678901234568,100000000000000000000,-9223372036854776000,"9007199254740993",1e+300,9007199254740991,{"9007199254740993":1}]');
    assert.equal(r.channels, true);
  } finally {
    await page.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the browser's offline/online events: offline drops the connection, online reconnects", { timeout: 30000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-page-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>weft</title><script src="/primus/weft.js"></script>');
  const server = await startWeft(['--port', '0', '--mode', 'echo', '--static', dir]);
  const page = await browser.context.newPage();
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.evaluate(
      () =>
        new Promise((resolve) => {
          window.events = [];
          window.c = new Weft({ reconnect: { min: 50, max: 100 } });
          for (const e of ['open', 'close', 'offline', 'online', 'reconnect scheduled', 'reconnected', 'data'])
            c.on(e, (x) => events.push(e === 'data' ? `data:${x}` : e));
          c.once('open', resolve);
        })
    );
    await browser.context.setOffline(true);
    await page.waitForFunction(() => events.includes('offline') && c.readyState === Weft.CLOSED);
    assert.equal(await page.evaluate(() => c.write('typed offline')), true);
    await browser.context.setOffline(false);
    await page.waitForFunction(() => events.includes('data:typed offline'), null, { timeout: 10000 });
    assert.deepEqual(await page.evaluate(() => events), [
      'open', 'offline', 'close', 'online', 'reconnect scheduled', 'reconnected', 'open', 'data:typed offline'
    ]);
  } finally {
    await browser.context.setOffline(false);
    await page.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
