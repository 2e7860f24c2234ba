// Unit tests of the client (node:test): the backoff schedule, the write
// queue, the parsers (against msgpack-lite, the codec of primus-msgpack),
// the heartbeat, server close, id(), the spec, online/offline and bad input.
// A fake WebSocket stands in for the network; timers are real and short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Weft, backoff, parsers } from '../src/weft.js';
import { encode, decode, MsgpackError, MAX_DEPTH } from '../src/msgpack.js';
import { channels } from '../src/channels.js';
import { recovery } from '../src/recovery.js';
import { ROOT } from './helpers.mjs';

const msgpackLite = createRequire(join(ROOT, 'tests/interop/package.json'))('msgpack-lite');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.closed = null;
    this.readyState = 0;
    FakeSocket.all.push(this);
  }
  send(frame) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(frame);
  }
  close(code) {
    this.closed = code || 1005;
  }
  // the server's side
  accept() {
    this.readyState = 1;
    this.onopen && this.onopen({});
  }
  deliver(frame) {
    this.onmessage && this.onmessage({ data: frame });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose && this.onclose({ code });
  }
  static last() {
    return FakeSocket.all[FakeSocket.all.length - 1];
  }
}

/** A client on the fake socket, recording its events. */
function client(opts = {}) {
  FakeSocket.all = [];
  const c = new Weft('http://127.0.0.1:1234', { WebSocket: FakeSocket, fetch: null, manual: true, pingTimeout: 0, ...opts });
  c.log = [];
  for (const ev of ['open', 'close', 'end', 'timeout', 'reconnect scheduled', 'reconnect', 'reconnected', 'online', 'offline', 'error', 'data', 'id'])
    c.on(ev, (arg) => c.log.push(arg === undefined ? ev : [ev, arg]));
  for (const ev of ['reconnect failed', 'reconnect timeout']) // (err, info), as Primus
    c.on(ev, (err, info) => c.log.push([ev, info, err]));
  return c;
}
const names = (c) => c.log.map((e) => (Array.isArray(e) ? e[0] : e));

test('backoff: min(round((rand + 1) * min * factor^(n-1)), max)', () => {
  assert.equal(backoff(1, { min: 500, factor: 2 }, 0), 500);
  assert.equal(backoff(1, { min: 500, factor: 2 }, 0.999), 1000);
  assert.equal(backoff(2, { min: 500, factor: 2 }, 0.5), 1500);
  assert.equal(backoff(4, { min: 500, factor: 2 }, 0.25), 5000);
  assert.equal(backoff(10, { min: 500, factor: 2, max: 30000 }, 0.9), 30000);
  assert.equal(backoff(3, { min: 100, factor: 3 }, 0.1), 990);
  for (let n = 1; n <= 10; n++) {
    const d = backoff(n, {}, Math.random());
    assert.ok(d >= 500 * 2 ** (n - 1) && d <= 1000 * 2 ** (n - 1), `attempt ${n}: ${d}`);
  }
});

test('reconnect schedule follows the backoff with the given randomness; retries run out', async () => {
  const rand = [0, 0.5, 0.25];
  const c = client({ reconnect: { min: 10, factor: 2, retries: 3 }, random: () => rand.shift() });
  // Every retry meets a server that refuses at once.
  c.on('reconnect', () => queueMicrotask(() => FakeSocket.last().drop()));
  const ended = new Promise((resolve) => c.once('end', resolve));
  c.open();
  FakeSocket.last().accept();
  FakeSocket.last().drop();
  await Promise.race([ended, sleep(5000).then(() => assert.fail('no end within 5 s'))]);
  const scheduled = c.log.filter((e) => e[0] === 'reconnect scheduled').map((e) => [e[1].attempt, e[1].delay]);
  assert.deepEqual(scheduled, [[1, 10], [2, 30], [3, 50]]);
  assert.deepEqual(names(c).slice(-2), ['reconnect failed', 'end']);
  const failed = c.log.find((e) => e[0] === 'reconnect failed');
  assert.ok(failed[2] instanceof Error && failed[1].attempt === 3, 'reconnect failed gets (err, info)');
  assert.equal(FakeSocket.all.length, 4);
  assert.ok(!names(c).includes('error'), 'a failed retry is not an error');
});

test('reconnected and open after a dropped connection; state constants', async () => {
  const c = client({ reconnect: { min: 5, max: 5 } });
  assert.equal(c.readyState, Weft.CLOSED);
  c.open();
  assert.equal(c.readyState, Weft.OPENING);
  FakeSocket.last().accept();
  assert.equal(c.readyState, Weft.OPEN);
  FakeSocket.last().drop();
  assert.equal(c.readyState, Weft.CLOSED);
  await sleep(30);
  FakeSocket.last().accept();
  assert.deepEqual(names(c), ['open', 'close', 'reconnect scheduled', 'reconnect', 'reconnected', 'open']);
  c.end();
});

test('queue: writes while not open go out in order before open; end drops them', async () => {
  const c = client({ reconnect: { min: 5, max: 5 } });
  let sentAtOpen;
  c.on('open', () => (sentAtOpen = FakeSocket.last().sent.slice()));
  assert.equal(c.write({ n: 1 }), true);
  assert.equal(c.write('two'), true);
  assert.ok(c.bufferedAmount > 0);
  c.open();
  FakeSocket.last().accept();
  assert.deepEqual(sentAtOpen, ['{"n":1}', '"two"']);
  assert.equal(c.bufferedAmount, 0);
  FakeSocket.last().drop();
  c.write('three');
  c.write('four');
  await sleep(30);
  FakeSocket.last().accept();
  assert.deepEqual(FakeSocket.last().sent, ['"three"', '"four"']);
  FakeSocket.last().drop();
  c.write('never');
  c.end();
  assert.equal(c.bufferedAmount, 0);
  assert.equal(c.write('after end'), false);
  assert.equal(c.end(), false);
});

