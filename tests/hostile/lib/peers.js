'use strict';
//
// The server and the well-behaved crowd of the hostile-peer tests: `weft
// serve --mode echo` ($WEFT_CLI) on 127.0.0.1:0, stopped by its PID, its
// memory read from /proc/PID/status (VmRSS); a crowd that echoes one small
// message every 25 ms per client and answers heartbeats — WebSocket clients
// speaking Primus's websockets framing, and (when asked) engine.io clients
// (engine.io-client from tests/interop), polling only or upgraded.
//
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const readline = require('node:readline');

const MODULES = path.join(__dirname, '..', '..', 'interop', 'node_modules');
const WebSocket = require(path.join(MODULES, 'ws'));
const { within, delay } = require('../../support/traffic');

const CLI = process.env.WEFT_CLI;
const MiB = 1024 * 1024;

async function startServer(t, args = []) {
  const child = spawn(CLI, ['serve', '--host', '127.0.0.1', '--port', '0', '--mode', 'echo', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const lines = [];
  const waiters = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.slice()) if (w.re.test(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
  });
  const errors = [];
  readline.createInterface({ input: child.stderr }).on('line', (l) => errors.push(l));
  const waitLine = (re, ms = 5000) => {
    const seen = lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return within(new Promise((resolve) => waiters.push({ re, resolve })), ms, `server line ${re}`);
  };
  const ready = await waitLine(/^listening on /);
  const port = Number(/:(\d+)\//.exec(ready)[1]);
  const rss = () => {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return Number(m[1]) * 1024;
  };
  const stop = async () => {
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGTERM');
    return within(exited, 5000, 'server exit');
  };
  return { child, port, url: `ws://127.0.0.1:${port}/primus`, lines, errors, waitLine, rss, stop };
}

/** One member of the crowd: `send(text)`, and it calls back with each text message. */
async function wsMember(t, url) {
  const ws = new WebSocket(url);
  t.after(() => ws.terminate());
  await within(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 5000, 'crowd open');
  const m = { send: (text) => ws.send(text), onText: null, closed: false };
  ws.on('message', (data) => {
    const text = data.toString();
    const msg = JSON.parse(text);
    if (typeof msg === 'string' && msg.startsWith('primus::ping::')) ws.send(JSON.stringify(`primus::pong::${msg.slice(14)}`));
    else m.onText(text);
  });
  ws.on('close', () => { m.closed = true; });
  return m;
}

/** An engine.io member (its own heartbeat answered by engine.io-client). */
async function eioMember(t, port, transports) {
  const { Socket } = require(path.join(MODULES, 'engine.io-client'));
  const s = new Socket(`http://127.0.0.1:${port}`, { path: '/primus', transports });
  t.after(() => s.close());
  await within(new Promise((resolve, reject) => { s.once('open', resolve); s.once('error', reject); }), 5000, 'crowd open (engine.io)');
  const m = { send: (text) => s.send(text), onText: null, closed: false, socket: s };
  s.on('message', (text) => {
    const msg = JSON.parse(text);
    if (typeof msg === 'string' && msg.startsWith('primus::ping::')) s.send(JSON.stringify(`primus::pong::${msg.slice(14)}`));
    else m.onText(text);
  });
  s.on('close', () => { m.closed = true; });
  return m;
}

/**
 * The crowd: `ws` WebSocket clients, and `eio` engine.io ones (half polling
 * only, half upgraded), each echoing every 25 ms; stop() says what went
 * wrong and returns the worst echo latency.
 */
async function startCrowd(t, url, { ws = 20, eio = 0 } = {}) {
  const port = Number(new URL(url).port);
  const clients = [];
  for (let i = 0; i < ws + eio; i++) {
    const member = i < ws ? await wsMember(t, url)
      : await eioMember(t, port, (i - ws) % 2 ? ['polling', 'websocket'] : ['polling']);
    const c = { member, kind: i < ws ? 'websockets' : 'engine.io', pending: new Map(), worst: 0, sent: 0, n: 0 };
    member.onText = (text) => {
      const msg = JSON.parse(text);
      const at = c.pending.get(msg.n);
      if (at === undefined) return;
      c.pending.delete(msg.n);
      c.worst = Math.max(c.worst, Date.now() - at);
    };
    clients.push(c);
  }
  const timer = setInterval(() => {
    for (const c of clients) {
      if (c.member.closed) continue;
      const n = c.n++;
      c.pending.set(n, Date.now());
      c.sent++;
      c.member.send(JSON.stringify({ n, pad: 'crowd' }));
    }
  }, 25);
  t.after(() => clearInterval(timer)); // a failed test must not leave it running
  return {
    clients,
    async stop() {
      clearInterval(timer);
      await delay(1000);
      let worst = 0;
      for (const [i, c] of clients.entries()) {
        assert.equal(c.member.closed, false, `crowd client ${i} (${c.kind}) was closed`);
        assert.equal(c.pending.size, 0, `crowd client ${i} (${c.kind}) lost ${c.pending.size} of ${c.sent} echoes`);
        assert.ok(c.sent > 0, `crowd client ${i} sent nothing`);
        worst = Math.max(worst, c.worst);
      }
      return worst;
    }
  };
}

/**
 * 1000 sessions opened and abandoned, twice: `openOne()` opens one and
 * returns its id, `count()` says how many connections the server has open;
 * each round waits (at most 6 s) until only `crowd` remain, then the RSS.
 * The first round says what stays (the allocator's and the tables'
 * high-water marks), the second that nothing grows round after round.
 */
async function abandonRounds(t, srv, { openOne, count, crowd, what, stays = 0.5 * MiB, grows = 0.25 * MiB }) {
  await delay(500);
  const start = srv.rss();
  const afters = [];
  for (let round = 0; round < 2; round++) {
    const ids = new Set();
    for (let i = 0; i < 1000; i += 50)
      for (const id of await Promise.all(Array.from({ length: 50 }, openOne))) ids.add(id);
    assert.equal(ids.size, 1000, `every ${what} has its own id`);
    const peak = srv.rss();
    assert.equal(await count(), String(1000 + crowd));
    const t0 = Date.now();
    while (await count() !== String(crowd)) {
      assert.ok(Date.now() - t0 < 6000, `the abandoned ${what}s are gone within 6 s`);
      await delay(100);
    }
    const gone = Date.now() - t0;
    /* The payload pool gives back what a second did not need (within 2 s),
     * and the loop trims the heap at most once a second: the RSS is read
     * until it is back under the bound, for at most 8 s (a loaded machine
     * runs those timers late). */
    const bound = round === 0 ? start + stays : afters[0] + grows;
    const t1 = Date.now();
    await delay(1000);
    let rss = srv.rss();
    while (rss >= bound && Date.now() - t1 < 8000) {
      await delay(250);
      rss = srv.rss();
    }
    afters.push(rss);
    t.diagnostic(`round ${round + 1}: RSS start ${(start / MiB).toFixed(1)} MiB, with 1000 ${what}s +${((peak - start) / MiB).toFixed(2)}, after +${((afters[round] - start) / MiB).toFixed(2)} (read ${Date.now() - t1} ms after they were gone); gone in ${gone} ms`);
  }
  assert.ok(afters[0] - start < stays, `RSS stayed ${((afters[0] - start) / MiB).toFixed(2)} MiB above the start`);
  assert.ok(afters[1] - afters[0] < grows, `RSS grew ${((afters[1] - afters[0]) / MiB).toFixed(2)} MiB in the second round`);
}

/**
 * A POST of 50 MiB announced in its head, none of it sent: returns the
 * server's answer head and how much its RSS grew meanwhile.
 */
async function oversizePost(t, srv, target) {
  const socket = net.connect(srv.port, '127.0.0.1');
  t.after(() => socket.destroy());
  const rssBefore = srv.rss();
  const answer = await within(new Promise((resolve, reject) => {
    let got = '';
    socket.on('data', (d) => { got += d.toString('latin1'); if (got.includes('\r\n\r\n')) resolve(got); });
    socket.on('error', reject);
    socket.write(`POST ${target} HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: ${50 * MiB}\r\n\r\n`);
  }), 5000, 'the answer to a 50 MiB POST');
  const grew = srv.rss() - rssBefore;
  socket.destroy();
  return { answer, grew };
}

module.exports = { CLI, MiB, WebSocket, startServer, startCrowd, abandonRounds, oversizePost };
