'use strict';
//
// npm fast-tcp 3.3.2's client against weft's fast-tcp transport (issue #20):
// tcp:// and ipc:// served by build/tests/weft_ft_peer (tests/support/ft_peer.c:
// an emitter and rooms, echoing every event), every data type with its edge
// values, acks both ways, rooms, server-side emits, one application behind
// ws:// and tcp:// at once, and bad input that closes only its connection.
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
const h = require('./lib/harness');
const { cases } = require('./lib/ft_values');

const PEER = process.env.WEFT_FT_PEER ||
  path.join(path.dirname(process.env.WEFT_TEST_SERVER || path.join(__dirname, '../../build/tests/x')),
    'weft_ft_peer');

async function startPeer(t, urls) {
  const args = urls.flatMap((u) => ['--listen', u]);
  const child = spawn(PEER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  t.after(async () => {
    child.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, `weft_ft_peer exited with ${code}; stderr: ${err}`);
  });
  await h.waitUntil(() => (out.match(/^listening on /gm) || []).length === urls.length, 5000,
    `weft_ft_peer listening (stderr: ${err})`);
  const served = [...out.matchAll(/^listening on (\S+)/gm)].map((m) => m[1]);
  return { served, lines: () => out, errors: () => err };
}

function dialOpts(url) {
  if (url.startsWith('ipc://')) return { path: url.slice(6) };
  const u = new URL(url.replace(/^tcp:/, 'http:'));
  return { host: u.hostname, port: Number(u.port) };
}

async function connect(t, url, opts = {}) {
  const s = new ft.Socket({ ...dialOpts(url), reconnect: false, ...opts });
  s.on('error', (e) => { s.lastError = e.message; });
  t.after(() => s.destroy());
  await h.withTimeout(new Promise((resolve) => s.once('connect', resolve)), 5000, 'fast-tcp connect');
  return s;
}

const next = (s, event, ms = 5000) =>
  h.withTimeout(new Promise((resolve) => s.once(event, (...a) => resolve(a))), ms, `event ${event}`);
const ask = (s, event, data, ms = 5000) =>
  h.withTimeout(new Promise((resolve) => s.emit(event, data, resolve)), ms, `ack of ${event}`);

// A frame fast-tcp's own Serializer writes, with a data type of our choosing.
function frame(event, data, mt, id, dt) {
  return new Serializer()._serialize(event, data, mt, id, dt);
}

function rawRoundTrip(opts, bytes) {
  // Writes bytes; resolves with what came back (frames) and how it ended.
  return new Promise((resolve) => {
    const sock = net.createConnection(opts);
    let got = Buffer.alloc(0);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d) => { got = Buffer.concat([got, d]); });
    sock.on('error', () => {});
    sock.on('close', () => resolve(got));
    setTimeout(() => sock.destroy(), 4000).unref();
  });
}

function framesOf(buf) {
  const out = [];
  const s = new Serializer();
  for (let off = 0; off + 4 <= buf.length;) {
    const len = buf.readUInt32LE(off);
    out.push(s.deserialize(buf.subarray(off, off + 4 + len)));
    off += 4 + len;
  }
  return out;
}