test('queue limit: writes beyond it return false and queue nothing', () => {
  const c = client({ queueLimit: 10 });
  assert.equal(c.write('12345678'), true); /* 10 bytes with quotes */
  assert.equal(c.write('x'), false);
  assert.equal(c.bufferedAmount, 10);
});

test('parsers: json escapes U+2028/9, passes binary through, refuses what JSON cannot carry', () => {
  const j = parsers.json;
  assert.equal(j.encode({ s: 'a\u2028b\u2029' }), '{"s":"a\\u2028b\\u2029"}');
  assert.deepEqual(JSON.parse(j.encode({ s: 'a\u2028b' })), { s: 'a\u2028b' });
  assert.deepEqual(j.encode(new Uint8Array([1, 2])), new Uint8Array([1, 2]));
  assert.deepEqual(j.decode(new Uint8Array([3]).buffer), new Uint8Array([3]));
  assert.throws(() => j.encode(undefined));
  assert.throws(() => j.decode('{bad'));
  // Binary inside a message: Node's Buffer object (as the C core writes it),
  // from a Uint8Array, a view on part of a buffer, or an ArrayBuffer; read
  // back as that object, as the C core and Node do.
  const part = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4);
  const text = '{"a":{"type":"Buffer","data":[1,2,3]},"b":[{"type":"Buffer","data":[]}],"c":{"type":"Buffer","data":[255]}}';
  assert.equal(j.encode({ a: part, b: [new Uint8Array(0)], c: new Uint8Array([255]).buffer }), text);
  assert.deepEqual(j.decode(text).a, { type: 'Buffer', data: [1, 2, 3] });
  assert.equal(j.encode({ d: new DataView(new Uint8Array([7]).buffer) }), '{"d":{"type":"Buffer","data":[7]}}');
  // Look-alikes of ints beyond 2^53 are read as JSON.parse reads them, with
  // or without its source text (BigInt itself: test/browser.test.mjs).
  assert.deepEqual(j.decode('[12345678901234567.5,100000000000000000000,-9223372036854775809,"9007199254740993",{"9007199254740993":1},9007199254740991]'),
    [12345678901234567.5, 1e20, -9223372036854775809, '9007199254740993', { '9007199254740993': 1 }, 9007199254740991]);
});

test('msgpack: round trips and byte-for-byte agreement with msgpack-lite', () => {
  const values = [
    null, true, false, 0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129,
    -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53 - 1), 0.5, -2.25, 1e300, '', 'a', 'é€😀', 'x'.repeat(31),
    'x'.repeat(32), 'y'.repeat(300), 'z'.repeat(70000), [], [1, [2, [3]]], new Array(16).fill(7), new Array(70000).fill(0),
    {}, { a: 1, b: { c: [true, null] } }, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]))
  ];
  for (const v of values) {
    const mine = encode(v);
    assert.deepEqual(decode(mine), v);
    assert.deepEqual(msgpackLite.decode(Buffer.from(mine)), v);
    assert.deepEqual(decode(msgpackLite.encode(v)), v);
  }
  const bin = new Uint8Array([0, 1, 2, 255]);
  assert.deepEqual(decode(encode(bin)), bin);
  assert.deepEqual(new Uint8Array(msgpackLite.decode(Buffer.from(encode(bin)))), bin);
  assert.deepEqual(decode(encode({ b: new Uint8Array(300) })).b.length, 300);
  assert.equal(decode(encode(2n ** 63n)), 2n ** 63n);
  assert.equal(decode(new Uint8Array([0xca, 0x3f, 0xc0, 0, 0])), 1.5);
});

test('msgpack: bad input throws MsgpackError with an offset', () => {
  const bad = [
    [[], 'truncated'],
    [[0xa3, 0x61], 'truncated'],
    [[0x92, 0x01], 'truncated'],
    [[0xc4, 0x05, 1], 'truncated'],
    [[0x01, 0x02], 'trailing'],
    [[0xc1], 'unsupported'],
    [[0xd4, 0x01, 0x00], 'unsupported'],
    [[0xa2, 0xc3, 0x28], 'UTF-8'],
    [new Array(MAX_DEPTH + 2).fill(0x91).concat([0]), 'deeply']
  ];
  for (const [bytes, what] of bad) {
    assert.throws(() => decode(new Uint8Array(bytes)), (e) => e instanceof MsgpackError && e.message.includes(what) && typeof e.offset === 'number', JSON.stringify(bytes.slice(0, 4)));
  }
  let deep = [];
  for (let i = 0; i < MAX_DEPTH + 5; i++) deep = [deep];
  assert.throws(() => encode(deep), MsgpackError);
  assert.throws(() => encode(() => 1), MsgpackError);
  assert.throws(() => encode(2n ** 64n), MsgpackError);
});

