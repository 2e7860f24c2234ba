'use strict';
//
// Hostile peers against `weft serve --mode echo` while a crowd of 20
// well-behaved clients echoes throughout (issue #16). Each test starts its
// own server (build/weft, $WEFT_CLI) on 127.0.0.1:0 and stops it by PID.
// The crowd answers the server's heartbeats and sends one small message
// every 25 ms each; a test fails when any crowd echo is lost or takes more
// than 1 s (the burst test: 250 ms). The server's memory is read from
// /proc/PID/status (VmRSS).
//
// Not part of the interop runs under ASan or valgrind: the bounds on
// memory and time here are about the release build.
//
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const net = require('node:net');
const path = require('node:path');
const { describe, test } = require('node:test');

const WS_PATH = path.join(__dirname, '..', 'interop', 'node_modules', 'ws');
const WebSocket = require(WS_PATH);
const { within, delay } = require('../support/traffic');
const { CLI, MiB, startServer, startCrowd } = require('./lib/peers');

// ---- a raw peer -------------------------------------------------------------

/** A raw socket after a WebSocket upgrade; frames are written by hand. */
function rawPeer(t, port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    t.after(() => socket.destroy());
    const key = crypto.randomBytes(16).toString('base64');
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`GET /primus HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`));
    let head = '';
    const onData = (d) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(head.slice(0, 40)));
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      const closed = new Promise((res) => socket.once('close', res));
      socket.on('error', () => {});
      resolve({ socket, rest, closed });
    };
    socket.on('data', onData);
  });
}

/** One masked frame. */
function frame(opcode, payload) {
  const data = Buffer.from(payload);
  const len = data.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len])
    : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 255])
      : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
  const key = crypto.randomBytes(4);
  for (let i = 0; i < len; i++) data[i] ^= key[i & 3];
  return Buffer.concat([head, key, data]);
}

