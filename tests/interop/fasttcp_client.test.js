'use strict';
//
// weft's C client against npm fast-tcp 3.3.2's server (issue #20), over
// tcp:// and ipc://: an event with an ack (build/tests/weft_ack_client), and
// plain messages both ways through `weft connect` (a plain write is the
// event "data").
//
const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const ft = require('fast-tcp');
const h = require('./lib/harness');

const BIN = path.dirname(process.env.WEFT_TEST_SERVER || path.join(__dirname, '../../build/tests/x'));
const CLI = process.env.WEFT_CLI || path.join(__dirname, '../../build/weft');

async function fastTcpServer(t, scheme) {
  const server = new ft.Server();
  const seen = [];
  server.on('connection', (sock) => {
    sock.on('error', () => {});
    sock.on('sum', (d, cb) => cb(d.a + d.b));
    sock.on('data', (d) => { seen.push(d); sock.emit('data', d); });
  });
  const where = scheme === 'tcp' ? 0
    : path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weft-ftc-')), 's.sock');
  await new Promise((resolve) => server.listen(where, resolve));
  t.after(() => server.close());
  const url = scheme === 'tcp' ? `tcp://127.0.0.1:${server._server.address().port}` : `ipc://${where}`;
  return { url, seen };
}

for (const scheme of ['tcp', 'ipc']) {
  describe(`weft C client -> npm fast-tcp 3.3.2 server over ${scheme}://`, () => {
    test('an event with an ack', { timeout: 15000 }, async (t) => {
      const { url } = await fastTcpServer(t, scheme);
      const out = await new Promise((resolve, reject) => {
        execFile(path.join(BIN, 'weft_ack_client'), [url, 'sum', '[{"a":2,"b":40}]', 'resolved', '42'],
          { timeout: 10000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message))
            : resolve(stdout)));
      });
      assert.deepStrictEqual(JSON.parse(out), { status: 'OK', value: 42 });
    });

    test('plain messages both ways through weft connect', { timeout: 15000 }, async (t) => {
      const { url, seen } = await fastTcpServer(t, scheme);
      const child = spawn(CLI, ['connect', url], { stdio: ['pipe', 'pipe', 'pipe'] });
      t.after(() => child.kill('SIGTERM'));
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { err += d; });
      const msgs = [{ x: [1, 2.5, null] }, 'str \u2028 😀', 12345, true];
      await h.waitUntil(() => /^open$/m.test(err), 5000, 'weft connect open');
      for (const m of msgs) child.stdin.write(`${JSON.stringify(m)}\n`);
      await h.waitUntil(() => out.split('\n').length >= msgs.length + 1, 5000, 'echoes');
      const lines = out.split('\n').filter((l) => l).map((l) => JSON.parse(l));
      assert.deepStrictEqual(lines, msgs);
      assert.deepStrictEqual(seen, msgs);
    });
  });
}

describe('weft serve --listen tcp:// --listen ipc:// --mode echo, npm fast-tcp 3.3.2 client', () => {
  test('events come back with their name and data; acks are answered with it', { timeout: 15000 }, async (t) => {
    const sock = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weft-fts-')), 's.sock');
    const child = spawn(CLI, ['serve', '--listen', 'tcp://127.0.0.1:0', '--listen', `ipc://${sock}`,
      '--listen', 'ws://127.0.0.1:0/primus', '--mode', 'echo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    t.after(async () => { child.kill('SIGTERM'); assert.equal(await exited, 0); });
    await h.waitUntil(() => (out.match(/^listening on /gm) || []).length === 3, 5000, 'weft serve');
    const tcp = out.match(/^listening on (tcp:\S+)/m)[1];
    assert.match(out, new RegExp(`^listening on ipc://${sock}$`, 'm'));
    for (const opts of [{ host: '127.0.0.1', port: Number(tcp.split(':')[2]) }, { path: sock }]) {
      const s = new ft.Socket({ ...opts, reconnect: false });
      s.on('error', () => {});
      t.after(() => s.destroy());
      await h.withTimeout(new Promise((resolve) => s.once('connect', resolve)), 5000, 'connect');
      const back = new Promise((resolve) => s.once('hello', resolve));
      s.emit('hello', { n: [1, 'two', 3.5] });
      assert.deepStrictEqual(await h.withTimeout(back, 5000, 'echo'), { n: [1, 'two', 3.5] });
      const acked = await h.withTimeout(new Promise((resolve) => s.emit('q', 'data', resolve)), 5000, 'ack');
      assert.equal(acked, 'data');
      const plain = new Promise((resolve) => s.once('data', resolve));
      s.emit('data', Buffer.from([1, 2, 3]));
      assert.deepStrictEqual(await h.withTimeout(plain, 5000, 'plain echo'), Buffer.from([1, 2, 3]));
    }
  });
});