test('msgpack client: binary frames out and in; undecodable message is an error and the connection stays', () => {
  const c = client({ parser: 'msgpack' });
  c.open();
  const s = FakeSocket.last();
  s.accept();
  c.write({ a: 1 });
  assert.deepEqual(decode(s.sent[0]), { a: 1 });
  s.deliver(encode({ b: 2 }).buffer);
  s.deliver(new Uint8Array([0xc1]).buffer);
  s.deliver(encode('after').buffer);
  const errs = c.log.filter((e) => e[0] === 'error');
  assert.equal(errs.length, 1);
  assert.equal(errs[0][1].kind, 'msgpack');
  assert.equal(errs[0][1].code, 'EPARSE');
  assert.deepEqual(c.log.filter((e) => e[0] === 'data').map((e) => e[1]), [{ b: 2 }, 'after']);
  assert.equal(c.readyState, Weft.OPEN);
});

test('json client: invalid JSON is an error event, the connection stays open', () => {
  const c = client();
  c.open();
  FakeSocket.last().accept();
  FakeSocket.last().deliver('{not json');
  FakeSocket.last().deliver('{"ok":true}');
  const bad = c.log.find((e) => e[0] === 'error')[1];
  assert.equal(bad.kind, 'json');
  assert.equal(bad.code, 'EPARSE', "weft's code name, as the C core's error events");
  assert.deepEqual(c.log.find((e) => e[0] === 'data')[1], { ok: true });
  assert.equal(c.readyState, Weft.OPEN);
  assert.equal(c.write(undefined), false, 'unencodable');
  assert.equal(c.log.filter((e) => e[0] === 'error')[1][1].kind, 'encode');
  assert.equal(c.log.filter((e) => e[0] === 'error')[1][1].code, 'ETYPE');
});

test('batches: {"weft::batch": [...]} is unpacked in order; look-alikes are plain data', () => {
  const c = client();
  c.open();
  FakeSocket.last().accept();
  FakeSocket.last().deliver('{"weft::batch":["a",{"b":1},"primus::id::x7"]}');
  FakeSocket.last().deliver('{"weft::batch":5}');
  FakeSocket.last().deliver('{"weft::batch":[1],"other":2}');
  const datas = c.log.filter((e) => e[0] === 'data').map((e) => e[1]);
  assert.deepEqual(datas, ['a', { b: 1 }, { 'weft::batch': 5 }, { 'weft::batch': [1], other: 2 }]);
  assert.deepEqual(c.log.find((e) => e[0] === 'id'), ['id', 'x7']);
});

test('heartbeat: pings are answered; no ping within pingTimeout → offline, close, reconnect', async () => {
  const c = client({ pingTimeout: 40, reconnect: { min: 1000 } });
  c.open();
  const s = FakeSocket.last();
  s.accept();
  s.deliver('"primus::ping::1700000000000"');
  assert.deepEqual(s.sent, ['"primus::pong::1700000000000"']);
  await sleep(25);
  s.deliver('"primus::ping::2"'); /* resets the timer */
  await sleep(25);
  assert.equal(c.readyState, Weft.OPEN);
  await sleep(40);
  assert.deepEqual(names(c), ['open', 'offline', 'close', 'reconnect scheduled']);
  c.end();
});

test('primus::server::close ends the client without reconnecting; other primus:: strings are data', () => {
  const c = client();
  c.open();
  const s = FakeSocket.last();
  s.accept();
  s.deliver('"primus::other"');
  s.deliver('"primus::server::close"');
  s.drop(1000);
  assert.deepEqual(names(c), ['open', 'data', 'close', 'end']);
  assert.equal(c.open(), false);
});

test('id(): asks with primus::id:: and answers the callback and the id event', () => {
  const c = client();
  let got;
  c.id((id) => (got = id)); /* queued while not open */
  c.open();
  const s = FakeSocket.last();
  s.accept();
  assert.deepEqual(s.sent, ['"primus::id::"']);
  s.deliver('"primus::id::abc"');
  assert.equal(got, 'abc');
  assert.deepEqual(c.log.at(-1), ['id', 'abc']);
});

test('spec: parser and ping timeout (1.5 × pingInterval) come from <path>/spec', async () => {
  let asked;
  const fetch = async (url) => ((asked = url), { ok: true, json: async () => ({ pingInterval: 20, parser: 'msgpack' }) });
  const c = client({ fetch, pingTimeout: undefined });
  c.open();
  await sleep(5);
  assert.equal(asked, 'http://127.0.0.1:1234/primus/spec');
  assert.equal(c._parser.name, 'msgpack');
  assert.equal(c._pingTimeout, 30);
  FakeSocket.last().accept();
  assert.equal(FakeSocket.all.length, 1);
  c.end();
  // a failing spec keeps the defaults
  const d = client({ fetch: async () => { throw new Error('down'); }, pingTimeout: undefined });
  d.open();
  await sleep(5);
  assert.equal(d._parser.name, 'json');
  assert.equal(d._pingTimeout, 45000);
  d.end();
});