for (const scheme of ['tcp', 'ipc']) {
  describe(`npm fast-tcp 3.3.2 client -> weft server over ${scheme}://`, () => {
    const url = () => (scheme === 'tcp' ? 'tcp://127.0.0.1:0'
      : `ipc://${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weft-ft-')), 's.sock')}`);

    test('every data type with its edge values, as events and as acks', { timeout: 30000 }, async (t) => {
      const peer = await startPeer(t, [url()]);
      const s = await connect(t, peer.served[0]);
      for (const c of cases()) {
        const [label, value] = c;
        const back = c.length > 2 ? c[2] : value;
        const echoed = next(s, 'echo');
        s.emit('echo', value);
        assert.deepStrictEqual((await echoed)[0], back, `event: ${label}`);
        assert.deepStrictEqual(await ask(s, 'echo', value), back, `ack: ${label}`);
      }
      // 2^47 is past fast-tcp's integers (its writer throws): a double then.
      const echoed = next(s, 'echo');
      s._socket.write(frame('echo', 2 ** 47, Serializer.MT_DATA, 9, Serializer.DT_DECIMAL));
      assert.equal((await echoed)[0], 2 ** 47);
      assert.equal(peer.errors(), '');
    });

    test('acks from the server, rooms, server-side emits', { timeout: 20000 }, async (t) => {
      const peer = await startPeer(t, [url()]);
      const [a, b, c] = [await connect(t, peer.served[0]), await connect(t, peer.served[0]),
        await connect(t, peer.served[0])];
      // The server asks a, a answers through its ack callback.
      a.on('question', (data, cb) => cb({ answer: data * 2 }));
      const answered = next(a, 'ctl:answer');
      await ask(a, 'ctl:ask', ['question', 21]);
      assert.deepStrictEqual((await answered)[0], { answer: 42 });
      // Rooms: join several, leave one, leave all.
      a.join(['r1', 'r2']);
      b.join('r2');
      assert.deepStrictEqual((await ask(a, 'ctl:rooms', null)).sort(), ['r1', 'r2']);
      a.leave('r1');
      assert.deepStrictEqual(await ask(a, 'ctl:rooms', null), ['r2']);
      a.leaveAll();
      a.join('closed1'); // refused by the policy: fast-tcp's join has no answer
      assert.deepStrictEqual(await ask(a, 'ctl:rooms', null), []);
      assert.equal(await ask(a, 'ctl:id', null), a.id);
      // Server-side emits: everyone, everyone but the sender, a room, an id.
      const got = { a: [], b: [], c: [] };
      for (const [k, s] of Object.entries({ a, b, c })) s.on('news', (d) => got[k].push(d));
      const settle = async () => { for (const s of [a, b, c]) await ask(s, 'ctl:id', null); };
      assert.equal(await ask(a, 'ctl:send', ['news', 'all', {}]), 3);
      assert.equal(await ask(a, 'ctl:send', ['news', 'others', { except: ['self'] }]), 2);
      assert.equal(await ask(a, 'ctl:send', ['news', 'room', { rooms: ['r2'] }]), 1);
      assert.equal(await ask(a, 'ctl:send', ['news', 'id', { ids: [c.id] }]), 1);
      assert.equal(await ask(c, 'ctl:join', ['r3', a.id]), 0);
      assert.equal(await ask(c, 'ctl:send', ['news', 'joined by id', { rooms: ['r3'] }]), 1);
      await settle();
      assert.deepStrictEqual(got, {
        a: ['all', 'joined by id'], b: ['all', 'others', 'room'], c: ['all', 'others', 'id'],
      });
      assert.equal(peer.errors(), '');
    });

    test('routing asked by a client, under the server\'s policy', { timeout: 20000 }, async (t) => {
      const peer = await startPeer(t, [url()]);
      const [a, b, c] = [await connect(t, peer.served[0]), await connect(t, peer.served[0]),
        await connect(t, peer.served[0])];
      b.join('r');
      const got = { a: [], b: [], c: [] };
      for (const [k, s] of Object.entries({ a, b, c })) {
        for (const ev of ['r', 'secret', 'all-of-us']) s.on(ev, (d) => got[k].push(`${ev}:${d}`));
      }
      await ask(b, 'ctl:id', null); // b's join is in
      a.emit('r', 'broadcast', { broadcast: true });
      a.emit('r', 'room', { rooms: ['r'] });
      a.emit('r', 'socket', { sockets: [c.id] });
      a.emit('r', 'self', { sockets: [a.id] });
      a.emit('secret', 'refused', { broadcast: true });
      a.emit('all-of-us', 'rewritten', { broadcast: true });
      for (const s of [a, b, c]) await ask(s, 'ctl:id', null);
      await ask(a, 'ctl:id', null);
      assert.deepStrictEqual(got, {
        a: ['r:self', 'all-of-us:rewritten'],
        b: ['r:broadcast', 'r:room', 'all-of-us:rewritten'],
        c: ['r:broadcast', 'r:socket', 'all-of-us:rewritten'],
      });
    });

    test('a stream from the client: 8 MiB, its info and its ack, SHA-256 equal', { timeout: 30000 }, async (t) => {
      const peer = await startPeer(t, [url()]);
      const s = await connect(t, peer.served[0]);
      const data = crypto.randomBytes(8 << 20);
      const acked = new Promise((resolve) => {
        const w = s.stream('upload', { name: 'blob', n: 1 }, resolve);
        (async () => {
          for (let off = 0; off < data.length; off += 65536) {
            if (!w.write(data.subarray(off, off + 65536))) await new Promise((r) => w.once('drain', r));
          }
          w.end();
        })();
      });
      const got = await h.withTimeout(acked, 20000, 'the stream\'s ack');
      assert.deepStrictEqual(got, {
        sha256: crypto.createHash('sha256').update(data).digest('hex'),
        bytes: data.length, info: { name: 'blob', n: 1 },
      });
      assert.equal(await ask(s, 'ctl:id', null), s.id, 'the connection goes on');
      assert.equal(peer.errors(), '');
    });

    test('a stream from the server: 8 MiB, its info and the client\'s ack', { timeout: 30000 }, async (t) => {
      const peer = await startPeer(t, [url()]);
      const s = await connect(t, peer.served[0]);
      const got = new Promise((resolve) => {
        s.on('download', (readable, info, cb) => {
          const hash = crypto.createHash('sha256');
          let bytes = 0;
          readable.on('data', (d) => { hash.update(d); bytes += d.length; });
          readable.on('end', () => {
            const hex = hash.digest('hex');
            cb({ sha256: hex });
            resolve({ info, hex, bytes });
          });
        });
      });
      const answered = next(s, 'ctl:answer', 20000);
      await ask(s, 'ctl:download', [8 << 20]);
      const { info, hex, bytes } = await h.withTimeout(got, 20000, 'the download');
      assert.equal(bytes, 8 << 20);
      assert.deepStrictEqual(info, { bytes: 8 << 20, sha256: hex });
      assert.deepStrictEqual((await answered)[0], { sha256: hex }, 'the ack reached the server');
      assert.equal(peer.errors(), '');
    });

    test('routed streams relayed by the server: to a room, a socket id, everyone else; a slow reader; the policy', { timeout: 60000 }, async (t) => {
      const peer = await startPeer(t, [url()]);
      const [a, b, c] = [await connect(t, peer.served[0]), await connect(t, peer.served[0]),
        await connect(t, peer.served[0])];
      b.join('r');
      c.join('r');
      assert.deepStrictEqual(await ask(c, 'ctl:rooms', null), ['r']);
      const receive = (s, event, slow) => new Promise((resolve) => {
        s.once(event, (readable, info) => {
          const hash = crypto.createHash('sha256');
          let bytes = 0;
          readable.on('data', (d) => { hash.update(d); bytes += d.length; });
          readable.on('end', () => resolve({ info, hex: hash.digest('hex'), bytes }));
          if (slow) { readable.pause(); setTimeout(() => readable.resume(), 800); }
        });
      });
      const send = async (event, data, opts) => {
        const w = a.stream(event, { n: data.length }, opts);
        for (let off = 0; off < data.length; off += 65536) {
          if (!w.write(data.subarray(off, off + 65536))) await new Promise((r) => w.once('drain', r));
        }
        w.end();
      };
      let secretSeen = false;
      for (const s of [b, c]) s.on('secret', () => { secretSeen = true; });
      // 8 MiB to room r (b and c; c reads slowly), the sender left out.
      const big = crypto.randomBytes(8 << 20);
      const want = crypto.createHash('sha256').update(big).digest('hex');
      const toRoom = [receive(b, 'up'), receive(c, 'up', true)];
      let aGot = false;
      a.once('up', () => { aGot = true; });
      await send('up', big, { rooms: ['r'] });
      for (const r of await h.withTimeout(Promise.all(toRoom), 40000, 'the room stream')) {
        assert.deepStrictEqual(r, { info: { n: 8 << 20 }, hex: want, bytes: 8 << 20 });
      }
      // 1 MiB to b's id, then to everyone but the sender.
      const small = crypto.randomBytes(1 << 20);
      const wantSmall = crypto.createHash('sha256').update(small).digest('hex');
      const toB = receive(b, 'id');
      let cGot = false;
      c.once('id', () => { cGot = true; });
      await send('id', small, { sockets: [b.id] });
      assert.equal((await h.withTimeout(toB, 20000, 'the id stream')).hex, wantSmall);
      const all = [receive(b, 'all'), receive(c, 'all')];
      await send('all', small, { broadcast: true });
      for (const r of await h.withTimeout(Promise.all(all), 20000, 'the broadcast stream')) assert.equal(r.hex, wantSmall);
      // The route policy refuses "secret": read and sent nowhere; the sender stays.
      await send('secret', small, { broadcast: true });
      assert.equal(await ask(a, 'ctl:id', null), a.id);
      assert.equal(await ask(b, 'ctl:id', null), b.id); // after anything queued to b before
      assert.equal(await ask(c, 'ctl:id', null), c.id);
      assert.ok(!aGot && !cGot && !secretSeen, 'the sender, others not named and a refused route got nothing');
      assert.equal(peer.errors(), '');
    });

    test('room requests: the weft ack flag is answered, npm fast-tcp\'s numbered ones are not', { timeout: 15000 }, async (t) => {
      const peer = await startPeer(t, [url()]);
      const flagged = (f) => { f[5] = 2; return f; }; // flags: FLAG_ROOM_ACK (docs/fasttcp.md)
      const room = (mt, name, id) => frame('', name, mt, id, name === null ? Serializer.DT_EMPTY : Serializer.DT_STRING);
      const rooms = (id) => frame('ctl:rooms', null, Serializer.MT_DATA_WITH_ACK, id, Serializer.DT_EMPTY);
      const got = await rawRoundTrip(dialOpts(peer.served[0]), Buffer.concat([
        room(Serializer.MT_JOIN_ROOM, 'r1', 5), // as npm fast-tcp sends it: numbered, no flag
        flagged(room(Serializer.MT_JOIN_ROOM, 'r2', 6)),
        flagged(room(Serializer.MT_JOIN_ROOM, 'closed', 7)),
        flagged(room(Serializer.MT_JOIN_ROOM, '', 8)), // no room at all
        rooms(9),
        flagged(room(Serializer.MT_LEAVE_ROOM, 'r2', 10)),
        room(Serializer.MT_LEAVE_ALL_ROOMS, null, 11),
        rooms(12),
        flagged(room(Serializer.MT_JOIN_ROOM, 'r3', 13)),
        flagged(room(Serializer.MT_LEAVE_ALL_ROOMS, null, 14)),
        rooms(15),
      ]));
      assert.equal(got[5], 2, 'the register frame says the server answers flagged room requests');
      const frames = framesOf(got);
      assert.equal(frames[0].mt, Serializer.MT_REGISTER);
      const acks = frames.slice(1);
      assert.ok(acks.every((f) => f.mt === Serializer.MT_ACK), JSON.stringify(acks));
      assert.deepStrictEqual(acks.map((f) => f.messageId), [6, 7, 8, 9, 10, 12, 13, 14, 15]);
      const by = Object.fromEntries(acks.map((f) => [f.messageId, f.data]));
      for (const id of [6, 10, 13, 14]) assert.ok(by[id] === undefined || by[id] === null, `ack ${id}: ${by[id]}`);
      for (const id of [7, 8]) assert.equal(typeof by[id].error, 'string', `ack ${id} refused`);
      assert.deepStrictEqual(by[9].sort(), ['r1', 'r2']);
      assert.deepStrictEqual(by[12], []);
      assert.deepStrictEqual(by[15], []);
      assert.equal(peer.errors(), '');
    });

    test('bad input ends only that connection; 10 clients served throughout', { timeout: 30000 }, async (t) => {
      const peer = await startPeer(t, [url()]);
      const good = [];
      for (let i = 0; i < 10; i++) good.push(await connect(t, peer.served[0]));
      let stop = false;
      let rounds = 0;
      const pinging = Promise.all(good.map(async (s, i) => {
        while (!stop) {
          assert.equal(await ask(s, 'ping', i), i);
          rounds++;
        }
      }));
      const opts = dialOpts(peer.served[0]);
      const ok = frame('e', 'x', Serializer.MT_DATA, 1, Serializer.DT_STRING);
      const bad = {
        'oversize': Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 0, 1, 2]),
        'too short': Buffer.from([1, 0, 0, 0, 1]),
        'version 2': Buffer.concat([ok.subarray(0, 4), Buffer.from([2]), ok.subarray(5)]),
        'message type 18': frame('e', 'x', 18, 1, Serializer.DT_STRING),
        'data type 9': frame('e', Buffer.from('x'), Serializer.MT_DATA, 1, 9),
        'stream chunk for no stream': frame('', Buffer.from('x'), Serializer.MT_DATA_STREAM, 77,
          Serializer.DT_BINARY),
        'event not UTF-8': frame('\u00ff', 'x', Serializer.MT_DATA, 1, Serializer.DT_STRING)
          .fill(0xff, 18, 20),
        'object not JSON': frame('e', Buffer.from('{nope'), Serializer.MT_DATA, 1, Serializer.DT_OBJECT),
        'a flood of stream opens': Buffer.concat(Array.from({ length: 65 }, (_, i) =>
          frame('up', null, Serializer.MT_DATA_STREAM_OPEN, i + 1, Serializer.DT_EMPTY))),
        'a routed stream without a "|"': frame('up', null, Serializer.MT_DATA_STREAM_OPEN_TO_ROOM, 5,
          Serializer.DT_EMPTY),
      };
      for (const [label, bytes] of Object.entries(bad)) {
        const frames = framesOf(await rawRoundTrip(opts, Buffer.concat([bytes, ok])));
        const last = frames[frames.length - 1];
        assert.equal(frames[0].mt, Serializer.MT_REGISTER, label);
        assert.equal(last.mt, Serializer.MT_ERROR, `${label}: an error before the close`);
        assert.ok(!frames.some((f) => f.event === 'e'), `${label}: nothing after it delivered`);
      }
      // Truncated: the frame never completes, the peer hangs up.
      const trunc = framesOf(await rawRoundTrip(opts, ok.subarray(0, ok.length - 1)));
      assert.equal(trunc.length, 1);
      const before = rounds;
      await h.waitUntil(() => rounds >= before + 50, 10000, 'good clients still answered');
      stop = true;
      await pinging;
      assert.ok(good.every((s) => s._connected), 'every good client still connected');
    });
  });
}