/** Writes `total` bytes made of `one` repeated, respecting back-pressure. */
async function writeRepeated(socket, one, total) {
  const per = Math.max(1, Math.floor(64 * 1024 / one.length));
  const chunk = Buffer.concat(Array(per).fill(one));
  for (let sent = 0; sent < total && !socket.destroyed; sent += chunk.length) {
    if (socket.write(chunk)) continue;
    await new Promise((r) => {
      const done = () => { socket.off('drain', done); socket.off('close', done); r(); };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }
}

// ---- the tests --------------------------------------------------------------

describe('hostile peers against weft serve (a crowd of 20 echoing throughout)', { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
  test('a peer that sends 20 MB of tiny messages and never reads is closed; memory is bounded and returns', { timeout: 60000 }, async (t) => {
    const srv = await startServer(t, ['--ping-interval', '0']);
    const crowd = await startCrowd(t, srv.url);
    await delay(300);
    const start = srv.rss();
    const peer = await rawPeer(t, srv.port);
    peer.socket.pause(); // never reads: the server's replies pile up
    let peak = start;
    const sampler = setInterval(() => { peak = Math.max(peak, srv.rss()); }, 50);
    t.after(() => clearInterval(sampler));
    await writeRepeated(peer.socket, frame(0x1, '"x"'), 20 * MiB);
    await srv.waitLine(/^disconnection /, 20000);
    clearInterval(sampler);
    peer.socket.destroy();
    const worst = await crowd.stop();
    assert.ok(worst < 1000, `a crowd echo took ${worst} ms`);
    const growth = peak - start;
    assert.ok(growth < 80 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    assert.ok(srv.errors.some((l) => /^error queue /.test(l)), 'the server said why it closed the peer');
    await delay(500);
    const after = srv.rss() - start;
    assert.ok(after < 20 * MiB, `RSS stayed ${(after / MiB).toFixed(1)} MiB above the start`);
    t.diagnostic(`RSS: start ${(start / MiB).toFixed(1)} MiB, peak +${(growth / MiB).toFixed(1)}, after +${(after / MiB).toFixed(1)}; worst crowd echo ${worst} ms`);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  });

  test('4M pings from a peer that never reads cost one pending pong; it is dropped by the heartbeat', { timeout: 60000 }, async (t) => {
    const srv = await startServer(t, ['--ping-interval', '1000']);
    const crowd = await startCrowd(t, srv.url);
    await delay(300);
    const start = srv.rss();
    const peer = await rawPeer(t, srv.port);
    peer.socket.pause();
    let peak = start;
    const sampler = setInterval(() => { peak = Math.max(peak, srv.rss()); }, 50);
    t.after(() => clearInterval(sampler));
    await writeRepeated(peer.socket, frame(0x9, ''), 4e6 * 6);
    await srv.waitLine(/^disconnection /, 10000);
    clearInterval(sampler);
    const worst = await crowd.stop();
    assert.ok(worst < 1000, `a crowd echo took ${worst} ms`);
    assert.ok(peak - start < 80 * MiB, `RSS grew by ${((peak - start) / MiB).toFixed(1)} MiB`);
    t.diagnostic(`RSS peak +${((peak - start) / MiB).toFixed(1)} MiB; worst crowd echo ${worst} ms`);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  });

  test('a peer answering heartbeats with made-up pongs is dropped like one that does not answer', { timeout: 30000 }, async (t) => {
    const srv = await startServer(t, ['--ping-interval', '300']);
    const crowd = await startCrowd(t, srv.url);
    const peer = await rawPeer(t, srv.port);
    const began = Date.now();
    let pings = 0;
    let closeFrameAt = null;
    peer.socket.on('data', (d) => {
      if (d.includes('primus::ping::')) {
        pings++;
        peer.socket.write(frame(0x1, JSON.stringify('primus::pong::1234567890')));
      }
      if (closeFrameAt === null && d.includes(Buffer.from([0x88]))) closeFrameAt = Date.now();
    });
    await srv.waitLine(/^disconnection /, 5000);
    const after = (closeFrameAt || Date.now()) - began;
    assert.ok(pings >= 1, 'it was pinged');
    assert.ok(after <= 3 * 300 + 700, `dropped after ${after} ms`);
    assert.ok(srv.errors.some((l) => /^error timeout /.test(l)), 'a timeout error');
    const worst = await crowd.stop();
    assert.ok(worst < 1000, `a crowd echo took ${worst} ms`);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  });

  test('a burst of 12 × 4.5 MB messages from one peer keeps every crowd echo under 250 ms', { timeout: 60000 }, async (t) => {
    const srv = await startServer(t, ['--ping-interval', '0']);
    const crowd = await startCrowd(t, srv.url);
    await delay(300);
    const start = srv.rss();
    // The burst comes from another process, so its 54 MB of echoes do not
    // hold up the crowd's own event loop here.
    const burst = spawn(process.execPath, ['-e', `
      const WebSocket = require(${JSON.stringify(WS_PATH)});
      const parts = [];
      for (let i = 0, len = 1; len < 4.5e6; i++) { const v = String(i + 0.5); parts.push(v); len += v.length + 1; }
      const text = '[' + parts.join(',') + ']'; // a 4.5 MB JSON array of numbers
      const ws = new WebSocket(${JSON.stringify(srv.url)}, { maxPayload: 16 * 1024 * 1024 });
      let echoed = 0;
      ws.on('open', () => { for (let i = 0; i < 12; i++) ws.send(text); });
      ws.on('message', () => { if (++echoed === 12) { console.log('echoed ' + text.length); ws.close(); } });
      ws.on('close', () => process.exit(0));
      ws.on('error', (e) => { console.error(e.message); process.exit(1); });`], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => { if (burst.exitCode === null) burst.kill('SIGKILL'); });
    let said = '';
    burst.stdout.on('data', (d) => { said += d; });
    const code = await within(new Promise((resolve) => burst.once('exit', resolve)), 40000, 'the burst echoed');
    assert.equal(code, 0, 'the burst peer got its 12 echoes');
    const text = { length: Number(/echoed (\d+)/.exec(said)[1]) };
    const worst = await crowd.stop();
    t.diagnostic(`message ${(text.length / 1e6).toFixed(2)} MB; worst crowd echo ${worst} ms`);
    assert.ok(worst < 250, `a crowd echo took ${worst} ms during the burst`);
    await delay(1000);
    const after = srv.rss() - start;
    t.diagnostic(`RSS after the burst: +${(after / MiB).toFixed(1)} MiB`);
    assert.ok(after < 20 * MiB, `RSS stayed ${(after / MiB).toFixed(1)} MiB above the start`);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  });
});