test('engine.io over a fake fetch: handshake, messages both ways, a ping answered; a failed poll closes', async () => {
  FakeSocket.all = [];
  const posts = [];
  const polls = [];
  const fetch = async (url, init) => {
    if (url.endsWith('/spec')) return { ok: true, json: async () => ({ transformer: 'engine.io', pingInterval: 1000 }) };
    if (init && init.method === 'POST') return posts.push(init.body), { ok: true, text: async () => 'ok' };
    return new Promise((resolve) => polls.push({ url, resolve }));
  };
  const answer = (body, ok = true) => polls.shift().resolve({ ok, status: ok ? 200 : 400, text: async () => body });
  const c = new Weft('http://127.0.0.1:1234/primus?x=1', { WebSocket: FakeSocket, fetch, manual: true, websockets: false });
  const got = [];
  const events = [];
  c.on('data', (d) => got.push(d));
  for (const e of ['open', 'close']) c.on(e, () => events.push(e));
  c.open();
  await sleep(5);
  assert.match(polls[0].url, /^http:\/\/127\.0\.0\.1:1234\/primus\/\?EIO=4&transport=polling&t=[^&]+&x=1$/);
  answer('0{"sid":"abc","upgrades":["websocket"],"pingInterval":1000,"pingTimeout":1000,"maxPayload":100}');
  await sleep(5);
  assert.deepEqual(events, ['open']);
  assert.equal(c.transport, 'polling');
  assert.match(polls[0].url, /&sid=abc&x=1$/);
  c.write({ a: 1 });
  answer('4"hi"\x1e2\x1e4{"b":[2]}');
  await sleep(5);
  assert.deepEqual(got, ['hi', { b: [2] }]);
  assert.deepEqual(posts, ['4{"a":1}', '3']);
  assert.equal(FakeSocket.all.length, 0, 'websockets: false never probes');
  answer('', false);
  await sleep(5);
  assert.deepEqual(events, ['open', 'close']);
  c.end();
  assert.throws(() => new Weft('http://h', { WebSocket: FakeSocket, manual: true, transformer: 'sockjs' }), TypeError);
});

test('URLs: http→ws, https→wss, /primus by default, query kept; bad URLs and options throw', () => {
  const u = (url, o) => new Weft(url, { WebSocket: FakeSocket, manual: true, ...o }).url;
  assert.equal(u('http://h:1'), 'ws://h:1/primus');
  assert.equal(u('https://h/?a=1'), 'wss://h/primus?a=1');
  assert.equal(u('ws://h:2/rt/'), 'ws://h:2/rt');
  assert.equal(u('http://h:1', { pathname: '/x' }), 'ws://h:1/x');
  assert.throws(() => u('ftp://h'), TypeError);
  assert.throws(() => u('not a url'), TypeError);
  assert.throws(() => u('http://h', { parser: 'xml' }), TypeError);
  assert.throws(() => u('http://h', { strategy: 'sometimes' }), TypeError);
  assert.throws(() => u('http://h', { reconnect: { min: 0 } }), TypeError);
  assert.throws(() => u('http://h', { reconnect: { factor: 0.5 } }), TypeError);
  assert.throws(() => new Weft('http://h', { manual: true, WebSocket: null }), TypeError);
});

test('strategies: without "disconnect" a dropped connection ends; without "timeout" a failed first connection ends', () => {
  const c = client({ strategy: 'online,timeout' });
  c.open();
  FakeSocket.last().accept();
  FakeSocket.last().drop();
  assert.deepEqual(names(c), ['open', 'close', 'end']);
  const d = client({ strategy: false });
  d.open();
  FakeSocket.last().drop();
  assert.deepEqual(names(d), ['error', 'end']);
  assert.equal(d.log[0][1].kind, 'connect');
  assert.equal(d.log[0][1].code, 'EIO');
  assert.equal(d.log[0][1].closeCode, 1006);
});

test('connect timeout: timeout event, then the timeout strategy reconnects', async () => {
  const c = client({ timeout: 20, reconnect: { min: 1000 } });
  c.open();
  await sleep(40);
  assert.deepEqual(names(c), ['timeout', 'reconnect scheduled']);
  c.end();
  assert.deepEqual(names(c).slice(-1), ['end']);
});

test('reconnect timeout: a retry that does not open in time is abandoned; the backoff goes on', async () => {
  const c = client({ timeout: 20, reconnect: { min: 5, max: 5, retries: 3 } });
  c.open();
  FakeSocket.last().accept();
  FakeSocket.last().drop(); // the retry's socket never opens
  await sleep(60);
  assert.deepEqual(names(c).slice(0, 5), ['open', 'close', 'reconnect scheduled', 'reconnect', 'reconnect timeout']);
  const t = c.log.find((e) => e[0] === 'reconnect timeout');
  assert.ok(t[2] instanceof Error && t[2].kind === 'timeout');
  assert.equal(t[1].attempt, 1);
  assert.equal(names(c)[5], 'reconnect scheduled');
  c.end();
});

test('offline/online: offline drops the connection and the retry plan; online reconnects', async () => {
  const c = client({ reconnect: { min: 5, max: 5 } });
  c.open();
  FakeSocket.last().accept();
  c.setOnline(false);
  assert.deepEqual(names(c), ['open', 'offline', 'close']);
  assert.equal(FakeSocket.last().closed !== null, true);
  await sleep(20);
  assert.equal(FakeSocket.all.length, 1, 'no retry while offline');
  c.setOnline(true);
  await sleep(20);
  FakeSocket.last().accept();
  assert.deepEqual(names(c).slice(3), ['online', 'reconnect scheduled', 'reconnect', 'reconnected', 'open']);
  c.end();
});

test('a listener that throws does not break the client', () => {
  const c = client();
  const errors = [];
  const orig = console.error;
  console.error = (e) => errors.push(e);
  try {
    c.on('data', () => {
      throw new Error('app bug');
    });
    c.open();
    FakeSocket.last().accept();
    FakeSocket.last().deliver('1');
    FakeSocket.last().deliver('2');
  } finally {
    console.error = orig;
  }
  assert.equal(errors.length, 2);
  assert.deepEqual(c.log.filter((e) => e[0] === 'data').map((e) => e[1]), [1, 2]);
});

