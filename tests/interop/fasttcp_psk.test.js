'use strict';
//
// The pre-shared key on tcp:// and ipc:// (issue #20; weft's own wire,
// docs/fasttcp.md): `weft serve --psk-file` against a handshake written
// here from the spec (node's crypto), weft's C client (`weft connect
// --psk-file`) and npm fast-tcp 3.3.2's client (which has no key). Right key
// works; wrong key, no key, a replayed answer and a truncated handshake are
// refused and nothing is delivered; 10 authenticated clients are served
// throughout. The same over ws:// with `--psk-ws` (decision #26: the
// handshake as binary WebSocket messages after the 101), and over tcps://
// (TLS, tests/data/tls), where a plain-TCP client is closed unheard.
//
const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const WebSocket = require('ws');
const ft = require('fast-tcp');
const Serializer = require('fast-tcp/lib/Serializer');
const Reader = require('fast-tcp/lib/Reader');
const h = require('./lib/harness');

const CLI = process.env.WEFT_CLI || path.join(__dirname, '../../build/weft');
const MAGIC = Buffer.from('WEFTPSK1');
const hmac = (key, label, a, b) =>
  crypto.createHmac('sha256', key).update(Buffer.concat([Buffer.from(label), a, b])).digest();

// A raw connection that speaks the handshake, then fast-tcp frames.
class PskPeer {
  constructor(opts) {
    this.sock = opts.ca ? tls.connect(opts) : net.createConnection(opts);
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.frames = [];
    this.closed = new Promise((resolve) => this.sock.on('close', resolve));
    this.sock.on('error', () => {});
    this.sock.on('data', (d) => {
      if (this.reader) {
        for (const b of this.reader.read(d)) this.frames.push(new Serializer().deserialize(b));
      } else {
        this.buf = Buffer.concat([this.buf, d]);
      }
      this.wake();
    });
  }
  wake() { for (const w of this.waiters.splice(0)) w(); }
  end() { this.sock.destroy(); }
  async bytes(n, ms = 5000) {
    await h.waitUntil(() => this.buf.length >= n || this.sock.destroyed, ms, `${n} bytes`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  // Runs the handshake; `answer` replaces the computed answer (a replay).
  async handshake(key, answer = null) {
    const ch = await this.bytes(40);
    assert.deepStrictEqual(ch.subarray(0, 8), MAGIC);
    const ns = ch.subarray(8);
    const nc = crypto.randomBytes(32);
    this.answer = answer || Buffer.concat([MAGIC, nc, hmac(key, 'weft-psk-1 client', ns, nc)]);
    this.sock.write(this.answer);
    const first = await this.bytes(1);
    if (first[0] !== 0) {
      const len = (await this.bytes(2)).readUInt16LE(0);
      return { ok: false, reason: (await this.bytes(len)).toString() };
    }
    const proof = await this.bytes(32);
    assert.deepStrictEqual(proof, hmac(key, 'weft-psk-1 server', nc, ns), 'the server proves the key');
    this.reader = new Reader();
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    for (const b of this.reader.read(rest)) this.frames.push(new Serializer().deserialize(b));
    await h.waitUntil(() => this.frames.length > 0, 5000, 'register');
    assert.equal(this.frames.shift().mt, Serializer.MT_REGISTER);
    return { ok: true };
  }
  async ask(event, data, id) {
    this.sock.write(new Serializer().serialize(event, data, Serializer.MT_DATA_WITH_ACK, id));
    await h.waitUntil(() => this.frames.some((f) => f.mt === Serializer.MT_ACK && f.messageId === id),
      5000, `ack ${id}`);
    const i = this.frames.findIndex((f) => f.mt === Serializer.MT_ACK && f.messageId === id);
    return this.frames.splice(i, 1)[0].data;
  }
}

function serve(t, args) {
  const child = spawn(CLI, ['serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const st = { out: '', err: '' };
  child.stdout.on('data', (d) => { st.out += d; });
  child.stderr.on('data', (d) => { st.err += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  t.after(async () => { child.kill('SIGTERM'); assert.equal(await exited, 0); });
  return st;
}

function connectCli(url, keyFile) {
  const child = spawn(CLI, ['connect', url, '--psk-file', keyFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  const st = { out: '', err: '', child };
  child.stdout.on('data', (d) => { st.out += d; });
  child.stderr.on('data', (d) => { st.err += d; });
  // A refused client may exit before what the test writes reaches it.
  child.stdin.on('error', (e) => { if (e.code !== 'EPIPE') throw e; });
  st.exited = new Promise((resolve) => child.on('exit', resolve));
  return st;
}

// 10 peers made by `make`, proven with `key`, each asking in a loop until
// stillServed(): what both the tcp:// and the ws:// tests keep running.
async function servedThroughout(t, make, key) {
  const good = [];
  for (let i = 0; i < 10; i++) {
    const p = make();
    t.after(() => p.end());
    assert.deepStrictEqual(await p.handshake(key), { ok: true });
    good.push(p);
  }
  const st = { stop: false, rounds: 0 };
  st.pinging = Promise.all(good.map(async (p, i) => {
    for (let id = 1; !st.stop; id++) {
      assert.equal(await p.ask('ping', i, id), i);
      st.rounds++;
    }
  }));
  return st;
}

async function stillServed(st) {
  const r0 = st.rounds;
  await h.waitUntil(() => st.rounds >= r0 + 50, 10000, 'the 10 still served');
  st.stop = true;
  await st.pinging;
}

// weft's C client with the right key echoes; with a wrong one it is
// refused, says why and stops.
async function rightAndWrong(url, dir) {
  const right = connectCli(url, path.join(dir, 'key'));
  await h.waitUntil(() => /^open$/m.test(right.err), 5000, 'connect with the key');
  right.child.stdin.write('{"hi":1}\n');
  await h.waitUntil(() => right.out.includes('{"hi":1}'), 5000, 'echo with the key');
  right.child.stdin.end();
  await right.exited;
  const wrong = connectCli(url, path.join(dir, 'wrong'));
  wrong.child.stdin.write('{"never":1}\n');
  assert.notEqual(await h.withTimeout(wrong.exited, 10000, 'weft connect with a wrong key'), 0);
  assert.match(wrong.err, /authentication failed/);
}

for (const scheme of ['tcp', 'ipc']) {
  describe(`pre-shared key over ${scheme}://`, () => {
    test('right key works; wrong, missing, replayed, truncated are refused', { timeout: 40000 }, async (t) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-psk-'));
      const key = crypto.randomBytes(32);
      fs.writeFileSync(path.join(dir, 'key'), key);
      fs.writeFileSync(path.join(dir, 'wrong'), crypto.randomBytes(32));
      const listen = scheme === 'tcp' ? 'tcp://127.0.0.1:0' : `ipc://${path.join(dir, 's.sock')}`;
      const srv = serve(t, ['--listen', listen, '--psk-file', path.join(dir, 'key'), '--mode', 'echo']);
      await h.waitUntil(() => /^listening on /m.test(srv.out), 5000, 'weft serve');
      const url = srv.out.match(/^listening on (\S+)/m)[1];
      const opts = scheme === 'tcp' ? { host: '127.0.0.1', port: Number(url.split(':')[2]) }
        : { path: url.slice(6) };
      const connections = () => (srv.out.match(/^connection /gm) || []).length;

      // 10 authenticated peers, served throughout.
      const st = await servedThroughout(t, () => new PskPeer(opts), key);
      await h.waitUntil(() => connections() === 10, 5000, '10 connections');

      // weft's C client: the right key echoes, a wrong one is refused.
      const before = connections() + 1;
      await rightAndWrong(url, dir);

      // No key: npm fast-tcp's client is never registered, and is closed.
      const nokey = new ft.Socket({ ...opts, reconnect: false });
      nokey.on('error', () => {});
      let registered = false;
      nokey.on('connect', () => { registered = true; });
      nokey.emit('never', 1);
      await h.withTimeout(new Promise((resolve) => nokey.on('close', resolve)), 10000, 'closed without a key');
      assert.equal(registered, false);

      // A replayed answer (another connection's) fails: a fresh challenge.
      const first = new PskPeer(opts);
      assert.deepStrictEqual(await first.handshake(key), { ok: true });
      first.sock.destroy();
      const replay = new PskPeer(opts);
      assert.deepStrictEqual(await replay.handshake(key, first.answer),
        { ok: false, reason: 'authentication failed' });
      await h.withTimeout(replay.closed, 5000, 'replay closed');

      // Truncated: half an answer, then silence: closed by the deadline.
      const trunc = new PskPeer(opts);
      await trunc.bytes(40);
      trunc.sock.write(Buffer.concat([MAGIC, crypto.randomBytes(20)]));
      await h.withTimeout(trunc.closed, 8000, 'truncated handshake closed');

      // Only the right key's connections reached the application.
      assert.equal(connections(), before + 1, 'one more connection: the first of the replay pair');
      assert.ok(!srv.out.includes('never'));
      await stillServed(st);
    });
  });
}

// The handshake over ws:// (decision #26): the 101 says Weft-Psk, then the
// same bytes as binary messages; then Primus's JSON messages.
class PskWsPeer {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.msgs = [];
    this.ws.on('upgrade', (res) => { this.headers = res.headers; });
    this.ws.on('message', (d, binary) => { this.msgs.push({ d: Buffer.from(d), binary }); });
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve) => this.ws.on('open', resolve));
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }
  async next() {
    await h.waitUntil(() => this.msgs.length > 0 || this.ws.readyState > 1, 5000, 'a message');
    return this.msgs.shift();
  }
  async handshake(key, answer = null) {
    await h.withTimeout(this.opened, 5000, 'the upgrade');
    assert.equal(this.headers['weft-psk'], '1');
    const ch = await this.next();
    assert.equal(ch.binary, true);
    assert.equal(ch.d.length, 40);
    assert.deepStrictEqual(ch.d.subarray(0, 8), MAGIC);
    const ns = ch.d.subarray(8);
    const nc = crypto.randomBytes(32);
    this.answer = answer || Buffer.concat([MAGIC, nc, hmac(key, 'weft-psk-1 client', ns, nc)]);
    this.ws.send(this.answer);
    const v = (await this.next()).d;
    if (v[0] !== 0) return { ok: false, reason: v.subarray(3, 3 + v.readUInt16LE(1)).toString() };
    assert.deepStrictEqual(v.subarray(1), hmac(key, 'weft-psk-1 server', nc, ns), 'the server proves the key');
    return { ok: true };
  }
  end() { this.ws.terminate(); }
  async ask(event, i, id) {
    const want = JSON.stringify({ i, id });
    this.ws.send(want);
    await h.waitUntil(() => this.msgs.some((m) => m.d.toString() === want), 5000, `echo ${id}`);
    this.msgs = this.msgs.filter((m) => m.d.toString() !== want);
    return i;
  }
}

describe('pre-shared key over ws:// (--psk-ws)', () => {
  test('right key works; wrong, missing, replayed, truncated are refused', { timeout: 40000 }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-pskws-'));
    const key = crypto.randomBytes(32);
    fs.writeFileSync(path.join(dir, 'key'), key);
    fs.writeFileSync(path.join(dir, 'wrong'), crypto.randomBytes(32));
    const srv = serve(t, ['--listen', 'ws://127.0.0.1:0', '--psk-file', path.join(dir, 'key'), '--psk-ws',
      '--mode', 'echo']);
    await h.waitUntil(() => /^listening on /m.test(srv.out), 5000, 'weft serve');
    const url = srv.out.match(/^listening on (\S+)/m)[1];
    const port = Number(new URL(url).port);
    const connections = () => (srv.out.match(/^connection /gm) || []).length;

    const st = await servedThroughout(t, () => new PskWsPeer(url), key);
    await h.waitUntil(() => connections() === 10, 5000, '10 connections');
    const before = connections() + 1;
    await rightAndWrong(url, dir);

    // No key: weft's client says why; a WebSocket that just talks is closed
    // with 1008 after the challenge, its message never delivered.
    const nokeyCli = spawn(CLI, ['connect', url], { stdio: ['pipe', 'pipe', 'pipe'] });
    let nokeyErr = '';
    nokeyCli.stderr.on('data', (d) => { nokeyErr += d; });
    nokeyCli.stdin.on('error', (e) => { if (e.code !== 'EPIPE') throw e; }); // it may be gone already
    nokeyCli.stdin.write('{"never":2}\n');
    const nokeyExit = new Promise((resolve) => nokeyCli.on('exit', resolve));
    assert.notEqual(await h.withTimeout(nokeyExit, 10000, 'weft connect without a key'), 0);
    assert.match(nokeyErr, /the server requires a pre-shared key/);
    const talker = new PskWsPeer(url);
    await h.withTimeout(talker.opened, 5000, 'the upgrade');
    talker.ws.send('{"never":3}');
    const shut = await h.withTimeout(talker.closed, 5000, 'closed without a key');
    assert.equal(shut.code, 1008);
    assert.equal(shut.reason, 'authentication failed');
    assert.equal(talker.msgs[0].d.length, 40, 'the challenge, and nothing of the application');

    // A replayed answer fails: a fresh challenge each time.
    const first = new PskWsPeer(url);
    assert.deepStrictEqual(await first.handshake(key), { ok: true });
    first.ws.close();
    const replay = new PskWsPeer(url);
    assert.deepStrictEqual(await replay.handshake(key, first.answer), { ok: false, reason: 'authentication failed' });
    assert.equal((await h.withTimeout(replay.closed, 5000, 'replay closed')).code, 1008);

    // Truncated: part of the answer's frame, then silence: the deadline.
    const trunc = net.createConnection({ host: '127.0.0.1', port });
    trunc.on('error', () => {});
    let head = Buffer.alloc(0);
    trunc.on('data', (d) => { head = Buffer.concat([head, d]); });
    const truncClosed = new Promise((resolve) => trunc.on('close', resolve));
    trunc.write('GET /primus HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    const framed = () => {
      const at = head.indexOf('\r\n\r\n');
      return at > 0 && head.subarray(0, at).includes('Weft-Psk: 1') && head.length >= at + 4 + 42;
    };
    await h.waitUntil(framed, 5000, '101 and challenge');
    trunc.write(Buffer.concat([Buffer.from([0x82, 0x80 | 72, 1, 2, 3, 4]), crypto.randomBytes(20)]));
    await h.withTimeout(truncClosed, 8000, 'truncated handshake closed');

    assert.equal(connections(), before + 1, 'one more connection: the first of the replay pair');
    assert.ok(!srv.out.includes('never'));
    await stillServed(st);
  });

  test('a key on the client only is refused; engine.io with --psk-ws does not listen', { timeout: 15000 }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-pskws-'));
    fs.writeFileSync(path.join(dir, 'key'), crypto.randomBytes(16));
    const srv = serve(t, ['--listen', 'ws://127.0.0.1:0', '--mode', 'echo']);
    await h.waitUntil(() => /^listening on /m.test(srv.out), 5000, 'weft serve');
    const url = srv.out.match(/^listening on (\S+)/m)[1];
    const c = connectCli(url, path.join(dir, 'key'));
    assert.notEqual(await h.withTimeout(c.exited, 10000, 'weft connect with a key'), 0);
    assert.match(c.err, /the server does not use a pre-shared key/);
    const eio = spawn(CLI, ['serve', '--transformer', 'engine.io', '--listen', 'ws://127.0.0.1:0',
      '--psk-file', path.join(dir, 'key'), '--psk-ws'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    eio.stderr.on('data', (d) => { err += d; });
    assert.equal(await h.withTimeout(new Promise((resolve) => eio.on('exit', resolve)), 5000, 'engine.io'), 1);
    assert.match(err, /not supported/);
  });
});

describe('tcps:// (fast-tcp over TLS)', () => {
  test('weft to weft with and without the key; a plain-TCP client is closed unheard', { timeout: 30000 }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-tcps-'));
    const key = crypto.randomBytes(32);
    fs.writeFileSync(path.join(dir, 'key'), key);
    const data = path.join(__dirname, '../data/tls');
    const ca = fs.readFileSync(path.join(data, 'cert.pem'));
    const tlsArgs = ['--tls-cert', path.join(data, 'cert.pem'), '--tls-key', path.join(data, 'key.pem')];
    const srv = serve(t, ['--listen', 'tcps://127.0.0.1:0', ...tlsArgs, '--psk-file', path.join(dir, 'key'),
      '--mode', 'echo']);
    const open = serve(t, ['--listen', 'tcps://127.0.0.1:0', ...tlsArgs, '--mode', 'echo']);
    await h.waitUntil(() => /^listening on /m.test(srv.out) && /^listening on /m.test(open.out), 5000, 'weft serve');
    const url = srv.out.match(/^listening on (tcps:\S+)/m)[1];
    const openUrl = open.out.match(/^listening on (tcps:\S+)/m)[1];
    const port = Number(url.split(':')[2]);
    const connections = () => (srv.out.match(/^connection /gm) || []).length;

    // The spec's handshake over TLS, then fast-tcp frames.
    const peer = new PskPeer({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    t.after(() => peer.sock.destroy());
    assert.deepStrictEqual(await peer.handshake(key), { ok: true });
    assert.equal(await peer.ask('ping', 'über 🎉', 1), 'über 🎉');

    // weft's C client, trusting the test certificate, with the key.
    for (const [u, keyed] of [[url, true], [openUrl, false]]) {
      const args = ['connect', u, '--ca-file', path.join(data, 'cert.pem'), ...(keyed ? ['--psk-file', path.join(dir, 'key')] : [])];
      const c = spawn(CLI, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => { out += d; });
      c.stderr.on('data', (d) => { err += d; });
      const exited = new Promise((resolve) => c.on('exit', resolve));
      await h.waitUntil(() => /^open$/m.test(err), 5000, `connect to ${u}`);
      c.stdin.write('{"secure":[1,"x"]}\n');
      await h.waitUntil(() => out.includes('{"secure":[1,"x"]}'), 5000, 'echo over tcps');
      c.stdin.end();
      assert.equal(await h.withTimeout(exited, 5000, 'weft connect ends'), 0);
    }

    // Plain TCP to the TLS port: a fast-tcp frame, then npm fast-tcp's
    // client; both closed, neither reaches the application.
    const before = connections();
    const plain = net.createConnection({ host: '127.0.0.1', port });
    plain.on('error', () => {});
    plain.write(new Serializer().serialize('never', 1, Serializer.MT_DATA, 1));
    await h.withTimeout(new Promise((resolve) => plain.on('close', resolve)), 8000, 'plain TCP closed');
    const nokey = new ft.Socket({ host: '127.0.0.1', port, reconnect: false });
    nokey.on('error', () => {});
    let registered = false;
    nokey.on('connect', () => { registered = true; });
    nokey.emit('never', 2);
    await h.withTimeout(new Promise((resolve) => nokey.on('close', resolve)), 8000, 'fast-tcp closed');
    assert.equal(registered, false);
    assert.equal(connections(), before);
    assert.ok(!srv.out.includes('never'));
    assert.equal(await peer.ask('ping', 7, 2), 7, 'still serving');
  });
});
