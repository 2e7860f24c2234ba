'use strict';
//
// Bad input from one raw WebSocket peer must not disturb anybody else: every
// test runs with a crowd of well-behaved official Primus clients that echo
// before and after the bad input, and the server must still be alive (and
// exit 0 on SIGTERM) at the end. See README.md.
//
const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const msgpack = require('primus-msgpack');
const h = require('./lib/harness');
const { RawWebSocket, OP, encodeFrame } = require('./lib/raw_ws');
const { stringOfEncodedSize } = require('./lib/messages');

const CROWD = 10;

/** Start a server and connect CROWD Primus clients that all echo once. */
async function setup(t, { parser = 'json', ...serverOpts } = {}) {
  const srv = await h.startServer(t, { parser, ...serverOpts });
  const clients = [];
  for (let i = 0; i < CROWD; i++) {
    const c = await h.connectClient(t, srv.url, { parser });
    c.drops = [];
    for (const ev of ['close', 'end', 'reconnect scheduled']) c.on(ev, () => c.drops.push(ev));
    clients.push(c);
  }
  await h.echoRound(clients, { tag: 'before' });
  return { srv, clients, parser };
}

/** The crowd still echoes, was never dropped, and the server survives. */
async function finish({ srv, clients }) {
  await h.echoRound(clients, { tag: 'after' });
  clients.forEach((c, i) => assert.deepStrictEqual(c.drops, [], `crowd client ${i} was dropped`));
  assert.ok(srv.alive(), 'server process died');
  for (const c of clients) h.closeClient(c);
  const exit = await srv.stop({ timeout: 3000 });
  assert.deepStrictEqual(exit, { code: 0, signal: null }, 'server exits 0 on SIGTERM');
}

/** Encode a value the way a client of `parser` would, as raw frame args. */
function encode(parser, value) {
  return parser === 'json' ? JSON.stringify(value) : msgpack.encode(value);
}

function decodeFrame(parser, frame) {
  if (parser === 'json') {
    assert.equal(frame.opcode, OP.TEXT, 'json messages travel in text frames');
    return JSON.parse(frame.payload.toString('utf8'));
  }
  assert.equal(frame.opcode, OP.BINARY, 'msgpack messages travel in binary frames');
  return msgpack.decode(frame.payload);
}

async function rawConnect(t, srv) {
  const mark = srv.mark();
  const raw = await RawWebSocket.connect(`${srv.url}?_primuscb=${Date.now()}-0`);
  t.after(() => raw.destroy());
  await srv.waitForLine(/^connection \S+$/, { from: mark });
  return raw;
}

async function rawEcho(raw, parser, value) {
  raw.send(encode(parser, value));
  const frame = await raw.nextMessage({ timeout: 3000 });
  assert.deepStrictEqual(decodeFrame(parser, frame), value);
}