test('end(data) writes the message, closes with 1000, emits close and end once', () => {
  const c = client();
  c.open();
  const s = FakeSocket.last();
  s.accept();
  c.end({ bye: true });
  assert.deepEqual(s.sent, ['{"bye":true}']);
  assert.equal(s.closed, 1000);
  assert.deepEqual(names(c), ['open', 'close', 'end']);
  s.drop(1000); /* late events of the old socket are ignored */
  assert.deepEqual(names(c), ['open', 'close', 'end']);
});

test('emitter: send with an ack; resolved, rejected, timed out, failed by a close', async () => {
  const c = client({ emitter: { timeout: 50 } });
  c.open();
  const ws = FakeSocket.last();
  ws.accept();
  const got = [];
  c.send('sum', 1, 2, (err, v) => got.push(['sum', err && err.kind, v]));
  c.send('nope', (err) => got.push(['nope', err.kind, err.reason, err.code]));
  c.send('slow', (err) => got.push(['slow', err.kind, err.code]));
  c.send('plain', 'x'); // no ack asked: no id
  assert.deepEqual(ws.sent.map((f) => JSON.parse(f)), [
    { type: 0, data: ['sum', 1, 2], id: 1 },
    { type: 0, data: ['nope'], id: 2 },
    { type: 0, data: ['slow'], id: 3 },
    { type: 0, data: ['plain', 'x'] },
  ]);
  ws.deliver('{"type":1,"id":1,"data":[null,3]}');
  ws.deliver('{"type":1,"id":2,"data":["no way"]}');
  await sleep(80);
  ws.deliver('{"type":1,"id":3,"data":[null,1]}'); // after its timeout: an error event
  assert.deepEqual(got, [['sum', null, 3], ['nope', 'rejected', 'no way', 'EREJECTED'], ['slow', 'timeout', 'ETIMEDOUT']]);
  assert.equal(c.log.filter((e) => e[0] === 'error')[0][1].kind, 'emitter');
  const p = c.request('later', [1]);
  ws.drop();
  await assert.rejects(p, (e) => e.kind === 'closed' && e.code === 'ECLOSED');
  await assert.rejects(c.request('data'), TypeError); // reserved
  assert.throws(() => c.send(''), TypeError);
  c.end();
});

test('rooms: join, leave and leaveAll ask with reserved events and settle on the answer', async () => {
  const c = client({ emitter: true });
  c.open();
  const ws = FakeSocket.last();
  ws.accept();
  const joined = c.join('lobby');
  const left = c.leave('lobby');
  const all = c.leaveAll();
  assert.deepEqual(ws.sent.map((f) => JSON.parse(f)), [
    { type: 0, data: ['weft::join', 'lobby'], id: 1 },
    { type: 0, data: ['weft::leave', 'lobby'], id: 2 },
    { type: 0, data: ['weft::leave_all'], id: 3 },
  ]);
  ws.deliver('{"type":1,"id":1,"data":[null]}');
  ws.deliver('{"type":1,"id":2,"data":[null]}');
  ws.deliver('{"type":1,"id":3,"data":["no rooms for you"]}');
  await joined;
  await left;
  await assert.rejects(all, (e) => e.code === 'EREJECTED' && e.reason === 'no rooms for you');
  const off = client({});
  await assert.rejects(off.leaveAll(), /emitter option is off/);
  c.end();
});

test('emitter: events from the server reach listeners with an ack; bad packets are errors', () => {
  const c = client({ emitter: true });
  c.open();
  const ws = FakeSocket.last();
  ws.accept();
  const heard = [];
  c.on('news', (a, b, ack) => {
    heard.push([a, b]);
    if (ack) ack(null, 'thanks');
  });
  ws.deliver('{"type":0,"data":["news",1,"x"]}');
  ws.deliver('{"type":0,"data":["news",2,"y"],"id":7}');
  ws.deliver('{"type":0,"data":["nobody"],"id":8}');
  ws.deliver('{"type":0,"data":["open"],"id":9}');
  ws.deliver('{"type":0,"data":[5]}');
  ws.deliver('{"type":0}'); // no data and no id: ordinary data
  assert.deepEqual(heard, [[1, 'x'], [2, 'y']]);
  assert.deepEqual(ws.sent.map((f) => JSON.parse(f)), [
    { type: 1, id: 7, data: [null, 'thanks'] },
    { type: 1, id: 8, data: ['no handler for nobody'] },
    { type: 1, id: 9, data: ['reserved event name'] },
  ]);
  assert.equal(c.log.filter((e) => e[0] === 'error').length, 2);
  assert.deepEqual(c.log.filter((e) => e[0] === 'data').map((e) => e[1]), [{ type: 0 }]);
  // Without the option, packets are plain data.
  const d = client();
  d.open();
  FakeSocket.last().accept();
  FakeSocket.last().deliver('{"type":0,"data":["news",1]}');
  assert.deepEqual(d.log.find((e) => e[0] === 'data')[1], { type: 0, data: ['news', 1] });
  assert.throws(() => d.send('x'), /emitter option is off/);
});