describe('npm fast-tcp 3.3.2 client, weft server killed and restarted', () => {
  test('events queued while it is down arrive once, in order', { timeout: 20000 }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-ft-restart-'));
    const url = `ipc://${path.join(dir, 's.sock')}`;
    const first = spawn(PEER, ['--listen', url], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    first.stdout.on('data', (d) => { out += d; });
    await h.waitUntil(() => /^listening on /m.test(out), 5000, 'first server');
    const s = new ft.Socket({ path: path.join(dir, 's.sock'), reconnectInterval: 200 });
    s.on('error', () => {});
    t.after(() => s.destroy());
    await h.withTimeout(new Promise((resolve) => s.once('connect', resolve)), 5000, 'connect');
    const got = [];
    s.on('seq', (n) => got.push(n));
    for (let i = 0; i < 10; i++) s.emit('seq', i);
    await h.waitUntil(() => got.length === 10, 5000, 'the first 10');
    const closed = new Promise((resolve) => s.once('close', resolve));
    first.kill('SIGKILL');
    await h.withTimeout(closed, 5000, 'close seen by the client');
    for (let i = 10; i < 60; i++) s.emit('seq', i); // queued by fast-tcp's client
    await new Promise((resolve) => setTimeout(resolve, 300));
    await startPeer(t, [url]); // the same socket path: the stale file is replaced
    await h.waitUntil(() => got.length >= 60, 10000, 'the queued 50');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepStrictEqual(got, Array.from({ length: 60 }, (_, i) => i));
  });
});

describe('one weft application on ws:// and tcp:// at once', () => {
  test('a server-side emit reaches a Primus client and a fast-tcp client', { timeout: 15000 }, async (t) => {
    const peer = await startPeer(t, ['ws://127.0.0.1:0/primus', 'tcp://127.0.0.1:0']);
    const wsUrl = peer.served.find((u) => u.startsWith('ws://'));
    const tcpUrl = peer.served.find((u) => u.startsWith('tcp://'));
    const primus = await h.connectClient(t, wsUrl);
    const s = await connect(t, tcpUrl);
    const onWs = h.collect(primus, 1, { filter: (m) => m && m.type === 0 });
    const onTcp = next(s, 'news');
    // primus-emitter's packet, written by the Primus client: ctl:send.
    primus.write({ type: 0, data: ['ctl:send', 'news', { from: 'ws' }, {}] });
    assert.deepStrictEqual((await onWs)[0], { type: 0, data: ['news', { from: 'ws' }] });
    assert.deepStrictEqual((await onTcp)[0], { from: 'ws' });
  });
});