describe(`bad input (${h.SERVER_NAME})`, () => {
  for (const parser of ['json', 'msgpack']) {
    test(`a: undecodable ${parser} message → error line, connection stays open`, { timeout: 20000 }, async (t) => {
      const ctx = await setup(t, { parser });
      const raw = await rawConnect(t, ctx.srv);
      await rawEcho(raw, parser, { before: 'bad input' });
      const mark = ctx.srv.mark();
      if (parser === 'json') raw.send('{"unterminated": [1, 2');      // invalid JSON text frame
      else raw.send(Buffer.from([0xc1]));                             // 0xc1: never used in msgpack
      const { line } = await ctx.srv.waitForLine(/^error \S+/, { from: mark, timeout: 3000 });
      assert.match(line, /^error \S+ \S/);
      // Same raw connection still works.
      await rawEcho(raw, parser, { after: 'bad input', n: 1 });
      assert.equal(raw.gotCloseFrame, false);
      assert.equal(raw.tcpClosed, false);
      assert.deepStrictEqual(ctx.srv.linesMatching(/^disconnection /, mark), []);
      await finish(ctx);
    });

    test(`b: message over --max-length (${parser}) → close 1009`, { timeout: 20000 }, async (t) => {
      const max = 65536;
      const ctx = await setup(t, { parser, maxLength: max });
      const raw = await rawConnect(t, ctx.srv);
      // Exactly max bytes is allowed.
      await rawEcho(raw, parser, stringOfEncodedSize(parser, max, 1));
      // One byte more is not.
      raw.send(encode(parser, stringOfEncodedSize(parser, max + 1, 2)));
      const st = await raw.waitClosed(2000);
      assert.equal(st.closeCode, 1009, `close state ${JSON.stringify(st)}`);
      await finish(ctx);
    });
  }

  test('c: text frame with invalid UTF-8 → close 1007', { timeout: 20000 }, async (t) => {
    const ctx = await setup(t);
    const raw = await rawConnect(t, ctx.srv);
    await rawEcho(raw, 'json', 'valid first');
    // "\xff\xfe" is never valid UTF-8; the JSON around it would be.
    raw.writeRaw(encodeFrame({ opcode: OP.TEXT, payload: Buffer.from([0x22, 0xff, 0xfe, 0x22]) }));
    const st = await raw.waitClosed(2000);
    assert.equal(st.closeCode, 1007, `close state ${JSON.stringify(st)}`);
    await finish(ctx);
  });

  for (const [name, frame] of [
    ['reserved opcode 0x3', () => encodeFrame({ opcode: 0x3, payload: '"x"' })],
    ['unmasked client frame', () => encodeFrame({ opcode: OP.TEXT, payload: '"x"', mask: false })],
    ['RSV1 set, no extension negotiated', () => encodeFrame({ opcode: OP.TEXT, payload: '"x"', rsv: 4 })]
  ]) {
    test(`d: malformed frame (${name}) → server closes (1002)`, { timeout: 20000 }, async (t) => {
      const ctx = await setup(t);
      const raw = await rawConnect(t, ctx.srv);
      await rawEcho(raw, 'json', 'valid first');
      raw.writeRaw(frame());
      const st = await raw.waitClosed(2000);
      // Either a close frame (then it must say 1002, protocol error) or TCP
      // closed outright.
      if (st.gotCloseFrame) assert.equal(st.closeCode, 1002, `close state ${JSON.stringify(st)}`);
      else assert.equal(st.tcpClosed, true);
      await finish(ctx);
    });
  }

  test('e: peer that never answers primus::ping is dropped within ~3 intervals', { timeout: 20000 }, async (t) => {
    const interval = 300;
    const ctx = await setup(t, { pingInterval: interval });
    const raw = await rawConnect(t, ctx.srv);
    const connectedAt = Date.now();
    const pings = [];
    raw.on('frame', (f) => {
      if (f.opcode === OP.TEXT && f.payload.toString('utf8').startsWith('"primus::ping::')) pings.push(f);
    });
    const st = await raw.waitClosed(3 * interval + 700);
    const after = Date.now() - connectedAt;
    assert.ok(after <= 3 * interval + 300, `dropped after ${after} ms`);
    assert.ok(st.gotCloseFrame || st.tcpClosed);
    // What it was sent and never answered: `"primus::ping::<epoch ms>"`.
    assert.ok(pings.length >= 1, 'got at least one ping before being dropped');
    for (const f of pings) {
      const m = /^"primus::ping::(\d+)"$/.exec(f.payload.toString('utf8'));
      assert.ok(m, `ping frame ${f.payload}`);
      assert.ok(Math.abs(Number(m[1]) - Date.now()) < 10000);
    }
    await ctx.srv.waitForLine(/^disconnection \S+$/, { timeout: 2000 });
    // The crowd answered its pings all along (several intervals by now).
    await h.delay(2 * interval);
    await finish(ctx);
  });
});