test('transforms: incoming and outgoing in order, sync and async; drops; bad arguments throw', async () => {
  const c = client({ emitter: true });
  const seen = [];
  c.on('news', (a) => seen.push(['news', a]));
  c.transform('incoming', (p) => p.data !== 'drop');
  c.transform('incoming', (p, next) => setTimeout(() => next(null, p.data === 'later-drop' ? false : undefined), 1));
  c.transform('incoming', function (p) {
    assert.equal(this, c);
    p.data = { in: p.data };
  });
  c.transform('outgoing', (p) => { p.data = { out: p.data }; });
  c.transform('outgoing', (p) => !(p.data.out === 'quiet'));
  c.open();
  const ws = FakeSocket.last();
  ws.accept();
  for (const m of ['"drop"', '"later-drop"', '5', '{"weft::batch":[6,"drop"]}', '{"type":0,"data":["news",1]}', '"primus::ping::1"'])
    ws.deliver(m);
  await sleep(20);
  assert.deepEqual(c.log.filter((e) => e[0] === 'data').map((e) => e[1]), [{ in: 5 }, { in: 6 }]);
  assert.deepEqual(seen, [['news', 1]], "the emitter's packets are not transformed");
  assert.equal(c.write(7), true);
  assert.equal(c.write('quiet'), true, 'dropped by a transform: not a failure');
  c.send('ev', 1);
  assert.deepEqual(ws.sent, ['"primus::pong::1"', '{"out":7}', '{"type":0,"data":["ev",1]}'], 'pong and packets skip the outgoing transforms');
  for (const bad of [['sideways', () => {}], ['incoming'], ['incoming', 'x'], [undefined, () => {}]])
    assert.throws(() => c.transform(...bad), TypeError);
  c.end();
});

test('transforms that fail: a throw or next(err) drops the message with an error of kind transform', async () => {
  const c = client();
  c.transform('incoming', (p) => {
    if (p.data === 'boom') throw new Error('kaboom');
  });
  c.transform('incoming', (p, next) => next(p.data === 'coded' ? Object.assign(new Error('x'), { code: 'EMINE' }) : null));
  c.transform('outgoing', (p, next) => {
    if (p.data === 'no') return next('refused');
    next();
    next(new Error('a second call is ignored'));
  });
  c.open();
  const ws = FakeSocket.last();
  ws.accept();
  ws.deliver('"boom"');
  ws.deliver('"coded"');
  ws.deliver('"fine"');
  assert.equal(c.write('no'), true);
  c.write('yes');
  const errs = c.log.filter((e) => e[0] === 'error').map((e) => e[1]);
  assert.deepEqual(errs.map((e) => [e.kind, e.code]), [['transform', 'ETRANSFORM'], ['transform', 'EMINE'], ['transform', 'ETRANSFORM']]);
  assert.match(errs[0].message, /incoming transform failed: kaboom/);
  assert.equal(errs[0].cause.message, 'kaboom');
  assert.match(errs[2].message, /outgoing transform failed: refused/);
  assert.deepEqual(c.log.filter((e) => e[0] === 'data').map((e) => e[1]), ['fine']);
  assert.deepEqual(ws.sent, ['"yes"']);
  assert.equal(c.readyState, Weft.OPEN, 'the connection stays');
  c.end();
  assert.equal(c.write('yes'), false, 'ended');
});

test('plugins: use() runs plugin.client(client, options) now; duplicates, bad plugins and throwing plugins', () => {
  const calls = [];
  const greeter = {
    client(cl, options) {
      calls.push([cl, options.greeting]);
      cl.on('open', () => cl.write({ greeting: options.greeting }));
    },
  };
  const c = client({ greeting: 'hello', plugin: { greeter } });
  assert.deepEqual(calls, [[c, 'hello']]);
  assert.equal(c.plugin('greeter'), greeter);
  assert.deepEqual(Object.keys(c.plugin()), ['greeter']);
  assert.throws(() => c.use('greeter', greeter), (e) => e.code === 'EEXIST' && e.kind === 'exist');
  assert.equal(c.use('server-only', { server() {} }), c, 'a server side only is registered, nothing runs');
  for (const bad of [[''], ['x'], ['x', {}], [5, greeter], ['x', null]]) assert.throws(() => c.use(...bad), TypeError);
  assert.throws(() => c.use('broken', { client() { throw new Error('no'); } }), /no/);
  assert.equal(c.plugin('broken'), undefined, 'a plugin that throws is not registered');
  c.use('broken', { client() {} });
  for (const name of ['constructor', '__proto__', 'toString']) c.use(name, { client() {} });
  assert.deepEqual(Object.keys(c.plugin()), ['greeter', 'server-only', 'broken', 'constructor', '__proto__', 'toString']);
  c.open();
  FakeSocket.last().accept();
  assert.deepEqual(FakeSocket.last().sent, ['{"greeting":"hello"}']);
  c.end();
});

