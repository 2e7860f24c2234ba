'use strict';
//
// Streams between weft's C client (build/tests/weft_ft_stream,
// tests/support/ft_stream_client.c) and npm fast-tcp 3.3.2's server (issue
// #20), over tcp:// and ipc://: 8 MiB each way with its info and its ack,
// SHA-256 equal; and the C client's routed streams (to a socket id, to a
// room, to everyone), which the fast-tcp server relays to an npm fast-tcp
// client.
//
const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const { execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const ft = require('fast-tcp');
const h = require('./lib/harness');

const BIN = path.dirname(process.env.WEFT_TEST_SERVER || path.join(__dirname, '../../build/tests/x'));
const BIG = 8 << 20;

function sha(buf) { return crypto.createHash('sha256').update(buf).digest('hex'); }

// Hashes a fast-tcp Readable: { hex, bytes }.
function hashed(readable) {
  return new Promise((resolve) => {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    readable.on('data', (d) => { hash.update(d); bytes += d.length; });
    readable.on('end', () => resolve({ hex: hash.digest('hex'), bytes }));
  });
}

async function writeAll(w, data) {
  for (let off = 0; off < data.length; off += 65536) {
    if (!w.write(data.subarray(off, off + 65536))) await new Promise((r) => w.once('drain', r));
  }
  w.end();
}

async function fastTcpServer(t, scheme, setup) {
  const server = new ft.Server();
  server.on('connection', (sock) => {
    sock.on('error', () => {});
    setup(sock, server);
  });
  const where = scheme === 'tcp' ? 0
    : path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weft-fts-')), 's.sock');
  await new Promise((resolve) => server.listen(where, resolve));
  t.after(() => server.close());
  const url = scheme === 'tcp' ? `tcp://127.0.0.1:${server._server.address().port}` : `ipc://${where}`;
  const opts = scheme === 'tcp' ? { host: '127.0.0.1', port: server._server.address().port } : { path: where };
  return { url, opts };
}

function weftStream(args) {
  return new Promise((resolve, reject) => {
    execFile(path.join(BIN, 'weft_ft_stream'), args, { timeout: 25000, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}: ${stderr}`))
        : resolve(JSON.parse(stdout.trim().split('\n').pop()))));
  });
}

for (const scheme of ['tcp', 'ipc']) {
  describe(`weft C client streams <-> npm fast-tcp 3.3.2 server over ${scheme}://`, () => {
    test('the client uploads 8 MiB: info, SHA-256 and the server\'s ack', { timeout: 30000 }, async (t) => {
      let seen;
      const { url } = await fastTcpServer(t, scheme, (sock) => {
        sock.on('upload', (readable, info, cb) => {
          hashed(readable).then((got) => { seen = { info, ...got }; cb({ sha256: got.hex, bytes: got.bytes }); });
        });
      });
      const out = await weftStream([url, 'up', String(BIG)]);
      assert.equal(out.bytes, BIG);
      assert.deepStrictEqual(seen, { info: { name: 'blob', bytes: BIG }, hex: out.sha256, bytes: BIG });
      assert.deepStrictEqual(out.ack, { sha256: out.sha256, bytes: BIG }, 'the ack reached the client');
    });

    test('the server streams 8 MiB of random bytes: info, SHA-256 and the client\'s ack', { timeout: 30000 }, async (t) => {
      const data = crypto.randomBytes(BIG);
      let acked;
      const { url } = await fastTcpServer(t, scheme, (sock) => {
        sock.on('want-download', (n) => {
          assert.equal(n, BIG);
          const w = sock.stream('download', { bytes: BIG, sha256: sha(data) }, (ack) => {
            acked = ack;
            sock.emit('bye');
          });
          writeAll(w, data);
        });
      });
      const out = await weftStream([url, 'down', String(BIG)]);
      assert.deepStrictEqual(out, { sha256: sha(data), bytes: BIG, info: { bytes: BIG, sha256: sha(data) } });
      assert.deepStrictEqual(acked, { sha256: sha(data), bytes: BIG }, 'the ack reached the server');
    });

    test('routed streams: to a socket id, to a room, to everyone but the sender', { timeout: 40000 }, async (t) => {
      const socks = new Set();
      const { url, opts } = await fastTcpServer(t, scheme, (sock) => {
        socks.add(sock);
        sock.on('close', () => socks.delete(sock));
      });
      const peer = new ft.Socket({ ...opts, reconnect: false });
      peer.on('error', () => {});
      t.after(() => peer.destroy());
      await h.waitUntil(() => peer.id, 5000, 'the npm client registered');
      peer.join('r1');
      await h.waitUntil(() => [...socks].some((s) => s.id === peer.id && s._rooms.r1), 5000,
        'the npm client in room r1');
      for (const args of [['to-socket', peer.id], ['to-room', 'r1'], ['broadcast']]) {
        const got = new Promise((resolve) => {
          peer.once('relay', (readable, info) => hashed(readable).then((r) => resolve({ info, ...r })));
        });
        const sent = weftStream([url, ...args, String(1 << 20)]);
        const r = await h.withTimeout(got, 20000, `the ${args[0]} stream`);
        for (const s of socks) if (s.id !== peer.id) s.emit('bye');
        const out = await sent;
        assert.deepStrictEqual(r, { info: { name: 'blob', bytes: 1 << 20 }, hex: out.sha256, bytes: 1 << 20 }, args[0]);
      }
    });
  });
}
