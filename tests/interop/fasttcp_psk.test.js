'use strict';
//
// The pre-shared key on tcp:// and ipc:// (issue #20; weft's own wire,
// docs/fasttcp.md): `weft serve --psk-file` against a handshake written
// here from the spec (node's crypto), weft's C client (`weft connect
// --psk-file`) and npm fast-tcp 3.3.2's client (which has no key). Right key
// works; wrong key, no key, a replayed answer and a truncated handshake are
// refused and nothing is delivered; 10 authenticated clients are served
// throughout.
//
const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
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
    this.sock = net.createConnection(opts);
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
  st.exited = new Promise((resolve) => child.on('exit', resolve));
  return st;
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
      const good = [];
      for (let i = 0; i < 10; i++) {
        const p = new PskPeer(opts);
        t.after(() => p.sock.destroy());
        assert.deepStrictEqual(await p.handshake(key), { ok: true });
        good.push(p);
      }
      let stop = false;
      let rounds = 0;
      const pinging = Promise.all(good.map(async (p, i) => {
        for (let id = 1; !stop; id++) {
          assert.equal(await p.ask('ping', i, id), i);
          rounds++;
        }
      }));
      await h.waitUntil(() => connections() === 10, 5000, '10 connections');

      // weft's C client with the right key: plain messages echo.
      const right = connectCli(url, path.join(dir, 'key'));
      await h.waitUntil(() => /^open$/m.test(right.err), 5000, 'connect with the key');
      right.child.stdin.write('{"hi":1}\n');
      await h.waitUntil(() => right.out.includes('{"hi":1}'), 5000, 'echo with the key');
      right.child.stdin.end();
      await right.exited;

      // Wrong key: refused on both sides, the client says why and stops.
      const before = connections();
      const wrong = connectCli(url, path.join(dir, 'wrong'));
      wrong.child.stdin.write('{"never":1}\n');
      const code = await h.withTimeout(wrong.exited, 10000, 'weft connect with a wrong key');
      assert.notEqual(code, 0);
      assert.match(wrong.err, /authentication failed/);

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
      const r0 = rounds;
      await h.waitUntil(() => rounds >= r0 + 50, 10000, 'the 10 still served');
      stop = true;
      await pinging;
    });
  });
}