test('batching: one turn\'s writes leave as one {"weft::batch": [...]} frame, as the C client sends them', async () => {
  const c = client({ batching: 40 });
  c.open();
  const ws = FakeSocket.last();
  ws.accept();
  c.write(1);
  c.write([2]);
  c.write('3');
  assert.deepEqual(ws.sent, [], 'held until the end of the turn');
  await sleep(0);
  assert.deepEqual(ws.sent, ['{"weft::batch":[1,[2],"3"]}']);
  c.write('alone');
  await sleep(0);
  assert.equal(ws.sent[1], '"alone"', 'a batch of one is the message itself');
  // Past max bytes: what was held leaves first; binary leaves as its own frame, after the batch.
  c.write('x'.repeat(20));
  c.write('y'.repeat(20));
  c.write(new Uint8Array([1]));
  c.write('z'.repeat(41));
  c.write(4);
  await sleep(0);
  assert.deepEqual(ws.sent.slice(2), [`"${'x'.repeat(20)}"`, `"${'y'.repeat(20)}"`, new Uint8Array([1]), `"${'z'.repeat(41)}"`, '4']);
  // end() in the same turn: the batch leaves before the close.
  c.write(5);
  c.write(6);
  c.end(7);
  assert.deepEqual(ws.sent.slice(7), ['{"weft::batch":[5,6,7]}']);
  assert.equal(ws.closed, 1000);
  // msgpack: the envelope as one binary frame.
  const m = client({ parser: 'msgpack', batching: true });
  m.open();
  FakeSocket.last().accept();
  for (let i = 0; i < 20; i++) m.write(i === 3 ? { k: new Uint8Array([3]) } : i);
  await sleep(0);
  const sent = FakeSocket.last().sent;
  assert.equal(sent.length, 1);
  const want = Array.from({ length: 20 }, (_, i) => (i === 3 ? { k: new Uint8Array([3]) } : i));
  assert.deepEqual(decode(sent[0]), { 'weft::batch': want });
  assert.deepEqual(Buffer.from(sent[0]), msgpackLite.encode({ 'weft::batch': [0, 1, 2, { k: Buffer.from([3]) }, ...want.slice(4)] }));
  m.end();
});

test('batching: a lost connection takes its batch; bad option values throw', async () => {
  const c = client({ batching: true, reconnect: { min: 1000 } });
  c.open();
  const ws = FakeSocket.last();
  ws.accept();
  c.write('lost');
  ws.drop();
  await sleep(0);
  assert.deepEqual(ws.sent, []);
  c.end();
  for (const batching of [-1, 'lots', {}]) assert.throws(() => client({ batching }), TypeError);
  for (const batching of [false, 0, 100]) client({ batching }).end();
});

test('channels (optional module): open by use, messages in order with credit, the end handshake, a close ends the rest', async () => {
  const c = client({ plugin: { channels: channels({ window: 4 }) } });
  assert.throws(() => c.channel('early'), (e) => e.code === 'ECLOSED', 'not open yet');
  c.open();
  const ws = FakeSocket.last();
  ws.accept();
  const sent = () => ws.sent.splice(0).map((f) => JSON.parse(f));
  const up = c.channel('up');
  assert.equal(c.channel('up'), up, 'found again by name');
  const got = [];
  up.on('data', (v) => got.push(v));
  for (let i = 0; i < 6; i++) assert.equal(up.write(i), i < 4, 'four messages of credit');
  assert.equal(up.queued, 2);
  assert.deepEqual(sent(), [0, 1, 2, 3].map((data) => ({ type: 2, ch: 'up', data })));
  let drained = 0;
  up.on('drain', () => drained++);
  ws.deliver('{"type":4,"ch":"up","credit":2}');
  assert.deepEqual(sent(), [4, 5].map((data) => ({ type: 2, ch: 'up', data })));
  assert.equal(drained, 1);
  // Receiving: credit goes back after half the window; a paused channel holds and grants nothing.
  ws.deliver('{"type":2,"ch":"up","data":"a"}');
  ws.deliver('{"type":2,"ch":"up","data":"b"}');
  assert.deepEqual(sent(), [{ type: 4, ch: 'up', credit: 2 }]);
  up.pause();
  ws.deliver('{"type":2,"ch":"up","data":"c"}');
  ws.deliver('{"type":2,"ch":"up","data":"d"}');
  assert.deepEqual(got, ['a', 'b']);
  assert.deepEqual(sent(), []);
  up.resume();
  assert.deepEqual(got, ['a', 'b', 'c', 'd']);
  assert.deepEqual(sent(), [{ type: 4, ch: 'up', credit: 2 }]);
  assert.deepEqual(c.log.filter((e) => e[0] === 'data'), [], 'channel packets are not data');
  // Opened by the server: the channel event.
  const opened = [];
  c.on('channel', (ch) => opened.push(ch.name));
  ws.deliver('{"type":2,"ch":"down","data":1}');
  assert.deepEqual(opened, ['down']);
  // The end handshake: ours, answered.
  let ends = 0;
  up.on('end', () => ends++);
  assert.equal(up.end(), true);
  assert.equal(up.end(), false);
  assert.deepEqual(sent(), [{ type: 3, ch: 'up' }]);
  assert.throws(() => up.write(1), (e) => e.code === 'ECLOSED');
  assert.throws(() => c.channel('up'), (e) => e.code === 'ECLOSED', 'ending until answered');
  ws.deliver('{"type":3,"ch":"up"}');
  assert.equal(ends, 1);
  assert.notEqual(c.channel('up'), up, 'the name opens a new channel');
  // The peer's end is answered; a closing connection ends the rest.
  const down = c.channel('down');
  let downEnds = 0;
  down.on('end', () => downEnds++);
  ws.drop();
  assert.equal(downEnds, 1);
  c.end();
});

test('channels: bad input is an error of kind channel and is dropped; bad names and windows throw', () => {
  assert.throws(() => channels({ window: 0 }), TypeError);
  assert.throws(() => channels({ window: 1.5 }), TypeError);
  const c = client();
  c.use('channels', channels({ window: 2 }));
  c.open();
  const ws = FakeSocket.last();
  ws.accept();
  for (const bad of ['', 'a\0b', 'x'.repeat(256), '\ud800', 5]) assert.throws(() => c.channel(bad), TypeError);
  c.channel('é'.repeat(127)).end(); // 254 bytes: fine
  ws.sent.length = 0;
  ws.deliver('{"type":2,"ch":"","data":1}'); // no valid name
  ws.deliver('{"type":2,"ch":"nodata"}'); // a message without data
  ws.deliver('{"type":4,"ch":"x","credit":0}'); // a credit out of 1..2^30
  ws.deliver('{"type":4,"ch":"x","credit":1.5}');
  ws.deliver('{"type":4,"ch":"unknown","credit":3}'); // credit for an unknown channel: ignored
  ws.deliver('{"type":3,"ch":"unknown"}'); // the end of an unknown channel: ignored
  ws.deliver('{"type":2,"ch":"nobody","data":1}'); // opened by the server, nobody listens: refused
  const errs = c.log.filter((e) => e[0] === 'error').map((e) => [e[1].kind, e[1].code]);
  assert.deepEqual(errs, [['channel', 'EPARSE'], ['channel', 'EPARSE'], ['channel', 'EPARSE'], ['channel', 'EPARSE'], ['channel', 'EUNSUPPORTED']]);
  assert.deepEqual(ws.sent.map((f) => JSON.parse(f)), [{ type: 3, ch: 'nobody' }]);
  // Beyond the granted window (2, paused so nothing is granted back): dropped with EPROTO.
  c.log.length = 0;
  const ch = c.channel('w');
  ch.pause();
  for (let i = 0; i < 3; i++) ws.deliver(`{"type":2,"ch":"w","data":${i}}`);
  assert.deepEqual(c.log.filter((e) => e[0] === 'error').map((e) => e[1].code), ['EPROTO']);
  const got = [];
  ch.on('data', (v) => got.push(v));
  ch.resume();
  assert.deepEqual(got, [0, 1]);
  // A credit overflow: EPROTO, the credit stays.
  ws.deliver(`{"type":4,"ch":"w","credit":${2 ** 30}}`);
  assert.equal(c.log.filter((e) => e[0] === 'error').at(-1)[1].code, 'EPROTO');
  // {"type": 2} without "ch", or another type: plain data.
  ws.deliver('{"type":2,"data":1}');
  ws.deliver('{"type":5,"ch":"w"}');
  assert.deepEqual(c.log.filter((e) => e[0] === 'data').map((e) => e[1]), [{ type: 2, data: 1 }, { type: 5, ch: 'w' }]);
  c.end();
});

test('recovery (optional module): weft_rs=1, the answer taken, the count of data (batch items, not pings), the resume URL', async () => {
  const c = client({ reconnect: { min: 5, max: 5 }, plugin: { recovery: recovery() } });
  const told = [];
  c.on('recovered', (id) => told.push(id));
  c.open();
  let ws = FakeSocket.last();
  assert.match(ws.url, /\/primus\?weft_rs=1$/);
  ws.accept();
  ws.deliver('"primus::weft::rs::0:sp:1d:TOKEN-_1"');
  assert.equal(c.recovered, false);
  ws.deliver('"primus::ping::1"'); // not counted
  ws.deliver('1');
  ws.deliver('{"weft::batch":[2,3]}'); // two
  ws.deliver('"primus::other"'); // data: counted
  ws.drop();
  await sleep(30);
  ws = FakeSocket.last();
  assert.match(ws.url, /\?weft_rs=sp%3A1d\.TOKEN-_1\.4$/, 'id encoded, token, count');
  ws.accept();
  ws.deliver('"primus::weft::rs::1:sp:1d:NEWTOKEN"');
  ws.deliver('5');
  assert.equal(c.recovered, true);
  assert.deepEqual(told, ['sp:1d']);
  assert.deepEqual(c.log.filter((e) => e[0] === 'data').map((e) => e[1]), [1, 2, 3, 'primus::other', 5]);
  ws.drop();
  await sleep(30);
  ws = FakeSocket.last();
  assert.match(ws.url, /\?weft_rs=sp%3A1d\.NEWTOKEN\.5$/, 'the count goes on in a resumed session');
  ws.accept();
  ws.deliver('"primus::weft::rs::0:other:T2"'); // refused: a fresh session counts from 0
  assert.equal(c.recovered, false);
  ws.drop();
  await sleep(30);
  assert.match(FakeSocket.last().url, /\?weft_rs=other\.T2\.0$/);
  c.end();
});

test('recovery: a malformed answer is an error of kind protocol and is ignored; the URL keeps its query', () => {
  FakeSocket.all = [];
  const c = new Weft('http://127.0.0.1:1234/primus?x=1', { WebSocket: FakeSocket, fetch: null, manual: true, pingTimeout: 0, plugin: { recovery: recovery() } });
  const errors = [];
  c.on('error', (e) => errors.push([e.kind, e.code]));
  c.open();
  const ws = FakeSocket.last();
  assert.match(ws.url, /\?x=1&weft_rs=1$/);
  ws.accept();
  for (const bad of ['2:id:tok', '1:id:', '1:id:to ken', '1id:tok', '1::t']) ws.deliver(JSON.stringify('primus::weft::rs::' + bad));
  assert.deepEqual(errors, Array(5).fill(['protocol', 'EPROTO']));
  assert.equal(c.recovered, false);
  c.end();
});
